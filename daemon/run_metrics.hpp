// What /metrics says about the daemon's runs: how many by phase, how many active, the shared limits, and
// each run's round, step, loss, accuracy and teacher counts from its last event.
#pragma once

#include "io/store/run_store.hpp"
#include "sharing/device_scheduler.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace tailor {

std::string runs_prometheus_text(const std::vector<const run_record*>& runs, std::size_t active,
                                 const device_scheduler* devices, const fifo_semaphore* teacher_gate);

} // namespace tailor
