// Turns on the trainer's device for the daemon's concurrent runs: each device has its own FIFO slots, so
// that runs waiting for it take turns and none starves however often another asks. A run with several
// data-parallel ranks takes a turn on each of its ranks' devices at once, and the scheduler gives a run
// that asks for GPUs without naming one the block of GPUs the fewest runs are placed on.
#pragma once

#include "sharing/fifo_semaphore.hpp"

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tailor {

using device_lease = fifo_semaphore::lease;

struct device_usage {
  std::string device; // as the run resolved it: "cpu", "cuda:0"
  fifo_semaphore::usage usage;
  std::size_t runs_placed = 0; // runs whose ranks the scheduler put on this GPU (placement)
};

class device_scheduler;

// GPUs a run was given, counted as taken until this is destroyed (the run has ended).
class device_placement {
public:
  device_placement() = default;
  device_placement(device_placement&& other) noexcept;
  device_placement& operator=(device_placement&& other) noexcept;
  device_placement(const device_placement&) = delete;
  device_placement& operator=(const device_placement&) = delete;
  ~device_placement();

  // What the run's `device` becomes: "cuda:K" for a block of GPUs K..K+ranks-1, else what it asked for.
  const std::string& device() const { return device_; }

private:
  friend class device_scheduler;
  std::shared_ptr<device_scheduler> owner_;
  std::string device_;
  int first_ = -1; // -1: nothing placed
  int count_ = 0;
};

class device_scheduler : public std::enable_shared_from_this<device_scheduler> {
public:
  // `slots_per_device` leases at once on each device (at least 1); `gpus` visible for placement.
  explicit device_scheduler(std::size_t slots_per_device = 1, int gpus = 0);

  // The slots of `device`, made at first use.
  std::shared_ptr<fifo_semaphore> slots_of(const std::string& device);
  // Every device asked for or placed on so far, by name.
  std::vector<device_usage> usage() const;
  std::size_t slots_per_device() const { return slots_per_device_; }
  int gpus() const { return gpus_; }

  // Where a run asking for `device` ("cuda" or "auto": any GPU; "cuda:N" and "cpu" are kept as asked)
  // with `ranks` data-parallel ranks (one GPU each) goes: the first block of `ranks` consecutive GPUs
  // whose busiest GPU has the fewest runs placed. A block that does not fit, or no GPU, keeps the device
  // as asked (the run then reports what is missing). Only on a scheduler held by a shared_ptr.
  device_placement place(const std::string& device, std::size_t ranks);

private:
  friend class device_placement;
  void unplace(int first, int count);

  const std::size_t slots_per_device_;
  const int gpus_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<fifo_semaphore>> devices_;
  std::vector<std::size_t> placed_; // runs placed per GPU
};

// One step's turn on `device`: blocks while other runs hold it. A run alone (no scheduler) waits for
// nothing and gets an empty lease.
device_lease take_device_turn(device_scheduler* scheduler, const std::string& device);

// A turn on each of `devices` (duplicates counted once), taken in name order: every run takes them in
// the same order, so two runs that share GPUs never hold one each while waiting for the other's.
std::vector<device_lease> take_device_turns(device_scheduler* scheduler, std::vector<std::string> devices);

} // namespace tailor
