// The failure window: a few failed teacher requests pass, a broken endpoint's run of failures does not.
#include "io/loop/failure_window.hpp"

#include <catch2/catch.hpp>

using namespace tailor;

TEST_CASE("failure window: judges only after enough requests, then over the last ones", "[io][loop]") {
  failure_window window(50, 0.2);
  // Three failures in a row at the start are not yet a share: fewer than 10 requests have finished.
  for (int i = 0; i < 3; ++i)
    CHECK_FALSE(window.add(true));
  for (int i = 0; i < 6; ++i)
    CHECK_FALSE(window.add(false));
  CHECK(window.seen() == 9);
  // The tenth makes 3 of 10 = 30% > 20%.
  CHECK(window.add(false));
  // Successes dilute the share back under the limit: 3 of 15 is exactly 20%, which is allowed.
  for (int i = 0; i < 5; ++i)
    window.add(false);
  CHECK(window.failed() == 3);
  CHECK_FALSE(window.exceeded());
}

TEST_CASE("failure window: old outcomes leave the window", "[io][loop]") {
  failure_window window(10, 0.2);
  for (int i = 0; i < 10; ++i)
    window.add(i < 2); // 2 of 10: allowed
  CHECK_FALSE(window.exceeded());
  // Each new failure pushes out an old outcome: the two first failures leave as two new ones come.
  CHECK_FALSE(window.add(true)); // T F F F F F F F F T
  CHECK_FALSE(window.add(true)); // F F F F F F F F T T
  CHECK(window.add(true));       // F F F F F F F T T T: 30%
  for (int i = 0; i < 7; ++i)
    window.add(false);
  CHECK(window.failed() == 3); // still all three within the last 10
  CHECK(window.exceeded());
  window.add(false); // the oldest of the three leaves
  CHECK(window.failed() == 2);
  CHECK_FALSE(window.exceeded());
}

TEST_CASE("failure window: a steady 10% fault rate never stops a run, a broken endpoint does", "[io][loop]") {
  failure_window steady(50, 0.2);
  bool stopped = false;
  for (int i = 0; i < 1000; ++i)
    stopped = stopped || steady.add(i % 10 == 0);
  CHECK_FALSE(stopped);

  failure_window broken(50, 0.2);
  int finished = 0;
  while (!broken.add(true))
    ++finished;
  CHECK(finished + 1 == static_cast<int>(failure_window::least));
}

TEST_CASE("failure window: a share of 0 stops at the first failure once judged; 1 never stops", "[io][loop]") {
  failure_window strict(5, 0.0);
  for (int i = 0; i < 4; ++i)
    CHECK_FALSE(strict.add(false));
  CHECK(strict.add(true)); // a window smaller than `least` judges once full
  failure_window lenient(5, 1.0);
  for (int i = 0; i < 20; ++i)
    CHECK_FALSE(lenient.add(true));
}
