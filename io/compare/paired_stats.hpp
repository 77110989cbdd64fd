// The statistics of `tailor compare`: arms of a run config over the same seeds, paired by seed and by
// question, so that what differs between two arms is the arm and not the draw.
#pragma once

#include "io/common/result.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tailor::compare {

// One arm's run at one seed, after one round: its held-out questions in the evaluation's order, and its
// teacher spend up to and including that round.
struct arm_round {
  double accuracy = 0;                 // as the run reported it (a fraction)
  std::map<std::string, bool> correct; // question id -> answered right
  std::uint64_t teacher_tokens = 0;    // cumulative
  double teacher_cost_usd = 0;         // cumulative
};

// An arm's seeds -> its round, for one round.
using arm_seeds = std::map<std::uint64_t, arm_round>;

struct bootstrap_options {
  int resamples = 2000;
  std::uint64_t seed = 20231206; // fixed: the same inputs give the same interval
  double level = 0.95;
};

// `arm` against `baseline` at one round over the seeds both have.
struct paired_difference {
  std::size_t seeds = 0;
  double arm_mean = 0, baseline_mean = 0; // accuracy, fractions
  double mean = 0;           // mean over seeds of the paired difference arm - baseline
  double standard_error = 0; // of that mean, over seeds (0 with one seed)
  // Paired bootstrap: seeds drawn with replacement, then each drawn seed's questions with replacement (the
  // same questions for both arms), the statistic the mean paired difference; percentile interval.
  double low = 0, high = 0;
  bool clear() const { return low > 0 || high < 0; } // the interval excludes 0
};

// Problems: no common seed, or a seed whose two runs answered different question sets.
result<paired_difference> compare_arms(const arm_seeds& arm, const arm_seeds& baseline,
                                       const bootstrap_options& options = {});

// Mean and standard error of the mean of `values` (se 0 for fewer than two).
struct mean_and_error {
  double mean = 0, standard_error = 0;
};
mean_and_error mean_of(const std::vector<double>& values);

// Teacher tokens an arm spent per accuracy point (percentage point) it gained since round 1, mean over
// seeds: what an accuracy point costs. Negative or no gain gives infinity.
double tokens_per_point(const arm_seeds& round_one, const arm_seeds& later);

} // namespace tailor::compare
