// A bounded, thread-safe queue of serialized events for one subscriber: the producer never waits, and when
// the consumer falls behind the oldest events are dropped and a marker tells it how many.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace tailor {

class event_queue {
public:
  using message = std::shared_ptr<const std::string>;

  explicit event_queue(std::size_t capacity);

  // Called (outside the lock, on the producer's thread) when a message arrives while the consumer waits
  // for one, i.e. after pop() came back empty. Set it before the queue is shared.
  void set_wakeup(std::function<void()> wakeup);

  // Producer side. Drops the oldest message when full; ignored once closed.
  void push(message text);

  // Consumer side: the next message, or null when there is none (the next push then wakes the consumer).
  // After drops, a marker `{"type":"dropped","count":N}` comes before the messages that survived.
  message pop();

  // The consumer is gone: pushes are ignored and the producer may forget the queue.
  void close();
  bool closed() const;

  std::uint64_t dropped_total() const;
  std::size_t capacity() const { return capacity_; }

private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<message> messages_;
  std::function<void()> wakeup_;
  std::uint64_t pending_dropped_ = 0; // dropped since the consumer last heard of drops
  std::uint64_t dropped_total_ = 0;
  bool consumer_waiting_ = true;
  bool closed_ = false;
};

} // namespace tailor
