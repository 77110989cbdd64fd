// The daemon's compare views (daemon/compare_views.hpp).
#include "daemon/compare_views.hpp"

#include <map>
#include <set>

namespace tailor {
namespace {

using json = nlohmann::json;

std::string label(const run_record& run, const std::string& key) {
  const auto found = run.labels.find(key);
  return found == run.labels.end() ? std::string{} : found->second;
}

// A compare's seeds sort as numbers: seed 10 after seed 9.
struct by_number {
  bool operator()(const std::string& a, const std::string& b) const {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  }
};

} // namespace

json list_compares(const std::vector<const run_record*>& runs) {
  struct summary {
    std::set<std::string> arms;
    std::set<std::string, by_number> seeds;
    std::size_t runs = 0, finished = 0;
    std::int64_t created_ms = 0;
  };
  std::map<std::string, summary> compares;
  for (const run_record* run : runs) {
    const std::string name = label(*run, "compare");
    if (name.empty())
      continue;
    auto& c = compares[name];
    c.arms.insert(label(*run, "arm"));
    c.seeds.insert(label(*run, "seed"));
    ++c.runs;
    c.finished += run->phase == run_phase::finished ? 1 : 0;
    c.created_ms = c.created_ms == 0 ? run->created_ms : std::min(c.created_ms, run->created_ms);
  }
  json list = json::array();
  for (const auto& [name, c] : compares)
    list.push_back({{"name", name},
                    {"arms", c.arms},
                    {"seeds", c.seeds},
                    {"runs", c.runs},
                    {"finished", c.finished},
                    {"created_ms", c.created_ms}});
  std::stable_sort(list.begin(), list.end(),
                   [](const json& a, const json& b) { return a["created_ms"] < b["created_ms"]; });
  return {{"compares", std::move(list)}};
}

std::optional<json> compare_detail(const std::string& name, const std::vector<const run_record*>& runs,
                                   const run_store& store) {
  json arms = json::object();
  for (const run_record* run : runs) {
    if (label(*run, "compare") != name)
      continue;
    json rounds = json::array();
    if (const auto results = store.load_results(run->id); results && results->contains("rounds"))
      for (const auto& r : (*results)["rounds"]) {
        if (!r.is_object())
          continue;
        rounds.push_back({{"round", r.value("round", 0)},
                          {"accuracy", r.value("accuracy", 0.0)},
                          {"teacher_tokens", r.value("teacher_tokens", std::uint64_t{0})},
                          {"teacher_cost_usd", r.value("teacher_cost_usd", 0.0)}});
      }
    arms[label(*run, "arm")][label(*run, "seed")] = {
        {"run_id", run->id}, {"phase", to_string(run->phase)}, {"rounds", std::move(rounds)}};
  }
  if (arms.empty())
    return std::nullopt;
  return json{{"name", name}, {"arms", std::move(arms)}};
}

} // namespace tailor
