// One HTTP/1.1 connection of the teacher server, and the state its connections share; internal to
// io/teacher/teacher_server.cpp and io/teacher/teacher_http_session.cpp.
#pragma once

#include "io/teacher/chat.hpp"
#include "io/http/http_listener.hpp"
#include "io/teacher/teacher_batch_endpoints.hpp"
#include "io/teacher/teacher_server.hpp"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <random>
#include <string>
#include <string_view>

namespace tailor::teacher_http {

// What happens to one chat request before its answer: an injected fault (or none) and the added latency.
struct request_plan {
  teacher_fault fault;
  double latency_ms = 0;
};

// Everything the sessions of one server share. Outlives every session's I/O (see teacher_server.cpp).
class server_core {
public:
  server_core(teacher_backend& backend, teacher_server_options options);

  teacher_backend& backend;
  const teacher_server_options options;

  std::atomic<std::size_t> requests{0};
  std::atomic<std::size_t> completions{0};
  std::atomic<std::size_t> faults{0};
  std::atomic<std::size_t> unauthorized{0};
  std::atomic<std::size_t> batch_requests{0}; // on the file and batch paths
  std::atomic<std::uint64_t> next_completion_id{1};
  batch_endpoints batches;

  // The fault and latency of the next chat request in arrival order; counts the fault.
  request_plan plan_request();

private:
  std::mutex plan_mutex_;
  std::uint64_t arrivals_ = 0;
  std::mt19937_64 random_;
};

// Bytes from the network or from a backend need not be UTF-8; a reply must never fail to serialize.
std::string dump(const nlohmann::json& value);
// OpenAI's error shape: {"error": {"message", "type", "param", "code"}}, as JSON and as a body.
nlohmann::json error_object(std::string_view message, std::string_view type, std::string_view code = {});
std::string error_body(std::string_view message, std::string_view type, std::string_view code = {});
// A chat completion as the server answers it: `reply` with its id, the time, and `model_if_none` when the
// backend named no model.
nlohmann::json completion_object(const chat_response& reply, const std::string& model_if_none,
                                 std::string id);

// A connection of the teacher server on an accepted socket, for the listener to start.
std::shared_ptr<server_connection> make_session(boost::asio::ip::tcp::socket socket, server_core& core,
                                                http_listener& listener);

} // namespace tailor::teacher_http
