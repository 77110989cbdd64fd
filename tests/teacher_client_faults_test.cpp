// The teacher client when the server misbehaves: 429s, 500s, timeouts, malformed bodies, refusals.
#include "io/teacher/openai_client.hpp"
#include "tests/teacher_client_support.hpp"
#include "tests/teacher_test_support.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <vector>

using namespace tailor;
using namespace tailor::testing;
using namespace tailor::client_test;
using namespace std::chrono_literals;

namespace {

// A server whose first requests get `faults`, in order.
std::unique_ptr<teacher_server> start_faulty_server(teacher_backend& teacher,
                                                    std::vector<teacher_fault> faults) {
  teacher_server_options options;
  options.scripted_faults = std::move(faults);
  return start_server(teacher, std::move(options));
}

teacher_fault stall_fault() {
  teacher_fault stall = fault(teacher_fault::kind::timeout);
  stall.stall_ms = 10000;
  return stall;
}

// A port nothing listens on: bound once by the kernel's choice, then released.
std::uint16_t unused_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

} // namespace

TEST_CASE("a 429 is retried no sooner than its Retry-After", "[teacher_client]") {
  echo_teacher teacher;
  teacher_fault limited = fault(teacher_fault::kind::rate_limited);
  limited.retry_after_s = 1;
  auto server = start_faulty_server(teacher, {limited});
  auto client = make_client(local_options(*server));

  const auto start = clock_type::now();
  auto answer = ask_once(*client);
  const double elapsed = seconds_since(start);
  REQUIRE(answer);
  CHECK(elapsed >= 0.99);
  CHECK(server->stats().requests == 2);
  CHECK(client->stats().retries == 1);
}

TEST_CASE("500s are retried until an answer comes", "[teacher_client]") {
  echo_teacher teacher;
  auto server = start_faulty_server(
      teacher, {fault(teacher_fault::kind::server_error), fault(teacher_fault::kind::server_error)});
  auto client = make_client(local_options(*server));
  auto answer = ask_once(*client);
  REQUIRE(answer);
  CHECK(server->stats().requests == 3);
  CHECK(client->stats().retries == 2);
}

TEST_CASE("a request that keeps failing gives up after max_tries with the last error", "[teacher_client]") {
  echo_teacher teacher;
  auto server = start_faulty_server(teacher, std::vector(5, fault(teacher_fault::kind::server_error)));
  auto options = local_options(*server);
  options.max_tries = 3;
  auto client = make_client(options);
  const std::string error = error_of(ask_once(*client));
  CHECK_THAT(error, Catch::Contains("HTTP 500") && Catch::Contains("gave up after 3 tries"));
  CHECK(server->stats().requests == 3);
}

TEST_CASE("a silent server ends in a timeout error after the configured time", "[teacher_client]") {
  echo_teacher teacher;
  auto server = start_faulty_server(teacher, {stall_fault()});
  auto options = local_options(*server);
  options.timeout = 300ms;
  options.max_tries = 1;
  auto client = make_client(options);

  const auto start = clock_type::now();
  const std::string error = error_of(ask_once(*client));
  const double elapsed = seconds_since(start);
  CHECK_THAT(error, Catch::Contains("no answer within 0.3 s"));
  CHECK(elapsed >= 0.29);
  CHECK(elapsed < 5.0);
}

TEST_CASE("a timed-out try is retried", "[teacher_client]") {
  echo_teacher teacher;
  auto server = start_faulty_server(teacher, {stall_fault()});
  auto options = local_options(*server);
  options.timeout = 300ms;
  auto client = make_client(options);
  REQUIRE(ask_once(*client));
  CHECK(server->stats().requests == 2);
}

TEST_CASE("a malformed 200 is retried like a 5xx, within max_tries", "[teacher_client]") {
  echo_teacher teacher;
  // Three garbled bodies in a row (a proxy's bad minute) cost three retries, not the answer.
  auto server = start_faulty_server(teacher, std::vector(3, fault(teacher_fault::kind::malformed)));
  auto client = make_client(local_options(*server));
  REQUIRE(ask_once(*client));
  CHECK(server->stats().requests == 4);
  CHECK(client->stats().retries == 3);

  // When every try is garbled, the tries run out and the failure says so, as transient.
  auto garbled = start_faulty_server(teacher, std::vector(5, fault(teacher_fault::kind::malformed)));
  auto options = local_options(*garbled);
  options.max_tries = 3;
  auto second_client = make_client(options);
  const auto answer = ask_once(*second_client);
  const std::string error = error_of(answer);
  CHECK_THAT(error, Catch::Contains("not a valid chat completion") && Catch::Contains("not valid JSON") &&
                        Catch::Contains("gave up after 3 tries"));
  CHECK(answer.error().cause == problem_cause::transient);
  CHECK(garbled->stats().requests == 3);
}

TEST_CASE("a failure says its cause: transient, rejected for one request, or fatal for all", "[teacher_client]") {
  echo_teacher teacher;
  SECTION("tries run out on 500s: transient") {
    auto server = start_faulty_server(teacher, std::vector(2, fault(teacher_fault::kind::server_error)));
    auto options = local_options(*server);
    options.max_tries = 2;
    auto client = make_client(options);
    CHECK(ask_once(*client).error().cause == problem_cause::transient);
  }
  SECTION("a 400 is about this request: rejected") {
    auto server = start_faulty_server(teacher, {fault(teacher_fault::kind::bad_request)});
    auto client = make_client(local_options(*server));
    CHECK(ask_once(*client).error().cause == problem_cause::rejected);
  }
  SECTION("a 404 (wrong URL or model) and a 401 (wrong key) fail every request alike: fatal") {
    auto server = start_server(teacher);
    auto options = local_options(*server);
    options.base_url = "http://127.0.0.1:" + std::to_string(server->port()) + "/no-such-prefix";
    auto client = make_client(options);
    const auto answer = ask_once(*client);
    CHECK_THAT(error_of(answer), Catch::Contains("HTTP 404"));
    CHECK(answer.error().cause == problem_cause::fatal);

    teacher_server_options guarded;
    guarded.required_api_key = "sk-test-cause";
    auto locked = start_server(teacher, guarded);
    auto keyless = make_client(local_options(*locked));
    const auto refused = ask_once(*keyless);
    CHECK_THAT(error_of(refused), Catch::Contains("HTTP 401"));
    CHECK(refused.error().cause == problem_cause::fatal);
  }
  SECTION("a spent budget: budget") {
    auto server = start_server(teacher);
    auto options = local_options(*server);
    options.budget = std::make_shared<teacher_budget>(teacher_budget_limits{1, std::nullopt});
    auto client = make_client(options);
    const auto refused = ask_once(*client); // its bound alone is more than the one token allowed
    CHECK_THAT(error_of(refused), Catch::Contains("budget"));
    CHECK(refused.error().cause == problem_cause::budget);
  }
}

TEST_CASE("a 400 fails at once with the server's message", "[teacher_client]") {
  echo_teacher teacher;
  auto server = start_faulty_server(teacher, {fault(teacher_fault::kind::bad_request)});
  auto client = make_client(local_options(*server));
  const std::string error = error_of(ask_once(*client));
  CHECK_THAT(error, Catch::Contains("HTTP 400") && Catch::Contains("refused as invalid"));
  CHECK_THAT(error, Catch::Contains("/v1/chat/completions"));
  CHECK(server->stats().requests == 1);
  CHECK(client->stats().retries == 0);
}

TEST_CASE("connection refused ends in a clear error", "[teacher_client]") {
  openai_client_options options;
  options.base_url = "http://127.0.0.1:" + std::to_string(unused_port()) + "/v1";
  options.api_key_env.clear();
  options.max_tries = 2;
  options.backoff_base = 5ms;
  auto client = make_client(options);
  const std::string error = error_of(ask_once(*client));
  CHECK_THAT(error, Catch::Contains("cannot connect") && Catch::Contains("refused"));
  CHECK(client->stats().http_requests == 2);
}

TEST_CASE("https to a plain-HTTP port fails in the TLS handshake", "[teacher_client]") {
  echo_teacher teacher;
  auto server = start_server(teacher);
  auto options = local_options(*server);
  options.base_url = "https://127.0.0.1:" + std::to_string(server->port()) + "/v1";
  options.max_tries = 1;
  auto client = make_client(options);
  CHECK_THAT(error_of(ask_once(*client)), Catch::Contains("TLS handshake failed"));
}
