// The round gate: what comes for a round not yet in training waits, in arrival order, until that round trains.
#include "io/loop/round_gate.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace tailor;

using strings = std::vector<std::string>;

TEST_CASE("round gate: the next round's arrivals wait for its training, in the order they came", "[io][loop]") {
  round_gate<std::string> gate;
  CHECK(gate.open(2).empty());
  CHECK(gate.admit(2, "now"));  // the round in training
  CHECK(gate.admit(1, "late")); // an earlier round's straggler
  CHECK_FALSE(gate.admit(3, "a"));
  CHECK_FALSE(gate.admit(4, "far"));
  CHECK_FALSE(gate.admit(3, "b"));
  CHECK(gate.waiting() == 3);

  CHECK(gate.open(2).empty()); // more credit for the same round releases nothing
  CHECK(gate.open(1).empty()); // nor does an older round
  CHECK(gate.round() == 2);

  CHECK(gate.open(3) == strings{"a", "b"});
  CHECK(gate.round() == 3);
  CHECK(gate.waiting() == 1);
  CHECK(gate.admit(3, "c"));
  CHECK(gate.open(4) == strings{"far"});
  CHECK(gate.waiting() == 0);
}

TEST_CASE("round gate: a resumed run's first credit opens every round up to its own", "[io][loop]") {
  round_gate<std::string> gate; // resumed after round 2: nothing trained yet in this process
  CHECK_FALSE(gate.admit(3, "x"));
  CHECK_FALSE(gate.admit(3, "y"));
  CHECK(gate.open(3) == strings{"x", "y"});
}
