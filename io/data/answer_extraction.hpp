// Answer extraction and grading of generated rationales, exactly as METHOD.md's "Evaluation" states.
#pragma once

#include "messages/example.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace tailor {

// The final answer a generated text gives, normalized for comparison with a gold answer; empty when the text
// gives none. The text is cut at its first blank line; then
// - number tasks (gsm8k, svamp, multiarith, arith): the first number after "\nAnswer" (looked for first) or
//   "Therefore, the answer is", else the last number in the text, passed through normalize_number;
// - strategyqa: the first whole-word yes/no (any case) after "\nAnswer", else the last one: "yes" or "no";
// - csqa: the letter of the first "(x)" (a-e, any case) after either marker, else of the last one: "a".."e".
// When a marker is present only the text after it counts, so an answer line with no answer gives "".
std::string extract_answer(std::string_view generated, task_kind task);

// The candidates extract_answer picks from, in the order the text gives them.
// The numbers, normalized. A "-" is a sign only where it cannot be a minus ("5-3" holds 5 and 3, "= -3" holds
// -3); a comma joins digit groups only before exactly three digits ("1,000" is one number, "3,4" two); a "."
// followed by digits is a decimal point, any other "." ends a sentence.
std::vector<std::string> numbers_in(std::string_view text);
// The whole words "yes" and "no" (any case), lowercase.
std::vector<std::string> yes_no_words_in(std::string_view text);

// A decimal number as the grader compares it: commas removed, trailing zeros of the fraction and a fraction
// left empty dropped ("1,000" -> "1000", "18.00" -> "18", "2.50" -> "2.5", "-0" -> "0"), so that numbers
// equal in value compare equal as strings. Text that is not such a number comes back trimmed but otherwise
// unchanged.
std::string normalize_number(std::string_view text);

// True when `predicted` (from extract_answer) equals `gold` as lowercase strings, after trimming both and
// passing both through normalize_number (so a gold "1,000" matches "1000"). An empty prediction never
// matches.
bool answer_matches(std::string_view predicted, std::string_view gold);

} // namespace tailor
