// Learning-rate schedules as pure functions of the step, so a resumed run recomputes the same rates.
#include "gpu/lr_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace tailor::gpu {

double learning_rate_at(const lr_schedule_params& schedule, std::uint64_t step) {
  if (step < schedule.warmup_steps)
    return schedule.peak * static_cast<double>(step + 1) / static_cast<double>(schedule.warmup_steps);
  if (schedule.kind == lr_schedule::constant)
    return schedule.peak;
  const double floor = schedule.peak * schedule.min_ratio;
  if (schedule.total_steps <= schedule.warmup_steps)
    return floor;
  const double progress = std::clamp(static_cast<double>(step - schedule.warmup_steps) /
                                         static_cast<double>(schedule.total_steps - schedule.warmup_steps),
                                     0.0, 1.0);
  return floor + (schedule.peak - floor) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

lr_schedule_params schedule_from(const optimizer_config& optimizer, std::uint64_t total_steps) {
  return {.peak = optimizer.learning_rate,
          .warmup_steps = optimizer.warmup_steps,
          .kind = optimizer.schedule,
          .min_ratio = optimizer.min_lr_ratio,
          .total_steps = total_steps};
}

lr_schedule_params round_schedule(const optimizer_config& optimizer, std::uint32_t round, std::uint64_t steps,
                                  double peak) {
  auto schedule = schedule_from(optimizer, steps);
  schedule.peak = peak;
  if (round > 1)
    schedule.warmup_steps = std::min<std::uint64_t>(schedule.warmup_steps, steps / 20);
  return schedule;
}

} // namespace tailor::gpu
