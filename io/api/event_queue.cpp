// The bounded per-subscriber queue of io/api/event_queue.hpp.
#include "io/api/event_queue.hpp"

#include <algorithm>

namespace tailor {

event_queue::event_queue(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

void event_queue::set_wakeup(std::function<void()> wakeup) {
  std::lock_guard lock(mutex_);
  wakeup_ = std::move(wakeup);
}

void event_queue::push(message text) {
  std::function<void()> wakeup;
  {
    std::lock_guard lock(mutex_);
    if (closed_)
      return;
    if (messages_.size() >= capacity_) {
      messages_.pop_front();
      ++pending_dropped_;
      ++dropped_total_;
    }
    messages_.push_back(std::move(text));
    if (consumer_waiting_) {
      consumer_waiting_ = false;
      wakeup = wakeup_;
    }
  }
  if (wakeup)
    wakeup();
}

event_queue::message event_queue::pop() {
  std::lock_guard lock(mutex_);
  if (pending_dropped_ > 0) {
    auto marker = std::make_shared<const std::string>(R"({"type":"dropped","count":)" +
                                                      std::to_string(pending_dropped_) + "}");
    pending_dropped_ = 0;
    return marker;
  }
  if (messages_.empty()) {
    consumer_waiting_ = true;
    return nullptr;
  }
  message next = std::move(messages_.front());
  messages_.pop_front();
  return next;
}

void event_queue::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  messages_.clear();
  wakeup_ = nullptr;
}

bool event_queue::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::uint64_t event_queue::dropped_total() const {
  std::lock_guard lock(mutex_);
  return dropped_total_;
}

} // namespace tailor
