// Reading tokenizer.json's fields with errors that name their JSON path; used by the component parsers only.
#pragma once

#include "tokenizers/pcre2_regex.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace tailor::tokenizers {

using json = nlohmann::json;

// Thrown inside the tokenizer.json parsers and turned into a `problem` (prefixed by the file) at their
// boundary.
struct tokenizer_json_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void refuse(const std::string& path, const std::string& message) {
  throw tokenizer_json_error{path + " " + message};
}

inline std::string child(const std::string& path, const std::string& key) {
  return path + "." + key;
}
inline std::string element(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

inline const json& required(const json& object, const char* key, const std::string& path) {
  if (!object.is_object())
    refuse(path, "is not a JSON object");
  auto found = object.find(key);
  if (found == object.end())
    refuse(child(path, key), "is missing");
  return *found;
}

inline std::string string_field(const json& object, const char* key, const std::string& path) {
  const auto& value = required(object, key, path);
  if (!value.is_string())
    refuse(child(path, key), "is not a string");
  return value.get<std::string>();
}

inline bool bool_field(const json& object, const char* key, const std::string& path, bool fallback) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null())
    return fallback;
  if (!found->is_boolean())
    refuse(child(path, key), "is not true or false");
  return found->get<bool>();
}

inline long long integer_field(const json& object, const char* key, const std::string& path,
                               long long fallback) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null())
    return fallback;
  if (!found->is_number_integer())
    refuse(child(path, key), "is not an integer");
  return found->get<long long>();
}

inline const json& array_field(const json& object, const char* key, const std::string& path) {
  const auto& value = required(object, key, path);
  if (!value.is_array())
    refuse(child(path, key), "is not a list");
  return value;
}

// A Sequence's steps: each element of `object[key]` through `parse`, the JSON nulls (nullptr) left out.
template <class Parse>
auto parse_steps(const json& object, const char* key, const std::string& path, Parse parse) {
  const auto& list = array_field(object, key, path);
  std::vector<std::invoke_result_t<Parse, const json&, const std::string&>> steps;
  for (std::size_t i = 0; i < list.size(); ++i)
    if (auto step = parse(list[i], element(child(path, key), i)))
      steps.push_back(std::move(step));
  return steps;
}

inline std::string type_field(const json& object, const std::string& path) {
  return string_field(object, "type", path);
}

[[noreturn]] inline void unsupported_type(const std::string& path, const std::string& type,
                                          const std::string& supported) {
  refuse(child(path, "type"), "`" + type + "` is not supported (tailor reads " + supported + ")");
}

// `{"String": "..."}` (a literal) or `{"Regex": "..."}`, as Split, Replace and their decoders write patterns.
inline text_pattern pattern_field(const json& object, const char* key, const std::string& path) {
  const auto& pattern = required(object, key, path);
  const auto where = child(path, key);
  if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string())
    return text_pattern::literal(pattern["String"].get<std::string>());
  if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()) {
    auto compiled = pcre2_regex::compile(pattern["Regex"].get<std::string>());
    if (!compiled)
      refuse(child(where, "Regex"), compiled.error().message);
    return text_pattern::regex(std::move(compiled.value()));
  }
  refuse(where, "is neither {\"String\": ...} nor {\"Regex\": ...}");
}

} // namespace tailor::tokenizers
