// The daemon's synchronous client (io/api/api_client.hpp): each call runs its own io_context to completion, so
// every step, connecting included, is bounded by a timeout.
#include "io/api/api_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>

namespace tailor {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using json = nlohmann::json;

result<api_endpoint> parse_api_endpoint(const std::string& text, bool allow_any_port) {
  std::string rest = text;
  if (rest.starts_with("https://"))
    return problem{"`" + text +
                   "`: the daemon speaks plain HTTP; reach a remote one through a TLS proxy or an "
                   "SSH tunnel"};
  if (rest.starts_with("http://"))
    rest = rest.substr(7);
  while (rest.ends_with("/"))
    rest.pop_back();
  api_endpoint endpoint;
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos)
    return problem{"`" + text + "` names no port; write it as http://HOST:PORT, e.g. http://127.0.0.1:8470"};
  if (colon > 0)
    endpoint.host = rest.substr(0, colon);
  if (endpoint.host.size() > 2 && endpoint.host.front() == '[' && endpoint.host.back() == ']')
    endpoint.host = endpoint.host.substr(1, endpoint.host.size() - 2);
  const std::string port = rest.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || (value == 0 && !allow_any_port) ||
      value > 65535)
    return problem{"`" + text + "`: the port must be a number from " + (allow_any_port ? "0" : "1") +
                   " to 65535"};
  endpoint.port = static_cast<std::uint16_t>(value);
  return endpoint;
}

json api_response::json() const {
  nlohmann::json value = nlohmann::json::parse(body, nullptr, false);
  return value.is_discarded() ? nlohmann::json(nullptr) : value;
}

std::string api_response::error_message() const {
  const nlohmann::json value = json();
  if (value.is_object() && value.contains("error") && value["error"].is_object() &&
      value["error"].value("message", json::string_t{}) != "")
    return value["error"]["message"].get<std::string>();
  return body.empty() ? "HTTP status " + std::to_string(status) : body;
}

namespace {

std::string where(const api_endpoint& endpoint) {
  return endpoint.host + ":" + std::to_string(endpoint.port);
}

std::string describe(beast::error_code ec, const api_endpoint& endpoint, std::chrono::milliseconds timeout,
                     const char* stage) {
  if (ec == beast::error::timeout)
    return "no answer from the daemon at " + where(endpoint) + " within " +
           std::to_string(timeout.count() / 1000.0).substr(0, 4) + " s";
  if (ec == net::error::connection_refused)
    return "cannot connect to the daemon at " + where(endpoint) +
           ": connection refused (is tailord running? pass --server or set TAILOR_SERVER)";
  return std::string("cannot ") + stage + " the daemon at " + where(endpoint) + ": " + ec.message();
}

result<tcp::resolver::results_type> resolve(net::io_context& io, const api_endpoint& endpoint) {
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto results =
      resolver.resolve(endpoint.host, std::to_string(endpoint.port), tcp::resolver::numeric_service, ec);
  if (ec)
    return problem{"cannot resolve `" + endpoint.host + "`: " + ec.message()};
  return results;
}

} // namespace

result<api_response> api_call(const api_endpoint& endpoint, const std::string& method,
                              const std::string& target, const std::string& body,
                              std::chrono::milliseconds timeout) {
  net::io_context io;
  auto addresses = resolve(io, endpoint);
  if (!addresses)
    return addresses.error();
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, where(endpoint));
  request.set(http::field::user_agent, "tailor");
  if (!endpoint.token.empty())
    request.set(http::field::authorization, "Bearer " + endpoint.token);
  if (!body.empty()) {
    request.set(http::field::content_type, "application/json");
    request.body() = body;
  }
  request.prepare_payload();

  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  beast::error_code failure;
  const char* stage = "connect to";
  stream.expires_after(timeout);
  stream.async_connect(addresses.value(), [&](beast::error_code ec, const tcp::endpoint&) {
    if (ec)
      return void(failure = ec);
    stage = "send a request to";
    http::async_write(stream, request, [&](beast::error_code write_ec, std::size_t) {
      if (write_ec)
        return void(failure = write_ec);
      stage = "read the answer of";
      http::async_read(stream, buffer, parser,
                       [&](beast::error_code read_ec, std::size_t) { failure = read_ec; });
    });
  });
  io.run();
  // A daemon that refuses a body answers before reading it, and may reset the connection meanwhile.
  if (failure && !parser.is_header_done())
    return problem{describe(failure, endpoint, timeout, stage)};
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return api_response{parser.get().result_int(), parser.get().body()};
}

status api_watch(const api_endpoint& endpoint, const std::string& target,
                 const std::function<bool(const std::string&)>& on_message,
                 std::chrono::milliseconds idle_timeout) {
  net::io_context io;
  auto addresses = resolve(io, endpoint);
  if (!addresses)
    return addresses.error();
  websocket::stream<beast::tcp_stream> ws(io);
  websocket::response_type refusal;
  beast::flat_buffer buffer;
  beast::error_code failure;
  bool refused = false;
  bool stopped = false;
  std::function<void()> read_next = [&] {
    ws.async_read(buffer, [&](beast::error_code ec, std::size_t) {
      if (ec)
        return void(failure = ec);
      const std::string text = beast::buffers_to_string(buffer.data());
      buffer.clear();
      if (!on_message(text)) {
        stopped = true;
        ws.async_close(websocket::close_code::normal, [](beast::error_code) {});
        return;
      }
      read_next();
    });
  };
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(30));
  beast::get_lowest_layer(ws).async_connect(
      addresses.value(), [&](beast::error_code ec, const tcp::endpoint&) {
        if (ec)
          return void(failure = ec);
        beast::get_lowest_layer(ws).expires_never();
        auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::client);
        timeouts.idle_timeout = idle_timeout;
        ws.set_option(timeouts);
        ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& request) {
          request.set(http::field::user_agent, "tailor");
          if (!endpoint.token.empty())
            request.set(http::field::authorization, "Bearer " + endpoint.token);
        }));
        ws.async_handshake(refusal, where(endpoint), target, [&](beast::error_code handshake_ec) {
          if (handshake_ec) {
            refused = refusal.result_int() != 0 && refusal.result() != http::status::switching_protocols;
            return void(failure = handshake_ec);
          }
          read_next();
        });
      });
  io.run();
  if (refused)
    return problem{api_response{refusal.result_int(), refusal.body()}.error_message()};
  if (stopped || !failure || failure == websocket::error::closed)
    return ok_status();
  return problem{describe(failure, endpoint, idle_timeout, "watch")};
}

} // namespace tailor
