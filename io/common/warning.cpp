#include "io/common/warning.hpp"

#include <spdlog/spdlog.h>

namespace tailor {

void log_warning(const std::string& message) {
  spdlog::warn("{}", message);
}

} // namespace tailor
