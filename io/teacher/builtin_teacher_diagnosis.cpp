// The built-in teacher's diagnosis of a student's rationale: its first mistake, and a corrected rationale
// that keeps what the student got right.
#include "io/common/text.hpp"
#include "io/data/answer_extraction.hpp"
#include "io/teacher/builtin_teacher.hpp"
#include "io/teacher/builtin_teacher_parts.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace tailor {
namespace {

using builtin_detail::equation;
using builtin_detail::number;
using builtin_detail::number_span;
using builtin_detail::stated_equation;
using builtin_detail::steps_from;
using builtin_detail::style_of;
using builtin_detail::worded_step;
using builtin_detail::words_of;

// ---- comparing a student's equations with the exact steps ------------------------------------------------

bool commutative(char op) {
  return op == '+' || op == '*';
}

bool same_operands(const stated_equation& e, const arith_step& s) {
  const auto lhs = static_cast<double>(s.lhs);
  const auto rhs = static_cast<double>(s.rhs);
  return (e.lhs.value == lhs && e.rhs.value == rhs) ||
         (commutative(s.op) && e.lhs.value == rhs && e.rhs.value == lhs);
}

bool same(const stated_equation& e, const arith_step& s) {
  return e.op == s.op && same_operands(e, s) && e.value.value == static_cast<double>(s.value);
}

// Whether a student wrote the commutative operands the other way round ("4 * 5" for 5 * 4).
bool swapped(const stated_equation& e, const arith_step& s) {
  const auto lhs = static_cast<double>(s.lhs);
  const auto rhs = static_cast<double>(s.rhs);
  return commutative(s.op) && e.lhs.value != lhs && e.rhs.value != rhs &&
         (e.lhs.value == rhs || e.rhs.value == lhs);
}

bool sentence_end_at(std::string_view body, std::size_t i) {
  const char c = body[i];
  return c == '!' || c == '?' || (c == '.' && !(i + 1 < body.size() && text::is_digit(body[i + 1])));
}

// Just past the end of the sentence a statement ending at `from` belongs to, if it ends before `limit`.
std::size_t sentence_end(std::string_view body, std::size_t from, std::size_t limit) {
  for (std::size_t i = from; i < limit; ++i)
    if (sentence_end_at(body, i))
      return i + 1;
  return from;
}

std::string ended(std::string_view sentence) {
  auto text = std::string(text::trim(sentence));
  if (!text.empty() && std::string_view(".!?").find(text.back()) == std::string_view::npos)
    text += '.';
  return text;
}

// The student's text from `from` to the end of the wrong statement's sentence, with its numbers made right.
std::string repaired(std::string_view body, std::size_t from, std::size_t limit, const stated_equation& e,
                     const arith_step& s) {
  const bool turned = swapped(e, s);
  std::array<std::pair<number_span, std::int64_t>, 3> edits = {
      {{e.lhs, turned ? s.rhs : s.lhs}, {e.rhs, turned ? s.lhs : s.rhs}, {e.value, s.value}}};
  std::sort(edits.begin(), edits.end(),
            [](const auto& x, const auto& y) { return x.first.begin < y.first.begin; });
  std::string text;
  std::size_t at = from;
  for (const auto& [span, right] : edits) {
    text.append(body.substr(at, span.begin - at)).append(number(right));
    at = span.end;
  }
  return text.append(body.substr(at, sentence_end(body, e.end, limit) - at));
}

struct diagnosis {
  std::string feedback;
  std::size_t first_step_to_write = 0; // exact steps from here on are written in the teacher's wording
  std::string repaired;                // the student's text holding the first wrong step, made right
  bool right = false;
};

diagnosis diagnose(const arith_problem& problem, std::string_view body,
                   const std::vector<stated_equation>& eqs, std::size_t i, std::size_t j,
                   std::size_t kept_end, std::string_view stated) {
  const auto& steps = problem.steps;
  const auto step_no = [](std::size_t index) { return "Step " + std::to_string(index + 1); };
  const auto shown = [&](const stated_equation& e) {
    return std::string(body.substr(e.begin, e.end - e.begin));
  };
  const auto span_text = [&](const number_span& n) {
    return std::string(body.substr(n.begin, n.end - n.begin));
  };
  if (eqs.empty())
    return {"The reasoning states no calculation; step 1 should be " + equation(steps[0]) + ".", 0, {}};
  if (i == steps.size()) {
    if (j < eqs.size())
      return {step_no(steps.size() - 1) + " already gives the answer " + number(problem.answer) + "; " +
                  shown(eqs[j]) + " is an extra step.",
              i,
              {}};
    if (!answer_matches(stated, number(problem.answer)))
      return {"Every step is right, but the final answer is " + number(problem.answer) + ", the result of " +
                  text::to_lower(step_no(steps.size() - 1)) + ", not " +
                  (stated.empty() ? std::string("missing") : std::string(stated)) + ".",
              i,
              {}};
    return {"The reasoning is correct.", i, {}, true};
  }
  const arith_step& s = steps[i];
  if (j == eqs.size())
    return {step_no(i) + " is missing: " + equation(s) + ".", i, {}};
  const stated_equation& e = eqs[j];
  for (std::size_t later = i + 1; later < steps.size(); ++later)
    if (same(e, steps[later]))
      return {step_no(i) + " is missing: " + equation(s) + ".", i, {}};
  const std::size_t limit = j + 1 < eqs.size() ? eqs[j + 1].begin : body.size();
  // A wrong result is told before an extra step: a problem may repeat a step ("4 / 2" twice), and the
  // repeat must not make the student's first attempt at it look like a stray.
  if (e.op == s.op && same_operands(e, s))
    return {step_no(i) + ": " + number(s.lhs) + " " + s.op + " " + number(s.rhs) + " is " + number(s.value) +
                ", not " + span_text(e.value) + ".",
            i + 1, repaired(body, kept_end, limit, e, s)};
  for (std::size_t later = j + 1; later < eqs.size(); ++later)
    if (same(eqs[later], s))
      return {shown(e) + " is not a step of this problem; " + text::to_lower(step_no(i)) + " is " +
                  equation(s) + ".",
              i,
              {}};
  if (e.op != s.op)
    return {step_no(i) + " should be " + equation(s) + ", not " + shown(e) + ".", i, {}};

  auto fixed = repaired(body, kept_end, limit, e, s);
  // Which of the student's operands stands for which of the step's, when it wrote them turned round.
  const bool turned = swapped(e, s);
  const std::int64_t first_right = turned ? s.rhs : s.lhs;
  const std::int64_t second_right = turned ? s.lhs : s.rhs;
  const bool first_wrong = e.lhs.value != static_cast<double>(first_right);
  if (first_wrong && e.rhs.value != static_cast<double>(second_right))
    return {step_no(i) + " should be " + equation(s) + ", not " + shown(e) + ".", i + 1, std::move(fixed)};
  const std::string wrong = span_text(first_wrong ? e.lhs : e.rhs);
  // The running total comes from the previous step; every other number comes from the question.
  if (first_wrong != turned && i > 0)
    return {step_no(i) + " should start from " + number(s.lhs) + ", the result of " +
                text::to_lower(step_no(i - 1)) + ", not " + wrong + ".",
            i + 1, std::move(fixed)};
  return {step_no(i) + " uses " + wrong + ", but the question says " +
              number(first_wrong ? first_right : second_right) + ".",
          i + 1, std::move(fixed)};
}

// Whether a sentence in which the student got a step right may stand as it is in a corrected rationale:
// every word of it is the question's, one of the teacher's wordings of the step, or a connective. A sentence
// whose numbers are right but that names someone or something the problem does not ("He has" about Ann,
// "Rosa has", "1 jar" of bags) is written in the teacher's words instead: kept, it would teach that wording.
bool fits_problem(std::string_view sentence, const std::unordered_set<std::string>& question_words,
                  const arith_step& step) {
  // "x" is a times sign ("4 x 5 = 20").
  static const std::unordered_set<std::string> connectives = {"then", "so", "now", "next", "first",
                                                              "finally", "and", "x"};
  std::unordered_set<std::string> step_words;
  for (int style = 0; style < 4; ++style)
    step_words.merge(words_of(worded_step(step, style)));
  return std::ranges::all_of(words_of(sentence), [&](const std::string& word) {
    return question_words.contains(word) || step_words.contains(word) || connectives.contains(word);
  });
}

// Appends one step's sentence to a corrected rationale: the student's own when it fits the problem, else
// the teacher's wording of that step.
void append_step(std::string& corrected, std::string_view students, const arith_problem& problem,
                 std::size_t step, int sample, const std::unordered_set<std::string>& question_words) {
  const auto sentence = text::trim(students);
  if (fits_problem(sentence, question_words, problem.steps[step])) {
    corrected.append(corrected.empty() || sentence.empty() ? "" : " ").append(sentence);
    return;
  }
  corrected = ended(corrected);
  corrected.append(corrected.empty() ? "" : " ")
      .append(worded_step(problem.steps[step], style_of(problem, sample, step)));
}

} // namespace

arith_feedback diagnose_reasoning(const arith_problem& problem, std::string_view student_reasoning,
                                  int sample) {
  // The student's text on one line, without its answer line: that is what a corrected rationale builds on.
  std::string body(student_reasoning);
  std::replace_if(
      body.begin(), body.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  std::string stated;
  if (const auto answer_line = body.find("Answer:"); answer_line != std::string::npos) {
    stated = extract_answer("\n" + body.substr(answer_line), task_kind::arith);
    body.resize(answer_line);
  } else {
    stated = extract_answer(body, task_kind::arith);
  }
  const auto eqs = builtin_detail::read_equations(body);

  // The longest run of student equations that follows the exact steps from the start: those steps are kept,
  // each in the student's sentence when it fits the problem.
  const auto question_words = words_of(problem.question);
  std::string corrected;
  std::size_t i = 0;
  std::size_t j = 0;
  std::size_t kept_end = 0;
  for (; i < problem.steps.size() && j < eqs.size() && same(eqs[j], problem.steps[i]); ++i, ++j) {
    const auto end = sentence_end(body, eqs[j].end, j + 1 < eqs.size() ? eqs[j + 1].begin : body.size());
    append_step(corrected, std::string_view(body).substr(kept_end, end - kept_end), problem, i, sample,
                question_words);
    kept_end = end;
  }

  const auto found = diagnose(problem, body, eqs, i, j, kept_end, stated);
  if (!found.repaired.empty())
    append_step(corrected, found.repaired, problem, i, sample, question_words);
  corrected = ended(corrected);
  const auto rest = steps_from(problem, found.first_step_to_write, sample);
  corrected.append(corrected.empty() || rest.empty() ? "" : " ").append(rest);
  corrected.append(corrected.empty() ? "" : " ")
      .append("Therefore, the answer is " + number(problem.answer) + ".");
  // A kept sentence may already claim an answer ("Therefore, the answer is 8." before the last step); the
  // reply must still be answer-correct, so such a rationale is written afresh.
  if (!answer_matches(extract_answer(corrected, task_kind::arith), number(problem.answer)))
    corrected = worded_rationale(problem, sample);
  return {found.feedback, std::move(corrected), found.right};
}

} // namespace tailor
