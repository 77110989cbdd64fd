// The teacher's prompts (all their text lives here) and the chain-of-thought and feedback requests built
// from them.
#include "io/teacher/teacher_prompts.hpp"

#include "io/common/text.hpp"
#include "io/data/prompts.hpp"

#include <algorithm>
#include <string>

namespace tailor {
namespace {

// The paper's prompts are not published; these follow its description: few-shot chain of thought in the
// student's own format, and feedback that points at the mistake before giving a corrected rationale.
constexpr std::string_view cot_system_text =
    "You are an expert teacher who solves problems step by step. You write short, plain reasoning that a "
    "small student model can learn to imitate, and you always reply in the format you are asked for.";

constexpr std::string_view cot_user_text =
    "Here are questions answered with step-by-step reasoning:\n\n"
    "{demos}"
    "Answer the next question the same way. Reason step by step in short sentences, one step per sentence, "
    "using only the facts and numbers of the question. Reply in exactly this format and write nothing else:\n"
    "{reply_format}\n\n"
    "Question: {question}";

constexpr std::string_view feedback_system_text =
    "You are an expert teacher who corrects a student's step-by-step reasoning. You find the first step "
    "where the student goes wrong, say briefly what is wrong with it, and write a correct step-by-step "
    "reasoning in the student's own style that keeps the steps the student got right. You always reply in "
    "the format you are asked for.";

constexpr std::string_view feedback_user_text =
    "A student answered the question below, but the answer is wrong.\n\n"
    "Question: {question}\n"
    "Student's reasoning: {student_reasoning}\n"
    "Correct answer: {gold_answer}\n\n"
    "Say where the student's reasoning first goes wrong. Then write a correct step-by-step reasoning that "
    "keeps the student's correct steps word for word, fixes the first wrong step and redoes every step after "
    "it. Reply in exactly this format and write nothing else:\n"
    "Feedback: <one or two sentences on the first mistake>\n"
    "{reply_format}";

// What parse_teacher_reply reads, per task; CSQA's rationale stands on the "Answer:" line, as in its demos.
std::string_view reply_format(task_kind task) {
  switch (task) {
  case task_kind::strategyqa:
    return "Reasoning: <your reasoning, step by step, ending with \"Therefore, the answer is yes.\" or "
           "\"Therefore, the answer is no.\">\nAnswer: <Yes or No>";
  case task_kind::csqa:
    return "Answer: <your reasoning, step by step, ending with \"Therefore, the answer is <choice> "
           "(<letter>).\">";
  case task_kind::gsm8k:
  case task_kind::svamp:
  case task_kind::multiarith:
  case task_kind::arith:
    break;
  }
  return "Reasoning: <your reasoning, step by step, ending with \"Therefore, the answer is <number>.\">\n"
         "Answer: <the number only>";
}

// Trimmed lines joined by single spaces: a rationale or a student's answer on one line.
std::string on_one_line(std::string_view text) {
  std::string joined;
  std::size_t from = 0;
  while (from <= text.size()) {
    const auto newline = std::min(text.find('\n', from), text.size());
    const auto line = text::trim(text.substr(from, newline - from));
    if (!line.empty())
      joined.append(joined.empty() ? "" : " ").append(line);
    from = newline + 1;
  }
  return joined;
}

template_values values_for(const example& item) {
  return {{"demos", std::string(default_demos(item.task))},
          {"question", item.question},
          {"reply_format", std::string(reply_format(item.task))}};
}

chat_request request_of(std::string_view system, std::string_view user, const template_values& values,
                        const teacher_request_options& options) {
  chat_request request;
  request.model = options.model;
  request.temperature = options.temperature;
  request.max_tokens = options.max_tokens;
  request.n = options.samples;
  if (!system.empty())
    request.messages.push_back({"system", fill_template(system, values)});
  request.messages.push_back({"user", fill_template(user, values)});
  return request;
}

} // namespace

const prompt_templates& default_prompt_templates() {
  static const prompt_templates defaults{std::string(cot_system_text), std::string(cot_user_text),
                                         std::string(feedback_system_text), std::string(feedback_user_text)};
  return defaults;
}

chat_request cot_request(const example& item, const teacher_request_options& options,
                         const prompt_templates& templates) {
  return request_of(templates.cot_system, templates.cot_user, values_for(item), options);
}

chat_request feedback_request(const example& item, std::string_view student_reasoning,
                              const teacher_request_options& options, const prompt_templates& templates) {
  auto values = values_for(item);
  values["student_reasoning"] = on_one_line(student_reasoning);
  values["gold_answer"] = std::string(text::trim(item.answer));
  return request_of(templates.feedback_system, templates.feedback_user, values, options);
}

} // namespace tailor
