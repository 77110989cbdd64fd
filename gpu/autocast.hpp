// bf16 autocast on CUDA for a scope: the trainer's steps and the exam's decoding run under it on a GPU.
#pragma once

#include <ATen/autocast_mode.h>

namespace tailor::gpu {

// While alive (and enabled), CUDA matrix products and attention compute in bf16 and the rest stays fp32;
// it does nothing on the CPU, so CPU runs stay fp32 end to end. Scopes nest; the outermost one clears the
// cache of bf16 weight copies, which goes stale once the optimizer steps.
class cuda_autocast_scope {
public:
  explicit cuda_autocast_scope(bool enabled) : enabled_(enabled) {
    if (!enabled_)
      return;
    previous_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
    previous_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~cuda_autocast_scope() {
    if (!enabled_)
      return;
    if (at::autocast::decrement_nesting() == 0)
      at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(at::kCUDA, previous_enabled_);
    at::autocast::set_autocast_dtype(at::kCUDA, previous_dtype_);
  }
  cuda_autocast_scope(const cuda_autocast_scope&) = delete;
  cuda_autocast_scope& operator=(const cuda_autocast_scope&) = delete;

private:
  bool enabled_;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

} // namespace tailor::gpu
