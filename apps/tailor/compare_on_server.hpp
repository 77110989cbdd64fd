// `tailor compare --server URL`: the compare's runs as runs on tailord, so that they share its device and
// teacher limits fairly with each other and with other runs; read back over the API for io/compare.
#pragma once

#include "io/api/api_client.hpp"
#include "io/compare/compare_report.hpp"
#include "io/common/result.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tailor::cli {

struct server_run {
  std::string arm;
  std::uint64_t seed = 0;
  nlohmann::json config; // the run config, as `tailor run` would get it
};

// Submits each run as `<compare>-<arm>-seed<S>`, labelled compare, arm and seed (a run already there, from
// a compare started before, is not submitted again: the daemon resumes its unfinished runs itself), waits
// for all of them, and fetches each one's results and per-question evaluations. A run that failed or was
// cancelled is a problem naming it.
result<std::vector<compare::run_data>> compare_on_server(const api_endpoint& endpoint, const std::string& compare,
                                                         const std::vector<server_run>& runs,
                                                         const std::string& base_dir);

} // namespace tailor::cli
