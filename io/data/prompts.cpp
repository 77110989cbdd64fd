// The student's few-shot prompt and training target, per METHOD.md's "Student prompt and target".
#include "io/data/prompts.hpp"

#include "io/common/text.hpp"

namespace tailor {
namespace {

// Written for this project (no benchmark item among them, so no test question leaks into the prompt). Math
// reasoning uses ASCII operators and ends "Therefore, the answer is N." like the gold rationales the loaders
// build, so that demos, gold rationales and teacher rationales all read alike.
constexpr std::string_view math_demos =
    "Question: A baker makes 24 muffins in the morning and 18 in the afternoon. She sells 30 of them. How "
    "many "
    "muffins are left?\n"
    "Reasoning: The baker makes 24 + 18 = 42 muffins. After selling 30, she has 42 - 30 = 12 muffins left. "
    "Therefore, the answer is 12.\n"
    "Answer: 12\n\n"
    "Question: Tom reads 15 pages a day for 6 days. His book has 120 pages. How many pages does he still "
    "have "
    "to read?\n"
    "Reasoning: In 6 days Tom reads 15 * 6 = 90 pages. He still has 120 - 90 = 30 pages to read. Therefore, "
    "the answer is 30.\n"
    "Answer: 30\n\n"
    "Question: A box of 8 pencils costs $2. How much do 40 pencils cost?\n"
    "Reasoning: 40 pencils fill 40 / 8 = 5 boxes. Five boxes cost 5 * 2 = 10 dollars. Therefore, the answer "
    "is "
    "10.\n"
    "Answer: 10\n\n";

constexpr std::string_view strategyqa_demos =
    "Question: Is a marathon longer than the island of Manhattan?\n"
    "Reasoning: A marathon is 42.195 km long. Manhattan is about 21.6 km long from end to end. 42.195 km is "
    "more than 21.6 km. Therefore, the answer is yes.\n"
    "Answer: Yes\n\n"
    "Question: Did Albert Einstein ever use a smartphone?\n"
    "Reasoning: Albert Einstein died in 1955. The first smartphones appeared in the 1990s, decades after his "
    "death. Therefore, the answer is no.\n"
    "Answer: No\n\n"
    "Question: Is water at 120 degrees Celsius a gas at sea level?\n"
    "Reasoning: At sea level water boils at 100 degrees Celsius. Above its boiling point water is steam, "
    "which "
    "is a gas. Therefore, the answer is yes.\n"
    "Answer: Yes\n\n"
    "Question: Can a penguin fly to the top of Mount Everest?\n"
    "Reasoning: Penguins are birds that cannot fly at all. So a penguin cannot fly anywhere, let alone to a "
    "summit 8,849 meters high. Therefore, the answer is no.\n"
    "Answer: No\n\n";

// CSQA's prefix ends with "\nAnswer: " and its target is the rationale itself, so its demos show exactly
// that: the rationale on the "Answer:" line, ending "Therefore, the answer is <text> (<letter>).".
constexpr std::string_view csqa_demos =
    "Question: Where would you put a plate after washing and drying it?\n"
    "Answer Choices:\n(a) cupboard\n(b) table\n(c) restaurant\n(d) oven\n(e) floor\n"
    "Answer: A clean plate is stored until it is needed again, and plates are stored in a cupboard. "
    "Therefore, "
    "the answer is cupboard (a).\n\n"
    "Question: What do people usually do when they feel very tired?\n"
    "Answer Choices:\n(a) run\n(b) sleep\n(c) shout\n(d) cook\n(e) swim\n"
    "Answer: Tiredness means the body needs rest, and people rest by sleeping. Therefore, the answer is "
    "sleep "
    "(b).\n\n"
    "Question: If you want to buy fresh vegetables, where would you go?\n"
    "Answer Choices:\n(a) library\n(b) garage\n(c) market\n(d) office\n(e) bank\n"
    "Answer: Fresh vegetables are sold by farmers and grocers at a market. Therefore, the answer is market "
    "(c).\n\n"
    "Question: What happens to ice when it is left in the sun?\n"
    "Answer Choices:\n(a) grows\n(b) freezes\n(c) breaks\n(d) melts\n(e) sings\n"
    "Answer: The sun warms the ice above its freezing point, so it turns into water. Therefore, the answer "
    "is "
    "melts (d).\n\n"
    "Question: Where does an airline pilot do her job?\n"
    "Answer Choices:\n(a) hospital\n(b) school\n(c) farm\n(d) kitchen\n(e) airplane\n"
    "Answer: A pilot flies planes, so she works in the cockpit of an airplane. Therefore, the answer is "
    "airplane "
    "(e).\n\n";

// The embedded default trains a tiny model on a CPU, where every prompt token costs: three short problems,
// one step per sentence, in the generator's "a op b = c." form.
constexpr std::string_view arith_demos =
    "Question: Ann has 5 apples. She buys 3 bags of 4 apples. How many apples does she have now?\n"
    "Reasoning: She buys 3 * 4 = 12 apples. She has 5 + 12 = 17. Therefore, the answer is 17.\n"
    "Answer: 17\n\n"
    "Question: Tom has 20 coins. He gives 6 away and puts the rest into 2 equal piles. How many coins are in "
    "each pile?\n"
    "Reasoning: He keeps 20 - 6 = 14. Each pile has 14 / 2 = 7. Therefore, the answer is 7.\n"
    "Answer: 7\n\n"
    "Question: A box holds 9 pens. Mia buys 2 boxes and loses 5 pens. How many pens does she have?\n"
    "Reasoning: She buys 2 * 9 = 18 pens. She has 18 - 5 = 13. Therefore, the answer is 13.\n"
    "Answer: 13\n\n";

// A run of whitespace that holds a line break becomes one space: the target must stay on one line, since
// "\nAnswer" marks the answer and a blank line ends generation.
std::string on_one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (!text::is_space(text[i])) {
      out += text[i++];
      continue;
    }
    std::size_t end = i;
    bool breaks_line = false;
    for (; end < text.size() && text::is_space(text[end]); ++end)
      breaks_line = breaks_line || text[end] == '\n' || text[end] == '\r';
    out.append(breaks_line ? std::string_view(" ") : text.substr(i, end - i));
    i = end;
  }
  return out;
}

} // namespace

std::string_view default_demos(task_kind task) {
  switch (task) {
  case task_kind::strategyqa:
    return strategyqa_demos;
  case task_kind::csqa:
    return csqa_demos;
  case task_kind::arith:
    return arith_demos;
  case task_kind::gsm8k:
  case task_kind::svamp:
  case task_kind::multiarith:
    break;
  }
  return math_demos;
}

std::string student_prefix(task_kind task, std::string_view question, std::string_view demos) {
  const auto shown_demos = demos.empty() ? default_demos(task) : demos == no_demos ? std::string_view{} : demos;
  const std::string_view ending = task == task_kind::csqa ? "\nAnswer: " : "\nReasoning: ";
  std::string prefix;
  prefix.reserve(shown_demos.size() + question.size() + 32);
  prefix.append(shown_demos).append("\nQuestion: ").append(question).append(ending);
  return prefix;
}

std::string student_target(task_kind task, std::string_view reasoning, std::string_view gold) {
  auto body = text::trim(reasoning);
  if (task == task_kind::csqa)
    return on_one_line(body) + " ";
  // A rationale that already carries an answer line (a student's wrong one, or a teacher's) loses it: the
  // grader reads the first "\nAnswer", and only the gold one may follow.
  if (const auto answer_line = body.find("\nAnswer"); answer_line != std::string_view::npos)
    body = text::trim(body.substr(0, answer_line));
  return on_one_line(body) + "\nAnswer: " + std::string(text::trim(gold)) + " ";
}

} // namespace tailor
