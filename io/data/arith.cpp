// The arith generator: exact multi-step arithmetic, split by a hash of its numbers, and its JSONL records.
#include "io/data/arith.hpp"

#include "io/data/arith_templates.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>

namespace tailor {
namespace {

using arith_detail::random_source;

constexpr std::string_view operations = "+-*/";
// The story can name at most this many people before it runs out of distinct ones.
constexpr int most_operations = 8;
// Beyond this the numbers stop looking like a word problem, and 64-bit products come within reach.
constexpr double largest_quantity = 1e12;
// Consecutive draws without a new problem after which the option space is taken as exhausted.
constexpr std::size_t most_misses = 200'000;

std::optional<std::int64_t> apply(char op, std::int64_t lhs, std::int64_t rhs) {
  std::int64_t value = 0;
  switch (op) {
  case '+':
    if (__builtin_add_overflow(lhs, rhs, &value))
      return std::nullopt;
    return value;
  case '-':
    if (__builtin_sub_overflow(lhs, rhs, &value))
      return std::nullopt;
    return value;
  case '*':
    if (__builtin_mul_overflow(lhs, rhs, &value))
      return std::nullopt;
    return value;
  case '/':
    if (rhs == 0 || lhs % rhs != 0)
      return std::nullopt;
    return lhs / rhs;
  default:
    return std::nullopt;
  }
}

std::vector<std::int64_t> divisors_in_range(std::int64_t quantity, const arith_options& options) {
  std::vector<std::int64_t> found;
  for (std::int64_t d = 2; d <= options.max_factor && d <= quantity; ++d)
    if (quantity % d == 0)
      found.push_back(d);
  return found;
}

// Whether `op` can follow a quantity without a negative, zero or inexact result.
bool can_follow(char op, std::int64_t quantity, const arith_options& options) {
  if (op == '-')
    return quantity >= 2;
  if (op == '/')
    return !divisors_in_range(quantity, options).empty();
  return true;
}

std::int64_t draw_right_operand(char op, std::int64_t lhs, random_source& random,
                                const arith_options& options) {
  switch (op) {
  case '+':
    return random.between(1, options.max_operand);
  case '-':
    return random.between(1, std::min(options.max_operand, lhs - 1));
  case '*':
    return random.between(2, options.max_factor);
  default: {
    const auto divisors = divisors_in_range(lhs, options);
    return random.pick(divisors);
  }
  }
}

// Numbers for a fixed sequence of operations. Each number is drawn so that the next operation can apply to
// the quantity it leaves (a multiple of some factor before a division, at least 2 before a subtraction),
// which keeps every operation about equally frequent instead of rejecting the sequences that are hard.
std::optional<std::vector<arith_step>> draw_numbers(const std::vector<char>& ops, random_source& random,
                                                    const arith_options& options) {
  constexpr int tries = 64;
  std::int64_t quantity = 0;
  int tried = 0;
  do {
    quantity = random.between(1, options.max_operand);
  } while (!can_follow(ops.front(), quantity, options) && ++tried < tries);
  if (tried == tries)
    return std::nullopt;

  std::vector<arith_step> steps;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const char next = i + 1 < ops.size() ? ops[i + 1] : '+';
    arith_step step;
    step.op = ops[i];
    step.lhs = quantity;
    for (tried = 0; tried < tries; ++tried) {
      step.rhs = draw_right_operand(step.op, quantity, random, options);
      step.value = *apply(step.op, step.lhs, step.rhs);
      if (can_follow(next, step.value, options))
        break;
    }
    if (tried == tries)
      return std::nullopt;
    quantity = step.value;
    steps.push_back(step);
  }
  return steps;
}

// Arithmetic of `operation_count` operations: a sequence that the options cannot realize (three divisions by
// at most 3 starting from at most 5) is replaced by another of the same length, so that the mix of easy and
// hard problems stays uniform.
std::optional<std::vector<arith_step>> draw_arithmetic(random_source& random, const arith_options& options,
                                                       std::size_t operation_count) {
  std::vector<char> ops(operation_count);
  for (int attempt = 0; attempt < 16; ++attempt) {
    for (char& op : ops)
      op = operations[static_cast<std::size_t>(random.between(0, 3))];
    for (int tries = 0; tries < 8; ++tries)
      if (auto steps = draw_numbers(ops, random, options))
        return steps;
  }
  return std::nullopt;
}

std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

arith_split split_of_steps(const std::vector<arith_step>& steps) {
  std::string key;
  for (const arith_step& step : steps)
    key += std::to_string(step.lhs) + step.op + std::to_string(step.rhs) + ';';
  // FNV-1a's low bits are weak on short keys; a SplitMix64 finalizer spreads every byte over them.
  std::uint64_t h = fnv1a(key);
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  h ^= h >> 31;
  // A tenth of multi-step arithmetic is held out. Single operations are few (about 50 with the embedded
  // default's operands up to 5), so a tenth would leave the test split two or three facts, each asked
  // dozens of times: a fifth of the held-out accuracy would then hang on whether the student gets those
  // two facts right. A third of them keeps well over a dozen facts in that slice.
  const std::uint64_t one_in = steps.size() == 1 ? 3 : 10;
  return h % one_in == 0 ? arith_split::test : arith_split::train;
}

// Arithmetic of one split. The number of operations is drawn first and kept while numbers are redrawn until
// they fall in the split: the split holds out a larger share of single operations than of longer ones, and
// rejecting whole draws would tilt each split's mix of easy and hard problems. The split depends on the
// numbers alone, so it is decided before any wording is drawn.
std::optional<std::vector<arith_step>> draw_arithmetic_in(arith_split split, random_source& random,
                                                          const arith_options& options) {
  const auto operation_count =
      static_cast<std::size_t>(random.between(options.min_operations, options.max_operations));
  for (int attempt = 0; attempt < 64; ++attempt)
    if (auto steps = draw_arithmetic(random, options, operation_count); steps && split_of_steps(*steps) == split)
      return steps;
  return std::nullopt;
}

std::string step_texts(const arith_problem& problem) {
  std::string joined;
  for (const arith_step& step : problem.steps) {
    if (!joined.empty())
      joined += ' ';
    joined += step.text;
  }
  return joined;
}

// A field of type T (std::string or std::int64_t), or why the record has none.
template <class T>
result<T> field(const nlohmann::json& record, const char* name) {
  constexpr bool text = std::is_same_v<T, std::string>;
  const auto found = record.find(name);
  if (found == record.end())
    return problem{std::string("field `") + name + "` is missing"};
  if (text ? !found->is_string() : !found->is_number_integer())
    return problem{std::string("field `") + name + "` must be " + (text ? "a string" : "an integer") +
                   ", not " + found->dump()};
  return found->get<T>();
}

// One step, checked to be exact: a record whose steps do not add up would teach the student wrong arithmetic.
result<arith_step> parse_step(const nlohmann::json& record) {
  if (!record.is_object())
    return problem{"a step must be a JSON object, not " + record.dump()};
  const auto op = field<std::string>(record, "op");
  if (!op)
    return op.error();
  if (op->size() != 1 || operations.find((*op)[0]) == std::string_view::npos)
    return problem{"field `op` must be one of \"+\", \"-\", \"*\", \"/\", not \"" + *op + "\""};
  arith_step step;
  step.op = (*op)[0];
  for (auto [name, target] :
       {std::pair{"lhs", &step.lhs}, std::pair{"rhs", &step.rhs}, std::pair{"value", &step.value}}) {
    auto number = field<std::int64_t>(record, name);
    if (!number)
      return number.error();
    if (*number < 0)
      return problem{std::string("field `") + name + "` is negative (" + std::to_string(*number) + ")"};
    *target = *number;
  }
  auto text = field<std::string>(record, "text");
  if (!text)
    return text.error();
  step.text = std::move(*text);

  const std::string stated = std::to_string(step.lhs) + " " + step.op + " " + std::to_string(step.rhs);
  const auto value = apply(step.op, step.lhs, step.rhs);
  if (!value)
    return problem{stated + (step.op == '/' ? " is not an exact division" : " overflows")};
  if (*value != step.value)
    return problem{stated + " is " + std::to_string(*value) + ", not " + std::to_string(step.value)};
  return step;
}

} // namespace

status check_arith_options(const arith_options& options) {
  if (options.min_operations < 1 || options.max_operations > most_operations ||
      options.min_operations > options.max_operations)
    return problem{"operations must satisfy 1 <= min (" + std::to_string(options.min_operations) +
                   ") <= max (" + std::to_string(options.max_operations) +
                   ") <= " + std::to_string(most_operations)};
  if (options.max_operand < 1)
    return problem{"the largest operand must be at least 1, not " + std::to_string(options.max_operand)};
  if (options.max_factor < 2)
    return problem{"the largest factor must be at least 2, not " + std::to_string(options.max_factor)};
  double largest = static_cast<double>(options.max_operand);
  for (int i = 0; i < options.max_operations; ++i)
    largest = std::max(largest + static_cast<double>(options.max_operand),
                       largest * static_cast<double>(options.max_factor));
  if (largest > largest_quantity) {
    std::ostringstream reach;
    reach << largest;
    return problem{
        "quantities could reach " + reach.str() +
        " (more than 1e+12): lower the largest operand, the largest factor or the number of operations"};
  }
  return ok_status();
}

std::vector<arith_problem> generate_arith(std::size_t count, std::uint64_t seed, arith_split split,
                                          const arith_options& options) {
  if (const status checked = check_arith_options(options); !checked)
    throw std::invalid_argument("arith options: " + checked.error().message);
  random_source random(seed);
  std::vector<arith_problem> problems;
  std::unordered_set<std::string> questions;
  std::size_t misses = 0;
  for (std::uint64_t draw = 0; problems.size() < count && misses < most_misses; ++draw) {
    auto steps = draw_arithmetic_in(split, random, options);
    if (!steps) {
      ++misses;
      continue;
    }
    arith_problem problem;
    problem.id = "arith-" + std::to_string(seed) + "-" + std::to_string(draw);
    problem.steps = std::move(*steps);
    problem.answer = problem.steps.back().value;
    arith_detail::word_problem(problem, random);
    if (!questions.insert(problem.question).second) {
      ++misses;
      continue;
    }
    misses = 0;
    problems.push_back(std::move(problem));
  }
  return problems;
}

arith_split split_of(const arith_problem& problem) {
  return split_of_steps(problem.steps);
}

std::string arith_rationale(const arith_problem& problem) {
  return step_texts(problem) + " Therefore, the answer is " + std::to_string(problem.answer) + ".";
}

example to_example(const arith_problem& problem) {
  return example{.id = problem.id,
                 .task = task_kind::arith,
                 .question = problem.question,
                 .answer = std::to_string(problem.answer),
                 .gold_rationale = arith_rationale(problem)};
}

nlohmann::json to_jsonl_record(const arith_problem& problem) {
  nlohmann::json steps = nlohmann::json::array();
  for (const arith_step& step : problem.steps)
    steps.push_back({{"op", std::string(1, step.op)},
                     {"lhs", step.lhs},
                     {"rhs", step.rhs},
                     {"value", step.value},
                     {"text", step.text}});
  return {{"id", problem.id},
          {"question", problem.question},
          {"answer", step_texts(problem) + "\n#### " + std::to_string(problem.answer)},
          {"steps", std::move(steps)}};
}

result<arith_problem> parse_arith_record(const nlohmann::json& record) {
  if (!record.is_object())
    return problem{"an arith record must be a JSON object"};
  arith_problem parsed;
  for (auto [name, target] : {std::pair{"id", &parsed.id}, std::pair{"question", &parsed.question}}) {
    if (auto text = field<std::string>(record, name); text)
      *target = std::move(*text);
    else
      return text.error();
  }
  const auto answer_text = field<std::string>(record, "answer");
  if (!answer_text)
    return answer_text.error();
  if (parsed.question.empty())
    return problem{"field `question` is empty"};

  const auto steps = record.find("steps");
  if (steps == record.end())
    return problem{"field `steps` is missing"};
  if (!steps->is_array() || steps->empty())
    return problem{"field `steps` must be a non-empty array of steps"};
  for (std::size_t i = 0; i < steps->size(); ++i) {
    auto step = parse_step((*steps)[i]);
    if (!step)
      return problem{"steps[" + std::to_string(i) + "]: " + step.error().message};
    parsed.steps.push_back(std::move(*step));
  }
  parsed.answer = parsed.steps.back().value;

  // The answer text is what the gsm8k loader reads; it must say what the steps say.
  const std::string expected = step_texts(parsed) + "\n#### " + std::to_string(parsed.answer);
  if (*answer_text != expected)
    return problem{"field `answer` must be the steps' texts then \"\\n#### " + std::to_string(parsed.answer) +
                   "\" (the last step's value), but it is \"" + *answer_text + "\""};
  return parsed;
}

} // namespace tailor
