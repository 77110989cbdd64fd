// The built-in arith teacher: worded rationales from exact steps, and feedback on the student's first
// mistake.
#include "io/builtin_teacher.hpp"

#include "io/answer_extraction.hpp"
#include "io/jsonl.hpp"
#include "io/text.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <optional>
#include <string>
#include <unordered_set>

namespace tailor {
namespace {

constexpr std::string_view builtin_model = "tailor-builtin";
constexpr int most_samples = 128; // OpenAI's own limit on n

std::string number(std::int64_t value) {
  return std::to_string(value);
}

std::string equation(const arith_step& step) {
  return number(step.lhs) + " " + step.op + " " + number(step.rhs) + " = " + number(step.value);
}

std::string worded_step(const arith_step& step, int style) {
  const auto a = number(step.lhs);
  const auto b = number(step.rhs);
  const auto c = number(step.value);
  switch (style) {
  case 0:
    if (!step.text.empty())
      return step.text;
    [[fallthrough]];
  case 1:
    return equation(step) + ".";
  case 2:
    switch (step.op) {
    case '+':
      return "Add " + b + " to " + a + " to get " + c + ".";
    case '-':
      return "Subtract " + b + " from " + a + " to get " + c + ".";
    case '*':
      return "Multiply " + a + " by " + b + " to get " + c + ".";
    default:
      return "Divide " + a + " by " + b + " to get " + c + ".";
    }
  default: {
    const std::string_view spoken = step.op == '+'   ? " plus "
                                    : step.op == '-' ? " minus "
                                    : step.op == '*' ? " times "
                                                     : " divided by ";
    return a + std::string(spoken) + b + " is " + c + ".";
  }
  }
}

std::uint64_t mixed(std::string_view question, std::uint64_t salt) {
  std::uint64_t hash = 0xcbf29ce484222325ULL ^ (salt * 0x9e3779b97f4a7c15ULL);
  for (const char c : question)
    hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  hash ^= hash >> 31;
  return hash * 0xbf58476d1ce4e5b9ULL >> 29;
}

int style_of(const arith_problem& problem, int sample, std::size_t step) {
  if (sample < 4)
    return std::max(sample, 0);
  return static_cast<int>(mixed(problem.question, static_cast<std::uint64_t>(sample) * 64 + step) % 4);
}

std::string steps_from(const arith_problem& problem, std::size_t first, int sample) {
  std::string worded;
  for (std::size_t i = first; i < problem.steps.size(); ++i)
    worded.append(worded.empty() ? "" : " ")
        .append(worded_step(problem.steps[i], style_of(problem, sample, i)));
  return worded;
}

// ---- reading a student's equations ------------------------------------------------------------------------

struct token {
  enum class kind { number, word, symbol } type = kind::symbol;
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string text; // a word in lowercase, a symbol as one ASCII character
  double value = 0;
};

std::vector<token> tokens_of(std::string_view text) {
  std::vector<token> tokens;
  const auto digit_at = [&](std::size_t i) { return i < text.size() && text::is_digit(text[i]); };
  for (std::size_t i = 0; i < text.size();) {
    std::size_t j = i;
    if (digit_at(i)) {
      std::string digits;
      while (digit_at(j))
        digits += text[j++];
      while (j < text.size() && text[j] == ',' && digit_at(j + 1) && digit_at(j + 2) && digit_at(j + 3) &&
             !digit_at(j + 4)) {
        digits.append(text.substr(j + 1, 3));
        j += 4;
      }
      if (j < text.size() && text[j] == '.' && digit_at(j + 1))
        for (digits += text[j++]; digit_at(j);)
          digits += text[j++];
      tokens.push_back({token::kind::number, i, j, digits, std::strtod(digits.c_str(), nullptr)});
    } else if (text::is_alpha(text[i])) {
      while (j < text.size() && text::is_alpha(text[j]))
        ++j;
      tokens.push_back({token::kind::word, i, j, text::to_lower(text.substr(i, j - i))});
    } else if (text::is_space(text[i])) {
      j = i + 1;
    } else {
      // The multiplication, division and minus signs of Unicode read as their ASCII operators.
      static constexpr std::array<std::pair<std::string_view, char>, 3> signs = {
          {{"\xC3\x97", '*'}, {"\xC3\xB7", '/'}, {"\xE2\x88\x92", '-'}}};
      char symbol = text[i];
      j = i + 1;
      for (const auto& [sign, ascii] : signs)
        if (text.substr(i).starts_with(sign)) {
          symbol = ascii;
          j = i + sign.size();
        }
      tokens.push_back({token::kind::symbol, i, j, std::string(1, symbol)});
    }
    i = j;
  }
  return tokens;
}

struct number_span {
  double value = 0;
  std::size_t begin = 0;
  std::size_t end = 0;
};

struct stated_equation {
  char op = '+';
  number_span lhs, rhs, value;
  std::size_t begin = 0; // bytes of the whole statement in the student's text
  std::size_t end = 0;
};

// "a op b = c", "a times b is c", "Multiply a by b to get c", "Subtract b from a to get c", ...
class equation_reader {
public:
  explicit equation_reader(std::string_view text) : tokens_(tokens_of(text)) {}

  std::vector<stated_equation> read() {
    std::vector<stated_equation> found;
    for (std::size_t k = 0; k < tokens_.size();) {
      std::size_t at = k;
      auto statement = infix(at);
      if (!statement) {
        at = k;
        statement = imperative(at);
      }
      if (!statement) {
        ++k;
        continue;
      }
      found.push_back(*statement);
      // "3 * 4 = 12 + 5 = 17" chains: the result may open the next equation.
      k = at - 1 > k ? at - 1 : at;
    }
    return found;
  }

private:
  bool word(std::size_t k, std::string_view w) const {
    return k < tokens_.size() && tokens_[k].type == token::kind::word && tokens_[k].text == w;
  }
  bool symbol(std::size_t k, char s) const {
    return k < tokens_.size() && tokens_[k].type == token::kind::symbol && tokens_[k].text[0] == s;
  }
  bool any_word(std::size_t k, std::initializer_list<std::string_view> words) const {
    return std::any_of(words.begin(), words.end(), [&](std::string_view w) { return word(k, w); });
  }

  std::optional<number_span> operand(std::size_t& k) const {
    if (k >= tokens_.size() || tokens_[k].type != token::kind::number)
      return std::nullopt;
    const token& t = tokens_[k++];
    return number_span{t.value, t.begin, t.end};
  }

  std::optional<number_span> result(std::size_t& k) const {
    const bool negative = symbol(k, '-');
    std::size_t at = negative ? k + 1 : k;
    auto value = operand(at);
    if (!value)
      return std::nullopt;
    if (negative)
      *value = {-value->value, tokens_[k].begin, value->end};
    k = at;
    return value;
  }

  std::optional<char> infix_operator(std::size_t& k) const {
    if (k < tokens_.size() && tokens_[k].type == token::kind::symbol &&
        std::string_view("+-*/").find(tokens_[k].text[0]) != std::string_view::npos)
      return tokens_[k++].text[0];
    static constexpr std::array<std::pair<std::string_view, char>, 4> words = {
        {{"x", '*'}, {"plus", '+'}, {"minus", '-'}, {"times", '*'}}};
    for (const auto& [name, op] : words)
      if (word(k, name)) {
        ++k;
        return op;
      }
    if ((word(k, "divided") || word(k, "multiplied")) && word(k + 1, "by")) {
      k += 2;
      return word(k - 2, "divided") ? '/' : '*';
    }
    return std::nullopt;
  }

  bool equals(std::size_t& k) const {
    if (symbol(k, '=') ||
        any_word(k, {"is", "equals", "makes", "gives", "giving", "leaves", "get", "gets"})) {
      ++k;
      return true;
    }
    if (any_word(k, {"to", "and", "we", "you"}) && any_word(k + 1, {"get", "make", "find", "have"})) {
      k += 2;
      return true;
    }
    return false;
  }

  std::optional<stated_equation> infix(std::size_t& k) const {
    const std::size_t begin = k;
    auto lhs = operand(k);
    if (!lhs)
      return std::nullopt;
    const auto op = infix_operator(k);
    if (!op)
      return std::nullopt;
    auto rhs = operand(k);
    if (!rhs || !(symbol(k, '=') || any_word(k, {"is", "equals", "makes", "gives"})))
      return std::nullopt;
    ++k;
    auto value = result(k);
    if (!value)
      return std::nullopt;
    return stated_equation{*op, *lhs, *rhs, *value, tokens_[begin].begin, value->end};
  }

  // A verb, two numbers joined by a preposition, a connective, the result.
  std::optional<stated_equation> imperative(std::size_t& k) const {
    const std::size_t begin = k;
    char op = 0;
    if (any_word(k, {"multiply", "multiplying"}))
      op = '*';
    else if (any_word(k, {"add", "adding"}))
      op = '+';
    else if (any_word(k, {"subtract", "subtracting", "take", "taking"}))
      op = '-';
    else if (any_word(k, {"divide", "dividing"}))
      op = '/';
    if (op == 0)
      return std::nullopt;
    ++k;
    auto first = operand(k);
    if (!first)
      return std::nullopt;
    // "Add 3 to 5" and "Subtract 3 from 5" name the running total second.
    const bool total_second = (op == '+' && word(k, "to")) || (op == '-' && word(k, "from"));
    const bool joined = total_second || ((op == '*' || op == '/') && word(k, "by")) ||
                        ((op == '+' || op == '*') && word(k, "and"));
    if (!joined)
      return std::nullopt;
    ++k;
    auto second = operand(k);
    if (!second)
      return std::nullopt;
    if (symbol(k, ','))
      ++k;
    if (!equals(k))
      return std::nullopt;
    auto value = result(k);
    if (!value)
      return std::nullopt;
    if (total_second)
      std::swap(first, second);
    return stated_equation{op, *first, *second, *value, tokens_[begin].begin, value->end};
  }

  std::vector<token> tokens_;
};

// ---- comparing them with the exact steps ------------------------------------------------------------------

bool commutative(char op) {
  return op == '+' || op == '*';
}

bool same_operands(const stated_equation& e, const arith_step& s) {
  const auto lhs = static_cast<double>(s.lhs);
  const auto rhs = static_cast<double>(s.rhs);
  return (e.lhs.value == lhs && e.rhs.value == rhs) ||
         (commutative(s.op) && e.lhs.value == rhs && e.rhs.value == lhs);
}

bool same(const stated_equation& e, const arith_step& s) {
  return e.op == s.op && same_operands(e, s) && e.value.value == static_cast<double>(s.value);
}

// Whether a student wrote the commutative operands the other way round ("4 * 5" for 5 * 4).
bool swapped(const stated_equation& e, const arith_step& s) {
  const auto lhs = static_cast<double>(s.lhs);
  const auto rhs = static_cast<double>(s.rhs);
  return commutative(s.op) && e.lhs.value != lhs && e.rhs.value != rhs &&
         (e.lhs.value == rhs || e.rhs.value == lhs);
}

bool sentence_end_at(std::string_view body, std::size_t i) {
  const char c = body[i];
  return c == '!' || c == '?' || (c == '.' && !(i + 1 < body.size() && text::is_digit(body[i + 1])));
}

// Just past the end of the sentence a statement ending at `from` belongs to, if it ends before `limit`.
std::size_t sentence_end(std::string_view body, std::size_t from, std::size_t limit) {
  for (std::size_t i = from; i < limit; ++i)
    if (sentence_end_at(body, i))
      return i + 1;
  return from;
}

std::string ended(std::string_view sentence) {
  auto text = std::string(text::trim(sentence));
  if (!text.empty() && std::string_view(".!?").find(text.back()) == std::string_view::npos)
    text += '.';
  return text;
}

// The student's text from `from` to the end of the wrong statement's sentence, with its numbers made right.
std::string repaired(std::string_view body, std::size_t from, std::size_t limit, const stated_equation& e,
                     const arith_step& s) {
  const bool turned = swapped(e, s);
  std::array<std::pair<number_span, std::int64_t>, 3> edits = {
      {{e.lhs, turned ? s.rhs : s.lhs}, {e.rhs, turned ? s.lhs : s.rhs}, {e.value, s.value}}};
  std::sort(edits.begin(), edits.end(),
            [](const auto& x, const auto& y) { return x.first.begin < y.first.begin; });
  std::string text;
  std::size_t at = from;
  for (const auto& [span, right] : edits) {
    text.append(body.substr(at, span.begin - at)).append(number(right));
    at = span.end;
  }
  return text.append(body.substr(at, sentence_end(body, e.end, limit) - at));
}

struct diagnosis {
  std::string feedback;
  std::size_t first_step_to_write = 0; // exact steps from here on are written in the teacher's wording
  std::string repaired;                // the student's text holding the first wrong step, made right
  bool right = false;
};

diagnosis diagnose(const arith_problem& problem, std::string_view body,
                   const std::vector<stated_equation>& eqs, std::size_t i, std::size_t j,
                   std::size_t kept_end, std::string_view stated) {
  const auto& steps = problem.steps;
  const auto step_no = [](std::size_t index) { return "Step " + std::to_string(index + 1); };
  const auto shown = [&](const stated_equation& e) {
    return std::string(body.substr(e.begin, e.end - e.begin));
  };
  const auto span_text = [&](const number_span& n) {
    return std::string(body.substr(n.begin, n.end - n.begin));
  };
  if (eqs.empty())
    return {"The reasoning states no calculation; step 1 should be " + equation(steps[0]) + ".", 0, {}};
  if (i == steps.size()) {
    if (j < eqs.size())
      return {step_no(steps.size() - 1) + " already gives the answer " + number(problem.answer) + "; " +
                  shown(eqs[j]) + " is an extra step.",
              i,
              {}};
    if (!answer_matches(stated, number(problem.answer)))
      return {"Every step is right, but the final answer is " + number(problem.answer) + ", the result of " +
                  text::to_lower(step_no(steps.size() - 1)) + ", not " +
                  (stated.empty() ? std::string("missing") : std::string(stated)) + ".",
              i,
              {}};
    return {"The reasoning is correct.", i, {}, true};
  }
  const arith_step& s = steps[i];
  if (j == eqs.size())
    return {step_no(i) + " is missing: " + equation(s) + ".", i, {}};
  const stated_equation& e = eqs[j];
  for (std::size_t later = i + 1; later < steps.size(); ++later)
    if (same(e, steps[later]))
      return {step_no(i) + " is missing: " + equation(s) + ".", i, {}};
  const std::size_t limit = j + 1 < eqs.size() ? eqs[j + 1].begin : body.size();
  // A wrong result is told before an extra step: a problem may repeat a step ("4 / 2" twice), and the
  // repeat must not make the student's first attempt at it look like a stray.
  if (e.op == s.op && same_operands(e, s))
    return {step_no(i) + ": " + number(s.lhs) + " " + s.op + " " + number(s.rhs) + " is " + number(s.value) +
                ", not " + span_text(e.value) + ".",
            i + 1, repaired(body, kept_end, limit, e, s)};
  for (std::size_t later = j + 1; later < eqs.size(); ++later)
    if (same(eqs[later], s))
      return {shown(e) + " is not a step of this problem; " + text::to_lower(step_no(i)) + " is " +
                  equation(s) + ".",
              i,
              {}};
  if (e.op != s.op)
    return {step_no(i) + " should be " + equation(s) + ", not " + shown(e) + ".", i, {}};

  auto fixed = repaired(body, kept_end, limit, e, s);
  // Which of the student's operands stands for which of the step's, when it wrote them turned round.
  const bool turned = swapped(e, s);
  const std::int64_t first_right = turned ? s.rhs : s.lhs;
  const std::int64_t second_right = turned ? s.lhs : s.rhs;
  const bool first_wrong = e.lhs.value != static_cast<double>(first_right);
  if (first_wrong && e.rhs.value != static_cast<double>(second_right))
    return {step_no(i) + " should be " + equation(s) + ", not " + shown(e) + ".", i + 1, std::move(fixed)};
  const std::string wrong = span_text(first_wrong ? e.lhs : e.rhs);
  // The running total comes from the previous step; every other number comes from the question.
  if (first_wrong != turned && i > 0)
    return {step_no(i) + " should start from " + number(s.lhs) + ", the result of " +
                text::to_lower(step_no(i - 1)) + ", not " + wrong + ".",
            i + 1, std::move(fixed)};
  return {step_no(i) + " uses " + wrong + ", but the question says " +
              number(first_wrong ? first_right : second_right) + ".",
          i + 1, std::move(fixed)};
}

// The words of a text, in lowercase, as the equation reader reads them.
std::unordered_set<std::string> words_of(std::string_view text) {
  std::unordered_set<std::string> words;
  for (auto& t : tokens_of(text))
    if (t.type == token::kind::word)
      words.insert(std::move(t.text));
  return words;
}

// Whether a sentence in which the student got a step right may stand as it is in a corrected rationale:
// every word of it is the question's, one of the teacher's wordings of the step, or a connective. A sentence
// whose numbers are right but that names someone or something the problem does not ("He has" about Ann,
// "Rosa has", "1 jar" of bags) is written in the teacher's words instead: kept, it would teach that wording.
bool fits_problem(std::string_view sentence, const std::unordered_set<std::string>& question_words,
                  const arith_step& step) {
  // "x" is a times sign ("4 x 5 = 20").
  static const std::unordered_set<std::string> connectives = {"then", "so", "now", "next", "first",
                                                              "finally", "and", "x"};
  std::unordered_set<std::string> step_words;
  for (int style = 0; style < 4; ++style)
    step_words.merge(words_of(worded_step(step, style)));
  return std::ranges::all_of(words_of(sentence), [&](const std::string& word) {
    return question_words.contains(word) || step_words.contains(word) || connectives.contains(word);
  });
}

// Appends one step's sentence to a corrected rationale: the student's own when it fits the problem, else
// the teacher's wording of that step.
void append_step(std::string& corrected, std::string_view students, const arith_problem& problem,
                 std::size_t step, int sample, const std::unordered_set<std::string>& question_words) {
  const auto sentence = text::trim(students);
  if (fits_problem(sentence, question_words, problem.steps[step])) {
    corrected.append(corrected.empty() || sentence.empty() ? "" : " ").append(sentence);
    return;
  }
  corrected = ended(corrected);
  corrected.append(corrected.empty() ? "" : " ")
      .append(worded_step(problem.steps[step], style_of(problem, sample, step)));
}

std::int64_t rough_tokens(std::string_view text) {
  return static_cast<std::int64_t>((text.size() + 3) / 4);
}

} // namespace

std::string worded_rationale(const arith_problem& problem, int sample) {
  return steps_from(problem, 0, sample) + " Therefore, the answer is " + number(problem.answer) + ".";
}

arith_feedback diagnose_reasoning(const arith_problem& problem, std::string_view student_reasoning,
                                  int sample) {
  // The student's text on one line, without its answer line: that is what a corrected rationale builds on.
  std::string body(student_reasoning);
  std::replace_if(
      body.begin(), body.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  std::string stated;
  if (const auto answer_line = body.find("Answer:"); answer_line != std::string::npos) {
    stated = extract_answer("\n" + body.substr(answer_line), task_kind::arith);
    body.resize(answer_line);
  } else {
    stated = extract_answer(body, task_kind::arith);
  }
  const auto eqs = equation_reader(body).read();

  // The longest run of student equations that follows the exact steps from the start: those steps are kept,
  // each in the student's sentence when it fits the problem.
  const auto question_words = words_of(problem.question);
  std::string corrected;
  std::size_t i = 0;
  std::size_t j = 0;
  std::size_t kept_end = 0;
  for (; i < problem.steps.size() && j < eqs.size() && same(eqs[j], problem.steps[i]); ++i, ++j) {
    const auto end = sentence_end(body, eqs[j].end, j + 1 < eqs.size() ? eqs[j + 1].begin : body.size());
    append_step(corrected, std::string_view(body).substr(kept_end, end - kept_end), problem, i, sample,
                question_words);
    kept_end = end;
  }

  const auto found = diagnose(problem, body, eqs, i, j, kept_end, stated);
  if (!found.repaired.empty())
    append_step(corrected, found.repaired, problem, i, sample, question_words);
  corrected = ended(corrected);
  const auto rest = steps_from(problem, found.first_step_to_write, sample);
  corrected.append(corrected.empty() || rest.empty() ? "" : " ").append(rest);
  corrected.append(corrected.empty() ? "" : " ")
      .append("Therefore, the answer is " + number(problem.answer) + ".");
  // A kept sentence may already claim an answer ("Therefore, the answer is 8." before the last step); the
  // reply must still be answer-correct, so such a rationale is written afresh.
  if (!answer_matches(extract_answer(corrected, task_kind::arith), number(problem.answer)))
    corrected = worded_rationale(problem, sample);
  return {found.feedback, std::move(corrected), found.right};
}

builtin_teacher::builtin_teacher(std::vector<arith_problem> problems, prompt_templates templates)
    : problems_(std::move(problems)), templates_(std::move(templates)) {
  for (std::size_t i = 0; i < problems_.size(); ++i)
    by_question_.emplace(std::string(text::trim(problems_[i].question)), i);
}

result<std::unique_ptr<builtin_teacher>> builtin_teacher::create(std::vector<arith_problem> problems,
                                                                 prompt_templates templates) {
  // The teacher reads its requests through the templates, so they must hold what it reads back.
  if (auto checked = load_prompt_templates(to_json(templates)); !checked)
    return problem{"built-in teacher: " + checked.error().message};
  if (problems.empty())
    return problem{"built-in teacher: no arith problems to answer from"};
  std::vector<arith_problem> kept;
  std::unordered_map<std::string, std::size_t> seen;
  for (auto& candidate : problems) {
    if (candidate.steps.empty())
      return problem{"built-in teacher: problem " + candidate.id + " has no solution steps"};
    const auto [at, fresh] = seen.emplace(std::string(text::trim(candidate.question)), kept.size());
    if (fresh)
      kept.push_back(std::move(candidate));
    else if (kept[at->second].steps != candidate.steps)
      return problem{"built-in teacher: problems " + kept[at->second].id + " and " + candidate.id +
                     " ask the same question with different solutions: \"" + at->first + "\""};
  }
  return std::unique_ptr<builtin_teacher>(new builtin_teacher(std::move(kept), std::move(templates)));
}

result<std::unique_ptr<builtin_teacher>>
builtin_teacher::load(const std::vector<std::filesystem::path>& files, prompt_templates templates) {
  std::vector<arith_problem> problems;
  for (const auto& file : files) {
    std::optional<problem> first_bad;
    const status read = for_each_jsonl_record(file, [&](result<jsonl_record> record) {
      if (first_bad)
        return;
      if (!record) {
        first_bad = record.error();
        return;
      }
      auto parsed = parse_arith_record(record->object);
      if (!parsed)
        first_bad =
            problem{file.string() + ":" + std::to_string(record->line) + ": " + parsed.error().message};
      else
        problems.push_back(std::move(*parsed));
    });
    if (!read)
      return problem{"built-in teacher: " + read.error().message};
    if (first_bad)
      return problem{"built-in teacher: " + first_bad->message};
  }
  return create(std::move(problems), std::move(templates));
}

const arith_problem* builtin_teacher::find_problem(std::string_view question) const {
  const auto found = by_question_.find(std::string(text::trim(question)));
  return found == by_question_.end() ? nullptr : &problems_[found->second];
}

result<chat_response> builtin_teacher::answer(const chat_request& request) const {
  if (request.n < 1 || request.n > most_samples)
    return problem{"built-in teacher: n must be in [1, " + std::to_string(most_samples) + "], not " +
                   std::to_string(request.n)};
  const auto user = std::find_if(request.messages.rbegin(), request.messages.rend(),
                                 [](const chat_message& m) { return m.role == "user"; });
  if (user == request.messages.rend())
    return problem{"built-in teacher: the request has no user message"};
  const auto feedback = match_template(templates_.feedback_user, user->content);
  const auto cot = feedback ? std::nullopt : match_template(templates_.cot_user, user->content);
  if (!feedback && !cot)
    return problem{"built-in teacher: the user message matches neither the chain-of-thought nor the feedback "
                   "prompt it was built with (build it with the run's prompt templates)"};
  const auto& question = (feedback ? *feedback : *cot).at("question");
  const arith_problem* solved = find_problem(question);
  if (solved == nullptr)
    return problem{"built-in teacher: none of its " + std::to_string(problems_.size()) +
                   " arith problems asks \"" + question.substr(0, 160) +
                   "\" (build it from the dataset the run trains on)"};

  chat_response response;
  response.model = request.model.empty() ? std::string(builtin_model) : request.model;
  const auto answer_line = "\nAnswer: " + number(solved->answer);
  for (int sample = 0; sample < request.n; ++sample) {
    std::string reply;
    if (feedback) {
      const auto found = diagnose_reasoning(*solved, feedback->at("student_reasoning"), sample);
      reply = "Feedback: " + found.feedback + "\nReasoning: " + found.corrected_reasoning + answer_line;
    } else {
      reply = "Reasoning: " + worded_rationale(*solved, sample) + answer_line;
    }
    for (const auto& stop : request.stop)
      if (const auto at = stop.empty() ? std::string::npos : reply.find(stop); at != std::string::npos)
        reply.resize(at);
    if (request.max_tokens > 0 && rough_tokens(reply) > request.max_tokens)
      reply.resize(static_cast<std::size_t>(request.max_tokens) * 4);
    response.usage.completion_tokens += rough_tokens(reply);
    response.choices.push_back(std::move(reply));
  }
  for (const auto& message : request.messages)
    response.usage.prompt_tokens += rough_tokens(message.content);
  return response;
}

void builtin_teacher::complete(chat_request request, callback done) {
  std::optional<result<chat_response>> answered;
  try {
    answered.emplace(answer(request));
  } catch (const std::exception& error) {
    answered.emplace(problem{std::string("built-in teacher: ") + error.what()});
  }
  done(std::move(*answered));
}

} // namespace tailor
