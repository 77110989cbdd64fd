// One HTTP/1.1 connection on Beast: resolve, connect, TLS handshake with SNI and host name verification,
// write, read; one deadline on the whole exchange.
#include "io/http/http_connection.hpp"

#include "io/http/retry_policy.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <optional>
#include <type_traits>

namespace tailor {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// Teacher answers are a few KB; the limit only stops a broken server from exhausting memory.
constexpr std::uint64_t max_response_bytes = 64u << 20;

template <class Stream>
class basic_http_connection final : public http_connection,
                                    public std::enable_shared_from_this<basic_http_connection<Stream>> {
  static constexpr bool uses_tls = !std::is_same_v<Stream, beast::tcp_stream>;

public:
  basic_http_connection(asio::io_context& io, ssl::context* tls, const http_endpoint& endpoint,
                        bool verify_host)
      : endpoint_(endpoint), verify_host_(verify_host), resolver_(io), resolve_timer_(io),
        stream_(make_stream(io, tls)) {}

  void exchange(std::shared_ptr<const http_request> request, std::chrono::steady_clock::duration timeout,
                handler done) override {
    request_ = std::move(request);
    done_ = std::move(done);
    keep_alive_ = false;
    deadline_ = std::chrono::steady_clock::now() + timeout;
    if (closed_)
      return finish(asio::error::operation_aborted, exchange_stage::connect);
    lowest().expires_after(timeout);
    if (connected_)
      return write();
    resolve();
  }

  void close() override {
    closed_ = true;
    connected_ = false;
    keep_alive_ = false;
    resolver_.cancel();
    resolve_timer_.cancel();
    lowest().close();
  }

  bool reusable() const override { return connected_ && keep_alive_ && !closed_; }
  bool reused() const override { return exchanges_ > 0; }

private:
  static Stream make_stream(asio::io_context& io, ssl::context* tls) {
    if constexpr (uses_tls)
      return Stream(io, *tls);
    else
      return Stream(io);
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void resolve() {
    error_code ec;
    const auto address = asio::ip::make_address(endpoint_.host, ec);
    if (!ec)
      return connect(tcp::endpoint(address, endpoint_.port));
    // Name resolution is not an operation of the stream, so the stream's deadline does not cover it.
    auto self = this->shared_from_this();
    resolve_timer_.expires_at(deadline_);
    resolve_timer_.async_wait([self](error_code wait_error) {
      if (!wait_error) {
        self->resolve_timed_out_ = true;
        self->resolver_.cancel();
      }
    });
    resolver_.async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                            [self](error_code resolve_error, tcp::resolver::results_type results) {
                              self->resolve_timer_.cancel();
                              if (self->resolve_timed_out_)
                                resolve_error = beast::error::timeout;
                              if (resolve_error)
                                return self->finish(resolve_error, exchange_stage::resolve);
                              self->lowest().expires_at(self->deadline_);
                              self->lowest().async_connect(
                                  results, [self](error_code connect_error, const tcp::endpoint&) {
                                    self->connected(connect_error);
                                  });
                            });
  }

  void connect(const tcp::endpoint& target) {
    auto self = this->shared_from_this();
    lowest().async_connect(target, [self](error_code ec) { self->connected(ec); });
  }

  void connected(error_code ec) {
    if (ec)
      return finish(ec, exchange_stage::connect);
    // Requests are written whole; Nagle would only hold back their last segment.
    lowest().socket().set_option(tcp::no_delay(true), ec);
    if constexpr (uses_tls) {
      error_code ignored;
      const bool is_address = (asio::ip::make_address(endpoint_.host, ignored), !ignored);
      // SNI: servers behind shared front ends pick the certificate by it. Not allowed for IP literals.
      if (!is_address && !SSL_set_tlsext_host_name(stream_.native_handle(), endpoint_.host.c_str()))
        return finish(error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()),
                      exchange_stage::handshake);
      if (verify_host_)
        stream_.set_verify_callback(ssl::host_name_verification(endpoint_.host));
      auto self = this->shared_from_this();
      stream_.async_handshake(ssl::stream_base::client, [self](error_code handshake_error) {
        if (handshake_error)
          return self->finish(handshake_error, exchange_stage::handshake);
        self->connected_ = true;
        self->write();
      });
    } else {
      connected_ = true;
      write();
    }
  }

  void write() {
    auto self = this->shared_from_this();
    http::async_write(stream_, *request_, [self](error_code ec, std::size_t) {
      if (ec)
        return self->finish(ec, exchange_stage::write);
      self->read();
    });
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(max_response_bytes);
    auto self = this->shared_from_this();
    http::async_read(stream_, buffer_, *parser_, [self](error_code ec, std::size_t) {
      if (ec)
        return self->finish(ec, exchange_stage::read);
      http_response response = self->parser_->release();
      self->keep_alive_ = response.keep_alive();
      ++self->exchanges_;
      self->finish({}, exchange_stage::read, std::move(response));
    });
  }

  void finish(error_code ec, exchange_stage stage, http_response response = {}) {
    if (ec) {
      // A failed stream is never reused: its state (TLS especially) is unknown.
      connected_ = false;
      keep_alive_ = false;
      error_code ignored;
      lowest().socket().close(ignored);
    } else {
      lowest().expires_never();
    }
    request_.reset();
    auto done = std::move(done_);
    done_ = nullptr;
    if (done)
      done(ec, stage, std::move(response));
  }

  http_endpoint endpoint_;
  bool verify_host_;
  tcp::resolver resolver_;
  asio::steady_timer resolve_timer_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::shared_ptr<const http_request> request_;
  handler done_;
  std::chrono::steady_clock::time_point deadline_;
  bool connected_ = false;
  bool keep_alive_ = false;
  bool closed_ = false;
  bool resolve_timed_out_ = false;
  std::size_t exchanges_ = 0;
};

} // namespace

std::string describe_exchange_failure(error_code ec, exchange_stage stage, const http_endpoint& endpoint,
                                      std::chrono::milliseconds timeout) {
  const bool timed_out = ec == beast::error::timeout;
  switch (stage) {
  case exchange_stage::resolve:
    return timed_out ? "cannot resolve host `" + endpoint.host + "` within " + seconds_text(timeout)
                     : "cannot resolve host `" + endpoint.host + "`: " + ec.message();
  case exchange_stage::connect:
    return timed_out ? "cannot connect within " + seconds_text(timeout) : "cannot connect: " + ec.message();
  case exchange_stage::handshake:
    if (timed_out)
      return "TLS handshake did not finish within " + seconds_text(timeout);
    return "TLS handshake failed: " + ec.message() +
           (ec.category() == asio::error::get_ssl_category()
                ? " (for a local endpoint with a self-signed certificate, turn TLS verification off)"
                : "");
  case exchange_stage::write:
  case exchange_stage::read:
    break;
  }
  if (timed_out)
    return "no answer within " + seconds_text(timeout);
  return std::string{"connection lost while "} +
         (stage == exchange_stage::write ? "sending: " : "receiving: ") + ec.message();
}

bool is_stale_connection_error(error_code ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

std::shared_ptr<http_connection> make_http_connection(asio::io_context& io, ssl::context* tls,
                                                      const http_endpoint& endpoint, bool verify_host) {
  if (endpoint.tls)
    return std::make_shared<basic_http_connection<beast::ssl_stream<beast::tcp_stream>>>(io, tls, endpoint,
                                                                                         verify_host);
  return std::make_shared<basic_http_connection<beast::tcp_stream>>(io, nullptr, endpoint, false);
}

} // namespace tailor
