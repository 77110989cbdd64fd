// Where LibTorch runs: device choice, thread count, and a one-line description for logs and reports.
#pragma once

#include "io/common/result.hpp"

#include <string>
#include <string_view>

namespace tailor::gpu {

struct runtime_info {
  std::string torch_version;   // e.g. "2.15.0"
  bool cuda_built = false;     // LibTorch was built with CUDA (the PyPI wheel is)
  int cuda_devices = 0;        // GPUs visible now; 0 on a CPU-only machine
  int threads = 1;             // intra-op threads LibTorch uses
};

runtime_info describe_runtime();

// "cpu", "cuda", "cuda:N" or "auto" (a GPU when there is one, else the CPU) → the device to use, e.g.
// "cuda:0". Asking for a GPU that is not there is an error, never a silent fall-back.
result<std::string> resolve_device(std::string_view preference);

// Sets LibTorch's intra-op threads; 0 leaves its default. Returns the count now in effect.
int set_torch_threads(int threads);

} // namespace tailor::gpu
