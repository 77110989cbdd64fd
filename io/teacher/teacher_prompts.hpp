// What the teacher is asked (chain-of-thought and tailored-feedback requests) and how its replies are read.
#pragma once

#include "io/teacher/chat.hpp"
#include "io/common/result.hpp"
#include "messages/example.hpp"

#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tailor {

// The four prompt texts. Placeholders are `{name}`:
// - cot_*:      {demos} (the task's few-shot demos), {question}, {reply_format}
// - feedback_*: the same, and {student_reasoning}, {gold_answer}
// {reply_format} is the task's "Reasoning: …\nAnswer: …" instruction, the form parse_teacher_reply reads; it
// is not a template itself, so that what the teacher is told and what the parser expects cannot drift apart.
// An empty system text sends no system message (for models that reject one).
struct prompt_templates {
  std::string cot_system;
  std::string cot_user; // must hold {question}
  std::string feedback_system;
  std::string feedback_user; // must hold {question}, {student_reasoning} and {gold_answer}

  friend bool operator==(const prompt_templates&, const prompt_templates&) = default;
};

const prompt_templates& default_prompt_templates();

// The defaults with the keys of `overrides` (a JSON object with any of "cot_system", "cot_user",
// "feedback_system", "feedback_user", each a string) put in their place. A problem names an unknown key, a
// value that is not a string, a required placeholder that is missing, or an unknown placeholder
// ("{qestion}").
result<prompt_templates> load_prompt_templates(const nlohmann::json& overrides);
nlohmann::json to_json(const prompt_templates& templates);

// What every teacher request of a run shares. `samples` is the request's n.
struct teacher_request_options {
  std::string model;
  double temperature = 0.7;
  int max_tokens = 512;
  int samples = 1;
};

// Step 1 of the rounds: the teacher writes step-by-step reasoning for `item` in the student's format.
chat_request cot_request(const example& item, const teacher_request_options& options = {},
                         const prompt_templates& templates = default_prompt_templates());

// Step 3: the teacher sees the question, the student's wrong rationale (put on one line) and the gold answer,
// says where the student went wrong and writes a correct rationale.
chat_request feedback_request(const example& item, std::string_view student_reasoning,
                              const teacher_request_options& options = {},
                              const prompt_templates& templates = default_prompt_templates());

// One teacher reply, read. `rationale` is on one line, plain text (no markdown, no LaTeX), in the form
// student_target takes as reasoning, and ends with the task's answer sentence, as the demos do: "Therefore,
// the answer is 18." (numbers, yes/no) or "Therefore, the answer is <choice> (<letter>)." (CSQA); sentences
// that only state the answer ("The answer is B.") give way to it. `answer` is the task's normalized answer
// ("18", "no", "b"), empty when the reply gives none or gives two that disagree.
struct parsed_teacher_reply {
  std::string feedback;  // the "Feedback:" section, on one line; empty when there is none
  std::string rationale; // empty when the reply holds no reasoning besides its answer
  std::string answer;

  friend bool operator==(const parsed_teacher_reply&, const parsed_teacher_reply&) = default;
};

// Reads "Feedback: …", "Reasoning: …" and "Answer: …" sections, forgiving what real models do:
// - layout: prose before the first marker, chat openers and sign-offs ("Sure! …", "Let me know if …"),
//   markdown bold, italics, headings (as markers, "### Final Answer", or as titles, dropped), bullets,
//   numbered lines and "Step 1:" labels, bold labels ("**Eggs left:** 9"), "Answer:" on the reasoning's line,
//   other names for the markers ("Final answer:", "The final answer is:", "Explanation:", "Here is the
//   corrected reasoning:"), notes and echoes of the student's work (dropped), text after the answer or a new
//   "Question:" (dropped);
// - LaTeX: `\(…\)`, `\[…\]`, `$…$`, `\boxed`, `\frac`, `\times`, `\text`, `\$`;
// - answers: "$18", "1,080", "18 dollars", "72 km/h", an equation ("9 * 2 = 18"), a sentence ("She makes $18
//   a day."), "**No.**", "No, because …", "(B) bank", "B) bank", "**B**", "Option B", "bank" (the choice's
//   text, when `question` holds CSQA's "(a) …" choices); with no answer line, the rationale's own statement
//   ("the answer is 18", `\boxed{18}`, "So, no, …") or, for numbers, its last number.
// The last reasoning section counts (a model may first echo the student's). With no reasoning marker, the
// unmarked text before the answer is the reasoning, or the answer section itself when it is a rationale
// (CSQA: the form of its demos). The answer is empty when the answer lines disagree ("18 or 20", "Yes or
// No"), when the rationale concludes otherwise than the answer line, and when a reply without an answer line
// stops mid-sentence (cut off).
parsed_teacher_reply parse_teacher_reply(std::string_view reply, task_kind task,
                                         std::string_view question = {});

// The reply gives the gold answer, on its answer line and in its own rationale.
bool is_answer_correct(const parsed_teacher_reply& reply, const example& item);

// The rationales of `response`'s answer-correct choices, without repeats, in choice order (read with
// `item`'s question, so that a CSQA answer may name its choice by text).
std::vector<std::string> kept_rationales(const chat_response& response, const example& item);

// The template engine, for the built-in teacher, which reads its requests back through the same templates.
// `{name}` (lowercase letters and '_') is a placeholder; a name missing from `values` stays as it is.
// Filling is one pass, so a value that itself holds "{question}" is not filled again.
using template_values = std::map<std::string, std::string, std::less<>>;
std::string fill_template(std::string_view text_template, const template_values& values);
// The values that make fill_template(text_template, values) == text, or nullopt when the text does not
// have the template's form. Each placeholder takes the shortest text before the literal that follows it
// (the last one everything up to the template's ending).
std::optional<template_values> match_template(std::string_view text_template, std::string_view text);

} // namespace tailor
