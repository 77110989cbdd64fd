// The teacher client on a loopback server: answers, API key, cancel, concurrency, budget; retry, URL rules.
#include "io/http/http_endpoint.hpp"
#include "io/http/retry_policy.hpp"
#include "io/teacher/openai_client.hpp"
#include "tests/teacher_client_support.hpp"
#include "tests/teacher_test_support.hpp"

#include <random>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sstream>
#include <thread>

using namespace tailor;
using namespace tailor::testing;
using namespace tailor::client_test;
using namespace std::chrono_literals;

namespace {

// Routes spdlog's default logger into a string for the lifetime of the object.
class captured_log {
public:
  captured_log() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
    auto logger = std::make_shared<spdlog::logger>("captured", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~captured_log() { spdlog::set_default_logger(previous_); }
  std::string text() const { return text_.str(); }

private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream text_;
};

} // namespace

TEST_CASE("endpoint URLs keep their path prefix and default ports", "[teacher_client]") {
  auto openai = parse_http_endpoint("https://api.openai.com/v1");
  REQUIRE(openai);
  CHECK(openai->tls);
  CHECK(openai->host == "api.openai.com");
  CHECK(openai->port == 443);
  CHECK(openai->path_prefix == "/v1");
  CHECK(openai->url("/chat/completions") == "https://api.openai.com/v1/chat/completions");
  CHECK(openai->host_header() == "api.openai.com");

  auto local = parse_http_endpoint("http://127.0.0.1:8000/v1/");
  REQUIRE(local);
  CHECK_FALSE(local->tls);
  CHECK(local->port == 8000);
  CHECK(local->path_prefix == "/v1");
  CHECK(local->host_header() == "127.0.0.1:8000");

  auto ipv6 = parse_http_endpoint("http://[::1]:11434");
  REQUIRE(ipv6);
  CHECK(ipv6->host == "::1");
  CHECK(ipv6->path_prefix.empty());
  CHECK(ipv6->url("/chat/completions") == "http://[::1]:11434/chat/completions");

  CHECK_FALSE(parse_http_endpoint("ftp://example.com"));
  CHECK_FALSE(parse_http_endpoint("http://:80/v1"));
  CHECK_FALSE(parse_http_endpoint("http://host:99999/v1"));
  CHECK_THAT(parse_http_endpoint("https://user:sk-x@host/v1").error().message, Catch::Contains("user info"));
}

TEST_CASE("retry rules: which statuses, Retry-After, backoff bounds, error messages", "[teacher_client]") {
  for (int status : {408, 409, 429, 500, 502, 503, 504})
    CHECK(is_retryable_status(status));
  for (int status : {400, 401, 403, 404, 422})
    CHECK_FALSE(is_retryable_status(status));

  CHECK(parse_retry_after("2") == std::chrono::milliseconds(2000));
  CHECK(parse_retry_after(" 0.5 ") == std::chrono::milliseconds(500));
  CHECK_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"));
  CHECK_FALSE(parse_retry_after(""));
  CHECK_FALSE(parse_retry_after("-1"));

  std::mt19937_64 random(1);
  for (int tries = 1; tries <= 12; ++tries) {
    const auto delay = backoff_delay(tries, 100ms, 2000ms, random);
    CHECK(delay >= 0ms);
    CHECK(delay <= std::min(2000ms, 100ms * (1 << (tries - 1))));
  }

  CHECK(error_message_of(R"({"error": {"message": "Rate limit reached", "type": "requests"}})") ==
        "Rate limit reached");
  CHECK(error_message_of(R"({"error": "model not loaded"})") == "model not loaded");
  CHECK(error_message_of("upstream timed out") == "upstream timed out");
  CHECK(error_message_of("") == "(empty body)");
}

TEST_CASE("the client rejects unusable options with a message", "[teacher_client]") {
  openai_client_options options;
  options.base_url = "localhost:8000";
  CHECK_THAT(openai_client::create(options).error().message, Catch::Contains("http:// or https://"));
  options.base_url = "http://127.0.0.1:8000/v1";
  options.max_tries = 0;
  CHECK_THAT(openai_client::create(options).error().message, Catch::Contains("max_tries"));
}

TEST_CASE("a request is answered, with usage and cost", "[teacher_client]") {
  echo_teacher teacher;
  auto server = start_server(teacher);
  auto options = local_options(*server);
  options.prices = {1.0, 2.0}; // USD per million tokens
  auto client = make_client(options);

  auto answer = ask_once(*client);
  REQUIRE(answer);
  CHECK(answer->choices == std::vector<std::string>{"echo 0: What is 2 + 3?"});
  CHECK(answer->usage == chat_usage{10, 5});
  const auto stats = client->stats();
  CHECK(stats.succeeded == 1);
  CHECK(stats.http_requests == 1);
  CHECK(stats.prompt_tokens == 10);
  CHECK(stats.completion_tokens == 5);
  CHECK(stats.cost_usd == Approx((10 * 1.0 + 5 * 2.0) / 1e6));
  CHECK(server->stats().completions == 1);
}

TEST_CASE("n > 1 samples come back in one request", "[teacher_client]") {
  echo_teacher teacher;
  auto server = start_server(teacher);
  auto client = make_client(local_options(*server));
  auto answer = ask_once(*client, ask("Why is the sky blue?", 3));
  REQUIRE(answer);
  REQUIRE(answer->choices.size() == 3);
  CHECK(answer->choices[2] == "echo 2: Why is the sky blue?");
  CHECK(server->stats().requests == 1);
}

TEST_CASE("sequential requests reuse one keep-alive connection", "[teacher_client]") {
  echo_teacher teacher;
  auto server = start_server(teacher);
  auto client = make_client(local_options(*server));
  for (int i = 0; i < 20; ++i)
    REQUIRE(ask_once(*client, ask("question " + std::to_string(i))));
  CHECK(client->stats().connections_opened == 1);
  CHECK(server->stats().requests == 20);
}

TEST_CASE("the API key goes out as a bearer token and never into logs or errors", "[teacher_client]") {
  const std::string secret = "sk-test-SECRET123";
  ::setenv("TAILOR_TEST_TEACHER_KEY", secret.c_str(), 1);
  ::setenv("TAILOR_TEST_WRONG_KEY", "sk-test-WRONG456", 1);
  ::unsetenv("TAILOR_TEST_NO_KEY");
  captured_log log;
  echo_teacher teacher;
  teacher_server_options server_options;
  server_options.required_api_key = secret;
  // A retried fault puts a warning in the log while the key is in use.
  server_options.scripted_faults = {fault(teacher_fault::kind::server_error)};
  auto server = start_server(teacher, server_options);
  std::vector<std::string> errors;

  auto options = local_options(*server);
  options.api_key_env = "TAILOR_TEST_TEACHER_KEY";
  auto client = make_client(options);
  REQUIRE(ask_once(*client));

  options.api_key_env = "TAILOR_TEST_WRONG_KEY";
  auto wrong = make_client(options);
  errors.push_back(error_of(ask_once(*wrong)));
  CHECK_THAT(errors.back(), Catch::Contains("HTTP 401"));
  CHECK(wrong->stats().http_requests == 1);

  options.api_key_env = "TAILOR_TEST_NO_KEY";
  auto keyless = make_client(options);
  errors.push_back(error_of(ask_once(*keyless)));
  CHECK_THAT(errors.back(), Catch::Contains("HTTP 401") && Catch::Contains("$TAILOR_TEST_NO_KEY is not set"));
  CHECK(server->stats().unauthorized == 2);

  const std::string logged = log.text();
  CHECK_THAT(logged, Catch::Contains("TAILOR_TEST_NO_KEY")); // the capture works
  CHECK_THAT(logged, !Catch::Contains("SECRET123"));
  for (const auto& error : errors)
    CHECK_THAT(error, !Catch::Contains("SECRET123"));
}

TEST_CASE("cancel_all ends queued and in-flight requests promptly", "[teacher_client]") {
  echo_teacher teacher;
  teacher_server_options server_options;
  server_options.latency_ms = 20000;
  auto server = start_server(teacher, server_options);
  auto options = local_options(*server);
  options.concurrency = 4;
  auto client = make_client(options);

  outcomes got;
  for (int i = 0; i < 10; ++i)
    client->complete(ask("slow " + std::to_string(i)), got.callback());
  std::this_thread::sleep_for(200ms);
  const auto start = clock_type::now();
  client->cancel_all();
  REQUIRE(got.wait_for(10, 5s));
  CHECK(seconds_since(start) < 5.0);
  for (const auto& outcome : got.take())
    CHECK_THAT(error_of(outcome), Catch::Contains("cancelled"));
  CHECK(client->stats().in_flight == 0);
  CHECK(client->stats().queued == 0);

  // The client is still usable afterwards.
  auto fast_server = start_server(teacher);
  auto fast_client = make_client(local_options(*fast_server));
  REQUIRE(ask_once(*fast_client));
}

TEST_CASE("requests beyond the concurrency limit wait their turn", "[teacher_client]") {
  echo_teacher teacher;
  teacher_server_options server_options;
  server_options.latency_ms = 100;
  auto server = start_server(teacher, server_options);
  auto options = local_options(*server);
  options.concurrency = 4;
  auto client = make_client(options);

  outcomes got;
  const auto start = clock_type::now();
  for (int i = 0; i < 16; ++i)
    client->complete(ask("q" + std::to_string(i)), got.callback());
  REQUIRE(got.wait_for(16));
  // Four waves of four: at least 4 x 100 ms, however fast the machine.
  CHECK(seconds_since(start) >= 0.39);
  CHECK(client->stats().connections_opened <= 4);
  for (const auto& outcome : got.take())
    CHECK(outcome);
}

TEST_CASE("the budget reserves each request's bound: the spend never passes the limit", "[teacher_client]") {
  echo_teacher teacher; // 15 tokens a request
  teacher_server_options server_options;
  server_options.latency_ms = 20;
  auto server = start_server(teacher, server_options);
  auto options = local_options(*server);
  options.concurrency = 8;
  options.budget =
      std::make_shared<teacher_budget>(teacher_budget_limits{150, std::nullopt});
  auto client = make_client(options);

  const auto question = [](int i) {
    auto request = ask("budget " + std::to_string(i % 10));
    request.max_tokens = 5;
    return request;
  };
  const auto bound = cost_bound_of(question(0), {});
  REQUIRE(bound.tokens > 15);
  REQUIRE(bound.tokens < 75);
  outcomes got;
  for (int i = 0; i < 64; ++i)
    client->complete(question(i), got.callback());
  REQUIRE(got.wait_for(64));
  std::size_t answered = 0;
  for (const auto& outcome : got.take()) {
    if (outcome)
      ++answered;
    else
      CHECK_THAT(outcome.error().message,
                 Catch::Contains("teacher budget exhausted: spent") && Catch::Contains("of 150 tokens") &&
                     Catch::Contains("the next request could cost " + std::to_string(bound.tokens)));
  }
  // A request starts only while what was spent, what the requests in flight reserved and its own bound fit:
  // the last one to start is the one after which another bound no longer fits what was spent.
  const auto expected = static_cast<std::size_t>((150 - bound.tokens) / 15 + 1);
  CHECK(answered == expected);
  CHECK(server->stats().requests == expected);
  CHECK(options.budget->spent_tokens() == static_cast<std::int64_t>(15 * answered));
  CHECK(options.budget->spent_tokens() <= 150);
  CHECK(options.budget->in_flight() == 0);
}

TEST_CASE("a request that fits only once others end waits for them", "[teacher_client]") {
  teacher_budget budget({100, std::nullopt});
  REQUIRE(*budget.try_begin({60, 0}) == budget_turn::go);
  REQUIRE(*budget.try_begin({60, 0}) == budget_turn::later); // 60 reserved + 60 > 100
  budget.finish({10, 10}, 0, {60, 0});                        // spent 20 of its 60
  REQUIRE(*budget.try_begin({60, 0}) == budget_turn::go);     // 20 + 60 fits
  budget.finish({30, 30}, 0, {60, 0});                        // 80 spent
  const auto refused = budget.try_begin({60, 0});             // 80 + 60 can never fit
  REQUIRE_FALSE(refused);
  CHECK(refused.error().cause == problem_cause::budget);
  CHECK(budget.in_flight() == 0);
}

TEST_CASE("a budget in dollars refuses before sending", "[teacher_client]") {
  teacher_budget budget({std::nullopt, 0.01});
  REQUIRE(budget.try_begin());
  budget.finish({1000, 1000}, 0.02);
  const auto refused = budget.try_begin();
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message == "teacher budget exhausted: spent $0.0200 of $0.0100");
  CHECK(budget.in_flight() == 0);
  CHECK(budget.spent_tokens() == 2000);
}
