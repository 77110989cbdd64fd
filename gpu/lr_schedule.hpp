// The learning rate of each optimizer step: linear warm-up, then constant or cosine decay to a floor.
#pragma once

#include "messages/run_config.hpp"

#include <cstdint>

namespace tailor::gpu {

struct lr_schedule_params {
  double peak = 1e-3;
  std::uint64_t warmup_steps = 0;
  lr_schedule kind = lr_schedule::cosine;
  double min_ratio = 0.1;        // cosine ends at peak * min_ratio
  std::uint64_t total_steps = 0; // cosine reaches its floor here (warm-up included); ignored by constant
};

// The rate of step `step` (0 for the first optimizer step). Warm-up ramps (step + 1) / warmup_steps, so the
// first step already learns (Hugging Face's schedule spends it at rate 0). Past `total_steps` cosine stays at
// its floor; with total_steps at or below the warm-up it is at the floor right after warming up.
double learning_rate_at(const lr_schedule_params& schedule, std::uint64_t step);

// The schedule that `optimizer` describes, over `total_steps` optimizer steps.
lr_schedule_params schedule_from(const optimizer_config& optimizer, std::uint64_t total_steps);

// A round's schedule over its `steps`, peaking at `peak` (the loop lowers it in later rounds). Rounds after
// the first re-warm up briefly (at most a twentieth of the round): the first round's warm-up would undo what
// was learned.
lr_schedule_params round_schedule(const optimizer_config& optimizer, std::uint32_t round, std::uint64_t steps,
                                  double peak);

} // namespace tailor::gpu
