// Prometheus text of the limits the daemon's runs share (sharing/shared_limits_metrics.hpp).
#include "sharing/shared_limits_metrics.hpp"

#include <tuple>
#include <utility>
#include <vector>

namespace tailor {
namespace {

// Three gauges, <prefix>slots, <prefix>leases_active and <prefix>leases_waiting, each with a line per row:
// (Prometheus labels, usage).
struct usage_family {
  const char* prefix;
  const char* slots; // what each help text says
  const char* active;
  const char* waiting;
};

std::string usage_text(const usage_family& family,
                       const std::vector<std::pair<std::string, fifo_semaphore::usage>>& rows) {
  using field = std::size_t fifo_semaphore::usage::*;
  const std::tuple<const char*, const char*, field> gauges[] = {
      {"slots", family.slots, &fifo_semaphore::usage::slots},
      {"leases_active", family.active, &fifo_semaphore::usage::active},
      {"leases_waiting", family.waiting, &fifo_semaphore::usage::waiting},
  };
  std::string text;
  for (const auto& [suffix, help, member] : gauges) {
    const std::string name = std::string(family.prefix) + suffix;
    text += "# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n";
    for (const auto& [labels, used] : rows)
      text += name + labels + " " + std::to_string(used.*member) + "\n";
  }
  return text;
}

} // namespace

std::string shared_limits_metrics(const device_scheduler* devices, const fifo_semaphore* teacher_gate) {
  std::string text;
  if (devices) {
    std::vector<std::pair<std::string, fifo_semaphore::usage>> rows;
    for (auto& used : devices->usage())
      rows.emplace_back("{device=\"" + used.device + "\"}", used.usage);
    text += usage_text({"tailor_device_", "Leases each device gives out at once (tailord --device-slots).",
                        "Training steps and exam chunks holding the device now.",
                        "Training steps and exam chunks waiting for their turn on the device."},
                       rows);
    const std::string placed = "tailor_device_runs_placed";
    text += "# HELP " + placed + " Runs the daemon placed on this GPU (device \"cuda\" or \"auto\"), one GPU per rank.\n" +
            "# TYPE " + placed + " gauge\n";
    for (auto& used : devices->usage())
      if (used.device.starts_with("cuda:"))
        text += placed + "{device=\"" + used.device + "\"} " + std::to_string(used.runs_placed) + "\n";
  }
  if (teacher_gate)
    text += usage_text({"tailor_teacher_gate_",
                        "Teacher requests in flight at once over all runs (tailord --teacher-concurrency).",
                        "Teacher requests holding a slot of the gate now.",
                        "Teacher clients of the runs waiting for a slot of the gate."},
                       {{"", teacher_gate->current()}});
  return text;
}

} // namespace tailor
