// The report of `tailor compare`: reads each arm's runs (results.json and the per-question evaluation files),
// pairs them by seed and question, and renders compare.json and the table a person reads.
#pragma once

#include "io/common/result.hpp"
#include "io/compare/paired_stats.hpp"
#include "io/store/evaluation_records.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tailor::compare {

struct run_ref {
  std::string arm;
  std::uint64_t seed = 0;
  std::filesystem::path dir; // the run directory
};

// One run as the report reads it, however it was fetched (its directory, or the daemon's API): its
// results.json and its per-question evaluations by round.
struct run_data {
  std::string arm;
  std::uint64_t seed = 0;
  std::string name; // what problems name: the results file, or the daemon's run id
  nlohmann::json results;
  std::map<std::uint32_t, std::vector<evaluation_record>> evaluations;
};

// A run directory's results.json and evaluations/round_N.jsonl files.
result<run_data> read_run_dir(const run_ref& run);

// compare.json: per round, each arm's accuracies by seed, mean and se, teacher tokens and cost (cumulative),
// tokens per point gained since round 1; each arm's paired difference against `baseline`; and whether the
// arms of each seed answered round 1 identically (they share it when the method is reproducible).
// Problems name the run and file that is missing or malformed.
result<nlohmann::json> build_report(const std::vector<run_data>& runs, const std::string& baseline,
                                    const bootstrap_options& options = {});
// The same over run directories.
result<nlohmann::json> build_report(const std::vector<run_ref>& runs, const std::string& baseline,
                                    const bootstrap_options& options = {});

// The report as a table, one block per round, and the round-1 check.
std::string report_table(const nlohmann::json& report);

} // namespace tailor::compare
