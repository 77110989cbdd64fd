// Helpers shared by the teacher client tests: injected faults, one request waited for, its error, and timing.
#pragma once

#include "io/teacher/openai_client.hpp"
#include "io/teacher/teacher_server.hpp"
#include "tests/teacher_test_support.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <utility>

namespace tailor::client_test {

using clock_type = std::chrono::steady_clock;

inline teacher_fault fault(teacher_fault::kind what) {
  teacher_fault injected;
  injected.what = what;
  return injected;
}

// One request, waited for.
inline result<chat_response> ask_once(openai_client& client,
                                      chat_request request = testing::ask("What is 2 + 3?")) {
  testing::outcomes got;
  client.complete(std::move(request), got.callback());
  REQUIRE(got.wait_for(1));
  return std::move(got.take().front());
}

inline std::string error_of(const result<chat_response>& outcome) {
  REQUIRE_FALSE(outcome);
  return outcome.error().message;
}

inline double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

} // namespace tailor::client_test
