// The FIFO semaphore (sharing/fifo_semaphore.hpp). A freed slot passes straight to the first in line, so a
// releaser that asks again at once queues behind those already waiting.
#include "sharing/fifo_semaphore.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace tailor {

fifo_semaphore::lease::lease(lease&& other) noexcept
    : owner_(std::move(other.owner_)), turns_waited_(other.turns_waited_) {}

fifo_semaphore::lease& fifo_semaphore::lease::operator=(lease&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::move(other.owner_);
    turns_waited_ = other.turns_waited_;
  }
  return *this;
}

fifo_semaphore::lease::~lease() {
  release();
}

void fifo_semaphore::lease::release() {
  if (auto owner = std::move(owner_))
    owner->give_back();
}

std::shared_ptr<fifo_semaphore> fifo_semaphore::create(std::size_t slots) {
  if (slots == 0)
    throw std::invalid_argument("fifo_semaphore: at least one slot");
  return std::make_shared<fifo_semaphore>(slots);
}

fifo_semaphore::lease fifo_semaphore::acquire() {
  std::mutex mutex;
  std::condition_variable arrived;
  std::optional<lease> got;
  acquire_async([&](lease granted) {
    std::lock_guard hold(mutex);
    got.emplace(std::move(granted));
    arrived.notify_one(); // under the lock: the waiter cannot return, and destroy `arrived`, before this
  });
  std::unique_lock hold(mutex);
  arrived.wait(hold, [&] { return got.has_value(); });
  return std::move(*got);
}

fifo_semaphore::lease fifo_semaphore::try_acquire() {
  std::lock_guard hold(mutex_);
  if (active_ >= slots_ || !line_.empty())
    return {};
  ++active_;
  ++granted_;
  return lease(shared_from_this(), 0);
}

fifo_semaphore::ticket fifo_semaphore::acquire_async(granted_handler granted) {
  std::unique_lock hold(mutex_);
  const ticket id = next_ticket_++;
  if (active_ < slots_ && line_.empty()) {
    ++active_;
    ++granted_;
    hold.unlock();
    granted(lease(shared_from_this(), 0));
    return id;
  }
  line_.push_back({id, granted_, std::move(granted)});
  return id;
}

bool fifo_semaphore::withdraw(ticket id) {
  std::unique_lock hold(mutex_);
  if (auto found = std::ranges::find(line_, id, &waiter::id); found != line_.end()) {
    line_.erase(found);
    return true;
  }
  handed_over_.wait(hold, [&] { return std::ranges::find(handing_over_, id) == handing_over_.end(); });
  return false;
}

fifo_semaphore::usage fifo_semaphore::current() const {
  std::lock_guard hold(mutex_);
  return {slots_, active_, line_.size(), granted_};
}

void fifo_semaphore::give_back() {
  std::unique_lock hold(mutex_);
  if (line_.empty()) {
    --active_;
    return;
  }
  // The slot passes to the first in line without ever being free.
  waiter next = std::move(line_.front());
  line_.pop_front();
  lease granted(shared_from_this(), granted_ - next.granted_before);
  ++granted_;
  handing_over_.push_back(next.id);
  hold.unlock();
  // Outside the lock: the handler may drop its lease, which comes back here.
  try {
    next.granted(std::move(granted));
  } catch (...) {
    // A handler that throws has dropped its lease; the slot has moved on.
  }
  hold.lock();
  std::erase(handing_over_, next.id);
  handed_over_.notify_all();
}

} // namespace tailor
