// A warning in the run's log (spdlog), for code that includes LibTorch: its bundled fmt clashes with the
// system fmt that spdlog's headers need, so the call goes through this header, which includes neither.
#pragma once

#include <string>

namespace tailor {

void log_warning(const std::string& message);

} // namespace tailor
