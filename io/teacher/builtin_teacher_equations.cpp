// The built-in teacher's reader of a student's equations: tokens, then the infix and imperative statements.
#include "io/common/text.hpp"
#include "io/teacher/builtin_teacher_parts.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

namespace tailor::builtin_detail {
namespace {

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

} // namespace

std::vector<stated_equation> read_equations(std::string_view text) {
  return equation_reader(text).read();
}

std::unordered_set<std::string> words_of(std::string_view text) {
  std::unordered_set<std::string> words;
  for (auto& t : tokens_of(text))
    if (t.type == token::kind::word)
      words.insert(std::move(t.text));
  return words;
}

} // namespace tailor::builtin_detail
