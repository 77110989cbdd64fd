// The built-in offline teacher for the `arith` task: answers teacher prompts from each problem's exact steps.
#pragma once

#include "io/data/arith.hpp"
#include "io/teacher/chat.hpp"
#include "io/common/result.hpp"
#include "io/teacher/teacher_prompts.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tailor {

// What the built-in teacher makes of a student's rationale for one problem.
struct arith_feedback {
  std::string feedback;            // names the first wrong or missing step, or says the reasoning is right
  std::string corrected_reasoning; // one line, ends "Therefore, the answer is <answer>."
  bool student_was_right = false;
};

// How sample `sample` of a chain-of-thought reply words a problem's solution, on one line and ending
// "Therefore, the answer is N.". Samples 0-3 each word every step one way: the generator's own step text
// ("She has 3 * 4 = 12."), terse ("3 * 4 = 12."), imperative ("Multiply 3 by 4 to get 12."), spoken
// ("3 times 4 is 12."); later samples mix the four per step, chosen by a hash of the question and the sample
// index, so a request always gets the same reply.
std::string worded_rationale(const arith_problem& problem, int sample);

// Reads the equations of `student_reasoning` ("a op b = c" with + - * / × ÷ − x, "a times b is c",
// "Multiply a by b to get c", ...), compares them in order with the exact steps and finds the first wrong
// or missing one: a wrong result, an operand that differs from the question or from the previous result,
// a wrong operation, a skipped step, an extra step, a wrong final answer. The corrected reasoning keeps the
// student's correct steps in its own sentences, repairs the first wrong step in the student's own sentence
// when its operation is right (only the numbers change), and words the remaining steps as worded_rationale's
// sample `sample` does. A kept or repaired sentence stays the student's only when each of its words is the
// question's, one of the teacher's wordings of that step, or a connective ("then", "so", ...); one that
// names someone or something the problem does not ("He has" about Ann) is worded as sample `sample` words
// it. The student's own answer is the number after its "Answer:" when it has one, else extract_answer's.
arith_feedback diagnose_reasoning(const arith_problem& problem, std::string_view student_reasoning,
                                  int sample = 0);

// A teacher_backend with no network: it recognizes its requests by matching the last user message against
// the cot_user and feedback_user templates it was built with (so it must be built with the run's templates
// when they are overridden), and finds the problem by the {question} text.
// - A chain-of-thought request gets n replies "Reasoning: <worded_rationale(sample i)>\nAnswer: N".
// - A feedback request gets n replies "Feedback: …\nReasoning: …\nAnswer: N" from diagnose_reasoning; the
//   request's {gold_answer} is not trusted, the problem's own answer is.
// - A request whose question it does not know, or that matches neither template, gets a problem naming
//   why, not a reply: that is a misconfigured run (teacher and student built from different datasets),
//   which a wrong reply would hide.
// Usage counts a token per 4 characters (rounded up) of every message and of every reply. Like a real
// endpoint it cuts each reply at the first of `stop` and at `max_tokens` such tokens.
// `complete` answers synchronously: `done` is called on the caller's thread before `complete` returns
// (answering takes microseconds; any latency to simulate belongs to the server). A built teacher is never
// modified, so concurrent calls are safe; cancel_all has nothing in flight to end.
class builtin_teacher final : public teacher_backend {
public:
  // Problems are indexed by their trimmed question text. A problem whose question repeats with different
  // steps is a problem; an exact repeat (one file given twice) is ignored.
  static result<std::unique_ptr<builtin_teacher>>
  create(std::vector<arith_problem> problems, prompt_templates templates = default_prompt_templates());
  // From JSONL files written by `tailor data generate arith`; a bad record names "file:line: what".
  static result<std::unique_ptr<builtin_teacher>>
  load(const std::vector<std::filesystem::path>& files,
       prompt_templates templates = default_prompt_templates());

  void complete(chat_request request, callback done) override;
  void cancel_all() override {}

  // What `complete` passes to `done`.
  result<chat_response> answer(const chat_request& request) const;
  std::size_t problem_count() const { return problems_.size(); }
  const arith_problem* find_problem(std::string_view question) const;
  // The problem whose question the text holds anywhere ("Question: <q>", a client's own prompt around it);
  // the longest when several do. Null when none.
  const arith_problem* find_problem_in(std::string_view text) const;

private:
  builtin_teacher(std::vector<arith_problem> problems, prompt_templates templates);

  std::vector<arith_problem> problems_;
  std::unordered_map<std::string, std::size_t> by_question_;
  prompt_templates templates_;
};

} // namespace tailor
