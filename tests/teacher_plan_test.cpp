// `tailor plan`'s arithmetic: the token estimate on hand-counted strings, and the plan of tiny configs whose
// requests, prompt tokens and USD bound are counted here by hand and, on the built-in prompts, recomputed
// from the prompts themselves.
#include "io/config/run_config_json.hpp"
#include "io/data/datasets.hpp"
#include "io/teacher/teacher_plan.hpp"
#include "io/teacher/teacher_prompts.hpp"
#include "io/teacher/token_estimate.hpp"
#include "teacher_test_support.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace tailor;
using nlohmann::json;
using tailor::testing::temporary_folder;

namespace {

namespace fs = std::filesystem;

// Three GSM8K-form questions whose prompts differ in length, and one test question.
void write_questions(const fs::path& dir) {
  std::ofstream train(dir / "train.jsonl");
  for (const auto& [question, answer] :
       {std::pair{"What is 2 + 3?", "2 + 3 = 5 #### 5"},
        std::pair{"Tom has 12 apples and eats 4. How many are left?", "#### 8"},
        std::pair{"Add 100 and 2345.", "#### 2445"}})
    train << json{{"question", question}, {"answer", answer}}.dump() << "\n";
  std::ofstream(dir / "test.jsonl") << json{{"question", "What is 1 + 1?"}, {"answer", "#### 2"}}.dump()
                                    << "\n";
}

// Prompts short enough to count by hand.
json hand_countable_prompts() {
  return {{"cot_system", "Solve."},
          {"cot_user", "Q: {question}"},
          {"feedback_system", "Fix."},
          {"feedback_user", "Q: {question} W: {student_reasoning} A: {gold_answer}"}};
}

json tiny_config() {
  return {{"data", {{"task", "gsm8k"}, {"train_file", "train.jsonl"}, {"test_file", "test.jsonl"}}},
          {"prompts", hand_countable_prompts()},
          {"teacher",
           {{"kind", "openai_compatible"},
            {"model", "m"},
            {"api_key_env", ""},
            {"usd_per_million_prompt_tokens", 2.0},
            {"usd_per_million_completion_tokens", 8.0},
            {"budget_usd", 0.01},
            {"budget_tokens", 2444},
            {"chain_of_thought_samples", 2},
            {"tailored_feedback_samples", 3},
            {"initial_questions", 2},
            {"requests_per_round", 0},
            {"sampling", {{"max_tokens", 100}}}}},
          {"exam", {{"samples", 4}, {"questions", 0}, {"max_new_tokens", 3}}},
          {"rounds", 3}};
}

teacher_plan plan_of(const json& j, const fs::path& dir) {
  auto config = run_config_from_json(j, dir);
  INFO((config ? std::string{} : config.error().message));
  REQUIRE(config);
  auto plan = plan_run_teacher(*config);
  INFO((plan ? std::string{} : plan.error().message));
  REQUIRE(plan);
  return std::move(plan).value();
}

// The prompt tokens of `request` counted from its messages, as OpenAI's chat format adds 4 a message.
std::uint64_t counted(const chat_request& request) {
  std::uint64_t tokens = 0;
  for (const auto& message : request.messages)
    tokens += 4 + estimated_tokens(message.role) + estimated_tokens(message.content);
  return tokens;
}

std::uint64_t sum_of_largest(std::vector<std::uint64_t> values, std::size_t count) {
  std::sort(values.rbegin(), values.rend());
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < count && i < values.size(); ++i)
    sum += values[i];
  return sum;
}

} // namespace

TEST_CASE("token estimate: hand-counted strings", "[teacher_plan]") {
  CHECK(estimated_tokens("") == 0);
  CHECK(estimated_tokens("a") == 1);
  CHECK(estimated_tokens("abcd") == 1);
  CHECK(estimated_tokens("abcde") == 2);
  CHECK(estimated_tokens("Hello world") == 4); // 5 letters twice: 2 + 2
  CHECK(estimated_tokens("7") == 1);
  CHECK(estimated_tokens("123") == 1);
  CHECK(estimated_tokens("12345") == 2);     // 123 45
  CHECK(estimated_tokens("1234567") == 3);   // 123 456 7
  CHECK(estimated_tokens("3 + 4 = 7") == 5); // spaces are free
  CHECK(estimated_tokens("x12ab") == 3);     // x 12 ab
  CHECK(estimated_tokens("don't") == 3);     // don ' t
  CHECK(estimated_tokens("Line one.\nLine two!") == 7);
  CHECK(estimated_tokens("   \t ") == 0);
  CHECK(estimated_tokens("\n\n") == 2);                    // each newline one
  CHECK(estimated_tokens("caf\xC3\xA9") == 2);             // "café": caf, and é one character of two bytes
  CHECK(estimated_tokens("6 \xC3\x97 7 \xC3\xB7 2") == 5); // "6 × 7 ÷ 2"
  CHECK(estimated_tokens("step step step step step step") == 6);

  chat_request request;
  request.messages = {{"system", "Be brief."}, {"user", "Solve 12 + 345."}};
  // system: 4 + "system" 2 + Be brief . 4 = 10; user: 4 + "user" 1 + Solve 12 + 345 . 6 = 11.
  CHECK(estimated_prompt_tokens(request) == 21);
}

TEST_CASE("teacher plan: a tiny config counted by hand", "[teacher_plan]") {
  temporary_folder dir;
  write_questions(dir.path());
  const auto plan = plan_of(tiny_config(), dir.path());

  // Chain of thought, "Solve." 9 tokens with its overhead, then the user message "Q: <question>":
  //   q1 "Q: What is 2 + 3?" 8 + 5 = 13, so 22; q2 16 + 5 = 21, so 30; q3 "Q: Add 100 and 2345." 8 + 5,
  //   so 22.
  // Feedback, "Fix." 8, the rationale 3 tokens ("step step step"), "W:" and "A:" 2 each, the gold answer:
  //   q1 8 + 2 + 3 + 2 + 1 = 16, so 8 + 21 = 29; q2 16 + 7 + 1 = 24, so 37; q3 8 + 7 + 2 = 17, so 30.
  CHECK(plan.questions == 3);
  REQUIRE(plan.rounds.size() == 3);
  const auto& first = plan.rounds[0];
  CHECK(first.round == 1);
  CHECK(first.asks == planned_asks::chain_of_thought);
  CHECK(first.requests == 2); // teacher.initial_questions
  CHECK(first.samples == 2);
  CHECK(first.prompt_tokens == 30 + 22); // the two longest: which two is drawn at run time
  CHECK(first.completion_tokens == 2 * 2 * 100);
  CHECK(first.usd == Approx((52 * 2.0 + 400 * 8.0) / 1e6));
  for (std::uint32_t r = 2; r <= 3; ++r) {
    const auto& later = plan.rounds[r - 1];
    CHECK(later.round == r);
    CHECK(later.asks == planned_asks::tailored_feedback);
    CHECK(later.requests == 3); // every question of the exam (exam.questions 0: all), once a pass
    CHECK(later.samples == 3);
    CHECK(later.prompt_tokens == 29 + 37 + 30);
    CHECK(later.completion_tokens == 3 * 3 * 100);
    CHECK(later.usd == Approx((96 * 2.0 + 900 * 8.0) / 1e6));
  }
  CHECK(plan.total.requests == 8);
  CHECK(plan.total.prompt_tokens == 244);
  CHECK(plan.total.completion_tokens == 2200);
  CHECK(plan.total.usd == Approx(0.018088));
  CHECK(plan.rationale_tokens == 3);
  CHECK(plan.longest_prompts);
  CHECK(plan.over_budget_usd()); // 0.018 > 0.01
  CHECK(plan.total_tokens() == 2444);
  CHECK_FALSE(plan.over_budget_tokens()); // exactly the budget

  auto j = tiny_config();
  j["teacher"]["budget_usd"] = 0.02;
  j["teacher"]["budget_tokens"] = 2443;
  const auto within = plan_of(j, dir.path());
  CHECK_FALSE(within.over_budget_usd());
  CHECK(within.over_budget_tokens());

  j["teacher"]["usd_per_million_prompt_tokens"] = 0;
  j["teacher"]["usd_per_million_completion_tokens"] = 0;
  j["teacher"]["budget_usd"] = 0.000001;
  const auto unpriced = plan_of(j, dir.path());
  CHECK(unpriced.total.usd == 0);
  CHECK_FALSE(unpriced.over_budget_usd()); // without prices the budget in USD does not bite
}

TEST_CASE("teacher plan: a later round's requests with and without a quota", "[teacher_plan]") {
  temporary_folder dir;
  write_questions(dir.path());
  auto j = tiny_config();

  j["teacher"]["requests_per_round"] = 1;
  auto plan = plan_of(j, dir.path());
  CHECK(plan.rounds[1].requests == 1);
  CHECK(plan.rounds[1].prompt_tokens == 37); // the longest feedback prompt
  CHECK(plan.rounds[1].completion_tokens == 300);

  j["teacher"]["requests_per_round"] = 5; // more than the exam can find: one a question
  CHECK(plan_of(j, dir.path()).rounds[1].requests == 3);

  j["teacher"]["requests_per_round"] = 0;
  j["exam"]["questions"] = 2; // every mistake of a two-question exam
  plan = plan_of(j, dir.path());
  CHECK(plan.rounds[1].requests == 2);
  CHECK(plan.rounds[1].prompt_tokens == 37 + 30);

  j["exam"]["max_new_tokens"] = 10; // a longer student rationale costs 7 more tokens in each feedback prompt
  plan = plan_of(j, dir.path());
  CHECK(plan.rationale_tokens == 10);
  CHECK(plan.rounds[1].prompt_tokens == 37 + 30 + 2 * 7);

  j["rounds"] = 1;
  plan = plan_of(j, dir.path());
  CHECK(plan.rounds.size() == 1);
  CHECK(plan.rationale_tokens == 0);
  CHECK(plan.total.requests == 2);

  j["teacher"]["initial_questions"] = 0; // all of them, so no longest-prompt bound
  j["exam"]["questions"] = 0;
  plan = plan_of(j, dir.path());
  CHECK(plan.rounds[0].requests == 3);
  CHECK(plan.rounds[0].prompt_tokens == 22 + 30 + 22);
  CHECK_FALSE(plan.longest_prompts);
}

TEST_CASE("teacher plan: the random strategy asks chains of thought on random questions", "[teacher_plan]") {
  temporary_folder dir;
  write_questions(dir.path());
  auto j = tiny_config();
  j["strategy"] = "random";
  j["teacher"]["requests_per_round"] = 2;
  const auto plan = plan_of(j, dir.path());
  REQUIRE(plan.rounds.size() == 3);
  for (std::size_t r = 1; r < 3; ++r) {
    CHECK(plan.rounds[r].asks == planned_asks::random_questions);
    CHECK(plan.rounds[r].requests == 2);
    CHECK(plan.rounds[r].samples == 3); // teacher.tailored_feedback_samples, as many as the method's
    CHECK(plan.rounds[r].prompt_tokens == 30 + 22);
    CHECK(plan.rounds[r].completion_tokens == 2 * 3 * 100);
  }
  CHECK(plan.rationale_tokens == 0);
}

TEST_CASE("teacher plan: the built-in prompts, counted from the requests themselves", "[teacher_plan]") {
  temporary_folder dir;
  write_questions(dir.path());
  auto j = tiny_config();
  j.erase("prompts");
  j["teacher"]["initial_questions"] = 0;
  const auto plan = plan_of(j, dir.path());

  auto questions = load_dataset(dir.path() / "train.jsonl", task_kind::gsm8k);
  REQUIRE(questions);
  std::vector<std::uint64_t> cot, feedback;
  for (const auto& q : *questions) {
    cot.push_back(counted(cot_request(q)));
    feedback.push_back(counted(feedback_request(q, "step step step")));
  }
  CHECK(plan.rounds[0].prompt_tokens == sum_of_largest(cot, 3));
  CHECK(plan.rounds[1].prompt_tokens == sum_of_largest(feedback, 3));
  // The built-in prompts hold the task's demos: far longer than the questions.
  CHECK(plan.rounds[0].prompt_tokens > 3 * 100);
  const double usd = (plan.total.prompt_tokens * 2.0 + plan.total.completion_tokens * 8.0) / 1e6;
  CHECK(plan.total.usd == Approx(usd));
}

TEST_CASE("teacher plan: generated questions leave the run directory untouched", "[teacher_plan]") {
  temporary_folder dir;
  const json j = {{"data", {{"task", "arith"}, {"generated_train_size", 40}, {"generated_test_size", 5}}},
                  {"teacher", {{"initial_questions", 10}, {"requests_per_round", 4}}},
                  {"output_dir", "run"}};
  const auto plan = plan_of(j, dir.path());
  CHECK(plan.questions == 40);
  CHECK(plan.rounds.size() == 3);
  CHECK(plan.rounds[0].requests == 10);
  CHECK(plan.rounds[1].requests == 4);
  CHECK(plan.total.prompt_tokens > 0);
  CHECK(plan.total.usd == 0); // no prices
  CHECK_FALSE(fs::exists(dir.path() / "run"));
}

TEST_CASE("teacher plan: a missing data file is the run's own problem", "[teacher_plan]") {
  temporary_folder dir;
  write_questions(dir.path());
  auto config = run_config_from_json(tiny_config(), dir.path());
  REQUIRE(config);
  fs::remove(dir.path() / "train.jsonl");
  const auto plan = plan_run_teacher(*config);
  REQUIRE_FALSE(plan);
  CHECK(plan.error().message.find("train.jsonl") != std::string::npos);
}
