// Which keys two run configs set differently (io/config/config_differences.hpp).
#include "io/config/config_differences.hpp"

#include <nlohmann/json.hpp>

namespace tailor {
namespace {

using nlohmann::json;

std::string shown(const json* value) {
  if (!value)
    return "unset";
  auto text = value->dump();
  return text.size() <= 40 ? text : text.substr(0, 37) + "...";
}

void compare(const json* there, const json* here, const std::string& path, std::vector<std::string>& out) {
  if (there && here && there->is_object() && here->is_object()) {
    for (const auto& [key, value] : there->items()) {
      const auto found = here->find(key);
      compare(&value, found == here->end() ? nullptr : &*found, path.empty() ? key : path + "." + key, out);
    }
    for (const auto& [key, value] : here->items())
      if (!there->contains(key))
        compare(nullptr, &value, path.empty() ? key : path + "." + key, out);
    return;
  }
  if (!there || !here || *there != *here)
    out.push_back(path + ": " + shown(there) + " there, " + shown(here) + " here");
}

} // namespace

std::vector<std::string> config_differences(const json& there, const json& here) {
  std::vector<std::string> out;
  compare(&there, &here, "", out);
  return out;
}

} // namespace tailor
