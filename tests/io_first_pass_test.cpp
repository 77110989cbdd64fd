// Round 1's first pass: batches in the order the questions were asked, whatever order the answers come in.
#include "io/loop/first_pass.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace tailor;

namespace {

example question(int n) {
  const auto id = "q" + std::to_string(n);
  return {.id = id, .task = task_kind::arith, .question = id + "?", .answer = "7", .gold_rationale = ""};
}

std::vector<std::string> ids_of(const std::vector<training_item>& batch) {
  std::vector<std::string> ids;
  for (const auto& item : batch)
    ids.push_back(item.example_id);
  return ids;
}

std::vector<std::string> asked(int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i)
    ids.push_back("q" + std::to_string(i));
  return ids;
}

// Two rationales per question, as round 1 asks for.
std::vector<std::string> rationales_of(int n) {
  return {"way a " + std::to_string(n), "way b " + std::to_string(n)};
}

} // namespace

TEST_CASE("the first pass serves the questions in the asked order, each once, and waits for their answers",
          "[loop][first_pass]") {
  first_pass pass;
  reflection_pools pools{{.demos = "none"}};
  std::mt19937_64 rng{3};
  pass.expect(asked(10));
  CHECK(pass.active());
  CHECK(pass.expects("q0"));
  CHECK_FALSE(pass.expects("other"));

  // q1..q4 answered, q0 not: nothing to serve yet, and nothing enters the pools.
  for (int i = 1; i <= 4; ++i)
    pass.hold(question(i), rationales_of(i));
  CHECK(pass.next_batch(4, pools, rng).empty());
  CHECK(pools.questions() == 0);

  pass.hold(question(0), rationales_of(0));
  auto first = pass.next_batch(4, pools, rng);
  CHECK(ids_of(first) == std::vector<std::string>{"q0", "q1", "q2", "q3"});
  CHECK(pools.questions() == 4);
  CHECK(pools.positives_of("q2") == 2);
  CHECK_FALSE(pass.expects("q0")); // in the pools now: a later answer about it is an ordinary one
  CHECK(pass.expects("q4"));

  SECTION("a question answered without a correct rationale is skipped, not waited for") {
    pass.hold(question(5), {});
    for (int i = 6; i <= 7; ++i)
      pass.hold(question(i), rationales_of(i));
    CHECK(pass.next_batch(4, pools, rng).empty()); // q8 is still unanswered
    pass.hold(question(8), rationales_of(8));
    CHECK(ids_of(pass.next_batch(4, pools, rng)) == std::vector<std::string>{"q4", "q6", "q7", "q8"});
    CHECK(pools.positives_of("q5") == 0);

    // The end of the pass: a short batch, then the pass is over.
    pass.hold(question(9), rationales_of(9));
    CHECK(ids_of(pass.next_batch(4, pools, rng)) == std::vector<std::string>{"q9"});
    CHECK_FALSE(pass.active());
    CHECK_FALSE(pass.expects("q9"));
  }

  SECTION("a new pass replaces the old one") {
    pass.expect({"q3", "q20", "q20"}); // a repeat counts once
    CHECK(pass.expects("q20"));
    CHECK_FALSE(pass.expects("q4"));
    pass.hold(question(20), rationales_of(20));
    pass.hold(question(3), {"a third way"});
    CHECK(ids_of(pass.next_batch(4, pools, rng)) == std::vector<std::string>{"q3", "q20"});
    CHECK_FALSE(pass.active());
  }
}

TEST_CASE("what the first pass and the draws after it serve does not depend on when the answers came",
          "[loop][first_pass]") {
  constexpr int questions = 24;
  std::vector<int> in_order(questions);
  for (int i = 0; i < questions; ++i)
    in_order[i] = i;
  auto shuffled = in_order;
  std::mt19937_64 shuffle{11};
  std::shuffle(shuffled.begin(), shuffled.end(), shuffle);
  REQUIRE(shuffled != in_order);

  // Feeds answers in `arrival` order, asking for a batch of 5 after every answer, then 4 random draws.
  auto serve = [&](const std::vector<int>& arrival) {
    first_pass pass;
    reflection_pools pools{{.demos = "none"}};
    std::mt19937_64 rng{5};
    pass.expect(asked(questions));
    std::vector<std::vector<training_item>> batches;
    for (int n : arrival) {
      pass.hold(question(n), rationales_of(n));
      if (auto batch = pass.next_batch(5, pools, rng); !batch.empty())
        batches.push_back(std::move(batch));
    }
    while (pass.active())
      batches.push_back(pass.next_batch(5, pools, rng));
    for (int i = 0; i < 4; ++i)
      batches.push_back(pools.draw_batch(5, 0.25, rng));
    return batches;
  };

  const auto ordered = serve(in_order);
  const auto late = serve(shuffled);
  REQUIRE(ordered.size() == 5 + 4); // 24 questions: four batches of 5 and one of 4, then the draws
  CHECK(ordered == late);
  CHECK(ids_of(ordered[4]) == std::vector<std::string>{"q20", "q21", "q22", "q23"});
}

TEST_CASE("a spread pass draws from the questions it has served between its batches, whenever answers come",
          "[loop][first_pass]") {
  constexpr int questions = 12;
  // Answers one question at a time in `arrival` order, asking for a batch of 4 after each; the rest once all
  // are in. A pass batch every third batch: pass, draw, draw, pass, ...
  auto serve = [&](const std::vector<int>& arrival) {
    first_pass pass;
    reflection_pools pools{{.demos = "none"}};
    std::mt19937_64 rng{5};
    pass.expect(asked(questions), 3);
    std::vector<std::vector<training_item>> batches;
    for (int n : arrival) {
      pass.hold(question(n), rationales_of(n));
      while (pass.active()) {
        auto batch = pass.next_batch(4, pools, rng);
        if (batch.empty())
          break;
        for (const auto& item : batch)
          CHECK(pools.positives_of(item.example_id) > 0); // never a question the pass has not reached
        batches.push_back(std::move(batch));
      }
    }
    return batches;
  };
  std::vector<int> in_order(questions), reversed(questions);
  for (int i = 0; i < questions; ++i) {
    in_order[i] = i;
    reversed[i] = questions - 1 - i;
  }
  const auto ordered = serve(in_order);
  // Three pass batches of 4 with two draws after each of the first two: 3 + 2 * 2, the pass ends with its last.
  REQUIRE(ordered.size() == 7);
  CHECK(ids_of(ordered[0]) == std::vector<std::string>{"q0", "q1", "q2", "q3"});
  CHECK(ids_of(ordered[3]) == std::vector<std::string>{"q4", "q5", "q6", "q7"});
  CHECK(ids_of(ordered[6]) == std::vector<std::string>{"q8", "q9", "q10", "q11"});
  for (int draw : {1, 2})
    for (const auto& id : ids_of(ordered[draw]))
      CHECK((id == "q0" || id == "q1" || id == "q2" || id == "q3"));
  for (const auto& id : ids_of(ordered[4]))
    CHECK(std::stoi(id.substr(1)) < 8);
  // All answers at once at the very end (round mode) or in reverse: the same batches.
  CHECK(serve(reversed) == ordered);
}
