// Turns on the trainer's device for the daemon's concurrent runs: each device has its own FIFO slots, so
// that runs waiting for it take turns and none starves however often another asks.
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
};

class device_scheduler {
public:
  // `slots_per_device` leases at once on each device (at least 1).
  explicit device_scheduler(std::size_t slots_per_device = 1);

  // The slots of `device`, made at first use.
  std::shared_ptr<fifo_semaphore> slots_of(const std::string& device);
  // Every device asked for so far, by name.
  std::vector<device_usage> usage() const;
  std::size_t slots_per_device() const { return slots_per_device_; }

private:
  const std::size_t slots_per_device_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<fifo_semaphore>> devices_;
};

// One step's turn on `device`: blocks while other runs hold it. A run alone (no scheduler) waits for
// nothing and gets an empty lease.
device_lease take_device_turn(device_scheduler* scheduler, const std::string& device);

} // namespace tailor
