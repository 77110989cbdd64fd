// The teacher's prompts (all their text lives here), the template engine behind them, and the reply reader.
#include "io/teacher_prompts.hpp"

#include "io/answer_extraction.hpp"
#include "io/prompts.hpp"
#include "io/text.hpp"

#include <array>
#include <nlohmann/json.hpp>
#include <utility>

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

constexpr std::string_view therefore_marker = "Therefore, the answer is";

struct template_piece {
  bool placeholder = false;
  std::string_view text; // the literal, or the placeholder's name
};

std::vector<template_piece> pieces_of(std::string_view text_template) {
  std::vector<template_piece> pieces;
  std::size_t literal_from = 0;
  for (std::size_t i = 0; i < text_template.size(); ++i) {
    if (text_template[i] != '{')
      continue;
    std::size_t end = i + 1;
    while (end < text_template.size() &&
           ((text_template[end] >= 'a' && text_template[end] <= 'z') || text_template[end] == '_'))
      ++end;
    if (end == i + 1 || end == text_template.size() || text_template[end] != '}')
      continue;
    if (i > literal_from)
      pieces.push_back({false, text_template.substr(literal_from, i - literal_from)});
    pieces.push_back({true, text_template.substr(i + 1, end - i - 1)});
    literal_from = end + 1;
    i = end;
  }
  if (literal_from < text_template.size())
    pieces.push_back({false, text_template.substr(literal_from)});
  return pieces;
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

// ---- template checks --------------------------------------------------------------------------------------

struct template_rule {
  std::string_view key;
  std::string prompt_templates::*text;
  std::vector<std::string_view> allowed;
  std::vector<std::string_view> required;
};

const std::array<template_rule, 4>& template_rules() {
  static const std::array<template_rule, 4> rules = {{
      {"cot_system", &prompt_templates::cot_system, {"demos", "question", "reply_format"}, {}},
      {"cot_user", &prompt_templates::cot_user, {"demos", "question", "reply_format"}, {"question"}},
      {"feedback_system",
       &prompt_templates::feedback_system,
       {"demos", "question", "reply_format", "student_reasoning", "gold_answer"},
       {}},
      {"feedback_user",
       &prompt_templates::feedback_user,
       {"demos", "question", "reply_format", "student_reasoning", "gold_answer"},
       {"question", "student_reasoning", "gold_answer"}},
  }};
  return rules;
}

std::string braced_list(const std::vector<std::string_view>& names) {
  std::string list;
  for (const auto name : names)
    list.append(list.empty() ? "{" : ", {").append(name).append("}");
  return list;
}

status check_template(const template_rule& rule, std::string_view text) {
  const auto pieces = pieces_of(text);
  const auto uses = [&](std::string_view name) {
    return std::any_of(pieces.begin(), pieces.end(),
                       [&](const template_piece& p) { return p.placeholder && p.text == name; });
  };
  for (const auto& piece : pieces)
    if (piece.placeholder &&
        std::find(rule.allowed.begin(), rule.allowed.end(), piece.text) == rule.allowed.end())
      return problem{"prompt templates: `" + std::string(rule.key) + "` uses {" + std::string(piece.text) +
                     "}, which it cannot fill (it may use " + braced_list(rule.allowed) + ")"};
  for (const auto name : rule.required)
    if (!uses(name))
      return problem{"prompt templates: `" + std::string(rule.key) + "` lacks the placeholder {" +
                     std::string(name) + "} (it must hold " + braced_list(rule.required) + ")"};
  return ok_status();
}

// ---- reply reading ----------------------------------------------------------------------------------------

enum class section_kind { unmarked, feedback, reasoning, answer, question };

struct section {
  section_kind kind = section_kind::unmarked;
  std::vector<std::string> lines;
};

// Marker names as they may open a line, any case, before a ':'.
constexpr std::array<std::pair<std::string_view, section_kind>, 14> line_markers = {{
    {"feedback", section_kind::feedback},
    {"reasoning", section_kind::reasoning},
    {"rationale", section_kind::reasoning},
    {"corrected reasoning", section_kind::reasoning},
    {"correct reasoning", section_kind::reasoning},
    {"corrected rationale", section_kind::reasoning},
    {"step-by-step reasoning", section_kind::reasoning},
    {"solution", section_kind::reasoning},
    {"corrected solution", section_kind::reasoning},
    {"answer", section_kind::answer},
    {"final answer", section_kind::answer},
    {"correct answer", section_kind::answer},
    {"the answer", section_kind::answer},
    {"question", section_kind::question},
}};

// Markers that start a new section in the middle of a line, right after a sentence ends.
constexpr std::array<std::string_view, 5> inline_markers = {
    "Feedback:", "Reasoning:", "Answer:", "Final answer:", "Final Answer:"};

std::size_t inline_marker_in(std::string_view line) {
  std::size_t earliest = std::string_view::npos;
  for (const auto marker : inline_markers)
    for (auto at = line.find(marker); at != std::string_view::npos && at < earliest;
         at = line.find(marker, at + 1)) {
      std::size_t before = at;
      while (before > 0 && line[before - 1] == ' ')
        --before;
      if (before < at && before > 0 &&
          std::string_view(".!?").find(line[before - 1]) != std::string_view::npos) {
        earliest = at;
        break;
      }
    }
  return earliest;
}

// A line without its list decoration: "- ", "* ", "• ", "1. ", "2) ", markdown headings and quotes.
std::string_view undecorated(std::string_view line) {
  line = text::trim(line);
  while (!line.empty() && (line.front() == '#' || line.front() == '>'))
    line = text::trim(line.substr(1));
  for (const std::string_view bullet : {"- ", "* ", "\xE2\x80\xA2 "})
    if (line.starts_with(bullet))
      return text::trim(line.substr(bullet.size()));
  std::size_t digits = 0;
  while (digits < line.size() && digits < 3 && text::is_digit(line[digits]))
    ++digits;
  if (digits > 0 && digits + 1 < line.size() && (line[digits] == '.' || line[digits] == ')') &&
      line[digits + 1] == ' ')
    return text::trim(line.substr(digits + 2));
  return line;
}

std::optional<section_kind> marker_of(std::string_view line, std::size_t& content_from) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon > 32)
    return std::nullopt;
  const auto name = text::to_lower(text::trim(line.substr(0, colon)));
  for (const auto& [marker, kind] : line_markers)
    if (name == marker) {
      content_from = colon + 1;
      return kind;
    }
  return std::nullopt;
}

std::vector<section> sections_of(std::string_view reply) {
  std::string plain;
  for (std::size_t i = 0; i < reply.size(); ++i) {
    if (reply.substr(i, 2) == "**" || reply.substr(i, 2) == "__")
      ++i;
    else if (reply[i] != '\r')
      plain += reply[i];
  }
  std::vector<section> sections(1);
  const auto add_line = [&](std::string_view line) {
    line = undecorated(line);
    std::size_t content_from = 0;
    if (const auto kind = marker_of(line, content_from)) {
      sections.push_back({*kind, {}});
      line = text::trim(line.substr(content_from));
    }
    sections.back().lines.emplace_back(undecorated(line));
  };
  std::size_t from = 0;
  while (from <= plain.size()) {
    const auto newline = std::min(plain.find('\n', from), plain.size());
    std::string_view line = std::string_view(plain).substr(from, newline - from);
    for (auto at = inline_marker_in(line); at != std::string_view::npos; at = inline_marker_in(line)) {
      add_line(line.substr(0, at));
      line = line.substr(at);
    }
    add_line(line);
    from = newline + 1;
  }
  return sections;
}

std::string joined(const section& part) {
  std::string text;
  for (const auto& line : part.lines)
    if (!line.empty())
      text.append(text.empty() ? "" : " ").append(line);
  return text;
}

std::string first_line(const section& part) {
  for (const auto& line : part.lines)
    if (!line.empty())
      return line;
  return {};
}

std::string answer_from_line(std::string_view line, task_kind task) {
  auto answer = extract_answer("\nAnswer: " + std::string(line), task);
  // "Answer: c" or "Answer: C." with no parentheses still names a choice.
  const auto bare = text::trim(line);
  if (answer.empty() && task == task_kind::csqa && !bare.empty() && text::to_lower(bare[0]) >= 'a' &&
      text::to_lower(bare[0]) <= 'e' && (bare.size() == 1 || !text::is_alpha(bare[1])))
    answer = std::string(1, text::to_lower(bare[0]));
  return answer;
}

} // namespace

const prompt_templates& default_prompt_templates() {
  static const prompt_templates defaults{std::string(cot_system_text), std::string(cot_user_text),
                                         std::string(feedback_system_text), std::string(feedback_user_text)};
  return defaults;
}

result<prompt_templates> load_prompt_templates(const nlohmann::json& overrides) {
  prompt_templates templates = default_prompt_templates();
  if (overrides.is_null())
    return templates;
  if (!overrides.is_object())
    return problem{"prompt templates must be a JSON object, not " + overrides.dump()};
  for (const auto& [key, value] : overrides.items()) {
    const auto& rules = template_rules();
    const auto rule = std::find_if(rules.begin(), rules.end(), [&](const auto& r) { return r.key == key; });
    if (rule == rules.end())
      return problem{"prompt templates: unknown key `" + key +
                     "` (the keys are cot_system, cot_user, feedback_system, feedback_user)"};
    if (!value.is_string())
      return problem{"prompt templates: `" + key + "` must be a string, not " + value.dump()};
    templates.*(rule->text) = value.get<std::string>();
  }
  for (const auto& rule : template_rules())
    if (auto checked = check_template(rule, templates.*(rule.text)); !checked)
      return checked.error();
  return templates;
}

nlohmann::json to_json(const prompt_templates& templates) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& rule : template_rules())
    object[std::string(rule.key)] = templates.*(rule.text);
  return object;
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

parsed_teacher_reply parse_teacher_reply(std::string_view reply, task_kind task) {
  auto sections = sections_of(reply);
  // A new "Question:" after the reasoning is the model continuing the few-shot pattern: not part of this
  // reply.
  const auto reasoning_from = std::find_if(
      sections.begin(), sections.end(), [](const section& s) { return s.kind == section_kind::reasoning; });
  const auto next_question = std::find_if(reasoning_from, sections.end(),
                                          [](const section& s) { return s.kind == section_kind::question; });
  sections.erase(next_question, sections.end());

  const auto find = [&](section_kind kind, std::size_t from) {
    for (std::size_t i = from; i < sections.size(); ++i)
      if (sections[i].kind == kind)
        return i;
    return sections.size();
  };
  parsed_teacher_reply parsed;
  if (const auto feedback = find(section_kind::feedback, 0); feedback < sections.size())
    parsed.feedback = joined(sections[feedback]);

  std::size_t reasoning = sections.size();
  for (std::size_t i = 0; i < sections.size(); ++i)
    if (sections[i].kind == section_kind::reasoning)
      reasoning = i;
  std::size_t answer = find(section_kind::answer, reasoning == sections.size() ? 0 : reasoning);
  if (reasoning < sections.size()) {
    parsed.rationale = joined(sections[reasoning]);
  } else if (task == task_kind::csqa && answer < sections.size()) {
    parsed.rationale = joined(sections[answer]);
    answer = sections.size();
  } else {
    parsed.rationale = joined(sections.front());
  }

  parsed.answer = answer < sections.size() ? answer_from_line(first_line(sections[answer]), task)
                                           : extract_answer(parsed.rationale, task);
  if (task != task_kind::csqa && !parsed.rationale.empty() && !parsed.answer.empty() &&
      parsed.rationale.find(therefore_marker) == std::string::npos) {
    if (std::string_view(".!?").find(parsed.rationale.back()) == std::string_view::npos)
      parsed.rationale += '.';
    parsed.rationale += " " + std::string(therefore_marker) + " " + parsed.answer + ".";
  }
  return parsed;
}

bool is_answer_correct(const parsed_teacher_reply& reply, const example& item) {
  return !reply.rationale.empty() && answer_matches(reply.answer, item.answer) &&
         answer_matches(extract_answer(reply.rationale, item.task), item.answer);
}

std::vector<std::string> kept_rationales(const chat_response& response, const example& item) {
  std::vector<std::string> kept;
  for (const auto& choice : response.choices) {
    auto reply = parse_teacher_reply(choice, item.task);
    if (is_answer_correct(reply, item) && std::find(kept.begin(), kept.end(), reply.rationale) == kept.end())
      kept.push_back(std::move(reply.rationale));
  }
  return kept;
}

std::string fill_template(std::string_view text_template, const template_values& values) {
  std::string filled;
  for (const auto& piece : pieces_of(text_template)) {
    if (!piece.placeholder) {
      filled.append(piece.text);
    } else if (const auto value = values.find(piece.text); value != values.end()) {
      filled.append(value->second);
    } else {
      filled.append("{").append(piece.text).append("}");
    }
  }
  return filled;
}

std::optional<template_values> match_template(std::string_view text_template, std::string_view text) {
  const auto pieces = pieces_of(text_template);
  template_values values;
  std::optional<std::string_view> pending; // a placeholder waiting for the literal that ends its value
  std::size_t at = 0;
  const auto settle = [&](std::size_t end) {
    const auto value = text.substr(at, end - at);
    const auto [slot, fresh] = values.try_emplace(std::string(*pending), value);
    pending.reset();
    return fresh || slot->second == value; // a placeholder used twice must be filled alike
  };
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const auto& piece = pieces[i];
    if (piece.placeholder) {
      if (pending && !settle(at))
        return std::nullopt;
      pending = piece.text;
      continue;
    }
    std::size_t found = std::string_view::npos;
    if (!pending)
      found = text.substr(at).starts_with(piece.text) ? at : std::string_view::npos;
    else if (i + 1 == pieces.size())
      found = text.size() >= at + piece.text.size() && text.ends_with(piece.text)
                  ? text.size() - piece.text.size()
                  : std::string_view::npos;
    else
      found = text.find(piece.text, at);
    if (found == std::string_view::npos || (pending && !settle(found)))
      return std::nullopt;
    at = found + piece.text.size();
  }
  if (pending ? !settle(text.size()) : at != text.size())
    return std::nullopt;
  return values;
}

} // namespace tailor
