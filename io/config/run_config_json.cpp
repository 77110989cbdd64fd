// Reading and writing the run config as JSON, over the key lists of messages/run_config_keys.hpp.
#include "io/config/run_config_json.hpp"

#include "io/config/run_config_checks.hpp"
#include "io/teacher/run_prompts.hpp"
#include "messages/run_config_keys.hpp"

#include <algorithm>
#include <cmath>
#include <concepts>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace tailor {
namespace {

using nlohmann::json;
using config_keys::config_section;
using config_keys::fields;
using config_keys::named_sections;

// ---- reading ----------------------------------------------------------------------------------------------

// A value as the user wrote it, cut short when long (a prompt text).
std::string shown(const json& value) {
  auto text = value.dump();
  constexpr std::size_t longest = 60;
  return text.size() <= longest ? text : text.substr(0, longest - 3) + "...";
}

void read_value(const json& j, const std::string& path, bool& out, problem_list& problems) {
  if (!j.is_boolean())
    return problems.add(path, "expected true or false, got " + shown(j));
  out = j.get<bool>();
}

void read_value(const json& j, const std::string& path, std::string& out, problem_list& problems) {
  if (!j.is_string())
    return problems.add(path, "expected a string, got " + shown(j));
  out = j.get<std::string>();
}

void read_value(const json& j, const std::string& path, std::vector<std::string>& out, problem_list& problems) {
  if (!j.is_array())
    return problems.add(path, "expected a list of strings, got " + shown(j));
  std::vector<std::string> items;
  for (const auto& item : j) {
    if (!item.is_string())
      return problems.add(path, "expected a list of strings, got " + shown(item) + " in it");
    items.push_back(item.get<std::string>());
  }
  out = std::move(items);
}

void read_value(const json& j, const std::string& path, double& out, problem_list& problems) {
  if (!j.is_number())
    return problems.add(path, "expected a number, got " + shown(j));
  out = j.get<double>();
}

// 3 and 3.0 are read alike; 2.5, -1 and what does not fit the field are problems.
template <std::unsigned_integral T>
void read_value(const json& j, const std::string& path, T& out, problem_list& problems) {
  constexpr auto most = std::numeric_limits<T>::max();
  const auto too_large = [&] {
    problems.add(path, "expected at most " + std::to_string(most) + ", got " + shown(j));
  };
  if (j.is_number_unsigned() || (j.is_number_integer() && j.get<std::int64_t>() >= 0)) {
    const auto value = j.get<std::uint64_t>();
    if (value > most)
      return too_large();
    out = static_cast<T>(value);
  } else if (j.is_number_integer() || (j.is_number_float() && j.get<double>() < 0)) {
    problems.add(path, "expected a non-negative integer, got " + shown(j));
  } else if (j.is_number_float()) {
    const auto value = j.get<double>();
    if (value != std::floor(value))
      return problems.add(path, "expected an integer, got " + shown(j));
    // 2^64 as a double: the first value that does not fit a uint64.
    if (value >= 18446744073709551616.0 || value > static_cast<double>(most))
      return too_large();
    out = static_cast<T>(value);
  } else {
    problems.add(path, "expected a non-negative integer, got " + shown(j));
  }
}

template <named_enum Enum>
void read_value(const json& j, const std::string& path, Enum& out, problem_list& problems) {
  const auto value = j.is_string() ? parse_enum<Enum>(j.get<std::string>()) : std::nullopt;
  if (!value)
    return problems.add(path, std::string(j.is_string() ? "unknown value " : "expected a string, got ") +
                                  shown(j) + "; one of " + enum_name_list<Enum>());
  out = *value;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const auto above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "; did you mean "samples"?" when a known key is a small typo away, else nothing.
std::string suggestion(std::string_view key, const std::vector<std::string_view>& known) {
  std::string_view best;
  auto best_distance = std::max<std::size_t>(2, key.size() / 3) + 1;
  for (const auto candidate : known)
    if (const auto d = edit_distance(key, candidate); d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  return best.empty() ? std::string{} : "; did you mean \"" + std::string(best) + "\"?";
}

std::string key_path(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
}

// What reading finds: values of the wrong type or form, and keys that name nothing.
struct reading_problems {
  problem_list values;
  problem_list unknown_keys;
};

template <class Section>
void read_section(const json& j, const std::string& path, Section& section, reading_problems& problems);
template <class List>
void read_named_sections(const json& j, const std::string& path, List& list, reading_problems& problems);

// Applies the keys of one JSON object to one section, then names the keys it did not know.
class section_reader {
public:
  section_reader(const json& object, const std::string& path, reading_problems& problems)
      : object_(object), path_(path), problems_(problems) {}

  template <class T>
  void operator()(std::string_view key, T& field) {
    known_.push_back(key);
    const auto found = object_.find(std::string(key));
    if (found == object_.end())
      return;
    if constexpr (named_sections<T>)
      read_named_sections(*found, key_path(path_, key), field, problems_);
    else if constexpr (config_section<T>)
      read_section(*found, key_path(path_, key), field, problems_);
    else
      read_value(*found, key_path(path_, key), field, problems_.values);
  }

  void name_unknown_keys() const {
    for (const auto& [key, value] : object_.items())
      if (std::find(known_.begin(), known_.end(), key) == known_.end())
        problems_.unknown_keys.add(key_path(path_, key), "unknown key" + suggestion(key, known_));
  }

private:
  const json& object_;
  const std::string& path_;
  reading_problems& problems_;
  std::vector<std::string_view> known_;
};

template <class Section>
void read_section(const json& j, const std::string& path, Section& section, reading_problems& problems) {
  if (!j.is_object())
    return problems.values.add(path, "expected an object of keys, got " + shown(j));
  section_reader reader(j, path, problems);
  fields(reader, section);
  reader.name_unknown_keys();
}

template <class List>
void read_named_sections(const json& j, const std::string& path, List& list, reading_problems& problems) {
  if (!j.is_object())
    return problems.values.add(path, "expected an object of sections by name, got " + shown(j));
  list.clear();
  for (const auto& [name, value] : j.items()) {
    auto& entry = list.emplace_back();
    entry.name = name;
    read_section(value, key_path(path, name), entry, problems);
  }
}

// ---- writing ----------------------------------------------------------------------------------------------

class section_writer {
public:
  explicit section_writer(json& object) : object_(object) {}

  template <class T>
  void operator()(std::string_view key, T& field) {
    auto& slot = object_[std::string(key)];
    if constexpr (named_sections<T>) {
      slot = json::object();
      for (auto& entry : field) {
        auto& named = slot[entry.name] = json::object();
        section_writer nested(named);
        fields(nested, entry);
      }
    } else if constexpr (config_section<T>) {
      slot = json::object();
      section_writer nested(slot);
      fields(nested, field);
    } else if constexpr (named_enum<T>) {
      slot = std::string(to_string(field));
    } else {
      slot = field;
    }
  }

private:
  json& object_;
};

template <class Section>
json section_json(Section section) {
  json object = json::object();
  section_writer writer(object);
  fields(writer, section);
  return object;
}

// "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..." → "syntax error ...".
std::string parse_error_reason(const json::parse_error& error) {
  const std::string what = error.what();
  const auto column = what.find("column ");
  const auto reason = column == std::string::npos ? std::string::npos : what.find(": ", column);
  return reason == std::string::npos ? what : what.substr(reason + 2);
}

// Each override on its own, so that every faulty text is named.
void check_prompts(const prompt_config& prompts, problem_list& problems) {
  for (const auto& message : prompt_problems(prompts))
    problems.add("", message);
}

std::string prefixed_lines(const std::string& prefix, const std::string& text) {
  std::string out;
  std::size_t from = 0;
  while (from <= text.size()) {
    const auto end = std::min(text.find('\n', from), text.size());
    out.append(out.empty() ? "" : "\n").append(prefix).append(text, from, end - from);
    from = end + 1;
  }
  return out;
}

} // namespace

result<run_config> run_config_from_json(const nlohmann::json& j, const std::filesystem::path& base_dir) {
  run_config config;
  if (!j.is_object())
    return problem{"the config must be a JSON object of sections and keys, got " + shown(j)};
  reading_problems found;
  read_section(j, "", config, found);
  // Values of the wrong type first: checks on a half-read config would report knock-on problems.
  if (!found.values.empty())
    return found.values.append(found.unknown_keys).joined();
  auto& problems = found.unknown_keys;
  check_run_config(config, base_dir, problems);
  check_prompts(config.prompts, problems);
  if (!problems.empty())
    return problems.joined();
  return config;
}

result<run_config> load_run_config(const std::filesystem::path& file) {
  const auto name = file.string();
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error))
    return problem{name + ": " +
                   (std::filesystem::exists(file, error) ? "not a file" : "no such config file")};
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in)
    return problem{name + ": cannot be read"};
  const auto contents = text.str();
  json j;
  try {
    j = json::parse(contents, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    // e.byte is 1-based and points at the offending character.
    const auto before =
        contents.substr(0, std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, contents.size()));
    const auto line = 1 + std::count(before.begin(), before.end(), '\n');
    const auto line_start = before.rfind('\n');
    const auto column = before.size() - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
    return problem{name + ":" + std::to_string(line) + ":" + std::to_string(column) +
                   ": not valid JSON: " + parse_error_reason(e)};
  }
  auto config = run_config_from_json(j, std::filesystem::absolute(file, error).parent_path());
  if (!config)
    return problem{prefixed_lines(name + ": ", config.error().message)};
  return config;
}

nlohmann::json to_json(const run_config& config) {
  return section_json(config);
}

} // namespace tailor
