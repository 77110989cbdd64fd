// The compare's runs on tailord (apps/tailor/compare_on_server.hpp).
#include "apps/tailor/compare_on_server.hpp"

#include "apps/tailor/daemon_endpoint.hpp"
#include "io/store/evaluation_records.hpp"

#include <chrono>
#include <iostream>
#include <set>
#include <thread>

namespace tailor::cli {
namespace {

using json = nlohmann::json;

std::string run_id(const std::string& compare, const server_run& run) {
  return compare + "-" + run.arm + "-seed" + std::to_string(run.seed);
}

// One call that must answer `expected` (or one of them); else the daemon's message.
result<api_response> call(const api_endpoint& endpoint, const std::string& method, const std::string& target,
                          const std::string& body, std::set<unsigned> expected) {
  auto response = api_call(endpoint, method, target, body);
  if (!response)
    return response.error();
  if (!expected.contains(response->status))
    return problem{method + " " + target + ": " + response->error_message()};
  return response;
}

bool is_final(const std::string& phase) {
  return phase == "finished" || phase == "failed" || phase == "cancelled";
}

// The run's per-question evaluations by round, as the daemon serves them.
result<std::map<std::uint32_t, std::vector<evaluation_record>>> evaluations_of(const api_endpoint& endpoint,
                                                                              const std::string& id) {
  auto response = call(endpoint, "GET", "/v1/runs/" + id + "/evaluations", {}, {200});
  if (!response)
    return response.error();
  const json body = response->json();
  if (!body.is_object() || !body.contains("rounds") || !body["rounds"].is_array())
    return problem{"run " + id + ": the daemon's evaluations have no `rounds` list"};
  std::map<std::uint32_t, std::vector<evaluation_record>> out;
  for (const auto& round : body["rounds"]) {
    if (!round.is_object() || !round.contains("round") || !round["round"].is_number_unsigned() ||
        !round.contains("records") || !round["records"].is_array())
      return problem{"run " + id + ": an evaluation round without `round` and `records`"};
    auto& records = out[round["round"].get<std::uint32_t>()];
    for (const auto& line : round["records"]) {
      auto record = evaluation_record_from_json(line);
      if (!record)
        return problem{"run " + id + ", round " + round["round"].dump() + ": " + record.error().message};
      records.push_back(std::move(record.value()));
    }
  }
  return out;
}

} // namespace

result<std::vector<compare::run_data>> compare_on_server(const api_endpoint& endpoint, const std::string& compare,
                                                         const std::vector<server_run>& runs,
                                                         const std::string& base_dir) {
  for (const auto& run : runs) {
    const auto id = run_id(compare, run);
    const std::string target = "/v1/runs?id=" + percent_encode(id) + "&compare=" + percent_encode(compare) +
                               "&arm=" + percent_encode(run.arm) + "&seed=" + std::to_string(run.seed) +
                               "&base_dir=" + percent_encode(base_dir);
    auto submitted = call(endpoint, "POST", target, run.config.dump(), {201, 409});
    if (!submitted)
      return submitted.error();
    std::cerr << "tailor compare: " << run.arm << " seed " << run.seed << ": "
              << (submitted->status == 201 ? "submitted as " : "on the daemon since before as ") << id << "\n";
  }

  // Polled, not watched: a compare's runs take minutes to hours, and a poll every few seconds costs nothing.
  std::map<std::string, json> ended; // id -> the run as the daemon answered it last
  while (ended.size() < runs.size()) {
    for (const auto& run : runs) {
      const auto id = run_id(compare, run);
      if (ended.contains(id))
        continue;
      auto answered = call(endpoint, "GET", "/v1/runs/" + id, {}, {200});
      if (!answered)
        return answered.error();
      json state = answered->json();
      const std::string phase = state.value("phase", "");
      if (!is_final(phase))
        continue;
      std::cerr << "tailor compare: " << run.arm << " seed " << run.seed << ": " << phase << "\n";
      ended[id] = std::move(state);
    }
    if (ended.size() < runs.size())
      std::this_thread::sleep_for(std::chrono::seconds(2));
  }

  std::vector<compare::run_data> out;
  std::string failed;
  for (const auto& run : runs) {
    const auto id = run_id(compare, run);
    const json& state = ended[id];
    if (state.value("phase", "") != "finished") {
      const json& progress = state["progress"];
      failed += "\n  " + id + ": " + state.value("phase", "") + " (" +
                (progress.is_object() ? progress.value("message", "") : "") + ")";
      continue;
    }
    auto evaluations = evaluations_of(endpoint, id);
    if (!evaluations)
      return evaluations.error();
    out.push_back({run.arm, run.seed, "run " + id, state["results"], std::move(evaluations.value())});
  }
  if (!failed.empty())
    return problem{"runs of the compare did not finish:" + failed +
                   "\n(`tailor results ID` shows a run; remove a failed one from the daemon's data dir to run it again)"};
  return out;
}

} // namespace tailor::cli
