// Waiting in tests for something another thread does: poll, with a deadline.
#pragma once

#include <chrono>
#include <thread>

namespace tailor::testing {

// Polls `done` every 10 ms until it holds or `timeout` passes; returns whether it held.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

} // namespace tailor::testing
