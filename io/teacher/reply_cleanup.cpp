// Teacher replies made plain: LaTeX as models write it in math answers turned into the plain operators of
// the demos, inline markdown removed.
#include "io/common/text.hpp"
#include "io/teacher/reply_parts.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace tailor::reply_detail {
namespace {

using std::string_view_literals::operator""sv;

// Spaces and quotes that look alike but would not compare alike ("Student’s reasoning:", "1 080"), and the
// carriage returns of CRLF line ends.
constexpr std::array<std::pair<std::string_view, std::string_view>, 8> unicode_lookalikes = {{
    {"\xC2\xA0", " "},     // no-break space
    {"\xE2\x80\xAF", " "}, // narrow no-break space
    {"\xE2\x80\x89", " "}, // thin space
    {"\xE2\x80\x98", "'"}, // left single quote
    {"\xE2\x80\x99", "'"}, // right single quote
    {"\xE2\x80\x9C", "\""},
    {"\xE2\x80\x9D", "\""},
    {"\r", ""},
}};

// Commands that only shape their argument: the argument is the text.
constexpr std::array text_commands = {"text"sv,   "textbf"sv, "textit"sv, "textrm"sv,       "textsf"sv,
                                      "texttt"sv, "mathrm"sv, "mathbf"sv, "mathit"sv,       "mathsf"sv,
                                      "mbox"sv,   "emph"sv,   "hbox"sv,   "operatorname"sv, "mathtt"sv};

// Symbols spelled in ASCII, as the demos write their operations.
constexpr std::array<std::pair<std::string_view, std::string_view>, 26> symbol_commands = {{
    {"times", " * "},       {"cdot", " * "},        {"ast", " * "},      {"div", " / "},
    {"pm", " +/- "},        {"approx", " ≈ "},      {"sim", " ~ "},      {"le", " <= "},
    {"leq", " <= "},        {"ge", " >= "},         {"geq", " >= "},     {"neq", " != "},
    {"ne", " != "},         {"lt", " < "},          {"gt", " > "},       {"to", " -> "},
    {"rightarrow", " -> "}, {"Rightarrow", " -> "}, {"implies", " -> "}, {"cdots", "..."},
    {"ldots", "..."},       {"dots", "..."},        {"quad", " "},       {"qquad", " "},
    {"textdollar", "$"},    {"newline", "\n"},
}};

// Sizing and layout commands with nothing to say in plain text.
constexpr std::array silent_commands = {"left"sv,         "right"sv,     "big"sv,   "Big"sv,    "bigg"sv,
                                        "Bigg"sv,         "bigl"sv,      "bigr"sv,  "Bigl"sv,   "Bigr"sv,
                                        "displaystyle"sv, "textstyle"sv, "hline"sv, "limits"sv, "nonumber"sv};

template <std::size_t n>
bool is_one_of(std::string_view name, const std::array<std::string_view, n>& names) {
  for (const auto candidate : names)
    if (candidate == name)
      return true;
  return false;
}

bool is_display_delimiter_line(std::string_view line) {
  line = text::trim(line);
  return line == "\\[" || line == "\\]" || line == "$$" || line.starts_with("```") ||
         ((line.starts_with("\\begin{") || line.starts_with("\\end{")) && line.ends_with("}") &&
          line.find('}') == line.size() - 1);
}

class latex_reader {
public:
  explicit latex_reader(std::vector<std::string>& boxed) : boxed_(boxed) {}

  std::string plain(std::string_view tex, bool in_math) {
    std::string out;
    for (std::size_t i = 0; i < tex.size();) {
      const char c = tex[i];
      if (c == '\\') {
        i = command(tex, i, out);
      } else if (c == '$') {
        i = dollar(tex, i, out);
      } else if (c == '{') {
        const auto group = group_at(tex, i);
        out += plain(group, in_math);
      } else if (c == '}') {
        ++i; // a stray closing brace
      } else if (c == '^' && i + 1 < tex.size() && (tex[i + 1] == '{' || tex[i + 1] == '\\')) {
        ++i;
        const auto exponent = tex[i] == '{' ? group_at(tex, i) : command_name_at(tex, i);
        const auto plain_exponent = plain(exponent, true);
        out += exponent.find("circ") != std::string_view::npos
                   ? std::string(" degrees")
                   : "^" + std::string(text::trim(plain_exponent));
      } else if ((in_math && c == '~') || (c == '&' && aligns(tex, i))) {
        out += c == '~' ? " " : "";
        ++i;
      } else {
        out += c;
        ++i;
      }
    }
    return out;
  }

private:
  // "&=" and "& \\" of an aligned display: alignment points, not text ("Q&A" stays).
  static bool aligns(std::string_view tex, std::size_t at) {
    const auto next = tex.find_first_not_of(' ', at + 1);
    return next == std::string_view::npos ||
           std::string_view("=<>\\\n").find(tex[next]) != std::string_view::npos;
  }

  // The text of the brace group at tex[at] (or the one character there), moving `at` past it.
  static std::string_view group_at(std::string_view tex, std::size_t& at) {
    while (at < tex.size() && tex[at] == ' ')
      ++at;
    if (at >= tex.size())
      return {};
    if (tex[at] != '{')
      return tex.substr(at++, 1);
    int depth = 0;
    for (std::size_t end = at; end < tex.size(); ++end) {
      if (tex[end] == '\\') {
        ++end;
      } else if (tex[end] == '{') {
        ++depth;
      } else if (tex[end] == '}' && --depth == 0) {
        const auto group = tex.substr(at + 1, end - at - 1);
        at = end + 1;
        return group;
      }
    }
    const auto rest = tex.substr(at + 1); // unbalanced: all the rest
    at = tex.size();
    return rest;
  }

  static std::string_view command_name_at(std::string_view tex, std::size_t& at) {
    const auto from = at++;
    while (at < tex.size() && text::is_alpha(tex[at]))
      ++at;
    return tex.substr(from, at - from);
  }

  std::size_t command(std::string_view tex, std::size_t at, std::string& out) {
    if (at + 1 >= tex.size())
      return at + 1;
    const char next = tex[at + 1];
    if (!text::is_alpha(next)) {
      const bool between_digits =
          at > 0 && text::is_digit(tex[at - 1]) && at + 2 < tex.size() && text::is_digit(tex[at + 2]);
      switch (next) {
      case ',': // a thin space, also the thousands separator of "1\,080"
        out += between_digits ? "" : " ";
        break;
      case ';':
      case ':':
      case ' ':
        out += ' ';
        break;
      case '!':
      case '(':
      case ')':
      case '[':
      case ']':
        break;
      case '\\': // a line break, unless the line ends right after it
        if (at + 2 < tex.size() && tex[at + 2] != '\n')
          out += '\n';
        break;
      default: // \$ \% \& \# \_ \{ \}
        out += next;
      }
      return at + 2;
    }
    std::size_t i = at + 1;
    const auto name = command_name_at(tex, i);
    if (name == "boxed" || name == "fbox") {
      auto inside = std::string(text::trim(plain(group_at(tex, i), true)));
      boxed_.push_back(inside);
      out += inside;
    } else if (is_one_of(name, text_commands)) {
      out += plain(group_at(tex, i), true);
    } else if (name == "frac" || name == "dfrac" || name == "tfrac" || name == "cfrac") {
      const auto numerator = plain(group_at(tex, i), true);
      const auto denominator = plain(group_at(tex, i), true);
      out += operand(numerator) + "/" + operand(denominator);
    } else if (name == "sqrt") {
      out += "sqrt(" + std::string(text::trim(plain(group_at(tex, i), true))) + ")";
    } else if (name == "begin" || name == "end") {
      group_at(tex, i); // the environment's name
    } else if (name == "circ" || name == "degree") {
      out += " degrees";
    } else if (is_one_of(name, silent_commands)) {
      if (i < tex.size() && tex[i] == '.')
        ++i; // "\left." opens nothing
    } else {
      const auto symbol = std::find_if(symbol_commands.begin(), symbol_commands.end(),
                                       [&](const auto& pair) { return pair.first == name; });
      out += symbol != symbol_commands.end() ? symbol->second : name; // \pi, \alpha: the name reads well
    }
    return i;
  }

  // "$" opens inline math when a "$" closes it on the same line right after text ("$1,080$", "$9 \times 2 =
  // 18$"); otherwise it is currency ("$18 + $20 = $38").
  std::size_t dollar(std::string_view tex, std::size_t at, std::string& out) {
    if (at + 1 < tex.size() && tex[at + 1] == '$')
      return at + 2;
    const auto line_end = std::min(tex.find('\n', at), tex.size());
    for (auto close = tex.find('$', at + 1); close != std::string_view::npos && close < line_end;
         close = tex.find('$', close + 1)) {
      if (tex[close - 1] == '\\')
        continue;
      const bool opens = at + 1 < close && !text::is_space(tex[at + 1]);
      const bool closes =
          !text::is_space(tex[close - 1]) && (close + 1 >= tex.size() || !text::is_alnum(tex[close + 1]));
      if (!opens || !closes)
        break;
      out += plain(tex.substr(at + 1, close - at - 1), true);
      return close + 1;
    }
    out += '$';
    return at + 1;
  }

  static std::string operand(const std::string& plain_text) {
    const auto trimmed = std::string(text::trim(plain_text));
    return trimmed.find_first_of(" +-") == std::string::npos ? trimmed : "(" + trimmed + ")";
  }

  std::vector<std::string>& boxed_;
};

} // namespace

unlatexed_reply without_latex(std::string_view reply) {
  std::string text(reply);
  for (const auto& [lookalike, plain] : unicode_lookalikes)
    for (auto at = text.find(lookalike); at != std::string::npos;
         at = text.find(lookalike, at + plain.size()))
      text.replace(at, lookalike.size(), plain);

  std::string kept_lines;
  for (std::size_t from = 0; from <= text.size();) {
    const auto newline = std::min(text.find('\n', from), text.size());
    const auto line = std::string_view(text).substr(from, newline - from);
    if (!is_display_delimiter_line(line))
      kept_lines.append(line).append(newline < text.size() ? "\n" : "");
    from = newline + 1;
  }
  unlatexed_reply result;
  result.text = latex_reader(result.boxed).plain(kept_lines, false);
  return result;
}

std::string without_markdown(std::string_view line) {
  std::string out;
  const auto at = [&](std::size_t i) { return i < line.size() ? line[i] : ' '; };
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if ((c == '*' || c == '_' || c == '~') && at(i + 1) == c) {
      ++i; // "**", "__", "~~"
    } else if (c == '`') {
      continue;
    } else if (c == '*') {
      const char before = i == 0 ? ' ' : line[i - 1];
      const char after = at(i + 1);
      const bool multiplies =
          (text::is_space(before) && text::is_space(after)) ||
          ((text::is_digit(before) || before == ')') && (text::is_digit(after) || after == '('));
      if (multiplies)
        out += c;
    } else if (c == '_') {
      const char before = i == 0 ? ' ' : line[i - 1];
      if (text::is_alnum(before) && text::is_alnum(at(i + 1)))
        out += c; // snake_case, not emphasis
    } else if (c == '[') {
      // "[text](link)" -> "text"; "[A] bakery" stays
      const auto close = line.find(']', i);
      const auto end = close == std::string_view::npos ? close : line.find(')', close);
      if (end == std::string_view::npos || line.substr(close, 2) != "](") {
        out += c;
        continue;
      }
      out += line.substr(i + 1, close - i - 1);
      i = end;
    } else {
      out += c;
    }
  }
  return out;
}

} // namespace tailor::reply_detail
