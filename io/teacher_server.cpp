// The teacher server's listener, threads, fault plan and shutdown; each connection is a session
// (io/teacher_http_session.cpp).
#include "io/teacher_server.hpp"

#include "io/teacher_http_session.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cmath>
#include <exception>
#include <spdlog/spdlog.h>
#include <thread>

namespace tailor {
namespace teacher_http {

server_core::server_core(teacher_backend& backend, teacher_server_options options)
    : backend(backend), options(std::move(options)), random_(this->options.seed) {}

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

bool server_core::enlist(const std::shared_ptr<session>& live) {
  std::lock_guard lock(sessions_mutex_);
  if (stopping_)
    return false;
  // Forget ended sessions now and then, so that a long-running server's list stays as long as its
  // connections are many.
  if (sessions_.size() >= 64 && sessions_.size() == sessions_.capacity())
    std::erase_if(sessions_, [](const std::weak_ptr<session>& s) { return s.expired(); });
  sessions_.push_back(live);
  return true;
}

std::vector<std::shared_ptr<session>> server_core::stop_enlisting() {
  std::lock_guard lock(sessions_mutex_);
  stopping_ = true;
  std::vector<std::shared_ptr<session>> alive;
  for (const auto& weak : sessions_)
    if (auto live = weak.lock())
      alive.push_back(std::move(live));
  sessions_.clear();
  return alive;
}

} // namespace teacher_http

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

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
  for (const teacher_fault& fault : options.scripted_faults)
    if (fault.stall_ms < 0 || fault.retry_after_s < 0)
      return problem{"a scripted fault has a negative stall or Retry-After"};
  if (options.threads < 1 || options.threads > 256)
    return problem{"threads must be between 1 and 256"};
  if (options.max_body_bytes == 0)
    return problem{"the body limit must be at least 1 byte"};
  return ok_status();
}

class server_impl final : public teacher_server {
public:
  server_impl(teacher_backend& backend, teacher_server_options options)
      : core_(backend, std::move(options)), acceptor_(net::make_strand(ioc_)),
        accept_retry_(acceptor_.get_executor()) {}

  ~server_impl() override { stop(); }

  status listen() {
    const std::string& host = core_.options.host;
    boost::system::error_code ec;
    tcp::resolver resolver(ioc_);
    const auto endpoints = resolver.resolve(host, std::to_string(core_.options.port),
                                            tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || endpoints.empty())
      return problem{"cannot resolve host `" + host + "`: " + (ec ? ec.message() : "no address")};
    const tcp::endpoint endpoint = *endpoints.begin();
    const std::string where = host + ":" + std::to_string(core_.options.port);
    if (acceptor_.open(endpoint.protocol(), ec); ec)
      return problem{"cannot listen on " + where + ": " + ec.message()};
    // Lets a restarted server take its port back while old connections sit in TIME_WAIT; a live listener
    // on the port still makes bind fail.
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (acceptor_.bind(endpoint, ec); ec)
      return problem{"cannot listen on " + where + ": " + ec.message()};
    if (acceptor_.listen(net::socket_base::max_listen_connections, ec); ec)
      return problem{"cannot listen on " + where + ": " + ec.message()};
    port_ = acceptor_.local_endpoint(ec).port();
    return ok_status();
  }

  void run(int threads) {
    accept();
    threads_.reserve(threads);
    for (int i = 0; i < threads; ++i)
      threads_.emplace_back([this] { run_io(); });
  }

  std::uint16_t port() const override { return port_; }

  teacher_server_stats stats() const override {
    return {core_.requests.load(), core_.completions.load(), core_.faults.load(), core_.unauthorized.load()};
  }

  void stop() override {
    std::lock_guard lock(stop_mutex_);
    if (stopped_)
      return;
    stopped_ = true;
    // From here on no new session starts; the I/O threads are stopped where they are (handlers are short
    // and never block), and what they left open is ended on this thread, which is then the only one.
    auto alive = core_.stop_enlisting();
    work_.reset();
    ioc_.stop();
    for (auto& thread : threads_)
      if (thread.joinable())
        thread.join();
    threads_.clear();
    core_.gate->shut();
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
    for (const auto& live : alive)
      teacher_http::abort_session(*live);
    alive.clear();
    // Runs the handlers the closing completed, so that the sessions they hold are released now.
    ioc_.restart();
    ioc_.poll();
  }

private:
  void accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor_.is_open())
        return;
      if (ec) {
        // E.g. out of file descriptors: pause rather than spin, then go on accepting.
        spdlog::warn("teacher-serve: accept failed: {}", ec.message());
        accept_retry_.expires_after(std::chrono::milliseconds(100));
        accept_retry_.async_wait([this](boost::system::error_code wait_ec) {
          if (!wait_ec)
            accept();
        });
        return;
      }
      teacher_http::serve_connection(std::move(socket), core_);
      accept();
    });
  }

  void run_io() {
    // Handlers do not throw; should one anyway, the server logs it and keeps serving.
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& error) {
        spdlog::error("teacher-serve: unexpected error in a handler: {}", error.what());
      }
    }
  }

  // Destroyed last, after every session the I/O context still holds.
  teacher_http::server_core core_;
  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> work_ = net::make_work_guard(ioc_);
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::mutex stop_mutex_;
  bool stopped_ = false;
};

} // namespace

result<std::unique_ptr<teacher_server>> teacher_server::start(teacher_backend& backend,
                                                              teacher_server_options options) {
  if (const status checked = check_options(options); !checked)
    return checked.error();
  try {
    const int threads = options.threads;
    auto server = std::make_unique<server_impl>(backend, std::move(options));
    if (const status listening = server->listen(); !listening)
      return listening.error();
    server->run(threads);
    return std::unique_ptr<teacher_server>(std::move(server));
  } catch (const std::exception& error) {
    return problem{std::string("cannot start the teacher server: ") + error.what()};
  }
}

} // namespace tailor
