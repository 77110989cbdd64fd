// The answer a teacher reply gives, read the ways models state it: on an answer line ("$18 per day",
// "**No.**", "B) bank", "bank"), in a rationale's statements ("the answer is 18", "So, no, …"), and whether
// two of them disagree.
#include "io/common/text.hpp"
#include "io/data/answer_extraction.hpp"
#include "io/teacher/reply_parts.hpp"

#include <algorithm>
#include <array>

namespace tailor::reply_detail {
namespace {

using std::string_view_literals::operator""sv;

// Words that open a concluding sentence ("So, no, …", "Therefore, the best place is a bakery.").
constexpr std::array connectors = {"therefore"sv, "thus"sv,          "hence"sv,      "so"sv,
                                   "overall"sv,   "in conclusion"sv, "in summary"sv, "in short"sv,
                                   "finally"sv,   "this means"sv,    "that means"sv, "consequently"sv,
                                   "clearly"sv,   "ultimately"sv};

// Who else's answer a sentence may state: the student's is not the teacher's.
constexpr std::array other_owners = {"student's"sv, "student"sv, "their"sv, "your"sv, "his"sv, "her"sv};

// Words after a stated answer that make the sentence a reason, not only the answer.
constexpr std::array reason_words = {"because"sv, "since"sv, "as"sv, "which"sv, "due"sv, "given"sv};

bool is_word_at(std::string_view text, std::size_t at, std::size_t length) {
  return (at == 0 || !text::is_alnum(text[at - 1])) &&
         (at + length >= text.size() || !text::is_alnum(text[at + length]));
}

// Where `word` stands as a whole word in `text` from `from` on ("no" in "I know, no." is at 8, not 3).
std::size_t word_in(std::string_view text, std::string_view word, std::size_t from) {
  for (auto at = text.find(word, from); at != std::string_view::npos; at = text.find(word, at + 1))
    if (is_word_at(text, at, word.size()))
      return at;
  return text.size();
}

std::string_view trimmed_of(std::string_view text, std::string_view junk) {
  while (!text.empty() && (text::is_space(text.front()) || junk.find(text.front()) != std::string_view::npos))
    text.remove_prefix(1);
  return text::trim(text);
}

// A sentence without the connector it opens with: "So, no, it cannot." -> "no, it cannot.".
std::string_view without_connector(std::string_view sentence) {
  sentence = trimmed_of(sentence, "\"'");
  const auto lower = text::to_lower(sentence);
  for (const auto connector : connectors)
    if (lower.starts_with(connector) && is_word_at(lower, 0, connector.size()))
      return trimmed_of(sentence.substr(connector.size()), ",");
  return sentence;
}

std::string_view last_word_before(std::string_view text, std::size_t at) {
  auto before = text::trim(text.substr(0, at));
  const auto space = before.find_last_of(' ');
  return space == std::string_view::npos ? before : before.substr(space + 1);
}

struct answer_phrase {
  std::string_view before; // the sentence up to the phrase
  std::string_view stated; // the sentence after it
};

// "the answer is X", "the correct answer would be X", "Answer: X" (CSQA also "the best choice is X") in
// each sentence, unless it is the student's answer or "is not X".
std::vector<answer_phrase> answer_phrases(std::string_view text, task_kind task) {
  static constexpr std::array phrases = {"answer is"sv, "answer would be"sv, "answer:"sv,
                                         "answer ="sv,  "choice is"sv,       "option is"sv};
  std::vector<answer_phrase> found;
  for (const auto sentence : sentences_of(text)) {
    const auto lower = text::to_lower(sentence);
    for (const auto phrase : phrases) {
      if (task != task_kind::csqa && !phrase.starts_with("answer"))
        continue;
      for (auto at = lower.find(phrase); at != std::string::npos; at = lower.find(phrase, at + 1)) {
        if (!is_word_at(lower, at,
                        phrase.back() == ':' || phrase.back() == '=' ? phrase.size() - 1 : phrase.size()))
          continue;
        const auto owner = text::to_lower(last_word_before(sentence, at));
        if (std::find(other_owners.begin(), other_owners.end(), owner) != other_owners.end())
          continue;
        const auto stated = trimmed_of(sentence.substr(at + phrase.size()), ":");
        if (text::to_lower(stated).starts_with("not "))
          continue;
        found.push_back({sentence.substr(0, at), stated});
      }
    }
  }
  return found;
}

// "18-20", "$18 to $20": a range, two answers.
bool opens_with_range(std::string_view span) {
  auto at = span.find_first_of("0123456789");
  if (at == std::string_view::npos)
    return false;
  while (at < span.size() && (text::is_digit(span[at]) || span[at] == ',' || span[at] == '.'))
    ++at;
  const auto rest = trimmed_of(span.substr(at), "");
  for (const auto dash : {"-"sv, "\xE2\x80\x93"sv, "to "sv})
    if (rest.starts_with(dash)) {
      const auto other = trimmed_of(rest.substr(dash.size()), "$");
      return !other.empty() && text::is_digit(other.front());
    }
  return false;
}

answer_reading number_in(std::string_view span) {
  if (const auto equals = span.rfind('='); equals != std::string_view::npos)
    span = span.substr(equals + 1);
  const auto numbers = numbers_in(span);
  if (numbers.empty())
    return {};
  answer_reading reading{numbers.front(), opens_with_range(span)};
  if (const auto alternative = text::to_lower(span).find(" or "); alternative != std::string::npos)
    for (const auto& other : numbers_in(span.substr(alternative)))
      reading.conflicting = reading.conflicting || other != reading.answer;
  return reading;
}

answer_reading yes_no_in(std::string_view span) {
  const auto words = yes_no_words_in(span);
  if (words.empty())
    return {};
  // "Yes or No", "yes/no": the template's words, not an answer.
  const auto lower = text::to_lower(span);
  const auto first_end = word_in(lower, words.front(), 0) + words.front().size();
  bool both = false;
  if (words.size() > 1 && words[1] != words.front()) {
    const auto between = text::trim(
        std::string_view(lower).substr(first_end, word_in(lower, words[1], first_end) - first_end));
    both = between.empty() || between == "or" || between == "/";
  }
  return {words.front(), both};
}

const answer_choice* choice_lettered(char letter, const std::vector<answer_choice>& choices) {
  for (const auto& choice : choices)
    if (choice.letter == letter)
      return &choice;
  return nullptr;
}

// A choice named by its letter or text: "(b)", "B) bank", "B.", "**B**", "Option B", "bank" (the text only
// when `by_text`).
answer_reading choice_in(std::string_view span, const std::vector<answer_choice>& choices,
                         bool by_text = true) {
  const auto lower = text::to_lower(span);
  std::string letters;
  for (std::size_t i = 0; i + 2 < lower.size(); ++i)
    if (lower[i] == '(' && lower[i + 2] == ')' && lower[i + 1] >= 'a' && lower[i + 1] <= 'e' &&
        letters.find(lower[i + 1]) == std::string::npos)
      letters += lower[i + 1];
  if (!letters.empty())
    return {std::string(1, letters.front()), letters.size() > 1};

  auto bare = trimmed_of(span, "\"'[");
  for (const auto word : {"option"sv, "choice"sv})
    if (text::to_lower(bare).starts_with(word))
      bare = trimmed_of(bare.substr(word.size()), ":");
  if (!bare.empty()) {
    const char letter = text::to_lower(bare.front());
    const auto after = bare.substr(1);
    const auto* named = choice_lettered(letter, choices);
    const auto rest = trimmed_of(after, "");
    const bool stands_alone =
        after.empty() || std::string_view(").]:,;").find(after.front()) != std::string_view::npos ||
        (after.front() == ' ' && (rest.starts_with("-") || rest.starts_with("\xE2\x80")));
    const bool names_its_text = after.starts_with(" ") && named != nullptr && !named->text.empty() &&
                                text::to_lower(rest).starts_with(text::to_lower(named->text));
    if (letter >= 'a' && letter <= 'e' && (stands_alone || names_its_text))
      return {std::string(1, letter), false};
  }
  for (const auto word : {"option "sv, "choice "sv})
    if (const auto at = lower.find(word); at != std::string::npos && at + word.size() < lower.size()) {
      const char letter = lower[at + word.size()];
      if (letter >= 'a' && letter <= 'e' && is_word_at(lower, at + word.size(), 1))
        return {std::string(1, letter), false};
    }

  if (!by_text)
    return {};
  // The choice's text, the longest that the span names as whole words.
  std::vector<const answer_choice*> named;
  for (const auto& choice : choices) {
    const auto text_lower = text::to_lower(choice.text);
    for (auto at = lower.find(text_lower); !text_lower.empty() && at != std::string::npos;
         at = lower.find(text_lower, at + 1))
      if (is_word_at(lower, at, text_lower.size())) {
        named.push_back(&choice);
        break;
      }
  }
  std::erase_if(named, [&](const answer_choice* shorter) {
    return std::any_of(named.begin(), named.end(), [&](const answer_choice* longer) {
      return longer != shorter && longer->text.size() > shorter->text.size() &&
             text::to_lower(longer->text).find(text::to_lower(shorter->text)) != std::string::npos;
    });
  });
  if (named.empty())
    return {};
  return {std::string(1, named.front()->letter), named.size() > 1};
}

answer_reading reading_of(std::string_view span, task_kind task, const std::vector<answer_choice>& choices) {
  switch (task) {
  case task_kind::strategyqa:
    return yes_no_in(span);
  case task_kind::csqa:
    return choice_in(span, choices);
  case task_kind::gsm8k:
  case task_kind::svamp:
  case task_kind::multiarith:
  case task_kind::arith:
    break;
  }
  return number_in(span);
}

bool opens_with_connector(std::string_view sentence) {
  const auto lower = text::to_lower(trimmed_of(sentence, "\"'"));
  return std::any_of(connectors.begin(), connectors.end(), [&](std::string_view connector) {
    return lower.starts_with(connector) && is_word_at(lower, 0, connector.size());
  });
}

// "No, it cannot." or "Yes." opening a sentence: a stated yes/no ("No penguin can fly." is not one).
answer_reading opening_yes_no(std::string_view sentence) {
  const auto rest = without_connector(sentence);
  const auto lower = text::to_lower(rest);
  for (const auto word : {"yes"sv, "no"sv}) {
    if (!lower.starts_with(word))
      continue;
    const auto after = std::string_view(lower).substr(word.size());
    if (after.empty() || std::string_view(",.!;:").find(after.front()) != std::string_view::npos ||
        after.starts_with(" -") || after.starts_with(" \xE2\x80"))
      return {std::string(word), false};
  }
  return {};
}

} // namespace

void fold(answer_reading& into, const answer_reading& reading) {
  if (reading.answer.empty() && !reading.conflicting)
    return;
  into.conflicting =
      into.conflicting || reading.conflicting || (!into.answer.empty() && into.answer != reading.answer);
  if (into.answer.empty())
    into.answer = reading.answer;
}

std::vector<answer_choice> choices_of(std::string_view question) {
  std::vector<answer_choice> choices;
  for (std::size_t from = 0; from < question.size();) {
    const auto newline = std::min(question.find('\n', from), question.size());
    const auto line = text::trim(question.substr(from, newline - from));
    if (line.size() > 3 && line[0] == '(' && line[2] == ')') {
      const char letter = text::to_lower(line[1]);
      if (letter >= 'a' && letter <= 'e')
        choices.push_back({letter, std::string(text::trim(line.substr(3)))});
    }
    from = newline + 1;
  }
  return choices;
}

answer_reading answer_on_line(std::string_view line, task_kind task,
                              const std::vector<answer_choice>& choices) {
  const auto sentences = sentences_of(line);
  if (sentences.empty())
    return {};
  const auto first = sentences.front();
  const auto phrases = answer_phrases(first, task);
  return reading_of(phrases.empty() ? first : phrases.front().stated, task, choices);
}

bool is_reasoning_line(std::string_view line, task_kind task, const std::vector<answer_choice>& choices) {
  const auto sentences = sentences_of(line);
  return sentences.size() >= 2 && word_count(line) >= 8 &&
         !(word_count(sentences.front()) <= 3 &&
           !answer_on_line(sentences.front(), task, choices).answer.empty());
}

bool states_only_answer(std::string_view sentence, std::string_view answer, task_kind task,
                        const std::vector<answer_choice>& choices) {
  const auto rest = without_connector(sentence);
  if (word_count(rest) <= 3 && answer_on_line(rest, task, choices).answer == answer)
    return true;
  const auto phrases = answer_phrases(sentence, task);
  if (phrases.size() != 1)
    return false;
  const auto& phrase = phrases.front();
  const auto before = without_connector(phrase.before);
  const auto stated_lower = text::to_lower(phrase.stated);
  const bool gives_reason = std::any_of(reason_words.begin(), reason_words.end(), [&](std::string_view word) {
    return word_in(stated_lower, word, 0) < stated_lower.size();
  });
  return word_count(before) <= 4 && !has_digit(before) && word_count(phrase.stated) <= 8 && !gives_reason &&
         reading_of(phrase.stated, task, choices).answer == answer;
}

rationale_conclusion conclusion_of(std::string_view rationale, task_kind task,
                                   const std::vector<answer_choice>& choices,
                                   const std::vector<std::string>& boxed) {
  rationale_conclusion conclusion;
  for (const auto& phrase : answer_phrases(rationale, task))
    fold(conclusion.stated, reading_of(phrase.stated, task, choices));
  for (const auto& value : boxed)
    fold(conclusion.stated, reading_of(value, task, choices));
  const auto sentences = sentences_of(rationale);
  if (task == task_kind::strategyqa)
    for (const auto sentence : sentences)
      fold(conclusion.stated, opening_yes_no(sentence));

  if (task == task_kind::csqa) {
    for (auto sentence = sentences.rbegin(); sentence != sentences.rend(); ++sentence)
      if (opens_with_connector(*sentence)) {
        if (const auto reading = choice_in(*sentence, choices); !reading.conflicting)
          conclusion.fallback = reading.answer;
        break;
      }
    // A closing "**B) bank**" on its own: the choice by its letter.
    if (conclusion.fallback.empty() && !sentences.empty() && word_count(sentences.back()) <= 4)
      if (const auto reading = choice_in(sentences.back(), choices, false); !reading.conflicting)
        conclusion.fallback = reading.answer;
  } else if (task != task_kind::strategyqa) {
    for (auto sentence = sentences.rbegin(); sentence != sentences.rend(); ++sentence)
      if (auto numbers = numbers_in(*sentence); !numbers.empty()) {
        conclusion.last_numbers = std::move(numbers);
        break;
      }
    // A rationale that stops mid-sentence was cut off: its last number need not be its answer.
    if (!conclusion.last_numbers.empty() &&
        std::string_view(".!?").find(closing_char(rationale)) != std::string_view::npos)
      conclusion.fallback = numbers_in(rationale).back();
  }
  return conclusion;
}

} // namespace tailor::reply_detail
