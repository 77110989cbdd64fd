// One keep-alive HTTP/1.1 connection (plain or TLS) to a teacher endpoint, driven on the client's io_context.
#pragma once

#include "io/http/http_endpoint.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace tailor {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

// How far an exchange got before it failed: a reused connection that fails before an answer arrives was
// most likely closed by the server while idle, which is worth one immediate redo on a fresh connection.
enum class exchange_stage { resolve, connect, handshake, write, read };

class http_connection {
public:
  using handler = std::function<void(boost::system::error_code, exchange_stage, http_response)>;
  virtual ~http_connection() = default;

  // Sends `request` and reads the answer, connecting first when the connection is fresh. Everything,
  // connecting included, must finish within `timeout` or `done` gets beast::error::timeout. Must be called
  // on the io_context's thread; `done` runs there too.
  virtual void exchange(std::shared_ptr<const http_request> request,
                        std::chrono::steady_clock::duration timeout, handler done) = 0;
  // Aborts whatever is pending (its handler gets operation_aborted) and closes the socket.
  virtual void close() = 0;
  // Open, and the last answer allowed another request on it.
  virtual bool reusable() const = 0;
  // Completed an exchange before this one.
  virtual bool reused() const = 0;
};

// What went wrong, for a user: "cannot connect: Connection refused", "no answer within 30 s".
std::string describe_exchange_failure(boost::system::error_code ec, exchange_stage stage,
                                      const http_endpoint& endpoint, std::chrono::milliseconds timeout);

// A reused connection that dies with one of these before any answer arrived was most likely closed by the
// server while it sat idle in the pool; redoing the request at once on a fresh connection is what every
// HTTP client does.
bool is_stale_connection_error(boost::system::error_code ec);

// `tls` is null for http:// endpoints. `verify_host`: check that the certificate names the endpoint's host
// (the context decides whether the chain is verified at all).
std::shared_ptr<http_connection> make_http_connection(boost::asio::io_context& io,
                                                      boost::asio::ssl::context* tls,
                                                      const http_endpoint& endpoint, bool verify_host);

} // namespace tailor
