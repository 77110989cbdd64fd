// The state the daemon server's connections share, and how a connection starts; internal to io/api_*.cpp.
#pragma once

#include "io/api_server.hpp"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <mutex>
#include <vector>

namespace tailor::api_http {

// Lets answers from other threads (the actors') reach a connection only while the server's I/O context
// exists; stop() shuts it before the context goes away.
class callback_gate {
public:
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

// An HTTP or websocket connection, as stop() sees it.
class connection {
public:
  virtual ~connection() = default;
  // Ends the connection at once; only while no I/O thread runs (from stop()).
  virtual void abort() = 0;
};

// Everything a server's connections share; outlives every connection's I/O.
class server_core {
public:
  server_core(api_backend& backend, api_server_options options)
      : backend(backend), options(std::move(options)) {}

  api_backend& backend;
  const api_server_options options;
  const std::shared_ptr<callback_gate> gate = std::make_shared<callback_gate>();

  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> unauthorized{0};
  std::atomic<std::uint64_t> websockets{0};
  std::atomic<std::uint64_t> websocket_dropped{0};

  // Prometheus lines about the server itself: requests, websocket clients, dropped events.
  std::string metrics_text() const;

  // Records a live connection so that stop() can end it; false once the server is stopping.
  bool enlist(const std::shared_ptr<connection>& live);
  std::vector<std::shared_ptr<connection>> stop_enlisting();

private:
  std::mutex mutex_;
  std::vector<std::weak_ptr<connection>> connections_;
  bool stopping_ = false;
};

// Serves HTTP on an accepted socket (whose executor is a strand of the server's I/O context).
void serve_http(boost::asio::ip::tcp::socket socket, server_core& core);

// Takes over a connection whose request asked for a websocket: completes the handshake and streams the
// events of `run_id` (all runs when empty).
void serve_websocket(boost::beast::tcp_stream stream,
                     boost::beast::http::request<boost::beast::http::string_body> upgrade, std::string run_id,
                     server_core& core);

} // namespace tailor::api_http
