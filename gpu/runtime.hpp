// Where LibTorch runs: device choice, thread count, and a one-line description for logs and reports.
#pragma once

#include "io/common/result.hpp"

#include <exception>
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

// Sets LibTorch's intra-op threads for the calling thread: `threads`, or with 0 LibTorch's default for this
// machine (its physical cores, or OMP_NUM_THREADS). Returns the count now in effect. Each thread that runs
// LibTorch work calls it: OpenMP's and MKL's counts are per thread, and a thread that never sets them starts
// from whatever another thread set last, so in a process with several runs (tailord) a run's numbers would
// depend on which runs are beside it (reductions sum in another order with another thread count).
int set_torch_threads(int threads);

// An exception's message for a problem: LibTorch's without its C++ backtrace, which says nothing to a user.
std::string torch_error_text(const std::exception& e);

} // namespace tailor::gpu
