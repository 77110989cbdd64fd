// The daemon server's listener, threads and shutdown; each connection is an HTTP session
// (io/api_session.cpp) that may become a websocket (io/api_websocket.cpp).
#include "io/api_server.hpp"

#include "io/api_connection.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <exception>
#include <iostream>
#include <thread>

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

bool server_core::enlist(const std::shared_ptr<connection>& live) {
  std::lock_guard lock(mutex_);
  if (stopping_)
    return false;
  // Forget ended connections now and then, so that the list stays as long as the live ones are many.
  if (connections_.size() >= 64 && connections_.size() == connections_.capacity())
    std::erase_if(connections_, [](const std::weak_ptr<connection>& c) { return c.expired(); });
  connections_.push_back(live);
  return true;
}

std::vector<std::shared_ptr<connection>> server_core::stop_enlisting() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  std::vector<std::shared_ptr<connection>> alive;
  for (const auto& weak : connections_)
    if (auto live = weak.lock())
      alive.push_back(std::move(live));
  connections_.clear();
  return alive;
}

} // namespace api_http

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

status check_options(const api_server_options& options) {
  if (options.threads < 1 || options.threads > 256)
    return problem{"threads must be between 1 and 256"};
  if (options.max_body_bytes == 0)
    return problem{"the body limit must be at least 1 byte"};
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

  api_server_stats stats() const override {
    return {core_.requests.load(), core_.unauthorized.load(), core_.websockets.load(),
            core_.websocket_dropped.load()};
  }

  void stop() override {
    std::lock_guard lock(stop_mutex_);
    if (stopped_)
      return;
    stopped_ = true;
    // No new connection from here on; the I/O threads stop where they are (handlers never block), and what
    // they left open is ended on this thread, which is then the only one.
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
      live->abort();
    alive.clear();
    // Runs the handlers the closing completed, so that the connections they hold are released now.
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
        std::cerr << "tailord: accept failed: " << ec.message() << '\n';
        accept_retry_.expires_after(std::chrono::milliseconds(100));
        accept_retry_.async_wait([this](boost::system::error_code wait_ec) {
          if (!wait_ec)
            accept();
        });
        return;
      }
      api_http::serve_http(std::move(socket), core_);
      accept();
    });
  }

  void run_io() {
    // Handlers do not throw; should one anyway, the server says so and keeps serving.
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& error) {
        std::cerr << "tailord: unexpected error in a handler: " << error.what() << '\n';
      }
    }
  }

  // Destroyed last, after every connection the I/O context still holds.
  api_http::server_core core_;
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

result<std::unique_ptr<api_server>> api_server::start(api_backend& backend, api_server_options options) {
  if (const status checked = check_options(options); !checked)
    return checked.error();
  try {
    const int threads = options.threads;
    auto server = std::make_unique<server_impl>(backend, std::move(options));
    if (const status listening = server->listen(); !listening)
      return listening.error();
    server->run(threads);
    return std::unique_ptr<api_server>(std::move(server));
  } catch (const std::exception& error) {
    return problem{std::string("cannot start the daemon's server: ") + error.what()};
  }
}

} // namespace tailor
