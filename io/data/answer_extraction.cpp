// The grader: reads the final answer out of a generated rationale, per METHOD.md's "Evaluation".
#include "io/data/answer_extraction.hpp"

#include "io/common/text.hpp"

#include <optional>
#include <vector>

namespace tailor {
namespace {

constexpr std::string_view answer_marker = "\nAnswer";
constexpr std::string_view therefore_marker = "Therefore, the answer is";

// Generation stops at a blank line, and whatever a model writes after one is a new, unasked question.
std::string_view before_blank_line(std::string_view text) {
  for (std::size_t newline = text.find('\n'); newline != std::string_view::npos;
       newline = text.find('\n', newline + 1)) {
    std::size_t next = newline + 1;
    while (next < text.size() && (text[next] == ' ' || text[next] == '\t' || text[next] == '\r'))
      ++next;
    if (next < text.size() && text[next] == '\n')
      return text.substr(0, newline);
  }
  return text;
}

std::optional<std::string_view> after(std::string_view text, std::string_view marker) {
  if (const auto at = text.find(marker); at != std::string_view::npos)
    return text.substr(at + marker.size());
  return std::nullopt;
}

std::optional<std::string_view> after_either_marker(std::string_view text) {
  if (auto rest = after(text, answer_marker))
    return rest;
  return after(text, therefore_marker);
}

} // namespace

std::vector<std::string> numbers_in(std::string_view text) {
  std::vector<std::string> numbers;
  const auto digit_at = [&](std::size_t i) { return i < text.size() && text::is_digit(text[i]); };
  const auto word_before = [&](std::size_t i) {
    return i > 0 && (text::is_alnum(text[i - 1]) || text[i - 1] == '.');
  };
  std::size_t i = 0;
  while (i < text.size()) {
    std::string number;
    std::size_t j = i;
    if (text[j] == '-' && !word_before(j) &&
        (digit_at(j + 1) || (text.substr(j + 1, 1) == "." && digit_at(j + 2)))) {
      number += '-';
      ++j;
    }
    if (text[j] == '.' && digit_at(j + 1) && (j > i || !word_before(j))) {
      number += '0'; // ".5" is 0.5
    } else if (!digit_at(j)) {
      ++i;
      continue;
    }
    while (digit_at(j))
      number += text[j++];
    while (j < text.size() && text[j] == ',' && digit_at(j + 1) && digit_at(j + 2) && digit_at(j + 3) &&
           !digit_at(j + 4)) {
      number.append(text.substr(j + 1, 3));
      j += 4;
    }
    if (j < text.size() && text[j] == '.' && digit_at(j + 1)) {
      number += '.';
      for (++j; digit_at(j); ++j)
        number += text[j];
    }
    numbers.push_back(normalize_number(number));
    i = j;
  }
  return numbers;
}

std::vector<std::string> yes_no_words_in(std::string_view text) {
  std::vector<std::string> words;
  for (std::size_t i = 0; i < text.size();) {
    if (!text::is_alnum(text[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && text::is_alnum(text[end]))
      ++end;
    if (const auto word = text::to_lower(text.substr(i, end - i)); word == "yes" || word == "no")
      words.push_back(word);
    i = end;
  }
  return words;
}

namespace {

std::vector<std::string> choice_letters_in(std::string_view text) {
  std::vector<std::string> letters;
  for (std::size_t i = 0; i + 2 < text.size(); ++i) {
    const char letter = text::to_lower(text[i + 1]);
    if (text[i] == '(' && text[i + 2] == ')' && letter >= 'a' && letter <= 'e')
      letters.emplace_back(1, letter);
  }
  return letters;
}

// The rule every task shares: after the marker the first candidate counts, without one the last.
std::string pick(std::string_view text, std::optional<std::string_view> after_marker,
                 std::vector<std::string> (*candidates_in)(std::string_view)) {
  if (after_marker) {
    auto found = candidates_in(*after_marker);
    return found.empty() ? std::string() : std::move(found.front());
  }
  auto found = candidates_in(text);
  return found.empty() ? std::string() : std::move(found.back());
}

} // namespace

std::string extract_answer(std::string_view generated, task_kind task) {
  const auto text = before_blank_line(generated);
  switch (task) {
  case task_kind::strategyqa:
    return pick(text, after(text, answer_marker), yes_no_words_in);
  case task_kind::csqa:
    return pick(text, after_either_marker(text), choice_letters_in);
  case task_kind::gsm8k:
  case task_kind::svamp:
  case task_kind::multiarith:
  case task_kind::arith:
    break;
  }
  return pick(text, after_either_marker(text), numbers_in);
}

std::string normalize_number(std::string_view text) {
  const auto trimmed = text::trim(text);
  std::string digits;
  std::size_t i = 0;
  const bool negative = !trimmed.empty() && trimmed[0] == '-';
  if (negative)
    ++i;
  bool seen_point = false;
  bool seen_digit = false;
  for (; i < trimmed.size(); ++i) {
    const char c = trimmed[i];
    if (text::is_digit(c)) {
      digits += c;
      seen_digit = true;
    } else if (c == ',' && !seen_point && seen_digit) {
      continue;
    } else if (c == '.' && !seen_point) {
      digits += c;
      seen_point = true;
    } else {
      return std::string(trimmed);
    }
  }
  if (!seen_digit)
    return std::string(trimmed);
  if (seen_point) {
    while (digits.back() == '0')
      digits.pop_back();
    if (digits.back() == '.')
      digits.pop_back();
    if (digits.front() == '.')
      digits = "0" + digits;
  }
  if (negative && digits.find_first_not_of("0.") != std::string::npos)
    digits = "-" + digits;
  return digits;
}

bool answer_matches(std::string_view predicted, std::string_view gold) {
  const auto prediction = normalize_number(predicted);
  if (prediction.empty())
    return false;
  return text::to_lower(prediction) == text::to_lower(normalize_number(gold));
}

} // namespace tailor
