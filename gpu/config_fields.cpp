// Typed reads of `config.json` fields: absent keys keep their defaults, wrong types are errors naming the
// field.
#include "gpu/config_fields.hpp"

#include <limits>

namespace tailor::gpu::config_fields {

using nlohmann::json;

std::string field(std::string_view key, std::string_view prefix) {
  std::string name{prefix};
  if (!name.empty())
    name += '.';
  name += key;
  return "field `" + name + "`";
}

bool present(const json& object, std::string_view key) {
  if (!object.is_object())
    return false;
  auto it = object.find(key);
  return it != object.end() && !it->is_null();
}

std::string shown(const json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

namespace {

// An integer JSON value that fits an int; anything else is a problem naming the field.
result<int> to_int(const json& value, const std::string& name) {
  if (!value.is_number_integer())
    return problem{name + " must be an integer, got " + value.dump()};
  const bool fits = value.is_number_unsigned()
                        ? value.get<unsigned long long>() <= std::numeric_limits<int>::max()
                        : value.get<long long>() >= std::numeric_limits<int>::min() &&
                              value.get<long long>() <= std::numeric_limits<int>::max();
  if (!fits)
    return problem{name + " is out of range: " + value.dump()};
  return static_cast<int>(value.get<long long>());
}

} // namespace

status read(const json& object, std::string_view key, int& target, std::string_view prefix) {
  if (!present(object, key))
    return ok_status();
  auto value = to_int(object.at(key), field(key, prefix));
  if (!value)
    return value.error();
  target = *value;
  return ok_status();
}

status read(const json& object, std::string_view key, double& target, std::string_view prefix) {
  if (!present(object, key))
    return ok_status();
  const auto& value = object.at(key);
  if (!value.is_number())
    return problem{field(key, prefix) + " must be a number, got " + value.dump()};
  target = value.get<double>();
  return ok_status();
}

status read(const json& object, std::string_view key, bool& target, std::string_view prefix) {
  if (!present(object, key))
    return ok_status();
  const auto& value = object.at(key);
  if (!value.is_boolean())
    return problem{field(key, prefix) + " must be true or false, got " + value.dump()};
  target = value.get<bool>();
  return ok_status();
}

status read(const json& object, std::string_view key, std::string& target, std::string_view prefix) {
  if (!present(object, key))
    return ok_status();
  const auto& value = object.at(key);
  if (!value.is_string())
    return problem{field(key, prefix) + " must be a string, got " + value.dump()};
  target = value.get<std::string>();
  return ok_status();
}

status read_required(const json& object, std::string_view key, int& target, std::string_view prefix) {
  if (!present(object, key))
    return problem{field(key, prefix) + " is missing"};
  return read(object, key, target, prefix);
}

status read_required(const json& object, std::string_view key, double& target, std::string_view prefix) {
  if (!present(object, key))
    return problem{field(key, prefix) + " is missing"};
  return read(object, key, target, prefix);
}

status read_token_id(const json& object, std::string_view key, int& target) {
  auto it = object.find(key);
  if (it == object.end())
    return ok_status();
  if (it->is_null() || (it->is_array() && it->empty())) {
    target = -1;
    return ok_status();
  }
  auto value = to_int(it->is_array() ? it->front() : *it, field(key));
  if (!value)
    return value.error();
  target = *value;
  return ok_status();
}

} // namespace tailor::gpu::config_fields
