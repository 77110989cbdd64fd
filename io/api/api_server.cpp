// The daemon server: its options, its counters and its shutdown, on the shared listener
// (io/http/http_listener.hpp); each connection is an HTTP session (io/api/api_session.cpp) that may become a
// websocket (io/api/api_websocket.cpp).
#include "io/api/api_server.hpp"

#include "io/api/api_connection.hpp"

#include <iostream>

namespace tailor {

api_reply api_error(unsigned status, std::string message) {
  return {status, {{"error", {{"status", status}, {"message", std::move(message)}}}}};
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost")
    return true;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

namespace api_http {

std::string server_core::metrics_text() const {
  const auto metric = [](const char* name, const char* type, const char* help, std::uint64_t value) {
    return std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
           std::to_string(value) + "\n";
  };
  return metric("tailord_http_requests_total", "counter", "HTTP requests routed.", requests.load()) +
         metric("tailord_websocket_clients", "gauge", "Websocket clients connected.", websockets.load()) +
         metric("tailord_websocket_dropped_events_total", "counter",
                "Events dropped for slow websocket clients.", websocket_dropped.load());
}

} // namespace api_http

namespace {

using api_http::make_http_session;

status check_options(const api_server_options& options) {
  if (const status limits = check_http_limits(options.threads, options.max_body_bytes); !limits)
    return limits;
  if (options.client_queue == 0)
    return problem{"the websocket client queue must hold at least 1 event"};
  if (!is_loopback_host(options.host) && options.token.empty())
    return problem{"listening on " + options.host +
                   " (not a loopback address) needs a bearer token: pass --token-file FILE"};
  return ok_status();
}

class server_impl final : public api_server {
public:
  server_impl(api_backend& backend, api_server_options options)
      : core_(backend, std::move(options)),
        listener_(
            [this](boost::asio::ip::tcp::socket socket, http_listener& listener) {
              return make_http_session(std::move(socket), core_, listener);
            },
            [](const std::string& trouble) { std::cerr << "tailord: " << trouble << '\n'; }) {}

  status listen() {
    return listener_.listen({core_.options.host, core_.options.port, core_.options.threads});
  }
  std::uint16_t port() const override { return listener_.port(); }
  void stop() override { listener_.stop(); }

  api_server_stats stats() const override {
    return {core_.requests.load(), core_.unauthorized.load(), core_.websockets.load(),
            core_.websocket_dropped.load()};
  }

private:
  // Declared first so that it is destroyed last, after the listener has stopped and let go of every
  // connection.
  api_http::server_core core_;
  http_listener listener_;
};

} // namespace

result<std::unique_ptr<api_server>> api_server::start(api_backend& backend, api_server_options options) {
  if (const status checked = check_options(options); !checked)
    return checked.error();
  return start_server<api_server, server_impl>("the daemon's server", backend, std::move(options));
}

} // namespace tailor
