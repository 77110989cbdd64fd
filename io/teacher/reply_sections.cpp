// A teacher reply cut into its sections ("Feedback:", "Reasoning:", "Answer:" and the names models give
// them), line by line, with list decoration, headings and labels told apart from the text.
#include "io/common/text.hpp"
#include "io/teacher/reply_parts.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

namespace tailor::reply_detail {
namespace {

using std::string_view_literals::operator""sv;

// Words that dress a marker's name without changing what it names ("Here is the corrected reasoning",
// "Final Answer", "The final answer is", "Reasoning (step by step)").
constexpr std::array marker_filler = {
    "here"sv,     "here's"sv,       "is"sv,      "are"sv,     "below"sv, "the"sv,   "a"sv,        "my"sv,
    "our"sv,      "corrected"sv,    "correct"sv, "revised"sv, "fixed"sv, "full"sv,  "complete"sv, "new"sv,
    "improved"sv, "step-by-step"sv, "step"sv,    "by"sv,      "final"sv, "short"sv, "first"sv};

// What a marker's name means once its filler is gone.
constexpr std::array<std::pair<std::string_view, section_kind>, 25> marker_names = {{
    {"feedback", section_kind::feedback},
    {"mistake", section_kind::feedback},
    {"error", section_kind::feedback},
    {"where student went wrong", section_kind::feedback},
    {"what went wrong", section_kind::feedback},
    {"critique", section_kind::feedback},
    {"reasoning", section_kind::reasoning},
    {"rationale", section_kind::reasoning},
    {"solution", section_kind::reasoning},
    {"explanation", section_kind::reasoning},
    {"answer", section_kind::answer},
    {"answer would be", section_kind::answer},
    {"conclusion", section_kind::answer},
    {"question", section_kind::question},
    {"answer choices", section_kind::question},
    {"note", section_kind::aside},
    {"notes", section_kind::aside},
    {"check", section_kind::aside},
    {"verification", section_kind::aside},
    {"double-check", section_kind::aside},
    {"student's reasoning", section_kind::aside},
    {"student's answer", section_kind::aside},
    {"student's solution", section_kind::aside},
    {"student reasoning", section_kind::aside},
    {"student answer", section_kind::aside},
}};

// Markers that start a new section in the middle of a line, right after a sentence ends.
constexpr std::array inline_markers = {"Feedback:"sv,
                                       "Reasoning:"sv,
                                       "Answer:"sv,
                                       "Final answer:"sv,
                                       "Final Answer:"sv,
                                       "Corrected reasoning:"sv,
                                       "Corrected Reasoning:"sv,
                                       "Correct reasoning:"sv};

bool ends_paragraph(section_kind kind) {
  return kind == section_kind::feedback || kind == section_kind::answer || kind == section_kind::question ||
         kind == section_kind::aside;
}

std::optional<section_kind> kind_named(std::string_view name) {
  if (name.empty() || name.size() > 48)
    return std::nullopt;
  std::string words;
  for (std::size_t i = 0; i < name.size();) {
    while (i < name.size() && (text::is_space(name[i]) || name[i] == '(' || name[i] == ')'))
      ++i;
    std::size_t end = i;
    while (end < name.size() && !text::is_space(name[end]) && name[end] != '(' && name[end] != ')')
      ++end;
    const auto word = text::to_lower(name.substr(i, end - i));
    if (!word.empty() && std::find(marker_filler.begin(), marker_filler.end(), word) == marker_filler.end())
      words.append(words.empty() ? "" : " ").append(word);
    i = end;
  }
  for (const auto& [marker, kind] : marker_names)
    if (words == marker)
      return kind;
  return std::nullopt;
}

// The marker a line opens with ("Answer: 18", "Final Answer", "The final answer is:"), and where its text
// starts.
std::optional<section_kind> marker_of(std::string_view line, std::size_t& content_from) {
  const auto colon = line.find(':');
  if (colon != std::string_view::npos && colon <= 48)
    if (const auto kind = kind_named(text::trim(line.substr(0, colon)))) {
      content_from = colon + 1;
      return kind;
    }
  auto whole = text::trim(line);
  while (!whole.empty() && (whole.back() == ':' || whole.back() == '.'))
    whole.remove_suffix(1);
  if (const auto kind = kind_named(whole)) {
    content_from = line.size();
    return kind;
  }
  return std::nullopt;
}

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

// A line without its list decoration: "- ", "* ", "+ ", "• ", "1. ", "2) ", and markdown quotes.
std::string_view undecorated(std::string_view line) {
  line = text::trim(line);
  while (line.starts_with(">"))
    line = text::trim(line.substr(1));
  for (const std::string_view bullet : {"- ", "* ", "+ ", "\xE2\x80\xA2 "})
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

// "Step 2:" or "Step 2." before a step's text: decoration, like a list number.
std::size_t step_label_length(std::string_view line) {
  if (!text::to_lower(line.substr(0, 5)).starts_with("step "))
    return 0;
  std::size_t at = 5;
  while (at < line.size() && text::is_digit(line[at]))
    ++at;
  if (at == 5 || at >= line.size() || (line[at] != ':' && line[at] != '.'))
    return 0;
  return at + 1;
}

bool is_rule(std::string_view line) {
  line = text::trim(line);
  return line.size() >= 3 && line.find_first_not_of(line[0]) == std::string_view::npos &&
         std::string_view("-*_=").find(line[0]) != std::string_view::npos;
}

// A markdown table row as text: "| Eiffel Tower | 330 m | 1,083 ft |" -> "Eiffel Tower: 330 m, 1,083 ft"; a
// separator row ("|---|:---:|") as nothing.
std::string table_row_text(std::string_view row) {
  if (row.find_first_not_of("|-: ") == std::string_view::npos)
    return {};
  std::string joined;
  std::size_t cells = 0;
  for (std::size_t from = 0; from < row.size();) {
    const auto bar = std::min(row.find('|', from), row.size());
    if (const auto cell = text::trim(row.substr(from, bar - from)); !cell.empty()) {
      joined.append(cells == 0 ? "" : cells == 1 ? ": " : ", ").append(cell);
      ++cells;
    }
    from = bar + 1;
  }
  return joined;
}

class section_builder {
public:
  void add(std::string_view raw) {
    auto line = text::trim(raw);
    if (line.empty() || is_rule(line)) {
      blank();
      return;
    }
    std::string row;
    if (line.starts_with("|")) {
      row = table_row_text(line);
      if (row.empty())
        return;
      line = row;
    }
    const bool heading = line.starts_with("#");
    while (line.starts_with("#"))
      line = text::trim(line.substr(1));
    line = undecorated(line);
    auto plain = std::string(text::trim(without_markdown(line)));
    std::size_t content_from = 0;
    if (const auto kind = marker_of(plain, content_from)) {
      // "Check: 9 + 7 = 16." between steps is an aside of one line; the steps go on after it.
      if (*kind == section_kind::aside && sections_.back().kind == section_kind::reasoning)
        return;
      open(*kind);
      plain = std::string(undecorated(text::trim(std::string_view(plain).substr(content_from))));
    } else if (heading) {
      // A heading is a title ("## Step 1: Find the eggs left") unless it states a number.
      const auto title = std::string_view(plain).substr(step_label_length(plain));
      if (!has_digit(title))
        return;
    }
    std::string_view rest = plain;
    for (auto at = inline_marker_in(rest); at != std::string_view::npos; at = inline_marker_in(rest)) {
      push(rest.substr(0, at));
      rest = rest.substr(at);
      std::size_t from = 0;
      open(*marker_of(rest, from));
      rest = text::trim(rest.substr(from));
    }
    push(rest);
  }

  std::vector<section> done() { return std::move(sections_); }

private:
  void blank() {
    auto& current = sections_.back();
    if (ends_paragraph(current.kind) && has_text(current))
      sections_.push_back({section_kind::unmarked, {}});
    else
      current.lines.push_back({});
  }

  void open(section_kind kind) { sections_.push_back({kind, {}}); }

  void push(std::string_view text_part) {
    const auto text_line = text::trim(text_part);
    if (text_line.empty())
      return;
    const auto content = text::trim(text_line.substr(step_label_length(text_line)));
    sections_.back().lines.push_back({std::string(text_line), std::string(content)});
  }

  std::vector<section> sections_ = {section{}};
};

} // namespace

bool has_text(const section& part) {
  return std::any_of(part.lines.begin(), part.lines.end(),
                     [](const reply_line& l) { return !l.text.empty(); });
}

std::vector<section> sections_of(std::string_view unlatexed) {
  section_builder builder;
  for (std::size_t from = 0; from <= unlatexed.size();) {
    const auto newline = std::min(unlatexed.find('\n', from), unlatexed.size());
    builder.add(unlatexed.substr(from, newline - from));
    from = newline + 1;
  }
  return builder.done();
}

} // namespace tailor::reply_detail
