// Device selection and thread setup over LibTorch.
#include "gpu/runtime.hpp"

#include <torch/torch.h>

#include <charconv>

namespace tailor::gpu {

runtime_info describe_runtime() {
  runtime_info info;
  info.torch_version = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                       std::to_string(TORCH_VERSION_PATCH);
  info.cuda_built = at::Context::hasCUDART();
  info.cuda_devices = static_cast<int>(torch::cuda::device_count());
  info.threads = torch::get_num_threads();
  return info;
}

result<std::string> resolve_device(std::string_view preference) {
  const int gpus = static_cast<int>(torch::cuda::device_count());
  if (preference == "cpu")
    return std::string{"cpu"};
  if (preference == "auto")
    return std::string{gpus > 0 ? "cuda:0" : "cpu"};
  if (preference == "cuda" || preference.starts_with("cuda:")) {
    int index = 0;
    if (preference.starts_with("cuda:")) {
      auto digits = preference.substr(5);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
      if (ec != std::errc{} || end != digits.data() + digits.size() || index < 0)
        return problem{"device `" + std::string{preference} + "`: expected cuda:N with N a GPU index"};
    }
    if (gpus == 0)
      return problem{"device `" + std::string{preference} +
                     "` requested but no CUDA GPU is visible; use \"cpu\" or \"auto\""};
    if (index >= gpus)
      return problem{"device `" + std::string{preference} + "` requested but only " + std::to_string(gpus) +
                     " GPU(s) are visible"};
    return "cuda:" + std::to_string(index);
  }
  return problem{"unknown device `" + std::string{preference} + "`: use cpu, cuda, cuda:N or auto"};
}

int set_torch_threads(int threads) {
  torch::set_num_threads(threads > 0 ? threads : at::intraop_default_num_threads());
  return torch::get_num_threads();
}

std::string torch_error_text(const std::exception& e) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&e))
    return torch_error->what_without_backtrace();
  return e.what();
}

} // namespace tailor::gpu
