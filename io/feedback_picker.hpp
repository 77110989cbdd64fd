// Which of an exam pass's mistakes go to the teacher when the pass's quota of requests is smaller than its
// mistakes. With `near_misses_first`, a question the student answered right in some sample and wrong in another is
// asked about at once; a question it got wrong in every sample waits until the pass is over and gets what is
// left of the quota. `misses_first` is the other way round: the questions wrong in every sample at once, the
// near misses with what is left. The idea: a small student learns from the correction of an error it nearly avoids, while
// corrections of problems far beyond it crowd out what it can learn (README, "The embedded default", has the
// measurement).
#pragma once

#include "messages/grading.hpp"
#include "messages/run_config.hpp"

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

namespace tailor {

class feedback_picker {
public:
  // quota 0: every mistaken question of the pass.
  feedback_picker(std::uint32_t quota, feedback_order order);

  // One graded batch: the first new wrong answer of each question (in the order graded) and the questions the
  // batch answered right at least once. Returns the mistakes to send now; a question is asked about once a pass.
  std::vector<graded_answer> take(const std::vector<graded_answer>& mistakes,
                                  const std::unordered_set<std::string>& answered_right);
  // The pass is over: the held mistakes that fit in what is left of the quota, in the order they came.
  std::vector<graded_answer> finish();

  std::size_t asked() const { return asked_.size(); }

private:
  bool quota_left() const { return quota_ == 0 || asked_.size() < quota_; }

  std::uint32_t quota_;
  feedback_order order_;
  std::unordered_set<std::string> asked_;
  std::unordered_set<std::string> held_questions_;
  std::vector<graded_answer> held_;
};

} // namespace tailor
