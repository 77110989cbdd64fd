// Building compare.json from run directories, and its table.
#include "io/compare/compare_report.hpp"

#include "io/store/evaluation_records.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>

namespace tailor::compare {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct run_rounds {
  std::map<std::uint32_t, arm_round> rounds;
  std::optional<std::vector<evaluation_record>> round_one; // its answers in full, for the round-1 check
};

// The rounds of a run's results with their per-question correctness, spend summed up to each round.
result<run_rounds> rounds_of(const run_data& run) {
  const json& results = run.results;
  if (!results.is_object() || !results.contains("rounds") || !results["rounds"].is_array())
    return problem{run.name + ": not a results file (no `rounds` list)"};
  run_rounds out;
  std::uint64_t tokens = 0;
  double cost = 0;
  for (const auto& r : results["rounds"]) {
    if (!r.is_object() || !r.contains("round") || !r["round"].is_number_unsigned() || !r.contains("accuracy") ||
        !r["accuracy"].is_number())
      return problem{run.name + ": a round without `round` and `accuracy`: " + r.dump()};
    const auto number = r["round"].get<std::uint32_t>();
    const auto records = run.evaluations.find(number);
    if (records == run.evaluations.end())
      return problem{run.name + ": no per-question evaluation of round " + std::to_string(number)};
    arm_round round;
    round.accuracy = r["accuracy"].get<double>();
    for (const auto& record : records->second)
      round.correct[record.example_id] = record.correct;
    tokens += r.value("teacher_tokens", std::uint64_t{0});
    cost += r.value("teacher_cost_usd", 0.0);
    round.teacher_tokens = tokens;
    round.teacher_cost_usd = cost;
    out.rounds.emplace(number, std::move(round));
    if (number == 1)
      out.round_one = records->second;
  }
  return out;
}

json finite_or_null(double value) {
  return std::isfinite(value) ? json(value) : json(nullptr);
}

} // namespace

result<run_data> read_run_dir(const run_ref& run) {
  const auto file = run.dir / "results.json";
  std::ifstream in{file};
  if (!in)
    return problem{file.string() + ": missing (the run of arm " + run.arm + ", seed " + std::to_string(run.seed) +
                   " has not finished a round)"};
  run_data data{run.arm, run.seed, file.string(), json::parse(in, nullptr, /*allow_exceptions=*/false), {}};
  if (data.results.is_object() && data.results.contains("rounds") && data.results["rounds"].is_array())
    for (const auto& r : data.results["rounds"]) {
      if (!r.is_object() || !r.contains("round") || !r["round"].is_number_unsigned())
        continue; // rounds_of names it
      const auto number = r["round"].get<std::uint32_t>();
      auto records = read_evaluation(evaluation_file(run.dir, number));
      if (!records)
        return records.error();
      data.evaluations[number] = std::move(records.value());
    }
  return data;
}

result<json> build_report(const std::vector<run_ref>& runs, const std::string& baseline,
                          const bootstrap_options& options) {
  std::vector<run_data> read;
  for (const auto& run : runs) {
    auto data = read_run_dir(run);
    if (!data)
      return data.error();
    read.push_back(std::move(data.value()));
  }
  return build_report(read, baseline, options);
}

result<json> build_report(const std::vector<run_data>& runs, const std::string& baseline,
                          const bootstrap_options& options) {
  std::vector<std::string> arms;
  std::set<std::uint64_t> seeds;
  std::map<std::string, std::map<std::uint64_t, run_rounds>> read; // arm -> seed -> rounds
  for (const auto& run : runs) {
    auto rounds = rounds_of(run);
    if (!rounds)
      return rounds.error();
    if (!read.contains(run.arm))
      arms.push_back(run.arm);
    read[run.arm][run.seed] = std::move(rounds.value());
    seeds.insert(run.seed);
  }
  if (!read.contains(baseline))
    return problem{"the baseline arm `" + baseline + "` has no runs"};

  std::set<std::uint32_t> round_numbers;
  for (const auto& [arm, by_seed] : read)
    for (const auto& [seed, run] : by_seed)
      for (const auto& [number, round] : run.rounds)
        round_numbers.insert(number);

  json report = {{"arms", arms}, {"baseline", baseline}, {"seeds", seeds}, {"rounds", json::array()},
                 {"bootstrap", {{"resamples", options.resamples}, {"level", options.level}, {"seed", options.seed}}}};
  auto seeds_of_round = [&](const std::string& arm, std::uint32_t number) {
    arm_seeds out;
    for (const auto& [seed, run] : read[arm])
      if (auto found = run.rounds.find(number); found != run.rounds.end())
        out.emplace(seed, found->second);
    return out;
  };
  for (auto number : round_numbers) {
    json round = {{"round", number}, {"arms", json::object()}, {"differences", json::object()}};
    for (const auto& arm : arms) {
      auto by_seed = seeds_of_round(arm, number);
      std::vector<double> accuracies, tokens, costs;
      json per_seed = json::object();
      for (const auto& [seed, r] : by_seed) {
        accuracies.push_back(r.accuracy);
        tokens.push_back(static_cast<double>(r.teacher_tokens));
        costs.push_back(r.teacher_cost_usd);
        per_seed[std::to_string(seed)] = r.accuracy;
      }
      const auto accuracy = mean_of(accuracies);
      round["arms"][arm] = {{"accuracy_by_seed", per_seed},
                            {"mean", accuracy.mean},
                            {"standard_error", accuracy.standard_error},
                            {"teacher_tokens", mean_of(tokens).mean},
                            {"teacher_cost_usd", mean_of(costs).mean},
                            {"tokens_per_point", number > 1 ? finite_or_null(tokens_per_point(
                                                                  seeds_of_round(arm, 1), by_seed))
                                                            : json(nullptr)}};
      if (arm == baseline)
        continue;
      auto difference = compare_arms(by_seed, seeds_of_round(baseline, number), options);
      if (!difference)
        return problem{"round " + std::to_string(number) + ", " + arm + " against " + baseline + ": " +
                       difference.error().message};
      round["differences"][arm] = {{"seeds", difference->seeds},     {"mean", difference->mean},
                                   {"standard_error", difference->standard_error},
                                   {"low", difference->low},         {"high", difference->high},
                                   {"clear", difference->clear()}};
    }
    report["rounds"].push_back(std::move(round));
  }

  // Round 1 is the same for every arm of a seed (nothing arm-specific happens before its evaluation): the
  // arms' answers must agree question for question, or the pairing compares two draws, not two methods.
  json identical = json::object();
  for (auto seed : seeds) {
    const std::vector<evaluation_record>* first = nullptr;
    bool same = true;
    for (const auto& arm : arms) {
      auto run = read[arm].find(seed);
      if (run == read[arm].end() || !run->second.round_one)
        continue;
      const auto& records = *run->second.round_one;
      if (!first)
        first = &records;
      else if (records != *first)
        same = false;
    }
    identical[std::to_string(seed)] = same;
  }
  report["round_one_identical"] = identical;
  return report;
}

std::string report_table(const json& report) {
  auto percent = [](double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", 100.0 * v);
    return std::string{text};
  };
  auto signed_points = [](double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%+.1f", 100.0 * v);
    return std::string{text};
  };
  const auto baseline = report["baseline"].get<std::string>();
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-5s  %-12s %-13s %-46s %14s %12s\n", "round", "arm", "accuracy %",
                ("vs " + baseline + ", points [95%]").c_str(), "teacher tokens", "tokens/point");
  out += line;
  for (const auto& round : report["rounds"]) {
    for (const auto& arm_name : report["arms"]) {
      const auto arm = arm_name.get<std::string>();
      const auto& a = round["arms"][arm];
      std::string versus = "baseline";
      if (round["differences"].contains(arm)) {
        const auto& d = round["differences"][arm];
        versus = signed_points(d["mean"]) + " ± " + percent(d["standard_error"]) + " [" +
                 signed_points(d["low"]) + ", " + signed_points(d["high"]) + "]" +
                 (d["clear"].get<bool>() ? "" : " no clear difference");
      }
      std::string per_point = a["tokens_per_point"].is_null() ? "-" : std::to_string(
                                                                            static_cast<long long>(a["tokens_per_point"].get<double>()));
      std::snprintf(line, sizeof line, "%-5u  %-12s %-13s %-46s %14.0f %12s\n", round["round"].get<unsigned>(),
                    arm.c_str(), (percent(a["mean"]) + " ± " + percent(a["standard_error"])).c_str(),
                    versus.c_str(), a["teacher_tokens"].get<double>(), per_point.c_str());
      out += line;
    }
  }
  std::string differing;
  for (const auto& [seed, same] : report["round_one_identical"].items())
    if (!same.get<bool>())
      differing += (differing.empty() ? "" : ", ") + seed;
  out += differing.empty() ? "round 1: every seed's arms answered every question alike (paired)\n"
                           : "round 1: the arms differ for seed(s) " + differing +
                                 ": those pairs compare two draws, not only two methods\n";
  out += "seeds: " + std::to_string(report["seeds"].size()) + "; ± is the standard error over seeds; the interval " +
         "a paired bootstrap over seeds and questions\n";
  return out;
}

} // namespace tailor::compare
