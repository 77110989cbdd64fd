// The arith generator: exact steps, reproducible draws, disjoint splits, varied wording, JSONL round trips.
#include "io/data/arith.hpp"
#include "io/data/datasets.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

using namespace tailor;

namespace {

// The embedded default's difficulty: small numbers, where repeats across splits would be most likely.
arith_options small_options() {
  arith_options options;
  options.min_operations = 1;
  options.max_operations = 3;
  options.max_operand = 5;
  options.max_factor = 3;
  return options;
}

std::string arithmetic_of(const arith_problem& problem) {
  std::string key;
  for (const arith_step& step : problem.steps)
    key += std::to_string(step.lhs) + step.op + std::to_string(step.rhs) + ";";
  return key;
}

std::int64_t exact(char op, std::int64_t lhs, std::int64_t rhs) {
  switch (op) {
  case '+':
    return lhs + rhs;
  case '-':
    return lhs - rhs;
  case '*':
    return lhs * rhs;
  default:
    return lhs / rhs;
  }
}

// A problem with hand-picked numbers and trivial wording, for the split and parsing checks.
arith_problem made_problem(std::int64_t a, std::int64_t b) {
  arith_problem problem;
  problem.id = "made";
  problem.question = "Ann has " + std::to_string(a) + " pens. She buys " + std::to_string(b) + " more.";
  problem.steps.push_back(
      {'+', a, b, a + b,
       "She has " + std::to_string(a) + " + " + std::to_string(b) + " = " + std::to_string(a + b) + "."});
  problem.answer = a + b;
  return problem;
}

} // namespace

TEST_CASE("arith: the same seed gives the same problems, another seed others", "[arith]") {
  const auto first = generate_arith(300, 11, arith_split::train);
  const auto again = generate_arith(300, 11, arith_split::train);
  const auto other = generate_arith(300, 12, arith_split::train);
  REQUIRE(first.size() == 300);
  CHECK(first == again);
  std::set<std::string> questions;
  for (const auto& problem : first)
    questions.insert(problem.question);
  int shared = 0;
  for (const auto& problem : other)
    shared += questions.count(problem.question) != 0 ? 1 : 0;
  CHECK(shared < 10);
  // A longer draw from the same seed starts with the shorter one, so growing a pool keeps its problems.
  const auto longer = generate_arith(600, 11, arith_split::train);
  CHECK(std::equal(first.begin(), first.end(), longer.begin()));
}

TEST_CASE("arith: every step is exact, non-negative and chained, and ends at the answer", "[arith]") {
  for (const arith_options& options : {arith_options{}, small_options()}) {
    const auto problems = generate_arith(4000, 3, arith_split::train, options);
    REQUIRE(problems.size() == 4000);
    std::set<std::string> ids;
    std::set<std::string> questions;
    for (const arith_problem& problem : problems) {
      INFO(problem.question);
      CHECK(ids.insert(problem.id).second);
      CHECK(questions.insert(problem.question).second);
      REQUIRE(!problem.steps.empty());
      CHECK(problem.steps.front().lhs >= 1);
      CHECK(problem.steps.front().lhs <= options.max_operand);
      for (std::size_t i = 0; i < problem.steps.size(); ++i) {
        const arith_step& step = problem.steps[i];
        INFO(step.text);
        if (i > 0)
          CHECK(step.lhs == problem.steps[i - 1].value);
        if (step.op == '+' || step.op == '-') {
          CHECK(step.rhs >= 1);
          CHECK(step.rhs <= options.max_operand);
        } else {
          REQUIRE((step.op == '*' || step.op == '/'));
          CHECK(step.rhs >= 2);
          CHECK(step.rhs <= options.max_factor);
        }
        if (step.op == '/')
          CHECK(step.lhs % step.rhs == 0);
        CHECK(exact(step.op, step.lhs, step.rhs) == step.value);
        CHECK(step.value >= 1);
        const std::string stated = std::to_string(step.lhs) + " " + step.op + " " + std::to_string(step.rhs) +
                                   " = " + std::to_string(step.value);
        CHECK(step.text.find(stated) != std::string::npos);
        CHECK(step.text.back() == '.');
      }
      CHECK(problem.steps.back().value == problem.answer);
      CHECK(problem.question.back() == '?');
    }
  }
}

TEST_CASE("arith: operation counts are drawn uniformly from the options' range", "[arith]") {
  arith_options options = small_options();
  options.min_operations = 2;
  options.max_operations = 4;
  const auto problems = generate_arith(3000, 5, arith_split::train, options);
  REQUIRE(problems.size() == 3000);
  std::map<std::size_t, int> by_count;
  std::map<char, int> by_op;
  for (const auto& problem : problems) {
    ++by_count[problem.steps.size()];
    for (const auto& step : problem.steps)
      ++by_op[step.op];
  }
  CHECK(by_count.size() == 3);
  for (const auto& [count, seen] : by_count) {
    INFO(count << " operations: " << seen);
    CHECK(count >= 2);
    CHECK(count <= 4);
    CHECK(seen > 800); // 1000 expected
  }
  int steps = 0;
  for (const auto& [op, seen] : by_op)
    steps += seen;
  CHECK(by_op.size() == 4);
  for (const auto& [op, seen] : by_op) {
    INFO(op << " " << seen << " of " << steps);
    CHECK(seen > steps / 6); // a quarter expected; sequences the options cannot realize are redrawn
  }
}

TEST_CASE("arith: wording varies over people, objects and sentence templates", "[arith]") {
  const auto problems = generate_arith(2000, 9, arith_split::train, small_options());
  std::set<std::string> first_words;
  for (const auto& problem : problems)
    first_words.insert(problem.question.substr(0, problem.question.find_first_of(" '")));
  CHECK(first_words.size() >= 12);
  for (const char* phrase :
       {" has ", " starts with ", " holds ", " buys ", " gives away ", " loses ", " sells ", " finds ",
        " times as many ", " trades each ", " trades every ", " shares them equally among ",
        " packs them into ", " pencils", " marbles", " eggs", " have now?", " get?"}) {
    INFO(phrase);
    CHECK(std::any_of(problems.begin(), problems.end(),
                      [&](const arith_problem& p) { return p.question.find(phrase) != std::string::npos; }));
  }
}

TEST_CASE("arith: train and test are disjoint by question and by arithmetic, for any seeds", "[arith]") {
  for (const arith_options& options : {arith_options{}, small_options()}) {
    const auto train = generate_arith(3000, 1, arith_split::train, options);
    std::set<std::string> questions;
    std::set<std::string> arithmetic;
    for (const auto& problem : train) {
      CHECK(split_of(problem) == arith_split::train);
      questions.insert(problem.question);
      arithmetic.insert(arithmetic_of(problem));
    }
    for (std::uint64_t seed : {1, 2, 77}) {
      const auto test = generate_arith(500, seed, arith_split::test, options);
      REQUIRE(test.size() == 500);
      for (const auto& problem : test) {
        INFO(problem.question);
        CHECK(split_of(problem) == arith_split::test);
        CHECK(questions.count(problem.question) == 0);
        CHECK(arithmetic.count(arithmetic_of(problem)) == 0);
      }
    }
  }
}

TEST_CASE("arith: a tenth of multi-step arithmetic and a third of single operations go to test", "[arith]") {
  int single_test = 0;
  int two_step_test = 0;
  int all = 0;
  for (std::int64_t a = 1; a <= 60; ++a)
    for (std::int64_t b = 1; b <= 60; ++b, ++all) {
      arith_problem problem = made_problem(a, b);
      single_test += split_of(problem) == arith_split::test ? 1 : 0;
      problem.steps.push_back({'*', a + b, 2, 2 * (a + b), "She has " + std::to_string(2 * (a + b)) + "."});
      two_step_test += split_of(problem) == arith_split::test ? 1 : 0;
    }
  CHECK(single_test > all * 28 / 100);
  CHECK(single_test < all * 38 / 100);
  CHECK(two_step_test > all * 7 / 100);
  CHECK(two_step_test < all * 13 / 100);
  // Wording does not move a problem between splits.
  arith_problem reworded = made_problem(4, 5);
  reworded.question = "Ben starts with 4 cards. He finds 5 more cards.";
  reworded.steps[0].text = "He has 4 + 5 = 9.";
  CHECK(split_of(reworded) == split_of(made_problem(4, 5)));
}

TEST_CASE("arith: either split keeps the uniform mix of operation counts", "[arith]") {
  for (const arith_split split : {arith_split::train, arith_split::test}) {
    const auto problems = generate_arith(1500, 4, split, small_options());
    REQUIRE(problems.size() == 1500);
    std::map<std::size_t, int> by_count;
    for (const auto& problem : problems)
      ++by_count[problem.steps.size()];
    for (std::size_t count = 1; count <= 3; ++count) {
      INFO("split " << (split == arith_split::test ? "test" : "train") << ", " << count << " operations");
      CHECK(by_count[count] > 400);
      CHECK(by_count[count] < 600);
    }
  }
}

TEST_CASE("arith: rationale, example and JSONL record", "[arith]") {
  arith_problem problem = made_problem(3, 4);
  problem.steps.push_back({'*', 7, 2, 14, "She has 7 * 2 = 14."});
  problem.answer = 14;
  CHECK(arith_rationale(problem) == "She has 3 + 4 = 7. She has 7 * 2 = 14. Therefore, the answer is 14.");

  const example as_example = to_example(problem);
  CHECK(as_example.id == "made");
  CHECK(as_example.task == task_kind::arith);
  CHECK(as_example.question == problem.question);
  CHECK(as_example.answer == "14");
  CHECK(as_example.gold_rationale == arith_rationale(problem));

  const nlohmann::json record = to_jsonl_record(problem);
  CHECK(record["answer"] == "She has 3 + 4 = 7. She has 7 * 2 = 14.\n#### 14");
  CHECK(record["steps"][1] ==
        nlohmann::json{{"op", "*"}, {"lhs", 7}, {"rhs", 2}, {"value", 14}, {"text", "She has 7 * 2 = 14."}});
}

TEST_CASE("arith: JSONL records read back into the same problems", "[arith]") {
  for (const auto& problem : generate_arith(500, 21, arith_split::test)) {
    const auto parsed = parse_arith_record(nlohmann::json::parse(to_jsonl_record(problem).dump()));
    INFO(problem.question);
    REQUIRE(parsed.ok());
    CHECK(*parsed == problem);
  }
}

TEST_CASE("arith: bad records are refused with a message that names the fault", "[arith]") {
  const nlohmann::json good = to_jsonl_record(made_problem(3, 4));
  REQUIRE(parse_arith_record(good).ok());

  const auto refused = [](const nlohmann::json& record) {
    const auto parsed = parse_arith_record(record);
    REQUIRE_FALSE(parsed.ok());
    return parsed.error().message;
  };
  const auto without = [&](const char* field) {
    nlohmann::json record = good;
    record.erase(field);
    return record;
  };
  const auto changed = [&](const nlohmann::json::json_pointer& where, const nlohmann::json& value) {
    nlohmann::json record = good;
    record[where] = value;
    return record;
  };
  using pointer = nlohmann::json::json_pointer;

  CHECK(refused(nlohmann::json::array()) == "an arith record must be a JSON object");
  CHECK(refused(without("question")) == "field `question` is missing");
  CHECK(refused(without("steps")) == "field `steps` is missing");
  CHECK(refused(without("answer")) == "field `answer` is missing");
  CHECK(refused(changed(pointer("/question"), 7)) == "field `question` must be a string, not 7");
  CHECK(refused(changed(pointer("/steps"), nlohmann::json::array())) ==
        "field `steps` must be a non-empty array of steps");
  CHECK(refused(changed(pointer("/steps/0/op"), "x")) ==
        "steps[0]: field `op` must be one of \"+\", \"-\", \"*\", \"/\", not \"x\"");
  CHECK(refused(changed(pointer("/steps/0/value"), 8)) == "steps[0]: 3 + 4 is 7, not 8");
  CHECK(refused(changed(pointer("/steps/0/lhs"), 2.5)) ==
        "steps[0]: field `lhs` must be an integer, not 2.5");
  CHECK(refused(changed(pointer("/steps/0/rhs"), -4)) == "steps[0]: field `rhs` is negative (-4)");
  CHECK(refused(changed(pointer("/steps/0/text"), nullptr)) ==
        "steps[0]: field `text` must be a string, not null");

  nlohmann::json inexact = good;
  inexact["steps"][0] = {{"op", "/"}, {"lhs", 7}, {"rhs", 2}, {"value", 3}, {"text", "7 / 2 = 3."}};
  CHECK(refused(inexact) == "steps[0]: 7 / 2 is not an exact division");

  const std::string wrong_answer = refused(changed(pointer("/answer"), "She has 3 + 4 = 7.\n#### 8"));
  CHECK(wrong_answer.find("field `answer` must be the steps' texts then \"\\n#### 7\"") == 0);
}

TEST_CASE("arith: impossible options are refused, a too small option space gives fewer problems", "[arith]") {
  arith_options options;
  options.min_operations = 3;
  options.max_operations = 2;
  CHECK_FALSE(check_arith_options(options).ok());
  CHECK_THROWS_AS(generate_arith(10, 1, arith_split::train, options), std::invalid_argument);
  options = {};
  options.max_factor = 1;
  CHECK(check_arith_options(options).error().message == "the largest factor must be at least 2, not 1");
  options = {};
  options.max_operations = 8;
  options.max_factor = 100;
  CHECK(check_arith_options(options).error().message.find("quantities could reach") == 0);
  CHECK(check_arith_options(arith_options{}).ok());

  // One operation on 1 and 2 leaves two sums, 1 + 1 and 1 * 2, both hashed to train: a test split of these
  // options is empty, and the search gives up instead of looping forever.
  options = {};
  options.max_operations = 1;
  options.max_operand = 1;
  options.max_factor = 2;
  CHECK(generate_arith(10, 1, arith_split::test, options).empty());
  const auto few = generate_arith(20, 1, arith_split::train, options);
  REQUIRE(few.size() == 20);
  for (const auto& problem : few)
    CHECK((arithmetic_of(problem) == "1+1;" || arithmetic_of(problem) == "1*2;"));
}

TEST_CASE("arith: written JSONL loads as the arith task with the same questions and answers", "[arith]") {
  const auto problems = generate_arith(200, 4, arith_split::train, small_options());
  const auto file = std::filesystem::temp_directory_path() / "tailor_io_arith_test.jsonl";
  {
    std::ofstream out(file);
    for (const auto& problem : problems)
      out << to_jsonl_record(problem).dump() << '\n';
  }
  const auto loaded = load_dataset(file, task_kind::arith);
  std::filesystem::remove(file);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->size() == problems.size());
  for (std::size_t i = 0; i < problems.size(); ++i) {
    const example expected = to_example(problems[i]);
    const example& got = (*loaded)[i];
    CHECK(got.task == task_kind::arith);
    CHECK(got.question == expected.question);
    CHECK(got.answer == expected.answer);
    CHECK(got.gold_rationale == expected.gold_rationale);
  }
}
