// Which keys two run configs (as JSON) set differently: what a run directory's config.json and a new run's
// config disagree on before the new one would resume the old one.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace tailor {

// One line a key whose values differ, by its path: `seed: 1 there, 2 here`; keys on one side only count too.
// Empty when they agree.
std::vector<std::string> config_differences(const nlohmann::json& there, const nlohmann::json& here);

} // namespace tailor
