// Which mistakes of an exam pass the teacher is asked about when the quota is smaller than the mistakes.
#include "io/loop/feedback_picker.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace tailor;

namespace {

graded_answer wrong(const std::string& id) {
  return {.example_id = id, .reasoning = {.text = "1 + 1 = 3\nAnswer: 3"}, .extracted_answer = "3"};
}

std::vector<std::string> ids(const std::vector<graded_answer>& answers) {
  std::vector<std::string> out;
  for (const auto& a : answers)
    out.push_back(a.example_id);
  return out;
}

} // namespace

TEST_CASE("near misses are asked about at once, the rest at the end of the pass with the quota left",
          "[loop][feedback]") {
  feedback_picker picker(3, feedback_order::near_misses_first);
  // Batch 1: q1 and q3 were also answered right in another sample; q2 and q4 never.
  CHECK(ids(picker.take({wrong("q1"), wrong("q2"), wrong("q3"), wrong("q4")}, {"q1", "q3"})) ==
        std::vector<std::string>{"q1", "q3"});
  // Batch 2: q5 is a near miss; q2 comes again (held already) and so does q1 (asked already).
  CHECK(ids(picker.take({wrong("q5"), wrong("q2"), wrong("q1")}, {"q5", "q1"})) == std::vector<std::string>{"q5"});
  CHECK(picker.asked() == 3);
  SECTION("with the quota spent, the held ones get nothing") {
    CHECK(picker.finish().empty());
  }
  SECTION("a larger quota lets the held ones through in the order they came, once") {
    feedback_picker roomy(5, feedback_order::near_misses_first);
    roomy.take({wrong("q1"), wrong("q2"), wrong("q3"), wrong("q4")}, {"q1", "q3"});
    roomy.take({wrong("q5"), wrong("q2")}, {"q5"});
    CHECK(ids(roomy.finish()) == std::vector<std::string>{"q2", "q4"});
    CHECK(roomy.finish().empty());
    // A later pass of the same round may not ask again about a question already asked.
    CHECK(roomy.take({wrong("q2")}, {"q2"}).empty());
  }
}

TEST_CASE("as_graded asks in order until the quota is spent; quota 0 is no limit", "[loop][feedback]") {
  feedback_picker picker(2, feedback_order::as_graded);
  CHECK(ids(picker.take({wrong("a"), wrong("b"), wrong("c")}, {})) == std::vector<std::string>{"a", "b"});
  CHECK(picker.finish().empty());
  feedback_picker unlimited(0, feedback_order::near_misses_first);
  unlimited.take({wrong("a"), wrong("b")}, {"b"});
  CHECK(ids(unlimited.finish()) == std::vector<std::string>{"a"});
  CHECK(unlimited.asked() == 2);
}

TEST_CASE("misses_first asks at once about questions wrong in every sample, near misses with what is left",
          "[loop][feedback]") {
  feedback_picker picker(3, feedback_order::misses_first);
  // Batch 1: q1 and q3 were also answered right in another sample; q2 and q4 never.
  CHECK(ids(picker.take({wrong("q1"), wrong("q2"), wrong("q3"), wrong("q4")}, {"q1", "q3"})) ==
        std::vector<std::string>{"q2", "q4"});
  CHECK(ids(picker.take({wrong("q5"), wrong("q6")}, {"q5", "q6"})).empty());
  CHECK(ids(picker.finish()) == std::vector<std::string>{"q1"});
  CHECK(picker.asked() == 3);
}
