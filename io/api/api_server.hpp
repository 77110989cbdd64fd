// The daemon's HTTP and websocket server: the JSON API of io/api/api_backend.hpp, progress websockets, the
// dashboard's static files and /metrics, on Boost.Beast with its own I/O threads.
#pragma once

#include "io/api/api_backend.hpp"
#include "io/common/result.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace tailor {

struct api_server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8470; // 0: any free port; see api_server::port()
  // Required from every request as `Authorization: Bearer <token>` (or `?access_token=` where a browser
  // cannot set headers: websockets, the dashboard). Must be set when `host` is not a loopback address.
  std::string token;
  std::size_t max_body_bytes = 1 << 20; // larger request bodies get 413
  int threads = 2;
  std::filesystem::path web_root; // index.html, app.js, style.css
  std::filesystem::path chart_js = "/usr/share/javascript/chart.js/chart.min.js"; // Debian's libjs-chart.js
  std::size_t client_queue = 256; // events buffered per websocket client before the oldest are dropped
};

struct api_server_stats {
  std::uint64_t requests = 0;          // HTTP requests routed (websocket upgrades included)
  std::uint64_t unauthorized = 0;      // refused with 401
  std::uint64_t websockets = 0;        // websocket clients connected now
  std::uint64_t websocket_dropped = 0; // events dropped for slow websocket clients, over the server's life
};

// True for 127.0.0.0/8, ::1 and `localhost`.
bool is_loopback_host(const std::string& host);

class api_server {
public:
  // Binds and serves on its own threads; `backend` must outlive the server. A problem names what is wrong:
  // a non-loopback host without a token, a port in use, a host that does not resolve.
  static result<std::unique_ptr<api_server>> start(api_backend& backend, api_server_options options);
  virtual ~api_server() = default;

  virtual std::uint16_t port() const = 0;
  virtual api_server_stats stats() const = 0;
  // Stops accepting, ends every connection and joins the threads; idempotent, also done by the destructor.
  // Backend answers that arrive later are dropped.
  virtual void stop() = 0;
};

} // namespace tailor
