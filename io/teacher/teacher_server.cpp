// The teacher server: its options, its fault plan and its counters, on the shared listener
// (io/http/http_listener.hpp); each connection is a session (io/teacher/teacher_http_session.cpp).
#include "io/teacher/teacher_server.hpp"

#include "io/teacher/teacher_http_session.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <spdlog/spdlog.h>

namespace tailor {
namespace teacher_http {

server_core::server_core(teacher_backend& backend, teacher_server_options options)
    : backend(backend), options(std::move(options)), batches(backend, this->options),
      random_(this->options.seed) {}

request_plan server_core::plan_request() {
  using kind = teacher_fault::kind;
  static constexpr std::array random_kinds = {kind::rate_limited, kind::server_error, kind::timeout,
                                              kind::malformed};
  request_plan plan;
  {
    // One lock for the arrival index and the draws, so that a seed gives the same plan in arrival order.
    std::lock_guard lock(plan_mutex_);
    const std::uint64_t index = arrivals_++;
    if (index < options.scripted_faults.size()) {
      plan.fault = options.scripted_faults[index];
    } else if (options.fault_rate > 0 &&
               std::uniform_real_distribution<double>(0, 1)(random_) < options.fault_rate) {
      plan.fault.what =
          random_kinds[std::uniform_int_distribution<std::size_t>(0, random_kinds.size() - 1)(random_)];
      plan.fault.stall_ms = options.fault_stall_ms;
    }
    plan.latency_ms = options.latency_ms;
    if (options.latency_jitter_ms > 0)
      plan.latency_ms += std::uniform_real_distribution<double>(-options.latency_jitter_ms,
                                                                options.latency_jitter_ms)(random_);
  }
  plan.latency_ms = std::max(0.0, plan.latency_ms);
  if (plan.fault.what != teacher_fault::kind::none)
    ++faults;
  return plan;
}

} // namespace teacher_http

namespace {

using teacher_http::make_session;

status check_options(const teacher_server_options& options) {
  const auto finite_non_negative = [](double value) { return std::isfinite(value) && value >= 0; };
  if (!finite_non_negative(options.latency_ms))
    return problem{"latency must be a number of milliseconds >= 0"};
  if (!finite_non_negative(options.latency_jitter_ms))
    return problem{"latency jitter must be a number of milliseconds >= 0"};
  if (!(options.fault_rate >= 0 && options.fault_rate <= 1))
    return problem{"fault rate must be between 0 and 1"};
  if (options.fault_stall_ms < 0)
    return problem{"fault stall must be >= 0 ms"};
  if (options.batch_delay_ms < 0)
    return problem{"batch delay must be >= 0 ms"};
  for (const teacher_fault& fault : options.scripted_faults)
    if (fault.stall_ms < 0 || fault.retry_after_s < 0)
      return problem{"a scripted fault has a negative stall or Retry-After"};
  return check_http_limits(options.threads, options.max_body_bytes);
}

class server_impl final : public teacher_server {
public:
  server_impl(teacher_backend& backend, teacher_server_options options)
      : core_(backend, std::move(options)),
        listener_(
            [this](boost::asio::ip::tcp::socket socket, http_listener& listener) {
              return make_session(std::move(socket), core_, listener);
            },
            [](const std::string& trouble) { spdlog::error("teacher-serve: {}", trouble); }) {}

  status listen() {
    return listener_.listen({core_.options.host, core_.options.port, core_.options.threads});
  }
  std::uint16_t port() const override { return listener_.port(); }
  void stop() override { listener_.stop(); }

  teacher_server_stats stats() const override {
    return {core_.requests.load(),          core_.completions.load(),    core_.faults.load(),
            core_.unauthorized.load(),      core_.batch_requests.load(), core_.batches.files_uploaded(),
            core_.batches.batches_created()};
  }

private:
  // Declared first so that it is destroyed last, after the listener has stopped and let go of every session.
  teacher_http::server_core core_;
  http_listener listener_;
};

} // namespace

result<std::unique_ptr<teacher_server>> teacher_server::start(teacher_backend& backend,
                                                              teacher_server_options options) {
  if (const status checked = check_options(options); !checked)
    return checked.error();
  return start_server<teacher_server, server_impl>("the teacher server", backend, std::move(options));
}

} // namespace tailor
