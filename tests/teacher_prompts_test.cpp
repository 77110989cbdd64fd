// The teacher's prompts: requests built from templates, overrides checked, real-looking replies read.
#include "io/data/answer_extraction.hpp"
#include "io/data/prompts.hpp"
#include "io/teacher/teacher_prompts.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace tailor;

namespace {

example arith_item() {
  return {"arith-1-1", task_kind::arith,
          "Ann has 5 apples. She buys 3 bags of 4 apples. How many apples does she have now?", "17", ""};
}

bool has_placeholder(const std::string& text) {
  for (const char* name : {"{demos}", "{question}", "{reply_format}", "{student_reasoning}", "{gold_answer}"})
    if (text.find(name) != std::string::npos)
      return true;
  return false;
}

} // namespace

TEST_CASE("prompts: a chain-of-thought request shows the demos and asks in the student's format",
          "[prompts]") {
  const auto item = arith_item();
  teacher_request_options options;
  options.model = "gpt-x";
  options.temperature = 1.0;
  options.samples = 4;
  const auto request = cot_request(item, options);
  CHECK(request.model == "gpt-x");
  CHECK(request.n == 4);
  CHECK(request.temperature == 1.0);
  REQUIRE(request.messages.size() == 2);
  CHECK(request.messages[0].role == "system");
  CHECK(request.messages[1].role == "user");
  const auto& user = request.messages[1].content;
  CHECK(user.find(std::string(default_demos(task_kind::arith))) != std::string::npos);
  CHECK(user.ends_with("\n\nQuestion: " + item.question));
  CHECK(user.find("Reasoning: <") != std::string::npos);
  CHECK(user.find("Answer: <the number only>") != std::string::npos);
  CHECK_FALSE(has_placeholder(user));
  CHECK_FALSE(has_placeholder(request.messages[0].content));
}

TEST_CASE("prompts: a feedback request holds question, student rationale on one line, gold", "[prompts]") {
  auto item = arith_item();
  item.question = "What is {gold_answer} plus 1?"; // a value is never filled again
  const auto request = feedback_request(item, "  She buys 3 * 4 = 13.\n She has 5 + 13 = 18.\nAnswer: 18\n");
  REQUIRE(request.messages.size() == 2);
  const auto& user = request.messages[1].content;
  CHECK(user.find("Question: What is {gold_answer} plus 1?\n") != std::string::npos);
  CHECK(user.find("Student's reasoning: She buys 3 * 4 = 13. She has 5 + 13 = 18. Answer: 18\n") !=
        std::string::npos);
  CHECK(user.find("Correct answer: 17\n") != std::string::npos);
  CHECK(user.find("Feedback: <") != std::string::npos);
  CHECK(user.find("{reply_format}") == std::string::npos);
  CHECK(request.n == 1);
}

TEST_CASE("prompts: templates fill in one pass and read back through match_template", "[prompts]") {
  const template_values values{{"question", "Q {a}?"}, {"student_reasoning", "x = 1"}, {"gold_answer", "7"}};
  const std::string text_template =
      "Q: {question}\nS: {student_reasoning}\nG: {gold_answer}. {unknown} {not a}";
  const auto filled = fill_template(text_template, values);
  CHECK(filled == "Q: Q {a}?\nS: x = 1\nG: 7. {unknown} {not a}");
  const auto back = match_template("Q: {question}\nS: {student_reasoning}\nG: {gold_answer}.",
                                   "Q: Q {a}?\nS: x = 1\nG: 7.");
  REQUIRE(back);
  CHECK(*back == values);
  CHECK_FALSE(match_template("Q: {question}\nS: {student_reasoning}", "Question: a\nS: b"));
  CHECK_FALSE(match_template("Q: {question}!", "Q: a?"));
  CHECK_FALSE(match_template("{question} and {question}", "a and b"));
  CHECK(match_template("{question} and {question}", "a and a"));
  CHECK(match_template("no placeholders", "no placeholders"));
  CHECK_FALSE(match_template("no placeholders", "no placeholders here"));
}

TEST_CASE("prompts: overrides replace defaults and are checked", "[prompts]") {
  SECTION("null keeps the defaults, and the defaults round-trip through JSON") {
    auto loaded = load_prompt_templates(nullptr);
    REQUIRE(loaded);
    CHECK(*loaded == default_prompt_templates());
    auto again = load_prompt_templates(to_json(default_prompt_templates()));
    REQUIRE(again);
    CHECK(*again == default_prompt_templates());
  }
  SECTION("an override is used, an empty system text sends no system message") {
    auto loaded =
        load_prompt_templates({{"cot_user", "Solve: {question}\n{reply_format}"}, {"cot_system", ""}});
    REQUIRE(loaded);
    CHECK(loaded->feedback_user == default_prompt_templates().feedback_user);
    const auto request = cot_request(arith_item(), {}, *loaded);
    REQUIRE(request.messages.size() == 1);
    CHECK(request.messages[0].content.starts_with("Solve: Ann has 5 apples."));
  }
  SECTION("a missing placeholder, an unknown one, an unknown key, a non-string: each named") {
    auto missing = load_prompt_templates({{"feedback_user", "Q: {question} S: {student_reasoning}"}});
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("`feedback_user` lacks the placeholder {gold_answer}") !=
          std::string::npos);
    auto typo = load_prompt_templates({{"cot_user", "Q: {qestion}"}});
    REQUIRE_FALSE(typo);
    CHECK(typo.error().message.find("{qestion}") != std::string::npos);
    auto misplaced = load_prompt_templates({{"cot_user", "{question} {student_reasoning}"}});
    REQUIRE_FALSE(misplaced);
    CHECK(misplaced.error().message.find("`cot_user` uses {student_reasoning}") != std::string::npos);
    auto key = load_prompt_templates({{"cot_usr", "{question}"}});
    REQUIRE_FALSE(key);
    CHECK(key.error().message.find("unknown key `cot_usr`") != std::string::npos);
    auto number = load_prompt_templates({{"cot_user", 3}});
    REQUIRE_FALSE(number);
    CHECK(number.error().message.find("`cot_user` must be a string") != std::string::npos);
    CHECK_FALSE(load_prompt_templates(nlohmann::json::array()));
  }
}

TEST_CASE("prompts: replies are read the way real models write them", "[prompts]") {
  const auto item = arith_item();
  const std::string clean = "She buys 3 * 4 = 12 apples. She has 5 + 12 = 17. Therefore, the answer is 17.";
  struct sample {
    const char* name;
    std::string reply;
    std::string rationale;
    std::string feedback;
  };
  const std::vector<sample> samples = {
      {"clean", "Reasoning: " + clean + "\nAnswer: 17", clean, ""},
      {"prose first, markdown bold, blank lines",
       "Sure! Let's work through it.\n\n**Reasoning:** " + clean + "\n\n**Answer:** 17", clean, ""},
      {"answer on the reasoning's line", "Reasoning: " + clean + " Answer: 17", clean, ""},
      {"trailing text and a new question",
       "Reasoning: " + clean +
           "\nAnswer: 17 apples\n\nI hope this helps!\nQuestion: Tom has 2 pens.\n"
           "Reasoning: 2 + 2 = 4.\nAnswer: 4",
       clean, ""},
      {"numbered lines, a final answer, no therefore",
       "### Reasoning:\n1. She buys 3 * 4 = 12 apples.\n2. She has 5 + 12 = 17.\n\nFinal Answer: 17",
       "She buys 3 * 4 = 12 apples. She has 5 + 12 = 17. Therefore, the answer is 17.", ""},
      {"feedback, then a corrected rationale under another name",
       "**Feedback:** The student multiplied wrong:\n3 * 4 is 12, not 13.\n\n## Corrected reasoning:\n- " +
           clean + "\n**Answer: 17**",
       clean, "The student multiplied wrong: 3 * 4 is 12, not 13."},
      {"feedback and reasoning on one line",
       "Feedback: Step 1 is wrong. Reasoning: " + clean + "\nAnswer: 17", clean, "Step 1 is wrong."},
      {"no markers at all", "She buys 3 * 4 = 12 apples.\nShe has 5 + 12 = 17 apples.",
       "She buys 3 * 4 = 12 apples. She has 5 + 12 = 17 apples. Therefore, the answer is 17.", ""},
  };
  for (const auto& s : samples) {
    INFO(s.name);
    const auto reply = parse_teacher_reply(s.reply, task_kind::arith);
    CHECK(reply.rationale == s.rationale);
    CHECK(reply.feedback == s.feedback);
    CHECK(reply.answer == "17");
    CHECK(is_answer_correct(reply, item));
    // What the trainer makes of it: the rationale, then the gold answer line.
    CHECK(student_target(task_kind::arith, reply.rationale, item.answer) == s.rationale + "\nAnswer: 17 ");
  }
}

TEST_CASE("prompts: wrong and self-contradicting replies are not kept", "[prompts]") {
  const auto item = arith_item();
  chat_response response;
  response.choices = {
      "Reasoning: She buys 3 * 4 = 12 apples. She has 5 + 12 = 17. Therefore, the answer is 17.\nAnswer: 17",
      "Reasoning: 3 * 4 = 12. 5 + 12 = 17.\nAnswer: 17",
      "Reasoning: She buys 3 * 4 = 12 apples. She has 5 + 12 = 17. Therefore, the answer is 17.\nAnswer: 17",
      "Reasoning: She buys 3 * 4 = 13 apples. She has 5 + 13 = 18. Therefore, the answer is 18.\nAnswer: 18",
      "Reasoning: She has 5 + 12 = 17. Therefore, the answer is 15.\nAnswer: 17",
      "Reasoning:\nAnswer: 17",
      "I cannot help with that.",
  };
  const auto kept = kept_rationales(response, item);
  REQUIRE(kept.size() == 2);
  CHECK(kept[0] == "She buys 3 * 4 = 12 apples. She has 5 + 12 = 17. Therefore, the answer is 17.");
  CHECK(kept[1] == "3 * 4 = 12. 5 + 12 = 17. Therefore, the answer is 17.");
  CHECK(parse_teacher_reply(response.choices[5], task_kind::arith).rationale.empty());
}

TEST_CASE("prompts: yes/no and multiple-choice replies", "[prompts]") {
  const example yes_no{"s1", task_kind::strategyqa, "Is ice cold?", "yes", ""};
  const auto reply =
      parse_teacher_reply("Reasoning: Ice is frozen water, below 0 degrees.\nAnswer: Yes", yes_no.task);
  CHECK(reply.answer == "yes");
  CHECK(reply.rationale == "Ice is frozen water, below 0 degrees. Therefore, the answer is yes.");
  CHECK(is_answer_correct(reply, yes_no));
  CHECK(cot_request(yes_no).messages[1].content.find("Answer: <Yes or No>") != std::string::npos);

  const example choice{"c1", task_kind::csqa,
                       "Where are vegetables sold?\nAnswer Choices:\n(a) bank\n(b) market", "b", ""};
  const auto demo_form = parse_teacher_reply(
      "Answer: Vegetables are sold by grocers at a market. Therefore, the answer is market (b).",
      choice.task);
  CHECK(demo_form.rationale ==
        "Vegetables are sold by grocers at a market. Therefore, the answer is market (b).");
  CHECK(is_answer_correct(demo_form, choice));
  const auto marked = parse_teacher_reply(
      "Reasoning: Grocers sell at a market. Therefore, the answer is market (b).\nAnswer: b", choice.task);
  CHECK(marked.answer == "b");
  CHECK(is_answer_correct(marked, choice));
}
