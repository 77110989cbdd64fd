// The report of `tailor compare`: reads each arm's runs (results.json and the per-question evaluation files),
// pairs them by seed and question, and renders compare.json and the table a person reads.
#pragma once

#include "io/common/result.hpp"
#include "io/compare/paired_stats.hpp"

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tailor::compare {

struct run_ref {
  std::string arm;
  std::uint64_t seed = 0;
  std::filesystem::path dir; // the run directory
};

// compare.json: per round, each arm's accuracies by seed, mean and se, teacher tokens and cost (cumulative),
// tokens per point gained since round 1; each arm's paired difference against `baseline`; and whether the
// arms of each seed answered round 1 identically (they share it when the method is reproducible).
// Problems name the run and file that is missing or malformed.
result<nlohmann::json> build_report(const std::vector<run_ref>& runs, const std::string& baseline,
                                    const bootstrap_options& options = {});

// The report as a table, one block per round, and the round-1 check.
std::string report_table(const nlohmann::json& report);

} // namespace tailor::compare
