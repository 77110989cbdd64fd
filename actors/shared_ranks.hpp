// The data-parallel ranks (actors/trainer_ranks.hpp) as the exam finds them: the trainer, which holds them,
// posts them here once they have met; student_inference takes them for one exam chunk at a time (null:
// none, or gone). Made by the coordinator and handed to both actors when they are spawned.
#pragma once

#include <memory>
#include <mutex>

namespace tailor {

class trainer_ranks;

class shared_ranks {
public:
  void post(const std::shared_ptr<trainer_ranks>& ranks) {
    std::lock_guard lock{mutex_};
    ranks_ = ranks;
  }
  std::shared_ptr<trainer_ranks> take() const {
    std::lock_guard lock{mutex_};
    return ranks_.lock();
  }

private:
  mutable std::mutex mutex_;
  std::weak_ptr<trainer_ranks> ranks_;
};

} // namespace tailor
