// The state the daemon server's connections share, and how a connection starts; internal to io/api_*.cpp.
#pragma once

#include "io/api/api_server.hpp"
#include "io/http/http_listener.hpp"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>

namespace tailor::api_http {

// Everything a server's connections share; outlives every connection's I/O.
class server_core {
public:
  server_core(api_backend& backend, api_server_options options)
      : backend(backend), options(std::move(options)) {}

  api_backend& backend;
  const api_server_options options;

  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> unauthorized{0};
  std::atomic<std::uint64_t> websockets{0};
  std::atomic<std::uint64_t> websocket_dropped{0};

  // Prometheus lines about the server itself: requests, websocket clients, dropped events.
  std::string metrics_text() const;
};

// An HTTP connection of the daemon on an accepted socket, for the listener to start.
std::shared_ptr<server_connection> make_http_session(boost::asio::ip::tcp::socket socket, server_core& core,
                                                     http_listener& listener);

// Takes over a connection whose request asked for a websocket: completes the handshake and streams the
// events of `run_id` (all runs when empty).
void serve_websocket(boost::beast::tcp_stream stream,
                     boost::beast::http::request<boost::beast::http::string_body> upgrade, std::string run_id,
                     server_core& core, http_listener& listener);

} // namespace tailor::api_http
