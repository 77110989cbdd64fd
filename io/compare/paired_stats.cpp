// Paired differences, their standard error and a two-level paired bootstrap.
#include "io/compare/paired_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace tailor::compare {

mean_and_error mean_of(const std::vector<double>& values) {
  mean_and_error out;
  if (values.empty())
    return out;
  for (double v : values)
    out.mean += v;
  out.mean /= static_cast<double>(values.size());
  if (values.size() < 2)
    return out;
  double squares = 0;
  for (double v : values)
    squares += (v - out.mean) * (v - out.mean);
  const double n = static_cast<double>(values.size());
  out.standard_error = std::sqrt(squares / (n - 1) / n);
  return out;
}

namespace {

// For one seed: the per-question differences arm - baseline (each -1, 0 or 1), in question id order.
result<std::vector<int>> question_differences(std::uint64_t seed, const arm_round& arm, const arm_round& base) {
  if (arm.correct.size() != base.correct.size())
    return problem{"seed " + std::to_string(seed) + ": the arms answered " + std::to_string(arm.correct.size()) +
                   " and " + std::to_string(base.correct.size()) + " questions"};
  std::vector<int> out;
  out.reserve(arm.correct.size());
  for (const auto& [id, right] : arm.correct) {
    auto other = base.correct.find(id);
    if (other == base.correct.end())
      return problem{"seed " + std::to_string(seed) + ": question `" + id + "` is in one arm's evaluation only"};
    out.push_back(int(right) - int(other->second));
  }
  return out;
}

double percentile(std::vector<double> sorted, double q) {
  std::sort(sorted.begin(), sorted.end());
  // Linear interpolation between order statistics, as numpy's default.
  const double at = q * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(at));
  const auto above = std::min(below + 1, sorted.size() - 1);
  return sorted[below] + (at - static_cast<double>(below)) * (sorted[above] - sorted[below]);
}

} // namespace

result<paired_difference> compare_arms(const arm_seeds& arm, const arm_seeds& baseline,
                                       const bootstrap_options& options) {
  std::vector<std::vector<int>> by_seed;
  std::vector<double> differences, arm_accuracy, base_accuracy;
  for (const auto& [seed, round] : arm) {
    auto other = baseline.find(seed);
    if (other == baseline.end())
      continue;
    auto per_question = question_differences(seed, round, other->second);
    if (!per_question)
      return per_question.error();
    if (per_question->empty())
      return problem{"seed " + std::to_string(seed) + ": no evaluated questions"};
    by_seed.push_back(std::move(per_question.value()));
    arm_accuracy.push_back(round.accuracy);
    base_accuracy.push_back(other->second.accuracy);
    differences.push_back(round.accuracy - other->second.accuracy);
  }
  if (by_seed.empty())
    return problem{"the arms share no seed"};

  paired_difference out;
  out.seeds = by_seed.size();
  out.arm_mean = mean_of(arm_accuracy).mean;
  out.baseline_mean = mean_of(base_accuracy).mean;
  const auto paired = mean_of(differences);
  out.mean = paired.mean;
  out.standard_error = paired.standard_error;

  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<std::size_t> pick_seed(0, by_seed.size() - 1);
  std::vector<double> statistics;
  statistics.reserve(static_cast<std::size_t>(std::max(1, options.resamples)));
  for (int r = 0; r < std::max(1, options.resamples); ++r) {
    double total = 0;
    for (std::size_t s = 0; s < by_seed.size(); ++s) {
      const auto& questions = by_seed[pick_seed(rng)];
      std::uniform_int_distribution<std::size_t> pick(0, questions.size() - 1);
      long sum = 0;
      for (std::size_t q = 0; q < questions.size(); ++q)
        sum += questions[pick(rng)];
      total += static_cast<double>(sum) / static_cast<double>(questions.size());
    }
    statistics.push_back(total / static_cast<double>(by_seed.size()));
  }
  const double tail = (1.0 - options.level) / 2.0;
  out.low = percentile(statistics, tail);
  out.high = percentile(statistics, 1.0 - tail);
  return out;
}

double tokens_per_point(const arm_seeds& round_one, const arm_seeds& later) {
  std::vector<double> tokens, gains;
  for (const auto& [seed, round] : later) {
    auto first = round_one.find(seed);
    if (first == round_one.end())
      continue;
    tokens.push_back(static_cast<double>(round.teacher_tokens));
    gains.push_back(100.0 * (round.accuracy - first->second.accuracy));
  }
  const double gain = mean_of(gains).mean;
  if (tokens.empty() || gain <= 0)
    return std::numeric_limits<double>::infinity();
  return mean_of(tokens).mean / gain;
}

} // namespace tailor::compare
