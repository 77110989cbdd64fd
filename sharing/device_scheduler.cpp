// The device scheduler (sharing/device_scheduler.hpp): a FIFO semaphore per device name, and the count of
// runs placed on each GPU.
#include "sharing/device_scheduler.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace tailor {

device_placement::device_placement(device_placement&& other) noexcept
    : owner_(std::move(other.owner_)), device_(std::move(other.device_)), first_(other.first_),
      count_(other.count_) {
  other.first_ = -1;
}

device_placement& device_placement::operator=(device_placement&& other) noexcept {
  if (this != &other) {
    if (owner_ && first_ >= 0)
      owner_->unplace(first_, count_);
    owner_ = std::move(other.owner_);
    device_ = std::move(other.device_);
    first_ = other.first_;
    count_ = other.count_;
    other.first_ = -1;
  }
  return *this;
}

device_placement::~device_placement() {
  if (owner_ && first_ >= 0)
    owner_->unplace(first_, count_);
}

device_scheduler::device_scheduler(std::size_t slots_per_device, int gpus)
    : slots_per_device_(slots_per_device), gpus_(std::max(gpus, 0)), placed_(static_cast<std::size_t>(gpus_)) {
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
  std::map<std::string, device_usage> all;
  for (const auto& [device, slots] : devices_)
    all[device] = {device, slots->current(), 0};
  for (int gpu = 0; gpu < gpus_; ++gpu)
    if (const auto runs = placed_[static_cast<std::size_t>(gpu)]; runs > 0) {
      const std::string name = "cuda:" + std::to_string(gpu);
      auto& entry = all[name];
      entry.device = name;
      entry.usage.slots = slots_per_device_;
      entry.runs_placed = runs;
    }
  std::vector<device_usage> listed;
  for (auto& [device, entry] : all)
    listed.push_back(std::move(entry));
  return listed;
}

device_placement device_scheduler::place(const std::string& device, std::size_t ranks) {
  device_placement placement;
  placement.device_ = device;
  const int count = static_cast<int>(std::max<std::size_t>(ranks, 1));
  if ((device != "cuda" && device != "auto") || gpus_ == 0 || count > gpus_)
    return placement;
  std::lock_guard hold(mutex_);
  int best = 0;
  auto best_load = std::numeric_limits<std::size_t>::max();
  for (int first = 0; first + count <= gpus_; ++first) {
    const auto begin = placed_.begin() + first;
    const auto load = *std::max_element(begin, begin + count);
    if (load < best_load) {
      best = first;
      best_load = load;
    }
  }
  for (int gpu = best; gpu < best + count; ++gpu)
    ++placed_[static_cast<std::size_t>(gpu)];
  placement.owner_ = shared_from_this();
  placement.device_ = "cuda:" + std::to_string(best);
  placement.first_ = best;
  placement.count_ = count;
  return placement;
}

void device_scheduler::unplace(int first, int count) {
  std::lock_guard hold(mutex_);
  for (int gpu = first; gpu < first + count && gpu < gpus_; ++gpu)
    if (auto& runs = placed_[static_cast<std::size_t>(gpu)]; runs > 0)
      --runs;
}

device_lease take_device_turn(device_scheduler* scheduler, const std::string& device) {
  if (!scheduler)
    return {};
  return scheduler->slots_of(device)->acquire();
}

std::vector<device_lease> take_device_turns(device_scheduler* scheduler, std::vector<std::string> devices) {
  std::vector<device_lease> turns;
  if (!scheduler)
    return turns;
  std::sort(devices.begin(), devices.end());
  devices.erase(std::unique(devices.begin(), devices.end()), devices.end());
  for (const auto& device : devices)
    turns.push_back(scheduler->slots_of(device)->acquire());
  return turns;
}

} // namespace tailor
