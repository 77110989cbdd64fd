// What the daemon shows of compares: the runs `tailor compare --server` submitted, grouped by their compare,
// arm and seed labels, with each run's accuracy and teacher spend per round (from its results.json).
#pragma once

#include "io/store/run_store.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tailor {

// {"compares": [{"name", "arms", "seeds", "runs", "finished", "created_ms"}]}, oldest first.
nlohmann::json list_compares(const std::vector<const run_record*>& runs);

// {"name", "arms": {arm: {seed: {"run_id", "phase", "rounds": [{"round", "accuracy", "teacher_tokens",
// "teacher_cost_usd"}]}}}}; rounds are each round's own spend, as results.json has them. Nullopt when no run
// carries the compare's name.
std::optional<nlohmann::json> compare_detail(const std::string& name, const std::vector<const run_record*>& runs,
                                             const run_store& store);

} // namespace tailor
