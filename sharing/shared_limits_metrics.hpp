// Prometheus text of the limits the daemon's runs share: per device tailor_device_{slots,leases_active,
// leases_waiting}{device="..."}, and tailor_teacher_gate_{slots,leases_active,leases_waiting}.
#pragma once

#include "sharing/device_scheduler.hpp"
#include "sharing/fifo_semaphore.hpp"

#include <string>

namespace tailor {

// Either may be null (nothing shared): its lines are left out.
std::string shared_limits_metrics(const device_scheduler* devices, const fifo_semaphore* teacher_gate);

} // namespace tailor
