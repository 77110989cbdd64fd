#include "io/loop/first_pass.hpp"

#include <algorithm>

namespace tailor {

void first_pass::expect(const std::vector<std::string>& example_ids, std::uint32_t every) {
  order_.clear();
  position_.clear();
  held_.clear();
  next_ = 0;
  every_ = std::max<std::uint32_t>(1, every);
  served_ = 0;
  for (const auto& id : example_ids)
    if (position_.emplace(id, order_.size()).second)
      order_.push_back(id);
}

bool first_pass::expects(const std::string& example_id) const {
  auto it = position_.find(example_id);
  return it != position_.end() && it->second >= next_;
}

void first_pass::hold(const example& problem, std::vector<std::string> rationales) {
  auto& held = held_[problem.id];
  held.problem = problem;
  for (auto& r : rationales)
    held.rationales.push_back(std::move(r));
}

std::vector<training_item> first_pass::next_batch(std::size_t size, reflection_pools& pools, std::mt19937_64& rng) {
  if (served_ % every_ != 0) { // between two pass batches: a draw from the questions served so far
    auto drawn = pools.draw_batch(size, 0.0, rng); // round 1's pools hold no fresh corrections
    served_ += drawn.empty() ? 0 : 1;
    return drawn;
  }
  // How far the batch reaches: `size` answered questions with rationales, or the end of the pass.
  std::size_t end = next_;
  std::size_t with_rationales = 0;
  for (; end < order_.size() && with_rationales < size; ++end) {
    auto it = held_.find(order_[end]);
    if (it == held_.end())
      return {}; // its answer is still on the way
    if (!it->second.rationales.empty())
      ++with_rationales;
  }
  std::vector<training_item> batch;
  for (; next_ < end; ++next_) {
    auto node = held_.extract(order_[next_]);
    const auto& held = node.mapped();
    for (const auto& r : held.rationales)
      pools.add_positive(held.problem, r, false);
    if (const auto count = pools.positives_of(held.problem.id); count > 0) {
      std::uniform_int_distribution<std::size_t> pick(0, count - 1);
      batch.push_back(pools.item(held.problem.id, pick(rng), rng));
    }
  }
  served_ += batch.empty() ? 0 : 1;
  return batch;
}

} // namespace tailor
