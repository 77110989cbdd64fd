// A teacher's rationale as plain sentences on one line: lines joined, chat openers and sign-offs dropped, and
// the task's answer sentence at its end, as in the demos.
#include "io/common/text.hpp"
#include "io/teacher/reply_parts.hpp"

#include <algorithm>
#include <array>

namespace tailor::reply_detail {
namespace {

using std::string_view_literals::operator""sv;

constexpr std::string_view therefore_marker = "Therefore, the answer is";

// Openers of the lines models write before they start ("Sure! Let's solve this step by step.").
constexpr std::array chat_openers = {"sure"sv,          "certainly"sv, "of course"sv,    "okay"sv,
                                     "ok,"sv,           "alright"sv,   "absolutely"sv,   "great question"sv,
                                     "good question"sv, "let's"sv,     "let us"sv,       "let me"sv,
                                     "here's"sv,        "here is"sv,   "i'll"sv,         "i will"sv,
                                     "we'll"sv,         "happy to"sv,  "to solve this"sv};

// Openers of what models write after they are done ("Let me know if you have other questions!").
constexpr std::array sign_offs = {"i hope"sv,        "hope this"sv,          "let me know"sv,
                                  "feel free"sv,     "if you have any"sv,    "if you need"sv,
                                  "happy to help"sv, "please let me know"sv, "good luck"sv,
                                  "glad to help"sv,  "would you like"sv,     "does that help"sv};

template <std::size_t n>
bool starts_with_any(std::string_view text, const std::array<std::string_view, n>& openers) {
  const auto lower = text::to_lower(text);
  return std::any_of(openers.begin(), openers.end(),
                     [&](std::string_view o) { return lower.starts_with(o); });
}

// A line or sentence of chat around the work, without numbers: an opener that introduces ("…:", "…!") or is
// short, or any announcement of steps ("To find …, we follow these steps:").
bool is_chat_opener(std::string_view text) {
  text = text::trim(text);
  if (text.empty() || has_digit(text))
    return false;
  const auto lower = text::to_lower(text);
  if (lower.find("step by step") != std::string::npos || lower.find("step-by-step") != std::string::npos ||
      (text.back() == ':' && lower.find("steps") != std::string::npos))
    return true;
  return starts_with_any(text, chat_openers) &&
         (text.back() == ':' || text.back() == '!' || word_count(text) <= 6);
}

// Spaces made single, and none before closing punctuation or after an opening bracket (what removing
// LaTeX leaves behind: "\( 9 \times 2 = 18 \)." -> " 9 * 2 = 18 .").
std::string tidy_spaces(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const char shown = text::is_space(c) ? ' ' : c;
    if (shown == ' ' && (out.empty() || out.back() == ' ' || out.back() == '('))
      continue;
    if (std::string_view(".,;:!?)").find(shown) != std::string_view::npos && !out.empty() &&
        out.back() == ' ')
      out.pop_back();
    out += shown;
  }
  return std::string(text::trim(out));
}

std::string joined(const std::vector<std::string_view>& sentences) {
  std::string text;
  for (const auto sentence : sentences)
    text.append(text.empty() ? "" : " ").append(sentence);
  return text;
}

} // namespace

std::size_t word_count(std::string_view text) {
  std::size_t words = 0;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (!text::is_space(text[i]) && (i == 0 || text::is_space(text[i - 1])))
      ++words;
  return words;
}

bool has_digit(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return text::is_digit(c); });
}

char closing_char(std::string_view text) {
  while (!text.empty() && (text.back() == '"' || text.back() == '\'' || text.back() == ')'))
    text.remove_suffix(1);
  return text.empty() ? '\0' : text.back();
}

std::vector<std::string_view> sentences_of(std::string_view text) {
  std::vector<std::string_view> sentences;
  std::size_t from = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (std::string_view(".!?").find(text[i]) == std::string_view::npos)
      continue;
    std::size_t end = i + 1;
    while (end < text.size() && (text[end] == '"' || text[end] == ')' || text[end] == '\''))
      ++end;
    if (end < text.size() && text[end] != ' ')
      continue;
    // "A. bakery", "(B). bank": a lone capital before the period is an option's letter, not a sentence.
    const bool lone_capital = text[i] == '.' && i > from && text[i - 1] >= 'A' && text[i - 1] <= 'Z' &&
                              (i - 1 == from || !text::is_alpha(text[i - 2]));
    if (lone_capital)
      continue;
    if (const auto sentence = text::trim(text.substr(from, end - from)); !sentence.empty())
      sentences.push_back(sentence);
    from = end;
    i = end;
  }
  if (const auto rest = text::trim(text.substr(std::min(from, text.size()))); !rest.empty())
    sentences.push_back(rest);
  return sentences;
}

std::string joined_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) {
    const auto part = text::trim(line);
    if (part.empty())
      continue;
    if (!text.empty()) {
      const bool goes_on = (part.front() >= 'a' && part.front() <= 'z') ||
                           std::string_view("=+*/<>").find(part.front()) != std::string_view::npos;
      if (std::string_view(".!?:;,").find(closing_char(text)) == std::string_view::npos && !goes_on)
        text += '.';
      text += ' ';
    }
    text.append(part);
  }
  return tidy_spaces(text);
}

std::vector<std::string> without_chatter(std::vector<std::string> lines) {
  const auto first = std::find_if(lines.begin(), lines.end(), [](const std::string& line) {
    return !text::trim(line).empty() && !is_chat_opener(line);
  });
  lines.erase(lines.begin(), first);
  while (!lines.empty() &&
         (text::trim(lines.back()).empty() || starts_with_any(text::trim(lines.back()), sign_offs)))
    lines.pop_back();
  return lines;
}

std::string with_answer_sentence(std::string_view rationale, std::string_view answer, task_kind task,
                                 const std::vector<answer_choice>& choices) {
  auto sentences = sentences_of(rationale);
  while (!sentences.empty() && is_chat_opener(sentences.front()))
    sentences.erase(sentences.begin());
  while (!sentences.empty() && starts_with_any(sentences.back(), sign_offs))
    sentences.pop_back();

  // CSQA without its choices: the rationale's own "… is <text> (<letter>)." names the choice.
  std::string named_choice;
  std::vector<std::string_view> kept;
  for (const auto sentence : sentences) {
    if (!states_only_answer(sentence, answer, task, choices)) {
      kept.push_back(sentence);
      continue;
    }
    const auto open = sentence.rfind(" (");
    const auto is_at = sentence.find(" is ");
    if (task == task_kind::csqa && is_at != std::string_view::npos && open != std::string_view::npos &&
        open > is_at && sentence.substr(open + 2, 1) == answer)
      named_choice = std::string(text::trim(sentence.substr(is_at + 4, open - is_at - 4)));
  }
  auto body = joined(kept);
  if (word_count(body) < 3)
    return {};
  if (std::string_view(".!?").find(closing_char(body)) == std::string_view::npos)
    body += '.';

  std::string stated(answer);
  if (task == task_kind::csqa) {
    for (const auto& choice : choices)
      if (std::string(1, choice.letter) == answer)
        named_choice = choice.text;
    stated = named_choice.empty() ? "(" + stated + ")" : named_choice + " (" + stated + ")";
  }
  return body + " " + std::string(therefore_marker) + " " + stated + ".";
}

} // namespace tailor::reply_detail
