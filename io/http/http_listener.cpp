// The shared listener: binding, the accept loop on a strand, the I/O threads, the list of live connections
// and the order of shutdown that lets no handler run after stop().
#include "io/http/http_listener.hpp"

#include <boost/asio/strand.hpp>
#include <chrono>

namespace tailor {

namespace net = boost::asio;
using tcp = net::ip::tcp;

status check_http_limits(int threads, std::size_t max_body_bytes) {
  if (threads < 1 || threads > 256)
    return problem{"threads must be between 1 and 256"};
  if (max_body_bytes == 0)
    return problem{"the body limit must be at least 1 byte"};
  return ok_status();
}

http_listener::http_listener(connection_maker make, trouble_reporter report)
    : make_(std::move(make)), report_(std::move(report)), work_(net::make_work_guard(ioc_)),
      acceptor_(net::make_strand(ioc_)), accept_retry_(acceptor_.get_executor()) {}

http_listener::~http_listener() {
  stop();
}

status http_listener::listen(const http_listener_options& options) {
  if (const status bound = bind(options.host, options.port); !bound)
    return bound;
  accept();
  threads_.reserve(options.threads);
  for (int i = 0; i < options.threads; ++i)
    threads_.emplace_back([this] { run_io(); });
  return ok_status();
}

status http_listener::bind(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  tcp::resolver resolver(ioc_);
  const auto endpoints = resolver.resolve(host, std::to_string(port),
                                          tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty())
    return problem{"cannot resolve host `" + host + "`: " + (ec ? ec.message() : "no address")};
  const tcp::endpoint endpoint = *endpoints.begin();
  const std::string where = host + ":" + std::to_string(port);
  if (acceptor_.open(endpoint.protocol(), ec); ec)
    return problem{"cannot listen on " + where + ": " + ec.message()};
  // Lets a restarted server take its port back while old connections sit in TIME_WAIT; a live listener on
  // the port still makes bind fail.
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (acceptor_.bind(endpoint, ec); ec)
    return problem{"cannot listen on " + where + ": " + ec.message()};
  if (acceptor_.listen(net::socket_base::max_listen_connections, ec); ec)
    return problem{"cannot listen on " + where + ": " + ec.message()};
  port_ = acceptor_.local_endpoint(ec).port();
  return ok_status();
}

void http_listener::accept() {
  // Each connection gets its own strand, so that its handlers never run at the same time on two threads.
  acceptor_.async_accept(net::make_strand(ioc_), [this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open())
      return;
    if (ec) {
      // E.g. out of file descriptors: pause rather than spin, then go on accepting.
      report_("accept failed: " + ec.message());
      accept_retry_.expires_after(std::chrono::milliseconds(100));
      accept_retry_.async_wait([this](boost::system::error_code wait_ec) {
        if (!wait_ec)
          accept();
      });
      return;
    }
    if (auto live = make_(std::move(socket), *this))
      adopt(live);
    accept();
  });
}

void http_listener::run_io() {
  // Handlers do not throw; should one anyway, the server says so and keeps serving.
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& error) {
      report_(std::string("unexpected error in a handler: ") + error.what());
    }
  }
}

bool http_listener::adopt(const std::shared_ptr<server_connection>& live) {
  {
    std::lock_guard lock(connections_mutex_);
    if (stopping_)
      return false;
    // Forget ended connections now and then, so that a long-running server's list stays as long as its
    // live connections are many.
    if (connections_.size() >= 64 && connections_.size() == connections_.capacity())
      std::erase_if(connections_, [](const std::weak_ptr<server_connection>& c) { return c.expired(); });
    connections_.push_back(live);
  }
  live->start();
  return true;
}

std::vector<std::shared_ptr<server_connection>> http_listener::stop_adopting() {
  std::lock_guard lock(connections_mutex_);
  stopping_ = true;
  std::vector<std::shared_ptr<server_connection>> alive;
  for (const auto& weak : connections_)
    if (auto live = weak.lock())
      alive.push_back(std::move(live));
  connections_.clear();
  return alive;
}

void http_listener::stop() {
  std::lock_guard lock(stop_mutex_);
  if (stopped_)
    return;
  stopped_ = true;
  // No new connection from here on; the I/O threads stop where they are (handlers never block), and what
  // they left open is ended on this thread, which is then the only one.
  auto alive = stop_adopting();
  work_.reset();
  ioc_.stop();
  for (auto& thread : threads_)
    if (thread.joinable())
      thread.join();
  threads_.clear();
  gate_->shut();
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

} // namespace tailor
