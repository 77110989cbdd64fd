// A small synchronous client of the daemon's API, for the CLI, tests and benchmarks: one HTTP exchange at a
// time, and a websocket that hands each event to a callback.
#pragma once

#include "io/common/result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace tailor {

struct api_endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8470;
  std::string token; // sent as a bearer token when set
};

// Accepts `http://host:port`, `host:port` and `:port`; https is refused (the daemon speaks plain HTTP, put
// a TLS proxy in front to expose it). Port 0 ("any free port") only for a server's listen address.
result<api_endpoint> parse_api_endpoint(const std::string& text, bool allow_any_port = false);

struct api_response {
  unsigned status = 0;
  std::string body;
  // The body as JSON (null when it is not JSON).
  nlohmann::json json() const;
  // The daemon's error message, or the body when it has none.
  std::string error_message() const;
};

// One request; a connection failure or a timeout is a problem ("cannot connect to 127.0.0.1:8470: ...").
result<api_response> api_call(const api_endpoint& endpoint, const std::string& method,
                              const std::string& target, const std::string& body = {},
                              std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Opens a websocket on `target` and calls `on_message` with each text message until it returns false, the
// server closes, or nothing arrives for `idle_timeout`. A refused upgrade is a problem with the status and
// the daemon's message.
status api_watch(const api_endpoint& endpoint, const std::string& target,
                 const std::function<bool(const std::string&)>& on_message,
                 std::chrono::milliseconds idle_timeout = std::chrono::minutes(5));

} // namespace tailor
