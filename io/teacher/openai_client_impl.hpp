// Internal to the OpenAI-compatible client: the state of one call and of the client on its io_context
// thread, shared by the client's public face (openai_client.cpp) and the life of its calls
// (openai_client_calls.cpp).
#pragma once

#include "io/http/http_connection.hpp"
#include "io/http/http_endpoint.hpp"
#include "io/teacher/openai_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace tailor {

// One complete() call, from the queue to its callback.
struct pending_call {
  pending_call(boost::asio::io_context& io, std::shared_ptr<const http_request> request,
               teacher_backend::callback done)
      : request(std::move(request)), done(std::move(done)), retry_timer(io) {}

  std::shared_ptr<const http_request> request;
  teacher_backend::callback done;
  boost::asio::steady_timer retry_timer;
  std::shared_ptr<http_connection> connection; // while a try is on the wire
  fifo_semaphore::lease shared_slot;           // of options.shared_limit, from leaving the queue to the end
  std::uint64_t id = 0;
  int tries = 0;
  bool redid_stale = false;
  bool holds_budget = false;
  teacher_cost_bound bound; // reserved in the budget while the call runs
  bool finished = false;
};

struct openai_client::impl {
  impl(openai_client_options options, http_endpoint endpoint)
      : options(std::move(options)), endpoint(std::move(endpoint)),
        url(this->endpoint.url("/chat/completions")),
        target(this->endpoint.path_prefix + "/chat/completions") {}

  openai_client_options options;
  http_endpoint endpoint;
  std::string url;    // for messages
  std::string target; // the request line's path
  std::string authorization;
  std::string api_key; // kept only to scrub it from anything a server echoes back
  std::optional<boost::asio::ssl::context> tls;

  boost::asio::io_context io{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
  std::thread thread;

  // Touched on the io thread only.
  std::deque<std::shared_ptr<pending_call>> queue;
  std::unordered_map<std::uint64_t, std::shared_ptr<pending_call>> active;
  std::vector<std::shared_ptr<http_connection>> idle;
  std::mt19937_64 random;
  std::uint64_t next_id = 1;
  // The shared limit: our place in its line (0: none) and a slot it granted that no call has taken yet.
  fifo_semaphore::ticket shared_wait = 0;
  fifo_semaphore::lease spare_slot;

  mutable std::mutex stats_mutex;
  openai_client_stats counters;

  template <class Change>
  void count(Change change) {
    std::lock_guard lock(stats_mutex);
    change(counters);
  }

  // The life of a call, on the io thread (openai_client_calls.cpp).
  std::string scrub(std::string text) const;
  void run();
  void enqueue(std::shared_ptr<pending_call> call);
  void pump();
  fifo_semaphore::lease take_shared_slot();
  std::shared_ptr<http_connection> take_connection();
  void give_back(const std::shared_ptr<http_connection>& connection);
  void send(const std::shared_ptr<pending_call>& call);
  void on_answer(const std::shared_ptr<pending_call>& call,
                 const std::shared_ptr<http_connection>& connection, boost::system::error_code ec,
                 exchange_stage stage, http_response response);
  void retry_or_fail(const std::shared_ptr<pending_call>& call, const std::string& reason,
                     std::optional<std::chrono::milliseconds> retry_after);
  void succeed(const std::shared_ptr<pending_call>& call, chat_response response);
  void fail(const std::shared_ptr<pending_call>& call, const std::string& reason, problem_cause cause);
  void finish(const std::shared_ptr<pending_call>& call, result<chat_response> outcome);
  void cancel_everything();
};

} // namespace tailor
