// The built-in teacher's wordings of exact steps: the four styles, their mix per sample, and the rationale.
#include "io/teacher/builtin_teacher.hpp"
#include "io/teacher/builtin_teacher_parts.hpp"

#include <algorithm>
#include <string>

namespace tailor::builtin_detail {

std::string number(std::int64_t value) {
  return std::to_string(value);
}

std::string equation(const arith_step& step) {
  return number(step.lhs) + " " + step.op + " " + number(step.rhs) + " = " + number(step.value);
}

std::string worded_step(const arith_step& step, int style) {
  const auto a = number(step.lhs);
  const auto b = number(step.rhs);
  const auto c = number(step.value);
  switch (style) {
  case 0:
    if (!step.text.empty())
      return step.text;
    [[fallthrough]];
  case 1:
    return equation(step) + ".";
  case 2:
    switch (step.op) {
    case '+':
      return "Add " + b + " to " + a + " to get " + c + ".";
    case '-':
      return "Subtract " + b + " from " + a + " to get " + c + ".";
    case '*':
      return "Multiply " + a + " by " + b + " to get " + c + ".";
    default:
      return "Divide " + a + " by " + b + " to get " + c + ".";
    }
  default: {
    const std::string_view spoken = step.op == '+'   ? " plus "
                                    : step.op == '-' ? " minus "
                                    : step.op == '*' ? " times "
                                                     : " divided by ";
    return a + std::string(spoken) + b + " is " + c + ".";
  }
  }
}

namespace {

// The same on every run and platform (unlike std::hash), so that a request always gets the same reply.
std::uint64_t mixed(std::string_view question, std::uint64_t salt) {
  std::uint64_t hash = 0xcbf29ce484222325ULL ^ (salt * 0x9e3779b97f4a7c15ULL);
  for (const char c : question)
    hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  hash ^= hash >> 31;
  return hash * 0xbf58476d1ce4e5b9ULL >> 29;
}

} // namespace

int style_of(const arith_problem& problem, int sample, std::size_t step) {
  if (sample < 4)
    return std::max(sample, 0);
  return static_cast<int>(mixed(problem.question, static_cast<std::uint64_t>(sample) * 64 + step) % 4);
}

std::string steps_from(const arith_problem& problem, std::size_t first, int sample) {
  std::string worded;
  for (std::size_t i = first; i < problem.steps.size(); ++i)
    worded.append(worded.empty() ? "" : " ")
        .append(worded_step(problem.steps[i], style_of(problem, sample, i)));
  return worded;
}

} // namespace tailor::builtin_detail

namespace tailor {

std::string worded_rationale(const arith_problem& problem, int sample) {
  return builtin_detail::steps_from(problem, 0, sample) + " Therefore, the answer is " +
         builtin_detail::number(problem.answer) + ".";
}

} // namespace tailor
