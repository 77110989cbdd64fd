// Requests to an OpenAI-compatible API's file and batch endpoints, on the owner's io_context: the tries,
// backoff and Retry-After of io/http/retry_policy.hpp for connection errors, timeouts and retryable
// statuses, over a few keep-alive connections.
#pragma once

#include "io/common/result.hpp"
#include "io/teacher/api_access.hpp"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

namespace tailor {

struct api_call_limits {
  std::chrono::milliseconds timeout{120'000}; // per try: connecting, sending and the whole answer
  int max_tries = 5;                          // the first one included
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{30'000};
};

class api_caller {
public:
  // The body of a 2xx answer; or a problem whose cause is cause_of_status(status) (`transient` once the
  // tries ran out), with the last status received (0: none came).
  struct outcome {
    result<std::string> body;
    int status = 0;
  };
  using handler = std::function<void(outcome)>;

  // `access` must outlive the caller; `seed` 0 seeds the backoff jitter from the clock.
  api_caller(boost::asio::io_context& io, api_access& access, api_call_limits limits, std::uint64_t seed);
  ~api_caller();
  api_caller(const api_caller&) = delete;
  api_caller& operator=(const api_caller&) = delete;

  // Sends `body` to `path` below the endpoint's prefix; `what` names the call in messages ("batch upload").
  // On the io_context's thread, where `done` runs too.
  void call(boost::beast::http::verb method, std::string path, std::string content_type, std::string body,
            std::string what, handler done);
  // Ends every call on the wire or waiting for its next try, without calling their handlers, and every later
  // call at once, with a `cancelled` problem. On the io_context's thread.
  void close();

  // Thread-safe.
  std::size_t http_requests() const { return http_requests_.load(); }
  std::size_t retries() const { return retries_.load(); }

  struct attempt;

private:
  void send(const std::shared_ptr<attempt>& call);
  void on_answer(const std::shared_ptr<attempt>& call, const std::shared_ptr<http_connection>& connection,
                 boost::system::error_code ec, exchange_stage stage, http_response response);
  void retry_or_fail(const std::shared_ptr<attempt>& call, std::string reason, int status,
                     std::optional<std::chrono::milliseconds> retry_after);
  void finish(const std::shared_ptr<attempt>& call, outcome result);
  std::shared_ptr<http_connection> take_connection();

  boost::asio::io_context& io_;
  api_access& access_;
  const api_call_limits limits_;
  std::mt19937_64 random_;
  std::vector<std::shared_ptr<http_connection>> idle_;
  std::unordered_set<std::shared_ptr<attempt>> active_;
  bool closed_ = false;
  std::atomic<std::size_t> http_requests_{0};
  std::atomic<std::size_t> retries_{0};
};

} // namespace tailor
