// The teacher server's injected faults, scripted and seeded, and its prompt stop with requests hanging.
#include "tests/teacher_server_support.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace tailor::server_test;

namespace {

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

template <class Condition>
bool eventually(Condition condition) {
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(5ms))
    if (condition())
      return true;
  return false;
}

} // namespace

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
