// The embedded default's task `arith`: seeded multi-step arithmetic word problems with exact solution steps.
#pragma once

#include "io/common/result.hpp"
#include "messages/example.hpp"

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace tailor {

// One exact step of a solution: `lhs op rhs = value`, and the sentence that states it in a rationale.
struct arith_step {
  char op = '+'; // one of + - * /
  std::int64_t lhs = 0;
  std::int64_t rhs = 0;
  std::int64_t value = 0;
  std::string text; // e.g. "She has 3 * 4 = 12."

  friend bool operator==(const arith_step&, const arith_step&) = default;
};

struct arith_problem {
  std::string id; // "arith-<seed>-<draw>"
  std::string question;
  std::vector<arith_step> steps; // in solution order; the last step's value is the answer
  std::int64_t answer = 0;

  friend bool operator==(const arith_problem&, const arith_problem&) = default;
};

// How hard the generated problems are. Each problem draws its number of operations uniformly from
// [min_operations, max_operations]; the mix of easy and hard kinds is what makes a student's mistakes
// concentrate somewhere.
struct arith_options {
  int min_operations = 1;
  int max_operations = 4;
  std::int64_t max_operand = 20; // operands of + and -, and starting quantities, in [1, max_operand]
  std::int64_t max_factor = 9;   // multipliers and divisors, in [2, max_factor]
};

enum class arith_split : std::uint8_t { train, test };

// Why `options` cannot be generated from, if so: 1 <= min_operations <= max_operations <= 8,
// max_operand >= 1, max_factor >= 2, and no quantity can exceed 10^12.
status check_arith_options(const arith_options& options);

// `count` distinct problems (by question text) of one split, reproducible from `seed`; their ids are
// "arith-<seed>-<draw>", so train and test drawn from one seed never share an id. Train and test are
// disjoint for any two seeds: a problem's split is decided by a hash of its arithmetic (operations and
// numbers, not its wording), so no test problem is a reworded train problem.
// Returns fewer than `count` when the options allow fewer distinct questions (the search gives up after
// 200,000 draws in a row find nothing new). Throws std::invalid_argument when check_arith_options fails.
std::vector<arith_problem> generate_arith(std::size_t count, std::uint64_t seed, arith_split split,
                                          const arith_options& options = {});

// The problem's split by that hash: test for about a tenth of multi-step arithmetic and a third of single
// operations (so that the held-out single operations are more than two or three facts). Either split keeps
// the uniform mix of operation counts.
arith_split split_of(const arith_problem& problem);

// The rationale the steps spell out (their texts joined by spaces) + " Therefore, the answer is N.".
std::string arith_rationale(const arith_problem& problem);

example to_example(const arith_problem& problem);

// GSM8K-style JSONL record: {"id", "question", "answer": "<step texts>\n#### N", "steps": [...]}, which the
// gsm8k loader reads back (its gold rationale is then arith_rationale); parse_arith_record reads the steps
// back too (for the built-in teacher), checking that every step is exact, non-negative, and that the answer
// text is the steps' texts followed by "\n#### <last step's value>".
nlohmann::json to_jsonl_record(const arith_problem& problem);
result<arith_problem> parse_arith_record(const nlohmann::json& record);

} // namespace tailor
