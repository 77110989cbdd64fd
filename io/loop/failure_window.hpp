// Whether the teacher is failing systematically: the share of failed requests among the last ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

namespace tailor {

// A provider's bad hour makes a few requests fail after all their tries; a broken endpoint makes most of them
// fail. The window tells the two apart: the run stops when more than `max_share` of the last `size` requests
// failed. It judges only once `least` requests finished (or `size`, when smaller), so that the first
// failure of a run is not a 100% share.
class failure_window {
public:
  static constexpr std::size_t least = 10;

  failure_window(std::size_t size, double max_share) : size_(size == 0 ? 1 : size), max_share_(max_share) {}

  // One finished request. Returns whether the window now holds more failures than it may.
  bool add(bool failed) {
    outcomes_.push_back(failed);
    failed_ += failed ? 1 : 0;
    if (outcomes_.size() > size_) {
      failed_ -= outcomes_.front() ? 1 : 0;
      outcomes_.pop_front();
    }
    return exceeded();
  }

  bool exceeded() const {
    const std::size_t judged_after = size_ < least ? size_ : least;
    return outcomes_.size() >= judged_after &&
           static_cast<double>(failed_) > max_share_ * static_cast<double>(outcomes_.size());
  }

  std::size_t failed() const { return failed_; }
  std::size_t seen() const { return outcomes_.size(); }

private:
  std::size_t size_;
  double max_share_;
  std::deque<bool> outcomes_;
  std::size_t failed_ = 0;
};

} // namespace tailor
