// The listener and HTTP session both servers stand on, with a small server of its own over loopback: port 0,
// two listeners at once, keep-alive, answers from another thread and their deadline, the body limit, and a
// stop with a request in flight whose late answer then reaches nobody.
#include "io/http/http_connection.hpp"
#include "io/http/http_listener.hpp"
#include "io/http/http_session.hpp"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using tailor::http_listener;
using tailor::http_session;

// The answers the test server owes, held as the functions it gave out; the test answers them itself.
class pending_answers {
public:
  void add(std::function<void(std::string)> answer) {
    {
      std::lock_guard lock(mutex_);
      answers_.push_back(std::move(answer));
    }
    added_.notify_all();
  }
  // Whether `count` answers are owed within 5 s.
  bool reach(std::size_t count) {
    std::unique_lock lock(mutex_);
    return added_.wait_for(lock, 5s, [&] { return answers_.size() >= count; });
  }
  std::function<void(std::string)> take() {
    std::lock_guard lock(mutex_);
    auto answer = std::move(answers_.front());
    answers_.erase(answers_.begin());
    return answer;
  }

private:
  std::mutex mutex_;
  std::condition_variable added_;
  std::vector<std::function<void(std::string)>> answers_;
};

// GET /hello answers at once; /wait answers with what the test gives it (504 after 10 s), /wait-briefly
// gives up after 100 ms. Bodies over 1 KiB are refused.
class test_session final : public http_session {
public:
  test_session(tcp::socket socket, http_listener& listener, std::string name, pending_answers& pending,
               std::atomic<int>& answered)
      : http_session(std::move(socket), listener, 1024, name), name_(std::move(name)), pending_(pending),
        answered_(answered) {}

private:
  void route() override {
    const std::string target(request().target());
    if (target == "/hello")
      return send(text(http::status::ok, "hello from " + name_), then::keep_alive);
    if (target == "/wait" || target == "/wait-briefly")
      return pending_.add(await_answer<std::string>(
          target == "/wait" ? std::chrono::steady_clock::duration(10s) : 100ms,
          [this] { send(text(http::status::gateway_timeout, "no answer"), then::keep_alive); },
          [this](std::string answer) {
            ++answered_;
            send(text(http::status::ok, std::move(answer)), then::keep_alive);
          }));
    send(text(http::status::not_found, "no route for " + target), then::keep_alive);
  }

  response_type unreadable(http::status status, const std::string& reason) override {
    return text(status, reason);
  }

  static response_type text(http::status status, std::string body) {
    response_type response{status, 11};
    response.set(http::field::content_type, "text/plain");
    response.body() = std::move(body);
    return response;
  }

  const std::string name_;
  pending_answers& pending_;
  std::atomic<int>& answered_;
};

// A listener of test sessions on a free port of 127.0.0.1.
struct test_server {
  explicit test_server(std::string name)
      : listener(std::make_unique<http_listener>(
            [this, name](tcp::socket socket, http_listener& on) {
              return std::make_shared<test_session>(std::move(socket), on, name, pending, answered);
            },
            [this](const std::string&) { ++troubles; })) {
    const auto listening = listener->listen({"127.0.0.1", 0, 2});
    INFO((listening ? "" : listening.error().message));
    REQUIRE(listening);
  }

  pending_answers pending;
  std::atomic<int> answered{0};
  std::atomic<int> troubles{0}; // failed accepts, handlers that threw
  std::unique_ptr<http_listener> listener;
};

// One client connection (the teacher client's), used from the calling thread.
class client {
public:
  explicit client(std::uint16_t port)
      : connection_(tailor::make_http_connection(io_, nullptr, {false, "127.0.0.1", port, ""}, false)) {}

  // The response, or why none came.
  std::pair<boost::system::error_code, tailor::http_response> fetch(const std::string& target,
                                                                    std::string body = {}) {
    auto request =
        std::make_shared<tailor::http_request>(body.empty() ? http::verb::get : http::verb::post, target, 11);
    request->set(http::field::host, "127.0.0.1");
    request->body() = std::move(body);
    request->prepare_payload();
    std::pair<boost::system::error_code, tailor::http_response> outcome;
    net::post(io_, [&] {
      connection_->exchange(
          request, 15s,
          [&](boost::system::error_code ec, tailor::exchange_stage, tailor::http_response response) {
            outcome = {ec, std::move(response)};
          });
    });
    io_.restart();
    io_.run();
    return outcome;
  }

  bool reusable() const { return connection_->reusable(); }

private:
  net::io_context io_;
  std::shared_ptr<tailor::http_connection> connection_;
};

} // namespace

TEST_CASE("two listeners on port 0 each serve their own sessions, kept alive", "[listener]") {
  test_server first("first");
  test_server second("second");
  REQUIRE(first.listener->port() != 0);
  REQUIRE(second.listener->port() != 0);
  CHECK(first.listener->port() != second.listener->port());

  client to_first(first.listener->port());
  client to_second(second.listener->port());
  for (int round = 0; round < 2; ++round) {
    const auto [error, response] = to_first.fetch("/hello");
    REQUIRE_FALSE(error);
    CHECK(response.body() == "hello from first");
    CHECK(response[http::field::server] == "first");
    CHECK(to_first.reusable()); // the same connection serves the next request
  }
  const auto [error, response] = to_second.fetch("/nowhere");
  REQUIRE_FALSE(error);
  CHECK(response.result() == http::status::not_found);
  CHECK(response[http::field::server] == "second");
  CHECK(first.troubles + second.troubles == 0);
}

TEST_CASE("an answer from another thread reaches its request; a missing or late one does not", "[listener]") {
  test_server server("waiter");
  client connection(server.listener->port());
  std::thread answering([&] {
    if (server.pending.reach(1))
      server.pending.take()("answered elsewhere");
  });
  const auto [error, response] = connection.fetch("/wait");
  answering.join();
  REQUIRE_FALSE(error);
  CHECK(response.result() == http::status::ok);
  CHECK(response.body() == "answered elsewhere");

  const auto [late_error, late] = connection.fetch("/wait-briefly");
  REQUIRE_FALSE(late_error);
  CHECK(late.result() == http::status::gateway_timeout);
  // The answer after the deadline comes while the connection waits for its next request's: it must not
  // pass for that one.
  auto stale = server.pending.take();
  std::thread answering_next([&] {
    if (!server.pending.reach(1))
      return;
    stale("too late");
    server.pending.take()("in time");
  });
  const auto [next_error, next] = connection.fetch("/wait");
  answering_next.join();
  REQUIRE_FALSE(next_error);
  CHECK(next.body() == "in time");
  CHECK(server.answered == 2);
}

TEST_CASE("a body over the limit gets 413 and the connection closes", "[listener]") {
  test_server server("limited");
  client connection(server.listener->port());
  const auto [small_error, small] = connection.fetch("/hello", std::string(1000, 'x'));
  REQUIRE_FALSE(small_error);
  CHECK(small.result() == http::status::ok);

  const auto [error, response] = connection.fetch("/hello", std::string(64 * 1024, 'x'));
  REQUIRE_FALSE(error);
  CHECK(response.result() == http::status::payload_too_large);
  CHECK(response.body().find("1024 bytes") != std::string::npos);
  CHECK_FALSE(response.keep_alive());
  CHECK_FALSE(connection.reusable());
}

TEST_CASE("stop ends a request in flight at once, and its late answer reaches nobody", "[listener]") {
  test_server server("stopping");
  const std::uint16_t port = server.listener->port();
  std::atomic<bool> cut_off{false};
  std::thread waiting([&] { cut_off = static_cast<bool>(client(port).fetch("/wait").first); });
  REQUIRE(server.pending.reach(1));

  const auto began = std::chrono::steady_clock::now();
  server.listener->stop();
  CHECK(std::chrono::steady_clock::now() - began < 2s);
  waiting.join();
  CHECK(cut_off);
  server.listener->stop(); // again: nothing happens

  // The session is gone and the gate is shut: answering now runs nothing, even with the listener destroyed.
  auto late = server.pending.take();
  server.listener.reset();
  late("after the end");
  CHECK(server.answered == 0);
  CHECK(client(port).fetch("/hello").first);
}

TEST_CASE("a listener says why it cannot start", "[listener]") {
  test_server taken("taken");
  http_listener second(
      [](tcp::socket, http_listener&) { return std::shared_ptr<tailor::server_connection>(); },
      [](const std::string&) {});
  const auto listening = second.listen({"127.0.0.1", taken.listener->port(), 1});
  REQUIRE_FALSE(listening);
  CHECK(listening.error().message.find("in use") != std::string::npos);
}
