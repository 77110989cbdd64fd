// A counting semaphore that hands its slots out first come, first served, to blocking and asynchronous
// askers alike: whoever asks while others wait queues behind them, so no asker starves.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace tailor {

class fifo_semaphore : public std::enable_shared_from_this<fifo_semaphore> {
public:
  // One slot, held until the lease is destroyed or released; an empty lease holds nothing.
  class lease {
  public:
    lease() = default;
    lease(lease&& other) noexcept;
    lease& operator=(lease&& other) noexcept;
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease();

    explicit operator bool() const { return owner_ != nullptr; }
    // Leases granted to others while this one waited: at most (askers - 1) with one ticket per asker.
    std::uint64_t turns_waited() const { return turns_waited_; }
    // Gives the slot back now (it goes to the first in line); does nothing on an empty lease.
    void release();

  private:
    friend class fifo_semaphore;
    lease(std::shared_ptr<fifo_semaphore> owner, std::uint64_t turns_waited)
        : owner_(std::move(owner)), turns_waited_(turns_waited) {}
    std::shared_ptr<fifo_semaphore> owner_;
    std::uint64_t turns_waited_ = 0;
  };

  // Called once with the lease: at once on the asking thread when a slot is free and nobody waits,
  // otherwise later on the thread that frees a slot. It must be quick and must not block (hand the lease to
  // its owner's thread, e.g. asio::post); dropping the lease gives the slot to the next in line.
  using granted_handler = std::function<void(lease)>;
  using ticket = std::uint64_t;

  struct usage {
    std::size_t slots = 0;
    std::size_t active = 0;    // leases held now
    std::size_t waiting = 0;   // askers in line
    std::uint64_t granted = 0; // leases handed out so far
  };

  // `slots` at least 1.
  static std::shared_ptr<fifo_semaphore> create(std::size_t slots);

  // Blocks until this caller's turn.
  lease acquire();
  // A lease now, or an empty one when no slot is free or others are in line (who keep their places).
  lease try_acquire();
  // Queues `granted` (or calls it at once, see granted_handler); the ticket can be withdrawn while it waits.
  ticket acquire_async(granted_handler granted);
  // Takes a waiting ticket out of line: true if it was still waiting. False when its handler has run or is
  // running; in that case this returns only after the handler has. Not to be called from a handler.
  bool withdraw(ticket id);

  usage current() const;

  explicit fifo_semaphore(std::size_t slots) : slots_(slots) {} // use create()

private:
  struct waiter {
    ticket id = 0;
    std::uint64_t granted_before = 0; // `granted_` when it asked
    granted_handler granted;
  };

  void give_back();

  const std::size_t slots_;
  mutable std::mutex mutex_;
  std::condition_variable handed_over_; // a handler that was running has returned
  std::deque<waiter> line_;
  std::vector<ticket> handing_over_; // tickets whose handler is running now
  std::size_t active_ = 0;
  std::uint64_t granted_ = 0;
  ticket next_ticket_ = 1;
};

} // namespace tailor
