// The reader of teacher replies: their "Feedback:", "Reasoning:" and "Answer:" sections, and which replies
// are answer-correct.
#include "io/common/text.hpp"
#include "io/data/answer_extraction.hpp"
#include "io/teacher/teacher_prompts.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tailor {
namespace {

constexpr std::string_view therefore_marker = "Therefore, the answer is";

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

} // namespace tailor
