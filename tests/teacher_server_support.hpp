// Shared by the teacher server tests: an echo backend, a started server, requests and a loopback client.
#pragma once

#include "io/teacher/teacher_server.hpp"

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

namespace tailor::server_test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using namespace std::chrono_literals;
using tailor::teacher_fault;
using fault_kind = tailor::teacher_fault::kind;
using response_type = http::response<http::string_body>;

// Answers "echo <i>: <last message>" for each of the n samples, on the caller's thread; "fail" fails, and
// "refuse" is refused as a request it cannot answer.
class echo_backend final : public tailor::teacher_backend {
public:
  void complete(tailor::chat_request request, callback done) override {
    const std::string last = request.messages.back().content;
    if (last == "fail")
      return done(tailor::problem{"the echo backend refuses `fail`"});
    if (last == "refuse")
      return done(tailor::problem{"the echo backend cannot answer `refuse`", tailor::problem_cause::rejected});
    tailor::chat_response response{"echo-1", {}, {static_cast<std::int64_t>(last.size()), 3 * request.n}};
    for (int i = 0; i < request.n; ++i)
      response.choices.push_back("echo " + std::to_string(i) + ": " + last);
    done(std::move(response));
  }
  void cancel_all() override {}
};

inline std::unique_ptr<tailor::teacher_server> start(tailor::teacher_backend& backend,
                                                     tailor::teacher_server_options options = {}) {
  auto server = tailor::teacher_server::start(backend, std::move(options));
  INFO((server ? "" : server.error().message));
  REQUIRE(server);
  REQUIRE(server.value()->port() != 0);
  return std::move(server.value());
}

inline std::string chat_body(const std::string& content, int n = 1) {
  return json{{"model", "student-helper"}, {"messages", {{{"role", "user"}, {"content", content}}}}, {"n", n}}
      .dump();
}

inline http::request<http::string_body> make_request(http::verb method, std::string target,
                                                     std::string body = {}, std::string key = {}) {
  http::request<http::string_body> request{method, target, 11};
  request.set(http::field::host, "127.0.0.1");
  if (!key.empty())
    request.set(http::field::authorization, "Bearer " + key);
  if (method == http::verb::post)
    request.set(http::field::content_type, "application/json");
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

inline http::request<http::string_body> chat_request(const std::string& content, std::string key = {}) {
  return make_request(http::verb::post, "/v1/chat/completions", chat_body(content), std::move(key));
}

// A synchronous client on one connection; each step is bounded by a deadline so that a test never hangs.
class client {
public:
  // Connection errors show in the first send, so that clients on other threads make no Catch2 assertion.
  explicit client(std::uint16_t port) : stream_(ioc_) {
    stream_.expires_after(5s);
    stream_.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                          [&](beast::error_code ec) { connect_error_ = ec; });
    run();
  }

  beast::error_code send(const http::request<http::string_body>& request) {
    if (connect_error_)
      return connect_error_;
    beast::error_code error;
    stream_.expires_after(10s);
    http::async_write(stream_, request, [&](beast::error_code ec, std::size_t) { error = ec; });
    run();
    return error;
  }

  beast::error_code send_raw(const std::string& bytes) {
    beast::error_code error;
    stream_.expires_after(10s);
    net::async_write(stream_, net::buffer(bytes), [&](beast::error_code ec, std::size_t) { error = ec; });
    run();
    return error;
  }

  // The next response, or why none came (end_of_stream: the server closed the connection).
  std::pair<beast::error_code, response_type> receive(std::chrono::seconds timeout = 10s) {
    beast::error_code error;
    response_type response;
    stream_.expires_after(timeout);
    http::async_read(stream_, buffer_, response, [&](beast::error_code ec, std::size_t) { error = ec; });
    run();
    return {error, std::move(response)};
  }

  response_type exchange(const http::request<http::string_body>& request) {
    const beast::error_code sent = send(request);
    INFO(sent.message());
    REQUIRE_FALSE(sent);
    auto [error, response] = receive();
    INFO(error.message());
    REQUIRE_FALSE(error);
    return std::move(response);
  }

private:
  void run() {
    ioc_.restart();
    ioc_.run();
  }

  net::io_context ioc_;
  beast::error_code connect_error_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

// The OpenAI error message of a response, checking its shape on the way.
inline std::string error_message(const response_type& response,
                                 const std::string& type = "invalid_request_error") {
  const json body = json::parse(response.body());
  REQUIRE(body.at("error").at("type") == type);
  return body.at("error").at("message").get<std::string>();
}

// The counters as (requests, completions, faults, unauthorized), to compare in one check.
inline std::array<std::size_t, 4> counts(const tailor::teacher_server& server) {
  const auto stats = server.stats();
  return {stats.requests, stats.completions, stats.faults, stats.unauthorized};
}
using four = std::array<std::size_t, 4>;

// The Batch API's counters as (files uploaded, batches created).
inline std::array<std::size_t, 2> batch_counts(const tailor::teacher_server& server) {
  const auto stats = server.stats();
  return {stats.files_uploaded, stats.batches_created};
}
using two = std::array<std::size_t, 2>;

} // namespace tailor::server_test
