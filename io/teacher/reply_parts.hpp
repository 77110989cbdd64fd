// Internal to the teacher-reply reader: markup cleanup, sections and answer reading, shared by the files that
// implement them and by teacher_reply_parsing.cpp, which puts them together.
#pragma once

#include "messages/example.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace tailor::reply_detail {

// ---- markup (reply_cleanup.cpp) ---------------------------------------------------------------------------

// A reply with its LaTeX turned into plain text, line by line: `\frac{3}{4}` -> "3/4", `\times` -> "*",
// `\text{dollars}` -> "dollars", `\$12` -> "$12", `$1,080$` -> "1,080" (a "$" before a number stays: it is
// currency), `\(`, `\[` and lines that only open or close display math or a code fence are gone. Markdown
// stays, since headings and bold markers tell the sections apart. `boxed` holds what `\boxed{…}` held.
struct unlatexed_reply {
  std::string text;
  std::vector<std::string> boxed;
};
unlatexed_reply without_latex(std::string_view reply);

// One line without inline markdown: `**bold**`, `__bold__`, `*italic*`, `` `code` ``, `[text](link)`.
// A "*" between spaces or digits is a multiplication and stays.
std::string without_markdown(std::string_view line);

// ---- sections (reply_sections.cpp) ------------------------------------------------------------------------

// `aside`: text to leave out ("Note:", "Check:", an echo of "Student's reasoning:").
enum class section_kind { unmarked, feedback, reasoning, answer, question, aside };

struct reply_line {
  std::string text;    // plain text, list decoration gone; empty for a blank line
  std::string content; // `text` without a leading "Step 2:", for a rationale
};

struct section {
  section_kind kind = section_kind::unmarked;
  std::vector<reply_line> lines;
};

// The reply's sections, opened by marker lines ("Reasoning:", "**Final Answer**", "### Feedback", "Here is
// the corrected reasoning:") or by a marker right after a sentence ("… = 18. Answer: 18"). The first section
// is the unmarked text before any marker. A feedback, answer, question or aside section ends at a blank
// line after its first text: what follows is unmarked. Headings that are only titles ("## Step 1: Find the
// eggs left"), rules and fences are gone; a table row is its cells ("Eiffel Tower: 330 m").
std::vector<section> sections_of(std::string_view unlatexed);
bool has_text(const section& part); // a line that is not blank

// ---- answers (reply_answers.cpp) --------------------------------------------------------------------------

// CSQA's choices, read from the question's "(a) text" lines.
struct answer_choice {
  char letter = 'a';
  std::string text;
};
std::vector<answer_choice> choices_of(std::string_view question);

// An answer read from some text: the task's normalized answer ("18", "no", "b"), empty when the text gives
// none; `conflicting` when it gives two ("18 or 20", "(a) or (b)", "Yes or No").
struct answer_reading {
  std::string answer;
  bool conflicting = false;
};

// Folds `reading` into `into`: the answer they share, conflicting when they differ; a reading that gives
// nothing changes nothing.
void fold(answer_reading& into, const answer_reading& reading);

// The answer an answer line gives ("$18 per day", "**No.**", "B) bank", "bank", "The answer is B.").
answer_reading answer_on_line(std::string_view line, task_kind task,
                              const std::vector<answer_choice>& choices);

// Whether an answer line is rather a rationale (the form of CSQA's demos): two sentences or more, the first
// of which does not just give the answer.
bool is_reasoning_line(std::string_view line, task_kind task, const std::vector<answer_choice>& choices);

// What a one-line rationale concludes. `stated` is what its explicit statements say ("the answer is 18",
// `\boxed{18}` when `boxed` holds it, "So, no, …"); `fallback` is what it gives without one (numbers: the
// last number when it ends its last sentence properly; CSQA: the choice named by a closing "So …" sentence).
struct rationale_conclusion {
  answer_reading stated;
  std::string fallback;
  // Numbers: every number of the last sentence that holds one, for checking an answer line against it.
  std::vector<std::string> last_numbers;
};
rationale_conclusion conclusion_of(std::string_view rationale, task_kind task,
                                   const std::vector<answer_choice>& choices,
                                   const std::vector<std::string>& boxed);

// Whether a sentence of a rationale only states its answer: "The answer is B.", "So, no.", "$18.", not
// "The answer is bakery because bread is baked there."
bool states_only_answer(std::string_view sentence, std::string_view answer, task_kind task,
                        const std::vector<answer_choice>& choices);

// ---- rationale text (reply_text.cpp) ----------------------------------------------------------------------

// A one-line text split after ".", "!" or "?" and a space, not after a lone capital ("A. bakery") nor inside
// a number; joining the pieces with single spaces gives the text back.
std::vector<std::string_view> sentences_of(std::string_view text);

// Joins non-blank lines on one line, ending a line that lacks closing punctuation with "." unless the next
// one goes on in lowercase, with runs of spaces made one.
std::string joined_lines(const std::vector<std::string>& lines);

// The last character of a text that counts as its punctuation: closing quotes and brackets do not.
char closing_char(std::string_view text);
std::size_t word_count(std::string_view text);
bool has_digit(std::string_view text);

// The rationale as the student learns it: chat openers and sign-offs dropped, sentences that only state the
// answer dropped ("The answer is B.", "So, no."), and the task's answer sentence appended ("Therefore, the
// answer is 18." / "… is bakery (a)."). Empty when nothing but the answer is left.
std::string with_answer_sentence(std::string_view rationale, std::string_view answer, task_kind task,
                                 const std::vector<answer_choice>& choices);

// Drops chat openers ("Sure! Let's solve this step by step.") from the front of a rationale's lines and
// sign-offs ("Let me know if …") from its end.
std::vector<std::string> without_chatter(std::vector<std::string> lines);

} // namespace tailor::reply_detail
