// What the exam and the teacher send for a round that is not training yet waits at this gate.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

namespace tailor {

// Continuous mode starts the next round's exam while a round finishes its last steps, so the student's wrong
// rationales and the teacher's corrections for round r + 1 arrive while round r trains. They must not enter
// the pools before round r + 1 does: round r's last batches would train on an exam that was not round r's
// (its corrections oversampled, its wrong rationales as triplet negatives), and round r's checkpoint would
// save them as its own. The gate holds them, in the order they came, until the trainer asks for round
// r + 1's items. What belongs to the round in training or an earlier one passes straight through.
template <class Arrival>
class round_gate {
public:
  // Whether `arrival`, for round `round`, may enter the pools now; if not, the gate keeps it.
  bool admit(std::uint32_t round, const Arrival& arrival) {
    if (round <= round_)
      return true;
    later_.emplace_back(round, arrival);
    return false;
  }

  // Round `round` trains from now on (a lower round changes nothing): what was kept for it or an earlier
  // round, in the order it came.
  std::vector<Arrival> open(std::uint32_t round) {
    if (round <= round_)
      return {};
    round_ = round;
    auto due = std::stable_partition(later_.begin(), later_.end(),
                                     [round](const auto& kept) { return kept.first <= round; });
    std::vector<Arrival> out;
    for (auto it = later_.begin(); it != due; ++it)
      out.push_back(std::move(it->second));
    later_.erase(later_.begin(), due);
    return out;
  }

  std::uint32_t round() const { return round_; }
  std::size_t waiting() const { return later_.size(); }

private:
  std::uint32_t round_ = 0; // the round in training; 0 before the first
  std::vector<std::pair<std::uint32_t, Arrival>> later_;
};

} // namespace tailor
