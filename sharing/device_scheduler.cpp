// The device scheduler (sharing/device_scheduler.hpp): a FIFO semaphore per device name.
#include "sharing/device_scheduler.hpp"

#include <stdexcept>

namespace tailor {

device_scheduler::device_scheduler(std::size_t slots_per_device) : slots_per_device_(slots_per_device) {
  if (slots_per_device == 0)
    throw std::invalid_argument("device_scheduler: at least one slot per device");
}

std::shared_ptr<fifo_semaphore> device_scheduler::slots_of(const std::string& device) {
  std::lock_guard hold(mutex_);
  auto& slots = devices_[device];
  if (!slots)
    slots = fifo_semaphore::create(slots_per_device_);
  return slots;
}

std::vector<device_usage> device_scheduler::usage() const {
  std::lock_guard hold(mutex_);
  std::vector<device_usage> all;
  for (const auto& [device, slots] : devices_)
    all.push_back({device, slots->current()});
  return all;
}

device_lease take_device_turn(device_scheduler* scheduler, const std::string& device) {
  if (!scheduler)
    return {};
  return scheduler->slots_of(device)->acquire();
}

} // namespace tailor
