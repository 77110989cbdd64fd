// The student's prompt and target, and their agreement with the grader.
#include "io/data/answer_extraction.hpp"
#include "io/data/prompts.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace tailor;

namespace {

std::size_t count_of(std::string_view text, std::string_view part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string_view::npos; at = text.find(part, at + part.size()))
    ++count;
  return count;
}

constexpr task_kind all_tasks[] = {task_kind::gsm8k,      task_kind::svamp, task_kind::multiarith,
                                   task_kind::strategyqa, task_kind::csqa,  task_kind::arith};

} // namespace

TEST_CASE("prefix: demos, then the question, then the reasoning cue") {
  CHECK(student_prefix(task_kind::gsm8k, "What is 2 + 3?", "Question: D\nReasoning: R\nAnswer: 1\n\n") ==
        "Question: D\nReasoning: R\nAnswer: 1\n\n\nQuestion: What is 2 + 3?\nReasoning: ");
  const auto with_defaults = student_prefix(task_kind::arith, "What is 2 + 3?");
  CHECK(with_defaults ==
        std::string(default_demos(task_kind::arith)) + "\nQuestion: What is 2 + 3?\nReasoning: ");
}

TEST_CASE("prefix: CSQA ends with the answer cue instead of the reasoning cue") {
  const std::string question = "Where do fish live?\nAnswer Choices:\n(a) tree\n(b) water";
  CHECK(student_prefix(task_kind::csqa, question, "DEMOS\n\n") ==
        "DEMOS\n\n\nQuestion: " + question + "\nAnswer: ");
}

TEST_CASE("target: reasoning on one line, then the gold answer line and a space") {
  CHECK(student_target(task_kind::gsm8k, "2 + 3 = 5. Therefore, the answer is 5.", "5") ==
        "2 + 3 = 5. Therefore, the answer is 5.\nAnswer: 5 ");
  CHECK(student_target(task_kind::strategyqa, "Fish swim.\nSo yes.", "Yes") ==
        "Fish swim. So yes.\nAnswer: Yes ");
  CHECK(student_target(task_kind::csqa, "Fish swim in water.\nTherefore, the answer is water (b).", "b") ==
        "Fish swim in water. Therefore, the answer is water (b). ");
}

TEST_CASE("target: every line break, with the blank space around it, becomes one space") {
  CHECK(student_target(task_kind::svamp, "\n  a = 1.\r\n\r\nb = 2.  \n", "2") == "a = 1. b = 2.\nAnswer: 2 ");
  CHECK(student_target(task_kind::svamp, "a  b\tc", "2") == "a  b\tc\nAnswer: 2 "); // other spacing is kept
}

TEST_CASE("target: a rationale's own answer line gives way to the gold one") {
  CHECK(student_target(task_kind::gsm8k, "3 * 4 = 13.\nAnswer: 13", "12") == "3 * 4 = 13.\nAnswer: 12 ");
}

TEST_CASE("demos: 3 for math tasks and arith, 4 for StrategyQA, 5 for CSQA, each ending in a blank line") {
  CHECK(count_of(default_demos(task_kind::gsm8k), "Question:") == 3);
  CHECK(count_of(default_demos(task_kind::svamp), "Question:") == 3);
  CHECK(count_of(default_demos(task_kind::multiarith), "Question:") == 3);
  CHECK(count_of(default_demos(task_kind::arith), "Question:") == 3);
  CHECK(count_of(default_demos(task_kind::strategyqa), "Question:") == 4);
  CHECK(count_of(default_demos(task_kind::csqa), "Question:") == 5);
  for (const auto task : all_tasks) {
    const auto demos = default_demos(task);
    INFO(to_string(task));
    CHECK(demos.ends_with("\n\n"));
    CHECK_FALSE(demos.ends_with("\n\n\n"));
    CHECK(count_of(demos, "\n\nQuestion: ") + 1 == count_of(demos, "Question:"));
  }
}

TEST_CASE("demos: each worked example is Question / Reasoning / Answer (CSQA: Question / Answer)") {
  for (const auto task : all_tasks) {
    const auto demos = default_demos(task);
    INFO(to_string(task));
    const auto reasoning_lines = count_of(demos, "\nReasoning: ");
    CHECK(reasoning_lines == (task == task_kind::csqa ? 0 : count_of(demos, "Question:")));
    CHECK(count_of(demos, "\nAnswer: ") == count_of(demos, "Question:"));
  }
}

TEST_CASE("demos: the grader reads each demo's stated answer back from its reasoning") {
  for (const auto task : all_tasks) {
    INFO(to_string(task));
    const std::string_view demos = default_demos(task);
    std::size_t start = 0;
    while (start < demos.size()) {
      const auto end = demos.find("\n\n", start);
      REQUIRE(end != std::string_view::npos);
      const auto demo = demos.substr(start, end - start);
      const auto answer_line = demo.rfind("\nAnswer: ");
      REQUIRE(answer_line != std::string_view::npos);
      const auto body_start = task == task_kind::csqa ? answer_line : demo.find("\nReasoning: ");
      const auto reasoning = demo.substr(body_start, task == task_kind::csqa ? std::string_view::npos
                                                                             : answer_line - body_start);
      const auto stated = task == task_kind::csqa ? extract_answer(reasoning, task)
                                                  : std::string(demo.substr(answer_line + 9));
      INFO(demo);
      CHECK_FALSE(stated.empty());
      CHECK(answer_matches(extract_answer(reasoning, task), stated));
      start = end + 2;
    }
  }
}

TEST_CASE("prompt and grader agree: the target's extracted answer is the gold answer, for every task") {
  struct case_t {
    task_kind task;
    const char* reasoning;
    const char* gold;
  };
  const case_t cases[] = {
      {task_kind::gsm8k, "He buys 3 * 4 = 12 eggs.\nHe eats 2, so 12 - 2 = 10 are left.", "10"},
      {task_kind::gsm8k, "Therefore, the answer is 999.",
       "1000"}, // a wrong claim in the text: gold still wins
      {task_kind::svamp, "8 / 2 = 4 each, and 4 - 6 = -2.", "-2"},
      {task_kind::multiarith, "The price is 5 / 2 = 2.5 dollars.", "2.5"},
      {task_kind::arith, "She buys 2 * 9 = 18 pens. She has 18 - 5 = 13.", "13"},
      {task_kind::strategyqa, "No fish can climb. So it cannot.\nAnswer: yes", "No"},
      {task_kind::csqa, "Fish need water to breathe (not (a) air). Therefore, the answer is water (b).", "b"},
  };
  for (const auto& c : cases) {
    INFO(to_string(c.task) << ": " << c.reasoning);
    const auto target = student_target(c.task, c.reasoning, c.gold);
    CHECK(answer_matches(extract_answer(target, c.task), c.gold));
  }
}
