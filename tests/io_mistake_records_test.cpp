// A run's mistake records and exam outcomes on disk, and the mistakes view that tells which were fixed.
#include "io/store/mistake_records.hpp"
#include "io/store/mistake_review.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

using namespace tailor;
namespace fs = std::filesystem;

namespace {

struct scratch_dir {
  fs::path path = fs::temp_directory_path() /
                  ("tailor-mistakes-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

teacher_request feedback_request_on(const std::string& id, const std::string& wrong) {
  example problem{.id = id, .task = task_kind::arith, .question = "What is 2 + " + id + "?", .answer = "4", .gold_rationale = ""};
  return tailored_feedback_request(problem, rationale{.text = wrong, .source = rationale_source::student}, "5", 3,
                                   1, {}, 1);
}

teacher_reply reply_with(const std::string& feedback, const std::string& corrected) {
  teacher_reply reply;
  reply.kind = teacher_request_kind::tailored_feedback;
  reply.feedback = feedback;
  reply.rationales.push_back({.text = corrected, .source = rationale_source::teacher_tailored});
  reply.usage = {.prompt_tokens = 100, .completion_tokens = 40};
  return reply;
}

} // namespace

TEST_CASE("mistake records: appended per round, read back in order, with what the teacher said",
          "[store][mistakes]") {
  scratch_dir dir;
  const auto first = mistake_of(feedback_request_on("q1", "2 + 2 is 5"), reply_with("2 + 2 is 4, not 5.", "2 + 2 = 4."));
  CHECK(first.task == "arith");
  CHECK(first.wrong_answer == "5");
  CHECK(first.teacher_tokens == 140);
  REQUIRE(append_mistake(dir.path, 2, first));
  example q2{.id = "q2", .task = task_kind::arith, .question = "What is 1 + 1?", .answer = "2", .gold_rationale = ""};
  graded_answer wrong;
  wrong.example_id = "q2";
  wrong.reasoning.text = "1 + 1 is 3";
  wrong.extracted_answer = "3";
  const auto second = unasked_mistake_of(q2, wrong);
  REQUIRE(append_mistake(dir.path, 2, second));

  auto read = read_mistakes(mistake_file(dir.path, 2));
  REQUIRE(read.ok());
  REQUIRE(read->size() == 2);
  CHECK((*read)[0] == first);
  CHECK((*read)[0].feedback == "2 + 2 is 4, not 5.");
  CHECK((*read)[0].corrected_rationale == "2 + 2 = 4.");
  CHECK((*read)[1] == second);
  CHECK_FALSE((*read)[1].teacher_asked);
  CHECK((*read)[1].feedback.empty());

  REQUIRE(clear_mistakes(dir.path, 2));
  auto cleared = read_mistakes(mistake_file(dir.path, 2));
  REQUIRE(cleared.ok());
  CHECK(cleared->empty());
}

TEST_CASE("mistake records: a bad line is named, a torn last line is dropped", "[store][mistakes]") {
  scratch_dir dir;
  REQUIRE(append_mistake(dir.path, 1, mistake_of(feedback_request_on("q1", "wrong"), reply_with("f", "c"))));
  const auto file = mistake_file(dir.path, 1);
  std::ofstream{file, std::ios::app} << R"({"example_id": "q2", "wrong_ra)"; // a crash while appending
  auto torn = read_mistakes(file);
  REQUIRE(torn.ok());
  CHECK(torn->size() == 1);

  std::ofstream{file, std::ios::app} << "\n"
                                      << R"({"example_id": "q3", "wrong_rationale": "w"})" << "\n";
  auto bad = read_mistakes(file);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains(file.string() + ":2:"));

  fs::remove(file);
  std::ofstream{file} << R"({"example_id": "q1"})" << "\n" << R"({"example_id": "q2", "wrong_rationale": "w"})" << "\n";
  auto missing_field = read_mistakes(file);
  REQUIRE_FALSE(missing_field.ok());
  CHECK_THAT(missing_field.error().message, Catch::Contains(":1: needs a string `example_id`"));

  fs::create_directories(exam_outcome_file(dir.path, 3).parent_path());
  std::ofstream{exam_outcome_file(dir.path, 3)} << R"({"id": "q1", "answers": 4})" << "\n";
  auto exam = read_exam_outcomes(exam_outcome_file(dir.path, 3));
  REQUIRE_FALSE(exam.ok());
  CHECK_THAT(exam.error().message, Catch::Contains("round_3.jsonl:1:"));
}

TEST_CASE("mistake records: a run without them has none, and no exam yet says nothing about fixing",
          "[store][mistakes]") {
  scratch_dir dir;
  auto none = read_mistakes(mistake_file(dir.path, 1));
  REQUIRE(none.ok());
  CHECK(none->empty());
  auto no_exam = read_exam_outcomes(exam_outcome_file(dir.path, 2));
  REQUIRE(no_exam.ok());
  CHECK_FALSE(no_exam->has_value());
  auto view = review_mistakes(dir.path, std::nullopt);
  REQUIRE(view.ok());
  CHECK((*view)["mistakes"].empty());
  CHECK((*view)["rounds"].empty());
}

TEST_CASE("the mistakes view: fixed in the next exam that asked the question", "[store][mistakes]") {
  scratch_dir dir;
  for (const char* id : {"q1", "q2", "q3", "q4"})
    REQUIRE(append_mistake(dir.path, 1, mistake_of(feedback_request_on(id, "wrong"), reply_with("f", "c"))));
  REQUIRE(append_mistake(dir.path, 2, mistake_of(feedback_request_on("q2", "wrong again"), reply_with("f", "c"))));
  // Round 2's exam: q1 right every time, q2 once wrong, q3 not asked (exam.questions samples); round 3's: q3 right.
  const std::vector<exam_outcome> exam2{{"q1", 4, 4}, {"q2", 4, 3}, {"q4", 4, 4}};
  const std::vector<exam_outcome> exam3{{"q3", 4, 4}, {"q4", 4, 0}};
  REQUIRE(write_exam_outcomes(dir.path, 2, exam2));
  REQUIRE(write_exam_outcomes(dir.path, 3, exam3));

  auto all = review_mistakes(dir.path, std::nullopt);
  REQUIRE(all.ok());
  CHECK((*all)["rounds"] == nlohmann::json::array({1, 2}));
  const auto& m = (*all)["mistakes"];
  REQUIRE(m.size() == 5);
  CHECK(m[0]["example_id"] == "q1");
  CHECK(m[0]["fixed"] == true);
  CHECK(m[0]["fixed_in_round"] == 2);
  CHECK(m[1]["fixed"] == false);
  CHECK(m[1]["next_exam"]["right"] == 3);
  CHECK(m[2]["fixed"] == true); // q3: left out of round 2's exam, right in round 3's
  CHECK(m[2]["fixed_in_round"] == 3);
  CHECK(m[3]["fixed"] == true); // q4: its next exam is round 2's; round 3's is not the next one
  CHECK(m[4]["round"] == 2);
  CHECK(m[4]["fixed"] == nullptr); // round 2's q2: round 3's exam did not ask it, and there is no round 4 yet

  auto round_two = review_mistakes(dir.path, 2);
  REQUIRE(round_two.ok());
  REQUIRE((*round_two)["mistakes"].size() == 1);
  CHECK((*round_two)["mistakes"][0]["wrong_rationale"] == "wrong again");
}
