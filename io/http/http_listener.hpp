// The accept loop, I/O threads and shutdown that tailord's API and teacher-serve share; what each connection
// says is up to the server that makes it (io/http/http_session.hpp for HTTP).
#pragma once

#include "io/common/result.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tailor {

// Lets callbacks from other threads (a backend's, the actors') reach a connection only while the listener's
// I/O context exists; stop() shuts it before the context goes away.
class callback_gate {
public:
  // Calls `deliver` under the gate's lock when still open, so that stop() cannot shut it meanwhile.
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

// A connection, as the listener sees it: started once, ended at once by stop().
class server_connection {
public:
  virtual ~server_connection() = default;
  // Begins the connection's work on its own strand.
  virtual void start() = 0;
  // Ends the connection and its timers; called only while no I/O thread runs (from stop()).
  virtual void abort() = 0;
};

struct http_listener_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0; // 0: any free port; see http_listener::port()
  int threads = 2;        // I/O threads
};

// The bounds both servers put on their options, with the same words: 1 to 256 I/O threads, a request body
// limit of at least one byte.
status check_http_limits(int threads, std::size_t max_body_bytes);

class http_listener {
public:
  // Turns an accepted socket (whose executor is its own strand of the listener's I/O context) into a
  // connection; null drops the socket.
  using connection_maker =
      std::function<std::shared_ptr<server_connection>(boost::asio::ip::tcp::socket, http_listener&)>;
  // Told about trouble that does not stop the server: a failed accept, a handler that threw.
  using trouble_reporter = std::function<void(const std::string&)>;

  http_listener(connection_maker make, trouble_reporter report);
  // Stops first (see stop()).
  ~http_listener();
  http_listener(const http_listener&) = delete;
  http_listener& operator=(const http_listener&) = delete;

  // Binds and starts accepting on its own threads; once. A problem names what is wrong: a host that does
  // not resolve, a port already in use.
  status listen(const http_listener_options& options);

  std::uint16_t port() const { return port_; }
  const std::shared_ptr<callback_gate>& gate() const { return gate_; }

  // Starts `live` and has stop() end it; false (and not started) once stopping. For the connections the
  // listener makes, and for those a connection hands its socket to (a websocket after an upgrade).
  bool adopt(const std::shared_ptr<server_connection>& live);

  // Stops accepting, ends every connection and joins the threads; idempotent. Callbacks that arrive later
  // find the gate shut. Not to be called from an I/O thread.
  void stop();

private:
  status bind(const std::string& host, std::uint16_t port);
  void accept();
  void run_io();
  std::vector<std::shared_ptr<server_connection>> stop_adopting();

  const connection_maker make_;
  const trouble_reporter report_;
  const std::shared_ptr<callback_gate> gate_ = std::make_shared<callback_gate>();

  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;

  std::mutex connections_mutex_;
  std::vector<std::weak_ptr<server_connection>> connections_;
  bool stopping_ = false;

  std::mutex stop_mutex_;
  bool stopped_ = false;
};

// Makes a server (whose `status listen()` starts its listener) and starts it. A problem listen() returns
// comes back as it is; an exception (no memory, no threads) as "cannot start <what>: ...", never thrown on.
template <class Interface, class Server, class... Args>
result<std::unique_ptr<Interface>> start_server(const std::string& what, Args&&... args) {
  try {
    auto server = std::make_unique<Server>(std::forward<Args>(args)...);
    if (const status listening = server->listen(); !listening)
      return listening.error();
    return std::unique_ptr<Interface>(std::move(server));
  } catch (const std::exception& error) {
    return problem{"cannot start " + what + ": " + error.what()};
  }
}

} // namespace tailor
