// Internal to the built-in teacher: the teacher's wordings of exact steps and the reader of a student's
// equations, shared by the files that write replies and the one that diagnoses a student's reasoning.
#pragma once

#include "io/data/arith.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace tailor::builtin_detail {

// ---- wording exact steps (builtin_teacher_wording.cpp) ----------------------------------------------------

std::string number(std::int64_t value);
std::string equation(const arith_step& step); // "a op b = c"
// Style 0 is the generator's own step text, 1 terse, 2 imperative, 3 spoken (see worded_rationale).
std::string worded_step(const arith_step& step, int style);
// The style of step `step` in sample `sample`: samples 0-3 keep one style, later ones mix them.
int style_of(const arith_problem& problem, int sample, std::size_t step);
// Steps `first` onwards, each worded in its style, joined by spaces.
std::string steps_from(const arith_problem& problem, std::size_t first, int sample);

// ---- reading a student's equations (builtin_teacher_equations.cpp) ----------------------------------------

struct number_span {
  double value = 0;
  std::size_t begin = 0;
  std::size_t end = 0;
};

struct stated_equation {
  char op = '+';
  number_span lhs, rhs, value;
  std::size_t begin = 0; // bytes of the whole statement in the student's text
  std::size_t end = 0;
};

// The equations stated in `text`, in order: "a op b = c", "a times b is c", "Multiply a by b to get c", ...
std::vector<stated_equation> read_equations(std::string_view text);

// The words of a text, in lowercase, as the equation reader reads them.
std::unordered_set<std::string> words_of(std::string_view text);

} // namespace tailor::builtin_detail
