// The built-in teacher: correct rationales in several wordings, and feedback on the student's first mistake.
#include "io/data/answer_extraction.hpp"
#include "io/data/arith.hpp"
#include "io/teacher/builtin_teacher.hpp"
#include "io/teacher/teacher_prompts.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

using namespace tailor;

namespace {

// 5 * 4 = 20, 20 - 6 = 14, 14 / 2 = 7, worded as the generator words them.
arith_problem pencils() {
  arith_problem problem;
  problem.id = "made-1";
  problem.question =
      "Ann has 5 boxes of 4 pencils. She gives away 6. She shares them equally among 2 friends. "
      "How many pencils does each friend get?";
  problem.steps = {{'*', 5, 4, 20, "She has 5 * 4 = 20."},
                   {'-', 20, 6, 14, "She has 20 - 6 = 14."},
                   {'/', 14, 2, 7, "Each friend gets 14 / 2 = 7."}};
  problem.answer = 7;
  return problem;
}

arith_options small_options() {
  arith_options options;
  options.max_operations = 3;
  options.max_operand = 5;
  options.max_factor = 3;
  return options;
}

std::unique_ptr<builtin_teacher> teacher_of(std::vector<arith_problem> problems) {
  auto made = builtin_teacher::create(std::move(problems));
  REQUIRE(made);
  return std::move(*made);
}

result<chat_response> asked(builtin_teacher& teacher, const chat_request& request) {
  std::optional<result<chat_response>> got;
  int calls = 0;
  teacher.complete(request, [&](result<chat_response> response) {
    ++calls;
    got.emplace(std::move(response));
  });
  REQUIRE(calls == 1); // called back before complete returns
  return std::move(*got);
}

} // namespace

TEST_CASE("builtin: chain-of-thought samples are correct and worded differently", "[builtin]") {
  const auto problems = generate_arith(60, 7, arith_split::train, small_options());
  auto teacher = teacher_of(problems);
  teacher_request_options options;
  options.samples = 4;
  for (const auto& problem : problems) {
    INFO(problem.question);
    const auto item = to_example(problem);
    const auto response = asked(*teacher, cot_request(item, options));
    REQUIRE(response);
    REQUIRE(response->choices.size() == 4);
    CHECK(response->choices[0] == "Reasoning: " + arith_rationale(problem) + "\nAnswer: " + item.answer);
    const auto kept = kept_rationales(*response, item);
    CHECK(kept.size() == 4);
    for (const auto& rationale : kept)
      CHECK(rationale.size() < 90 * problem.steps.size() + 40); // short enough for a tiny student
    // The same request gets the same reply, so a cache of replies means something.
    CHECK(asked(*teacher, cot_request(item, options))->choices == response->choices);
  }
  const auto& first = problems.front().steps.front();
  const std::string a = std::to_string(first.lhs), b = std::to_string(first.rhs),
                    c = std::to_string(first.value);
  const auto words = worded_rationale(problems.front(), 3);
  CHECK(words.find(a +
                   (first.op == '*'   ? " times "
                    : first.op == '+' ? " plus "
                    : first.op == '-' ? " minus "
                                      : " divided by ") +
                   b + " is " + c + ".") == 0);
}

TEST_CASE("builtin: usage, stop sequences, max_tokens, n beyond the wordings", "[builtin]") {
  auto teacher = teacher_of({pencils()});
  const auto item = to_example(pencils());
  auto request = cot_request(item);
  auto response = asked(*teacher, request);
  REQUIRE(response);
  CHECK(response->model == "tailor-builtin");
  std::int64_t prompt = 0;
  for (const auto& message : request.messages)
    prompt += static_cast<std::int64_t>((message.content.size() + 3) / 4);
  CHECK(response->usage.prompt_tokens == prompt);
  CHECK(response->usage.completion_tokens ==
        static_cast<std::int64_t>((response->choices[0].size() + 3) / 4));

  request.stop = {"\nAnswer"};
  CHECK(asked(*teacher, request)->choices[0].find("Answer") == std::string::npos);
  request.stop.clear();
  request.max_tokens = 5;
  CHECK(asked(*teacher, request)->choices[0].size() == 20);
  request.max_tokens = 512;
  request.n = 8;
  response = asked(*teacher, request);
  REQUIRE(response);
  CHECK(response->choices.size() == 8);
  CHECK(kept_rationales(*response, item).size() >= 4);
  request.n = 0;
  CHECK_FALSE(asked(*teacher, request));
}

TEST_CASE("builtin: feedback finds the first wrong step and keeps the student's right ones", "[builtin]") {
  const auto problem = pencils();
  const std::string right_1 = "She has 5 * 4 = 20.";
  const std::string right_2 = "She has 20 - 6 = 14.";
  struct student {
    const char* what;
    std::string reasoning;
    std::string feedback;
    std::string corrected;
  };
  const std::vector<student> students = {
      {"wrong product", "She has 5 * 4 = 24. She has 24 - 6 = 18. Each friend gets 18 / 2 = 9.\nAnswer: 9",
       "Step 1: 5 * 4 is 20, not 24.",
       "She has 5 * 4 = 20. She has 20 - 6 = 14. Each friend gets 14 / 2 = 7. Therefore, the answer is 7."},
      {"operand copied wrong from the question", "She has 7 * 4 = 28. She has 28 - 6 = 22.",
       "Step 1 uses 7, but the question says 5.",
       "She has 5 * 4 = 20. She has 20 - 6 = 14. Each friend gets 14 / 2 = 7. Therefore, the answer is 7."},
      {"wrong later operand, in the student's words",
       right_1 + " Then she has 20 - 8 = 12 pencils. Each gets 6.",
       "Step 2 uses 8, but the question says 6.",
       right_1 +
           " Then she has 20 - 6 = 14 pencils. Each friend gets 14 / 2 = 7. Therefore, the answer is 7."},
      {"right numbers naming someone or something the problem does not",
       "He has 5 * 4 = 20 marbles. Rosa has 20 - 6 = 14. Each friend gets 14 / 2 = 8.",
       "Step 3: 14 / 2 is 7, not 8.",
       right_1 + " " + right_2 + " Each friend gets 14 / 2 = 7. Therefore, the answer is 7."},
      {"a repaired sentence naming something the problem does not",
       right_1 + " She keeps 20 - 6 = 14 marbles. Each jar gets 14 / 2 = 6.", "Step 3: 14 / 2 is 7, not 6.",
       right_1 + " " + right_2 + " Each friend gets 14 / 2 = 7. Therefore, the answer is 7."},
      {"wrong running total", right_1 + " She has 21 - 6 = 15. Each friend gets 15 / 2 = 7.5.",
       "Step 2 should start from 20, the result of step 1, not 21.",
       right_1 + " " + right_2 + " Each friend gets 14 / 2 = 7. Therefore, the answer is 7."},
      {"wrong operation", right_1 + " She has 20 + 6 = 26. Each friend gets 26 / 2 = 13.",
       "Step 2 should be 20 - 6 = 14, not 20 + 6 = 26.",
       right_1 + " She has 20 - 6 = 14. Each friend gets 14 / 2 = 7. Therefore, the answer is 7."},
      {"stops early", right_1 + " " + right_2 + " Therefore, the answer is 14.\nAnswer: 14",
       "Step 3 is missing: 14 / 2 = 7.",
       right_1 + " " + right_2 + " Each friend gets 14 / 2 = 7. Therefore, the answer is 7."},
      {"skips a step", right_1 + " Each friend gets 14 / 2 = 7.", "Step 2 is missing: 20 - 6 = 14.",
       right_1 + " She has 20 - 6 = 14. Each friend gets 14 / 2 = 7. Therefore, the answer is 7."},
      {"extra bogus step", right_1 + " She finds 20 + 3 = 23. " + right_2 + " Each friend gets 14 / 2 = 7.",
       "20 + 3 = 23 is not a step of this problem; step 2 is 20 - 6 = 14.",
       right_1 + " She has 20 - 6 = 14. Each friend gets 14 / 2 = 7. Therefore, the answer is 7."},
      {"extra step after the answer",
       right_1 + " " + right_2 + " Each friend gets 14 / 2 = 7. She has 7 + 1 = 8.",
       "Step 3 already gives the answer 7; 7 + 1 = 8 is an extra step.",
       right_1 + " " + right_2 + " Each friend gets 14 / 2 = 7. Therefore, the answer is 7."},
      {"right steps, wrong answer line",
       right_1 + " " + right_2 + " Each friend gets 14 / 2 = 7. Therefore, the answer is 14.\nAnswer: 14",
       "Every step is right, but the final answer is 7, the result of step 3, not 14.",
       right_1 + " " + right_2 + " Each friend gets 14 / 2 = 7. Therefore, the answer is 7."},
      {"garbage", "pencils pencils the the she has has",
       "The reasoning states no calculation; step 1 should be 5 * 4 = 20.",
       "She has 5 * 4 = 20. She has 20 - 6 = 14. Each friend gets 14 / 2 = 7. Therefore, the answer is 7."},
      {"Unicode operators, spoken and imperative forms", "5 × 4 = 20. 20 − 6 = 14. 14 ÷ 2 = 8.",
       "Step 3: 14 / 2 is 7, not 8.", "5 × 4 = 20. 20 − 6 = 14. 14 ÷ 2 = 7. Therefore, the answer is 7."},
      {"imperative", "Multiply 5 by 4 to get 20. Subtract 6 from 20 to get 15. Divide 15 by 2 to get 7.",
       "Step 2: 20 - 6 is 14, not 15.",
       "Multiply 5 by 4 to get 20. Subtract 6 from 20 to get 14. Each friend gets 14 / 2 = 7. Therefore, the "
       "answer is 7."},
      {"x for times, operands turned", "4 x 5 = 20. 20 minus 6 is 14. 14 divided by 2 is 6.",
       "Step 3: 14 / 2 is 7, not 6.",
       "4 x 5 = 20. 20 minus 6 is 14. 14 divided by 2 is 7. Therefore, the answer is 7."},
  };
  auto teacher = teacher_of({problem});
  const auto item = to_example(problem);
  for (const auto& s : students) {
    INFO(s.what << ": " << s.reasoning);
    const auto found = diagnose_reasoning(problem, s.reasoning);
    CHECK(found.feedback == s.feedback);
    CHECK(found.corrected_reasoning == s.corrected);
    CHECK_FALSE(found.student_was_right);
    CHECK(extract_answer(found.corrected_reasoning, task_kind::arith) == "7");

    // The same through a feedback request, read back by the reply parser.
    const auto response = asked(*teacher, feedback_request(item, s.reasoning));
    REQUIRE(response);
    REQUIRE(response->choices.size() == 1);
    const auto reply = parse_teacher_reply(response->choices[0], task_kind::arith);
    CHECK(reply.feedback == s.feedback);
    CHECK(reply.rationale == s.corrected);
    CHECK(is_answer_correct(reply, item));
    CHECK(kept_rationales(*response, item) == std::vector<std::string>{s.corrected});
  }
}

TEST_CASE("builtin: a right rationale is recognized and kept as written", "[builtin]") {
  const auto problem = pencils();
  for (const std::string reasoning :
       {"She has 5 * 4 = 20. She has 20 - 6 = 14. Each friend gets 14 / 2 = 7. Therefore, the answer is 7.",
        "5 times 4 is 20. 20 minus 6 is 14. 14 divided by 2 is 7. Therefore, the answer is 7."}) {
    const auto found = diagnose_reasoning(problem, reasoning + "\nAnswer: 7");
    CHECK(found.student_was_right);
    CHECK(found.feedback == "The reasoning is correct.");
    CHECK(found.corrected_reasoning == reasoning);
  }
}

TEST_CASE("builtin: a mistake in any wording is repaired in that wording", "[builtin]") {
  for (const auto& problem : generate_arith(80, 3, arith_split::train, small_options())) {
    for (int style = 0; style < 4; ++style) {
      // The student writes the teacher's own rationale with the first result off by one.
      auto wrong = problem;
      auto& step = wrong.steps.front();
      const auto shown = std::to_string(step.lhs) + " " + step.op + " " + std::to_string(step.rhs) + " = ";
      step.text.replace(step.text.find(shown + std::to_string(step.value)),
                        shown.size() + std::to_string(step.value).size(),
                        shown + std::to_string(step.value + 1));
      step.value += 1;
      INFO(problem.question << " / style " << style);
      const auto found = diagnose_reasoning(problem, worded_rationale(wrong, style), style);
      CHECK(found.feedback == "Step 1: " + std::to_string(step.lhs) + " " + step.op + " " +
                                  std::to_string(step.rhs) + " is " + std::to_string(step.value - 1) +
                                  ", not " + std::to_string(step.value) + ".");
      CHECK(found.corrected_reasoning == worded_rationale(problem, style));
    }
  }
}

TEST_CASE("builtin: requests it cannot answer are problems that say why", "[builtin]") {
  auto teacher = teacher_of({pencils()});
  auto stranger = to_example(pencils());
  stranger.question = "Ben has 3 coins. How many coins does Ben have?";
  const auto unknown = asked(*teacher, cot_request(stranger));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("none of its 1 arith problems asks \"Ben has 3 coins.") !=
        std::string::npos);

  CHECK(unknown.error().cause == problem_cause::rejected);

  chat_request odd;
  odd.messages = {{"user", "Tell me a joke."}};
  const auto unmatched = asked(*teacher, odd);
  REQUIRE_FALSE(unmatched);
  CHECK(unmatched.error().message.find("holds none of its 1 arith problems") != std::string::npos);
  CHECK(unmatched.error().cause == problem_cause::rejected);

  // With the run's own templates it understands the run's requests.
  auto templates = load_prompt_templates({{"cot_user", "Solve this.\n{question}\n{reply_format}"}});
  REQUIRE(templates);
  auto custom = builtin_teacher::create({pencils()}, *templates);
  REQUIRE(custom);
  const auto item = to_example(pencils());
  CHECK(kept_rationales(*asked(**custom, cot_request(item, {}, *templates)), item).size() == 1);
  prompt_templates broken = *templates;
  broken.feedback_user = "no placeholders";
  CHECK_FALSE(builtin_teacher::create({pencils()}, broken));
}

TEST_CASE("builtin: built from arith JSONL files, with bad lines and clashes named", "[builtin]") {
  const auto dir = std::filesystem::temp_directory_path() / "tailor_builtin_teacher_test";
  std::filesystem::create_directories(dir);
  const auto problems = generate_arith(20, 5, arith_split::train, small_options());
  const auto good = dir / "train.jsonl";
  {
    std::ofstream out(good);
    for (const auto& problem : problems)
      out << to_jsonl_record(problem).dump() << "\n";
  }
  auto loaded = builtin_teacher::load({good, good}); // the same file twice: exact repeats are fine
  REQUIRE(loaded);
  CHECK((*loaded)->problem_count() == 20);
  REQUIRE((*loaded)->find_problem(problems[3].question + " ") != nullptr);
  CHECK(*(*loaded)->find_problem(problems[3].question) == problems[3]);

  const auto bad = dir / "bad.jsonl";
  {
    std::ofstream out(bad);
    auto record = to_jsonl_record(problems[0]);
    out << record.dump() << "\n";
    record["steps"][0]["value"] = record["steps"][0]["value"].get<int>() + 1;
    out << record.dump() << "\n";
  }
  const auto failed = builtin_teacher::load({bad});
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message.find("bad.jsonl:2: steps[0]:") != std::string::npos);
  CHECK_FALSE(builtin_teacher::load({dir / "missing.jsonl"}));

  auto clash = problems[1];
  clash.question = problems[0].question;
  const auto clashed = builtin_teacher::create({problems[0], clash});
  REQUIRE_FALSE(clashed);
  CHECK(clashed.error().message.find("same question with different solutions") != std::string::npos);
  CHECK_FALSE(builtin_teacher::create({}));
  std::filesystem::remove_all(dir);
}

TEST_CASE("builtin: any client's message that holds a known question is answered", "[builtin]") {
  auto teacher = teacher_of({pencils()});
  const auto item = to_example(pencils());
  for (const std::string& content :
       {"Question: " + item.question, "Solve step by step and end with the number.\n\n" + item.question + "\nThanks!",
        "You are a careful tutor. Q: " + item.question + " A:"}) {
    INFO(content);
    chat_request plain;
    plain.messages = {{"system", "You are a helpful assistant."}, {"user", content}};
    plain.n = 2;
    const auto answer = asked(*teacher, plain);
    REQUIRE(answer);
    REQUIRE(answer->choices.size() == 2);
    // Answered as a chain of thought, in the reply format the teacher prompts ask for.
    CHECK(answer->choices[0].rfind("Reasoning: ", 0) == 0);
    CHECK(kept_rationales(*answer, item).size() >= 1);
  }
}
