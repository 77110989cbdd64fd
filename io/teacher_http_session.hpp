// One HTTP/1.1 connection of the teacher server, and the state its connections share; internal to
// io/teacher_server.cpp and io/teacher_http_session.cpp.
#pragma once

#include "io/chat.hpp"
#include "io/teacher_server.hpp"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

namespace tailor::teacher_http {

class session;

// What happens to one chat request before its answer: an injected fault (or none) and the added latency.
struct request_plan {
  teacher_fault fault;
  double latency_ms = 0;
};

// Lets backend callbacks, which may run on any thread and at any time, reach a session only while the
// server's I/O context still exists; stop() shuts it before the context goes away.
class callback_gate {
public:
  // Calls `deliver` under the gate's lock when still open, so that stop() cannot close it meanwhile.
  template <class Deliver>
  void pass(Deliver&& deliver) {
    std::lock_guard lock(mutex_);
    if (open_)
      deliver();
  }
  void shut() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }

private:
  std::mutex mutex_;
  bool open_ = true;
};

// Everything the sessions of one server share. Outlives every session's I/O (see teacher_server.cpp).
class server_core {
public:
  server_core(teacher_backend& backend, teacher_server_options options);

  teacher_backend& backend;
  const teacher_server_options options;
  const std::shared_ptr<callback_gate> gate = std::make_shared<callback_gate>();

  std::atomic<std::size_t> requests{0};
  std::atomic<std::size_t> completions{0};
  std::atomic<std::size_t> faults{0};
  std::atomic<std::size_t> unauthorized{0};
  std::atomic<std::uint64_t> next_completion_id{1};

  // The fault and latency of the next chat request in arrival order; counts the fault.
  request_plan plan_request();

  // Records a live session so that stop() can end it; false once the server is stopping.
  bool enlist(const std::shared_ptr<session>& live);
  // Marks the server as stopping and hands back the sessions still alive.
  std::vector<std::shared_ptr<session>> stop_enlisting();

private:
  std::mutex plan_mutex_;
  std::uint64_t arrivals_ = 0;
  std::mt19937_64 random_;

  std::mutex sessions_mutex_;
  std::vector<std::weak_ptr<session>> sessions_;
  bool stopping_ = false;
};

// Starts serving HTTP on an accepted socket (whose executor is a strand of the server's I/O context).
void serve_connection(boost::asio::ip::tcp::socket socket, server_core& core);

// Ends a session's connection and timers at once; only while no I/O thread runs (from stop()).
void abort_session(session& live);

} // namespace tailor::teacher_http
