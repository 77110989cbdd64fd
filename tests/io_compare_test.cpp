// tailor compare's statistics on hand-made arms, and the per-question evaluation files they are read from.
#include "io/compare/paired_stats.hpp"
#include "io/store/evaluation_records.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

using namespace tailor;
using namespace tailor::compare;

namespace {

arm_round round_of(std::vector<bool> right, std::uint64_t tokens = 0) {
  arm_round r;
  int hits = 0;
  for (std::size_t i = 0; i < right.size(); ++i) {
    r.correct["q" + std::to_string(i)] = right[i];
    hits += right[i];
  }
  r.accuracy = double(hits) / double(right.size());
  r.teacher_tokens = tokens;
  return r;
}

} // namespace

TEST_CASE("paired differences over seeds: mean, standard error, interval", "[compare]") {
  // Seed 1: the arm is 2 of 4 questions ahead; seed 2: 1 of 4 ahead.
  arm_seeds arm{{1, round_of({true, true, true, false})}, {2, round_of({true, true, false, false})}};
  arm_seeds base{{1, round_of({true, false, false, false})}, {2, round_of({true, false, false, false})}};
  auto d = compare_arms(arm, base);
  REQUIRE(d.ok());
  CHECK(d->seeds == 2);
  CHECK(d->arm_mean == Approx(0.625));
  CHECK(d->baseline_mean == Approx(0.25));
  CHECK(d->mean == Approx(0.375));
  // Differences 0.5 and 0.25: sd = 0.17678, se = sd / sqrt(2) = 0.125.
  CHECK(d->standard_error == Approx(0.125));
  CHECK(d->low <= d->mean);
  CHECK(d->high >= d->mean);
  CHECK(d->low >= 0.0); // no question where the arm is behind: no resample can go below 0
  CHECK(d->high <= 1.0);
  // The interval follows its fixed seed: the same inputs give the same numbers.
  auto again = compare_arms(arm, base);
  CHECK(again->low == d->low);
  CHECK(again->high == d->high);
}

TEST_CASE("an arm that is right exactly where the other is has a zero-width interval at 0", "[compare]") {
  arm_seeds a{{3, round_of({true, false, true})}, {4, round_of({false, false, true})}};
  auto d = compare_arms(a, a);
  REQUIRE(d.ok());
  CHECK(d->mean == 0.0);
  CHECK(d->low == 0.0);
  CHECK(d->high == 0.0);
  CHECK_FALSE(d->clear());
  // Uniformly ahead on every question of every seed: the interval is the point 1, clear.
  arm_seeds all{{3, round_of({true, true, true})}, {4, round_of({true, true, true})}};
  arm_seeds none{{3, round_of({false, false, false})}, {4, round_of({false, false, false})}};
  auto ahead = compare_arms(all, none);
  CHECK(ahead->low == 1.0);
  CHECK(ahead->high == 1.0);
  CHECK(ahead->clear());
}

TEST_CASE("mixed results give an interval that holds 0: no clear difference", "[compare]") {
  arm_seeds arm{{1, round_of({true, false, true, false, true, false})},
                {2, round_of({false, true, false, true, false, true})}};
  arm_seeds base{{1, round_of({false, true, true, false, false, true})},
                 {2, round_of({true, false, false, true, true, false})}};
  auto d = compare_arms(arm, base);
  REQUIRE(d.ok());
  CHECK(d->low < 0.0);
  CHECK(d->high > 0.0);
  CHECK_FALSE(d->clear());
}

TEST_CASE("arms that cannot be paired are problems, not numbers", "[compare]") {
  arm_seeds arm{{1, round_of({true, false})}};
  CHECK_THAT(compare_arms(arm, arm_seeds{{2, round_of({true, false})}}).error().message,
             Catch::Contains("share no seed"));
  CHECK_THAT(compare_arms(arm, arm_seeds{{1, round_of({true, false, true})}}).error().message,
             Catch::Contains("seed 1: the arms answered 2 and 3 questions"));
  auto other = round_of({true, false});
  other.correct = {{"q0", true}, {"x", false}};
  CHECK_THAT(compare_arms(arm, arm_seeds{{1, other}}).error().message, Catch::Contains("question `q1`"));
}

TEST_CASE("tokens per accuracy point gained since round 1", "[compare]") {
  arm_seeds first{{1, round_of({false, false, false, false})}, {2, round_of({true, false, false, false})}};
  // Gains of 50 and 25 points (mean 37.5) for 3000 and 4500 tokens (mean 3750): 100 tokens a point.
  arm_seeds later{{1, round_of({true, true, false, false}, 3000)}, {2, round_of({true, true, false, false}, 4500)}};
  CHECK(tokens_per_point(first, later) == Approx(100.0));
  CHECK(std::isinf(tokens_per_point(later, first))); // a loss, not a price
}

TEST_CASE("evaluation files hold each question's correctness and round-trip", "[compare]") {
  auto dir = std::filesystem::temp_directory_path() / ("tailor-eval-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::vector<graded_answer> answers(2);
  answers[0].example_id = "train-7";
  answers[0].correct = true;
  answers[0].extracted_answer = "12";
  answers[0].reasoning.text = "3 * 4 = 12.\n\"quoted\"";
  answers[1].example_id = "train-9";
  answers[1].reasoning.text = std::string{"bad \xff byte"};
  REQUIRE(write_evaluation(dir, 3, answers).ok());
  auto file = evaluation_file(dir, 3);
  CHECK(file == dir / "evaluations" / "round_3.jsonl");
  auto read = read_evaluation(file);
  REQUIRE(read.ok());
  REQUIRE(read->size() == 2);
  CHECK((*read)[0] == evaluation_record{"train-7", true, "12", "3 * 4 = 12.\n\"quoted\""});
  CHECK((*read)[1].example_id == "train-9");
  CHECK_FALSE((*read)[1].correct);
  CHECK((*read)[1].reasoning == "bad \xEF\xBF\xBD byte");

  std::ofstream{dir / "bad.jsonl"} << "{\"id\": \"a\", \"correct\": true}\n{\"id\": 3}\n";
  CHECK_THAT(read_evaluation(dir / "bad.jsonl").error().message, Catch::Contains("bad.jsonl:2:"));
  CHECK_THAT(read_evaluation(dir / "missing.jsonl").error().message, Catch::Contains("cannot open"));
  std::filesystem::remove_all(dir);
}
