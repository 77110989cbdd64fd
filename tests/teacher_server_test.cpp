// The teacher server over loopback sockets: routes, keys, bad requests, keep-alive, latency, concurrency.
#include "tests/teacher_server_support.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sstream>
#include <thread>
#include <vector>

using namespace tailor::server_test;

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
  // A request the backend cannot answer is the client's to fix: a 400 with the backend's message.
  const auto refused = connection.exchange(chat_request("refuse"));
  CHECK(refused.result() == http::status::bad_request);
  CHECK(error_message(refused, "invalid_request_error").find("cannot answer `refuse`") != std::string::npos);
  CHECK(counts(*server) == four{4, 2, 0, 0});
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
