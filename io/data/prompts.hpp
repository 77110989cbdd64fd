// The student's prompt and training target, built exactly as METHOD.md's "Student prompt and target".
#pragma once

#include "messages/example.hpp"

#include <string>
#include <string_view>

namespace tailor {

// The few-shot demos for a task in `Question: …\nReasoning: …\nAnswer: …\n\n` form (3 for math tasks and
// arith, 4 for StrategyQA). CSQA's 5 are in `Question: …\nAnswer: <rationale>\n\n` form, the form its prefix
// and target ask of the student.
std::string_view default_demos(task_kind task);

// `demos` that asks for none: a student trained from scratch learns the format from its training data, and
// demos would multiply the tokens of every step (the embedded default uses this).
inline constexpr std::string_view no_demos = "none";

// DEMOS + "\nQuestion: " + question + "\nReasoning: " (CSQA: ends with "\nAnswer: " instead).
// `demos` overrides the task's defaults when not empty; no_demos leaves them out.
std::string student_prefix(task_kind task, std::string_view question, std::string_view demos = {});

// reasoning + "\nAnswer: " + gold + " "; the tokenizer appends EOS. The reasoning is trimmed, loses any
// answer line of its own (from its first "\nAnswer" on), and each run of whitespace holding a line break
// becomes one space. CSQA: the rationale itself, which ends "Therefore, the answer is <text> (<letter>).", +
// " "; `gold` is then unused (the caller keeps only rationales whose extracted answer is gold).
std::string student_target(task_kind task, std::string_view reasoning, std::string_view gold);

} // namespace tailor
