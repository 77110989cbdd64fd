// The request/response cycle of one HTTP/1.1 server connection; the routes are the derived session's.
#include "io/http/http_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace tailor {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

// Every wait on the network is bounded, so that a silent or slow client cannot hold a connection forever.
constexpr auto idle_timeout = std::chrono::seconds(60);  // between requests on a kept-alive connection
constexpr auto body_timeout = std::chrono::seconds(30);  // for the rest of a request once its header came
constexpr auto write_timeout = std::chrono::seconds(30); // for one response
constexpr auto linger_timeout = std::chrono::seconds(2); // draining what a refused client still sends
constexpr std::uint32_t header_limit = 64 * 1024;

} // namespace

http_session::http_session(tcp::socket socket, http_listener& listener, std::size_t max_body_bytes,
                           std::string server_name)
    : stream_(std::move(socket)), timer_(stream_.get_executor()), listener_(listener),
      max_body_bytes_(max_body_bytes), server_name_(std::move(server_name)) {}

void http_session::start() {
  net::dispatch(stream_.get_executor(),
                beast::bind_front_handler(&http_session::read_header, shared_from_this()));
}

void http_session::close() {
  if (closed_)
    return;
  closed_ = true;
  awaiting_answer_ = false;
  timer_.cancel();
  if (handed_over_)
    return;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

void http_session::read_header() {
  if (closed_)
    return;
  parser_.emplace();
  parser_->header_limit(header_limit);
  parser_->body_limit(max_body_bytes_);
  stream_.expires_after(idle_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&http_session::on_header, shared_from_this()));
}

void http_session::on_header(beast::error_code ec, std::size_t) {
  if (ec)
    return on_read_error(ec);
  if (closed_)
    return;
  received_ = std::chrono::steady_clock::now();
  version_ = parser_->get().version();
  // A declared body over the limit is refused before it is sent (Beast 1.74 already fails the header read
  // for it; this keeps the promise should a later Beast not).
  if (const auto length = parser_->content_length(); length && *length > max_body_bytes_)
    return on_read_error(http::error::body_limit);
  if (parser_->is_done())
    return dispatch_request();
  // curl sends `Expect: 100-continue` before bodies over 1 KiB and waits a second for this go-ahead.
  if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
    continue_.emplace(http::status::continue_, version_);
    stream_.expires_after(write_timeout);
    http::async_write(stream_, *continue_,
                      [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                        if (write_ec)
                          return self->close();
                        self->read_body();
                      });
    return;
  }
  read_body();
}

void http_session::read_body() {
  if (closed_)
    return;
  stream_.expires_after(body_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, std::size_t) {
                     if (ec)
                       return self->on_read_error(ec);
                     if (!self->closed_)
                       self->dispatch_request();
                   });
}

// A client that hangs up, idles out or is cut off by stop() gets nothing; one that sends too much or
// something that is not HTTP is told so before the connection closes.
void http_session::on_read_error(beast::error_code ec) {
  if (closed_ || ec == http::error::end_of_stream || ec == http::error::partial_message)
    return close();
  if (parser_ && parser_->is_header_done())
    version_ = parser_->get().version();
  if (ec == http::error::body_limit)
    return send(unreadable(http::status::payload_too_large, "the request body is larger than the limit of " +
                                                                std::to_string(max_body_bytes_) + " bytes"),
                then::linger);
  if (ec.category() == http::make_error_code(http::error::bad_target).category())
    return send(unreadable(http::status::bad_request, "malformed HTTP request: " + ec.message()),
                then::linger);
  close();
}

void http_session::dispatch_request() {
  keep_alive_ = parser_->get().keep_alive();
  route();
}

void http_session::send(response_type response, then next) {
  if (closed_)
    return;
  response.version(version_);
  response.set(http::field::server, server_name_);
  response.keep_alive(keep_alive_ && next == then::keep_alive);
  response.prepare_payload();
  after_write_ = response.keep_alive() ? then::keep_alive : next == then::linger ? then::linger : then::close;
  response_ = std::move(response);
  sending(response_);
  stream_.expires_after(write_timeout);
  http::async_write(stream_, response_,
                    beast::bind_front_handler(&http_session::on_written, shared_from_this()));
}

void http_session::on_written(beast::error_code ec, std::size_t) {
  if (ec)
    return close();
  switch (after_write_) {
  case then::keep_alive:
    return read_header();
  case then::close:
    return close();
  case then::linger:
    return linger();
  }
}

// Closing with unread bytes makes the kernel reset the connection, which can destroy the answer before the
// client reads it; so a refused client's remaining bytes are read and dropped first, for a while.
void http_session::linger() {
  if (closed_)
    return;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(linger_timeout);
  buffer_.clear();
  drain();
}

void http_session::drain() {
  stream_.async_read_some(buffer_.prepare(16 * 1024),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (ec || self->closed_)
                              return self->close();
                            self->drain();
                          });
}

// The timer keeps the connection alive while the other thread works (the answer's function holds it only
// weakly), and gives up on the answer at the deadline.
std::uint64_t http_session::start_waiting(std::chrono::steady_clock::duration deadline,
                                          std::function<void()> on_deadline) {
  awaiting_answer_ = true;
  timer_.expires_after(deadline);
  timer_.async_wait([self = shared_from_this(), on_deadline = std::move(on_deadline)](beast::error_code ec) {
    if (ec || !self->awaiting_answer_)
      return;
    self->awaiting_answer_ = false;
    on_deadline();
  });
  return ++waits_;
}

bool http_session::stop_waiting(std::uint64_t wait) {
  if (closed_ || !awaiting_answer_ || wait != waits_)
    return false;
  awaiting_answer_ = false;
  timer_.cancel();
  return true;
}

std::pair<beast::tcp_stream, http_session::request_type> http_session::hand_over() {
  handed_over_ = true;
  closed_ = true;
  awaiting_answer_ = false;
  timer_.cancel();
  stream_.expires_never();
  return {std::move(stream_), parser_->release()};
}

} // namespace tailor
