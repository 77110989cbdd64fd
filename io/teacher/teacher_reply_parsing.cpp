// The reader of teacher replies: their "Feedback:", "Reasoning:" and "Answer:" sections put together into
// the student's one-line rationale and answer, and which replies are answer-correct.
#include "io/common/text.hpp"
#include "io/data/answer_extraction.hpp"
#include "io/teacher/reply_parts.hpp"
#include "io/teacher/teacher_prompts.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace tailor {
namespace {

using namespace reply_detail;

std::string first_text(const section& part) {
  for (const auto& line : part.lines)
    if (!line.text.empty())
      return line.text;
  return {};
}

std::vector<std::string> texts_of(const section& part) {
  std::vector<std::string> texts;
  for (const auto& line : part.lines)
    texts.push_back(line.text);
  return texts;
}

std::vector<std::string> contents_of(const section& part) {
  std::vector<std::string> contents;
  for (const auto& line : part.lines)
    contents.push_back(line.content);
  return contents;
}

// A new "Question:" after the reply's work is the model continuing the few-shot pattern: not part of this
// reply.
void drop_continuation(std::vector<section>& sections) {
  bool worked = false;
  for (auto part = sections.begin(); part != sections.end(); ++part) {
    if (part->kind == section_kind::question && worked) {
      sections.erase(part, sections.end());
      return;
    }
    worked = worked || ((part->kind == section_kind::reasoning || part->kind == section_kind::answer) &&
                        has_text(*part));
  }
}

// Where a reply's rationale and answer lines are.
struct reply_body {
  std::vector<std::string> rationale_lines;
  std::vector<std::string> answer_lines;
  std::vector<std::string> after_answer; // unmarked text after the last answer line ("Wait, actually …")
};

// With a reasoning section, the last one is the rationale (a model may first echo the student's); every
// answer section is an answer line, before it ("Answer: …\nExplanation: …", "Correct answer: …") or after.
reply_body marked_body(const std::vector<section>& sections, std::size_t reasoning) {
  reply_body body{contents_of(sections[reasoning]), {}, {}};
  std::size_t last_answer = 0;
  for (std::size_t i = 0; i < sections.size(); ++i)
    if (sections[i].kind == section_kind::answer) {
      body.answer_lines.push_back(first_text(sections[i]));
      last_answer = i;
    }
  for (std::size_t i = std::max(reasoning, last_answer) + 1; i < sections.size(); ++i)
    if (sections[i].kind == section_kind::unmarked && !body.answer_lines.empty())
      for (auto& line : contents_of(sections[i]))
        body.after_answer.push_back(std::move(line));
  return body;
}

// Without one, the rationale is the unmarked text before the first answer line (or after it, when the reply
// opens with its answer), and an answer section that is itself a rationale (CSQA's demo form) is part of it.
reply_body unmarked_body(const std::vector<section>& sections, task_kind task,
                         const std::vector<answer_choice>& choices) {
  reply_body body;
  bool answered = false;
  const auto has_rationale = [&] { return !without_chatter(body.rationale_lines).empty(); };
  for (const auto& part : sections) {
    if (part.kind == section_kind::unmarked) {
      auto& into = answered ? body.after_answer : body.rationale_lines;
      const auto contents = contents_of(part);
      into.insert(into.end(), contents.begin(), contents.end());
    } else if (part.kind == section_kind::answer) {
      const auto whole = joined_lines(texts_of(part));
      if (!answered && !has_rationale() && is_reasoning_line(whole, task, choices)) {
        const auto contents = contents_of(part);
        body.rationale_lines.insert(body.rationale_lines.end(), contents.begin(), contents.end());
      } else if (has_text(part)) {
        body.answer_lines.push_back(first_text(part));
        answered = answered || has_rationale();
      } else {
        body.answer_lines.emplace_back(); // "Answer:" and nothing after it
      }
    }
  }
  return body;
}

// The answer of the reply's answer lines, checked against what its rationale concludes; empty when they
// give none, or two.
std::string settled_answer(const reply_body& body, const std::string& rationale, task_kind task,
                           const std::vector<answer_choice>& choices, const std::vector<std::string>& boxed) {
  if (body.answer_lines.empty()) {
    const auto conclusion = conclusion_of(rationale, task, choices, boxed);
    if (conclusion.stated.conflicting)
      return {};
    return conclusion.stated.answer.empty() ? conclusion.fallback : conclusion.stated.answer;
  }
  answer_reading lines;
  for (const auto& line : body.answer_lines)
    fold(lines, answer_on_line(line, task, choices));
  if (lines.conflicting || lines.answer.empty())
    return {};
  // Neither the rationale nor what follows the answer may conclude otherwise ("… so she makes $20." over
  // "Answer: 18", "Answer: Yes\n\nActually, no.").
  const auto conclusion = conclusion_of(rationale, task, choices, boxed);
  const auto afterwards = conclusion_of(joined_lines(without_chatter(body.after_answer)), task, choices, {});
  for (const auto& stated : {conclusion.stated, afterwards.stated})
    if (stated.conflicting || (!stated.answer.empty() && stated.answer != lines.answer))
      return {};
  const auto& last = conclusion.last_numbers;
  if (conclusion.stated.answer.empty() && !last.empty() &&
      std::find(last.begin(), last.end(), lines.answer) == last.end())
    return {};
  return lines.answer;
}

} // namespace

parsed_teacher_reply parse_teacher_reply(std::string_view reply, task_kind task, std::string_view question) {
  const auto plain = without_latex(reply);
  auto sections = sections_of(plain.text);
  drop_continuation(sections);
  const auto choices = choices_of(question);

  parsed_teacher_reply parsed;
  const auto feedback = std::find_if(sections.begin(), sections.end(), [](const section& s) {
    return s.kind == section_kind::feedback && has_text(s);
  });
  if (feedback != sections.end())
    parsed.feedback = joined_lines(texts_of(*feedback));

  const auto last_reasoning = std::find_if(
      sections.rbegin(), sections.rend(), [](const section& s) { return s.kind == section_kind::reasoning; });
  const auto body =
      last_reasoning == sections.rend()
          ? unmarked_body(sections, task, choices)
          : marked_body(sections, static_cast<std::size_t>(sections.rend() - last_reasoning - 1));
  const auto rationale = joined_lines(without_chatter(body.rationale_lines));
  parsed.answer = settled_answer(body, rationale, task, choices, plain.boxed);
  parsed.rationale =
      parsed.answer.empty() ? rationale : with_answer_sentence(rationale, parsed.answer, task, choices);
  return parsed;
}

bool is_answer_correct(const parsed_teacher_reply& reply, const example& item) {
  return !reply.rationale.empty() && answer_matches(reply.answer, item.answer) &&
         answer_matches(extract_answer(reply.rationale, item.task), item.answer);
}

std::vector<std::string> kept_rationales(const chat_response& response, const example& item) {
  std::vector<std::string> kept;
  for (const auto& choice : response.choices) {
    auto reply = parse_teacher_reply(choice, item.task, item.question);
    if (is_answer_correct(reply, item) && std::find(kept.begin(), kept.end(), reply.rationale) == kept.end())
      kept.push_back(std::move(reply.rationale));
  }
  return kept;
}

} // namespace tailor
