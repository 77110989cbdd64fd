// The teacher server over real loopback sockets: routes, injected faults, keys, limits, keep-alive,
// latency, concurrency, counters and a prompt stop.
#include "io/teacher_server.hpp"

#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sstream>
#include <thread>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using namespace std::chrono_literals;
using tailor::teacher_fault;
using fault_kind = tailor::teacher_fault::kind;
using response_type = http::response<http::string_body>;

// Answers "echo <i>: <last message>" for each of the n samples, on the caller's thread; "fail" fails.
class echo_backend final : public tailor::teacher_backend {
public:
  void complete(tailor::chat_request request, callback done) override {
    const std::string last = request.messages.back().content;
    if (last == "fail")
      return done(tailor::problem{"the echo backend refuses `fail`"});
    tailor::chat_response response{"echo-1", {}, {static_cast<std::int64_t>(last.size()), 3 * request.n}};
    for (int i = 0; i < request.n; ++i)
      response.choices.push_back("echo " + std::to_string(i) + ": " + last);
    done(std::move(response));
  }
  void cancel_all() override {}
};

// Keeps every callback and never answers, like a backend hung on a dead upstream.
class silent_backend final : public tailor::teacher_backend {
public:
  void complete(tailor::chat_request, callback done) override {
    std::lock_guard lock(mutex);
    pending.push_back(std::move(done));
  }
  void cancel_all() override {}
  std::size_t waiting() {
    std::lock_guard lock(mutex);
    return pending.size();
  }
  std::mutex mutex;
  std::vector<callback> pending;
};

std::unique_ptr<tailor::teacher_server> start(tailor::teacher_backend& backend,
                                              tailor::teacher_server_options options = {}) {
  auto server = tailor::teacher_server::start(backend, std::move(options));
  INFO((server ? "" : server.error().message));
  REQUIRE(server);
  REQUIRE(server.value()->port() != 0);
  return std::move(server.value());
}

std::string chat_body(const std::string& content, int n = 1) {
  return json{{"model", "student-helper"}, {"messages", {{{"role", "user"}, {"content", content}}}}, {"n", n}}
      .dump();
}

http::request<http::string_body> make_request(http::verb method, std::string target, std::string body = {},
                                              std::string key = {}) {
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

http::request<http::string_body> chat_request(const std::string& content, std::string key = {}) {
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
std::string error_message(const response_type& response, const std::string& type = "invalid_request_error") {
  const json body = json::parse(response.body());
  REQUIRE(body.at("error").at("type") == type);
  return body.at("error").at("message").get<std::string>();
}

// The counters as (requests, completions, faults, unauthorized), to compare in one check.
std::array<std::size_t, 4> counts(const tailor::teacher_server& server) {
  const auto stats = server.stats();
  return {stats.requests, stats.completions, stats.faults, stats.unauthorized};
}
using four = std::array<std::size_t, 4>;

template <class Condition>
bool eventually(Condition condition) {
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(5ms))
    if (condition())
      return true;
  return false;
}

} // namespace

TEST_CASE("teacher server answers chat completions in OpenAI's shape", "[server]") {
  echo_backend backend;
  auto server = start(backend);
  client connection(server->port());
  const auto response = connection.exchange(
      make_request(http::verb::post, "/v1/chat/completions", chat_body("What is 2 + 3?", 3)));
  REQUIRE(response.result() == http::status::ok);
  REQUIRE(response[http::field::content_type] == "application/json");
  const json body = json::parse(response.body());
  CHECK(body.at("object") == "chat.completion");
  CHECK(body.at("id").get<std::string>().rfind("chatcmpl-", 0) == 0);
  CHECK(body.at("created").is_number_integer());
  CHECK(body.at("model") == "echo-1");
  REQUIRE(body.at("choices").size() == 3);
  CHECK(body["choices"][2]["index"] == 2);
  CHECK(body["choices"][2]["message"]["role"] == "assistant");
  CHECK(body["choices"][2]["message"]["content"] == "echo 2: What is 2 + 3?");
  CHECK(body["usage"]["prompt_tokens"] == 14);
  CHECK(body["usage"]["completion_tokens"] == 9);
  CHECK(body["usage"]["total_tokens"] == 23);
  const auto parsed = tailor::parse_chat_response(response.body());
  REQUIRE(parsed);
  CHECK(parsed->choices.size() == 3);

  // The path without /v1 is the same endpoint; the model list names one model.
  CHECK(connection.exchange(make_request(http::verb::post, "/chat/completions", chat_body("x"))).result() ==
        http::status::ok);
  const json models = json::parse(connection.exchange(make_request(http::verb::get, "/v1/models")).body());
  REQUIRE(models.at("data").size() == 1);
  CHECK(models["data"][0]["id"] == "tailor-builtin");

  // A backend failure is a 500 that says why.
  const auto failed = connection.exchange(chat_request("fail"));
  CHECK(failed.result() == http::status::internal_server_error);
  CHECK(error_message(failed, "server_error").find("refuses `fail`") != std::string::npos);
  CHECK(counts(*server) == four{3, 2, 0, 0});
}

TEST_CASE("teacher server plays scripted faults in order, then serves normally", "[server]") {
  echo_backend backend;
  tailor::teacher_server_options options;
  options.scripted_faults = {{fault_kind::rate_limited, 7}, {fault_kind::server_error},
                             {fault_kind::malformed},       {fault_kind::bad_request},
                             {fault_kind::timeout, 1, 300}, {fault_kind::none}};
  auto server = start(backend, options);
  const auto fresh_exchange = [&] { return client(server->port()).exchange(chat_request("q")); };

  const auto limited = fresh_exchange();
  CHECK(limited.result() == http::status::too_many_requests);
  CHECK(limited[http::field::retry_after] == "7");
  CHECK(json::parse(limited.body())["error"]["code"] == "rate_limit_exceeded");
  const auto crashed = fresh_exchange();
  CHECK(crashed.result() == http::status::internal_server_error);
  error_message(crashed, "server_error");
  const auto garbled = fresh_exchange();
  CHECK(garbled.result() == http::status::ok);
  CHECK_FALSE(json::accept(garbled.body()));
  CHECK_FALSE(tailor::parse_chat_response(garbled.body()));
  const auto refused = fresh_exchange();
  CHECK(refused.result() == http::status::bad_request);
  error_message(refused);

  client stalled(server->port());
  const auto sent_at = std::chrono::steady_clock::now();
  REQUIRE_FALSE(stalled.send(chat_request("q")));
  const auto [error, nothing] = stalled.receive();
  CHECK(error == http::error::end_of_stream);
  CHECK(std::chrono::steady_clock::now() - sent_at >= 250ms);

  for (int i = 0; i < 2; ++i)
    CHECK(fresh_exchange().result() == http::status::ok);
  CHECK(counts(*server) == four{7, 2, 5, 0});
}

TEST_CASE("teacher server draws random faults from its seed", "[server]") {
  echo_backend backend;
  tailor::teacher_server_options options;
  options.fault_rate = 1;
  options.fault_stall_ms = 20;
  options.seed = 42;
  const auto outcomes = [&] {
    auto server = start(backend, options);
    std::vector<std::string> seen;
    for (int i = 0; i < 40; ++i) {
      client connection(server->port());
      REQUIRE_FALSE(connection.send(chat_request("q")));
      const auto [error, response] = connection.receive();
      seen.push_back(error                           ? "closed"
                     : json::accept(response.body()) ? std::to_string(response.result_int())
                                                     : "malformed");
    }
    CHECK(counts(*server) == four{40, 0, 40, 0});
    return seen;
  };
  const auto first = outcomes();
  CHECK(std::set<std::string>(first.begin(), first.end()) ==
        std::set<std::string>{"429", "500", "closed", "malformed"});
  CHECK(outcomes() == first);
}

TEST_CASE("teacher server requires the API key when given one, and never logs it", "[server]") {
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  auto capture =
      std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  capture->set_level(spdlog::level::debug);
  spdlog::set_default_logger(capture);

  echo_backend backend;
  tailor::teacher_server_options options;
  options.required_api_key = "sk-test-secret";
  {
    auto server = start(backend, options);
    client connection(server->port());
    const auto missing = connection.exchange(chat_request("q"));
    CHECK(missing.result() == http::status::unauthorized);
    CHECK(error_message(missing).find("missing API key") != std::string::npos);
    const auto wrong = connection.exchange(chat_request("q", "sk-wrong"));
    CHECK(wrong.result() == http::status::unauthorized);
    CHECK(json::parse(wrong.body())["error"]["code"] == "invalid_api_key");
    CHECK(connection.exchange(chat_request("q", "sk-test-secret")).result() == http::status::ok);
    CHECK(connection.exchange(make_request(http::verb::get, "/v1/models")).result() ==
          http::status::unauthorized);
    CHECK(counts(*server) == four{3, 1, 0, 3});
  }
  spdlog::set_default_logger(previous);
  CHECK(log.str().find("POST /v1/chat/completions -> 401") != std::string::npos);
  CHECK(log.str().find("POST /v1/chat/completions -> 200") != std::string::npos);
  CHECK(log.str().find("sk-") == std::string::npos);
}

TEST_CASE("teacher server refuses bad requests with a message", "[server]") {
  echo_backend backend;
  tailor::teacher_server_options options;
  options.max_body_bytes = 64 * 1024;
  auto server = start(backend, options);
  client connection(server->port());

  const auto not_json = connection.exchange(make_request(http::verb::post, "/v1/chat/completions", "{oops"));
  CHECK(not_json.result() == http::status::bad_request);
  CHECK(error_message(not_json).find("not valid JSON") != std::string::npos);
  const auto no_messages = connection.exchange(
      make_request(http::verb::post, "/v1/chat/completions", R"({"model": "m", "messages": []})"));
  CHECK(no_messages.result() == http::status::bad_request);
  CHECK(error_message(no_messages).find("`messages`") != std::string::npos);

  const auto unknown = connection.exchange(make_request(http::verb::get, "/v2/teachers?key=sk-x"));
  CHECK(unknown.result() == http::status::not_found);
  CHECK(error_message(unknown).find("/v2/teachers") != std::string::npos);
  const auto wrong_method = connection.exchange(make_request(http::verb::get, "/v1/chat/completions"));
  CHECK(wrong_method.result() == http::status::method_not_allowed);
  CHECK(wrong_method[http::field::allow] == "POST");
  // All of these kept the connection open.
  CHECK(connection.exchange(chat_request("still here")).result() == http::status::ok);

  client flood(server->port());
  const auto too_big = flood.exchange(
      make_request(http::verb::post, "/v1/chat/completions", chat_body(std::string(200 * 1024, 'x'))));
  CHECK(too_big.result() == http::status::payload_too_large);
  CHECK_FALSE(too_big.keep_alive());
  error_message(too_big);

  // Bytes that are not HTTP at all.
  client garbage(server->port());
  REQUIRE_FALSE(garbage.send_raw("GET /v1/models HTTP/1.1\r\nno colon in this header\r\n\r\n"));
  const auto [error, response] = garbage.receive();
  REQUIRE_FALSE(error);
  CHECK(response.result() == http::status::bad_request);
  CHECK(error_message(response).find("malformed HTTP request") != std::string::npos);
}

TEST_CASE("teacher server keeps connections alive and serves many at once", "[server]") {
  echo_backend backend;
  tailor::teacher_server_options options;
  options.latency_ms = 200;
  options.latency_jitter_ms = 50;
  options.threads = 2;
  auto server = start(backend, options);

  client connection(server->port());
  for (const char* question : {"first", "second"}) {
    const auto began = std::chrono::steady_clock::now();
    const auto response = connection.exchange(chat_request(question));
    const auto elapsed = std::chrono::steady_clock::now() - began;
    CHECK(response.result() == http::status::ok);
    CHECK(response.keep_alive());
    CHECK(elapsed >= 145ms);
    CHECK(elapsed < 5s);
  }
  // A client that asks before sending its body gets the go-ahead, then the answer, on the same connection.
  const std::string body = chat_body("third");
  REQUIRE_FALSE(connection.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                    "Expect: 100-continue\r\nContent-Length: " +
                                    std::to_string(body.size()) + "\r\n\r\n"));
  CHECK(connection.receive().second.result() == http::status::continue_);
  REQUIRE_FALSE(connection.send_raw(body));
  const auto [error, third] = connection.receive();
  REQUIRE_FALSE(error);
  CHECK(json::parse(third.body())["choices"][0]["message"]["content"] == "echo 0: third");

  constexpr int concurrent = 50;
  std::atomic<int> answered{0};
  const auto began = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int i = 0; i < concurrent; ++i)
    clients.emplace_back([&, i] {
      client mine(server->port());
      if (mine.send(chat_request("question " + std::to_string(i))))
        return;
      const auto [error, response] = mine.receive();
      const json body = json::parse(response.body(), nullptr, false);
      if (!error && response.result() == http::status::ok && !body.is_discarded() &&
          body["choices"][0]["message"]["content"] == "echo 0: question " + std::to_string(i))
        ++answered;
    });
  for (auto& thread : clients)
    thread.join();
  CHECK(answered == concurrent);
  // 50 answers of ~200 ms each in well under 50 * 200 ms: the latency waits overlap.
  CHECK(std::chrono::steady_clock::now() - began < 5s);
  CHECK(counts(*server) == four{concurrent + 3, concurrent + 3, 0, 0});
}

TEST_CASE("teacher server stops promptly with a stalled request and a silent backend", "[server]") {
  SECTION("a stalled request") {
    echo_backend backend;
    tailor::teacher_server_options options;
    options.scripted_faults = {{fault_kind::timeout, 1, 60000}};
    auto server = start(backend, options);
    std::atomic<bool> cut_off{false};
    std::thread waiting([&] {
      client connection(server->port());
      if (!connection.send(chat_request("q")))
        cut_off = static_cast<bool>(connection.receive(30s).first);
    });
    REQUIRE(eventually([&] { return server->stats().requests == 1; }));
    const auto began = std::chrono::steady_clock::now();
    server->stop();
    CHECK(std::chrono::steady_clock::now() - began < 2s);
    waiting.join();
    CHECK(cut_off);
    server->stop(); // again: nothing happens
  }
  SECTION("a backend that never answers, then answers after the server is gone") {
    silent_backend backend;
    auto server = start(backend);
    client connection(server->port());
    REQUIRE_FALSE(connection.send(chat_request("q")));
    REQUIRE(eventually([&] { return backend.waiting() == 1; }));
    const auto began = std::chrono::steady_clock::now();
    server.reset();
    CHECK(std::chrono::steady_clock::now() - began < 2s);
    CHECK(connection.receive(5s).first);
    backend.pending.front()(tailor::chat_response{"late", {"too late"}, {}});
  }
}

TEST_CASE("teacher server says why it cannot start", "[server]") {
  echo_backend backend;
  auto first = start(backend);
  tailor::teacher_server_options options;
  options.port = first->port();
  const auto second = tailor::teacher_server::start(backend, options);
  REQUIRE_FALSE(second);
  CHECK(second.error().message.find("in use") != std::string::npos);
  options.port = 0;
  options.fault_rate = 2;
  CHECK_FALSE(tailor::teacher_server::start(backend, options));
}
