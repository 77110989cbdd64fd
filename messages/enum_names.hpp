// Names of the message enums, so configs, CLI flags, logs and progress JSON spell them one way.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tailor {

// Specialize with `static constexpr std::array<std::string_view, N> values`, one name per enumerator in
// declaration order (the enums are dense and start at 0).
template <class Enum>
struct enum_names;

template <class Enum>
concept named_enum = requires {
  enum_names<Enum>::values;
};

template <named_enum Enum>
std::string_view to_string(Enum value) {
  return enum_names<Enum>::values.at(static_cast<std::size_t>(value));
}

template <named_enum Enum>
std::optional<Enum> parse_enum(std::string_view name) {
  const auto& names = enum_names<Enum>::values;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name)
      return static_cast<Enum>(i);
  return std::nullopt;
}

// "constant, cosine": for error messages and --help.
template <named_enum Enum>
std::string enum_name_list() {
  std::string list;
  for (auto name : enum_names<Enum>::values) {
    if (!list.empty())
      list += ", ";
    list += name;
  }
  return list;
}

} // namespace tailor
