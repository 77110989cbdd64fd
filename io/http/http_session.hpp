// One HTTP/1.1 server connection, less its routes: reading requests within limits and deadlines,
// 100-continue, refusing what cannot be read, keep-alive, and waiting for an answer from another thread.
// tailord's API (io/api/api_session.cpp) and teacher-serve (io/teacher/teacher_http_session.cpp) route on top of it.
#pragma once

#include "io/http/http_listener.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tailor {

class http_session : public server_connection, public std::enable_shared_from_this<http_session> {
public:
  using request_type = boost::beast::http::request<boost::beast::http::string_body>;
  using response_type = boost::beast::http::response<boost::beast::http::string_body>;

  void start() override;
  void abort() override { close(); }

protected:
  // `server_name` is the Server header of every answer; `max_body_bytes` bounds each request's body.
  http_session(boost::asio::ip::tcp::socket socket, http_listener& listener, std::size_t max_body_bytes,
               std::string server_name);

  // What to do with the connection once a response is written.
  enum class then : std::uint8_t { keep_alive, close, linger };

  // A whole request is in request(): answer it with send(), now or later.
  virtual void route() = 0;
  // The answer to a request that could not be read, in the server's error shape: 413 for a body over the
  // limit, 400 for bytes that are not HTTP; `reason` says which for a user. The connection closes after it.
  virtual response_type unreadable(boost::beast::http::status status, const std::string& reason) = 0;
  // Sees each response just before it is written (e.g. to log it).
  virtual void sending(const response_type&) {}

  // Beast 1.74's string_view is Boost's; the same characters as the standard one.
  static std::string_view view(boost::beast::string_view text) { return {text.data(), text.size()}; }

  const request_type& request() const { return parser_->get(); }
  std::chrono::steady_clock::time_point received_at() const { return received_; }
  http_listener& listener() const { return listener_; }
  bool closed() const { return closed_; }

  // Writes `response` with the request's HTTP version and this server's name, then keeps the connection
  // for the next request (when the client allows it), closes it, or lingers (see linger()).
  void send(response_type response, then next);
  // Idempotent; every handler still queued then sees closed() and stops.
  void close();

  // For waits of the connection's own (injected latency, a stall); one at a time, also with await_answer.
  boost::asio::steady_timer& timer() { return timer_; }

  // Waits at most `deadline` for an answer from another thread: returns the function to give it to, which
  // brings the value to `on_answer` on this connection's strand, or calls `on_deadline` there when none came
  // in time. The function holds the connection weakly and passes the listener's gate, so that an answer
  // that comes late, after stop() or never keeps nothing alive and runs nothing.
  template <class Value>
  std::function<void(Value)> await_answer(std::chrono::steady_clock::duration deadline,
                                          std::function<void()> on_deadline,
                                          std::function<void(Value)> on_answer) {
    const std::uint64_t wait = start_waiting(deadline, std::move(on_deadline));
    return [weak = weak_from_this(), gate = listener_.gate(), wait,
            on_answer = std::move(on_answer)](Value value) {
      gate->pass([&] {
        if (auto self = weak.lock())
          boost::asio::post(self->stream_.get_executor(),
                            [self, wait, on_answer, value = std::move(value)]() mutable {
                              if (self->stop_waiting(wait))
                                on_answer(std::move(value));
                            });
      });
    };
  }

  // Gives the socket and the request to another protocol (a websocket upgrade); this session then ends
  // without touching either.
  std::pair<boost::beast::tcp_stream, request_type> hand_over();

private:
  void read_header();
  void on_header(boost::beast::error_code ec, std::size_t);
  void read_body();
  void on_read_error(boost::beast::error_code ec);
  void dispatch_request();
  void on_written(boost::beast::error_code ec, std::size_t);
  void linger();
  void drain();
  std::uint64_t start_waiting(std::chrono::steady_clock::duration deadline,
                              std::function<void()> on_deadline);
  bool stop_waiting(std::uint64_t wait);

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  boost::asio::steady_timer timer_;
  http_listener& listener_;
  const std::size_t max_body_bytes_;
  const std::string server_name_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::optional<boost::beast::http::response<boost::beast::http::empty_body>> continue_;
  response_type response_;
  then after_write_ = then::close;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool closed_ = false;
  bool awaiting_answer_ = false;
  std::uint64_t waits_ = 0; // numbers each wait, so that a stray second answer never ends a later one
  bool handed_over_ = false;
  std::chrono::steady_clock::time_point received_ = std::chrono::steady_clock::now();
};

} // namespace tailor
