#include "io/loop/feedback_picker.hpp"

namespace tailor {

feedback_picker::feedback_picker(std::uint32_t quota, feedback_order order)
    : quota_(quota), order_(order) {}

std::vector<graded_answer> feedback_picker::take(const std::vector<graded_answer>& mistakes,
                                                 const std::unordered_set<std::string>& answered_right) {
  std::vector<graded_answer> now;
  for (const auto& m : mistakes) {
    if (asked_.contains(m.example_id) || held_questions_.contains(m.example_id))
      continue;
    const bool near_miss = answered_right.contains(m.example_id);
    if ((order_ == feedback_order::near_misses_first && !near_miss) ||
        (order_ == feedback_order::misses_first && near_miss)) {
      held_questions_.insert(m.example_id);
      held_.push_back(m);
      continue;
    }
    if (!quota_left())
      continue;
    asked_.insert(m.example_id);
    now.push_back(m);
  }
  return now;
}

std::vector<graded_answer> feedback_picker::finish() {
  std::vector<graded_answer> now;
  for (auto& m : held_) {
    if (!quota_left())
      break;
    if (asked_.insert(m.example_id).second)
      now.push_back(std::move(m));
  }
  held_.clear();
  held_questions_.clear();
  return now;
}

} // namespace tailor
