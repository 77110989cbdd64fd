// Names of the task kinds, for configs, CLI flags and messages.
#include "messages/example.hpp"

#include <string>

namespace tailor {

std::string_view to_string(task_kind task) {
  return enum_names<task_kind>::values.at(static_cast<std::size_t>(task));
}

std::optional<task_kind> parse_task_kind(std::string_view name) {
  return parse_enum<task_kind>(name);
}

std::string_view task_kind_names() {
  static const std::string names = enum_name_list<task_kind>();
  return names;
}

} // namespace tailor
