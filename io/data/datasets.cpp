// Dataset loaders: one small parser per task turns a JSONL record into an example, METHOD.md's "Data".
#include "io/data/datasets.hpp"

#include "io/data/answer_extraction.hpp"
#include "io/common/jsonl.hpp"
#include "io/common/text.hpp"

#include <charconv>
#include <cmath>
#include <map>
#include <stdexcept>

namespace tailor {
namespace {

using json = nlohmann::json;

// What is wrong with one record; thrown inside this file only, caught per line and prefixed by "file:line: ".
struct bad_record : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& what) {
  throw bad_record(what);
}

std::string field_name(std::string_view name) {
  return "field `" + std::string(name) + "`";
}

const json& field(const json& object, std::string_view name, std::string_view shown_as = {}) {
  const auto shown = shown_as.empty() ? name : shown_as;
  const auto found = object.find(name);
  if (found == object.end())
    fail(field_name(shown) + " is missing");
  return *found;
}

[[noreturn]] void wrong_type(std::string_view shown, std::string_view expected, const json& value) {
  fail(field_name(shown) + " must be " + std::string(expected) + ", got " + value.type_name());
}

std::string string_value(const json& value, std::string_view shown) {
  if (!value.is_string())
    wrong_type(shown, "a string", value);
  return value.get<std::string>();
}

// A string field with its surrounding whitespace removed; empty text is as useless as a missing field.
std::string text_field(const json& object, std::string_view name, std::string_view shown_as = {}) {
  const auto shown = shown_as.empty() ? name : shown_as;
  auto value = std::string(text::trim(string_value(field(object, name, shown), shown)));
  if (value.empty())
    fail(field_name(shown) + " is empty");
  return value;
}

bool is_plain_number(std::string_view s) {
  std::size_t i = !s.empty() && s[0] == '-' ? 1 : 0;
  const auto digits_from = [&](std::size_t& at) {
    const auto start = at;
    while (at < s.size() && text::is_digit(s[at]))
      ++at;
    return at > start;
  };
  if (!digits_from(i))
    return false;
  if (i < s.size() && s[i] == '.' && !(++i, digits_from(i)))
    return false;
  return i == s.size();
}

// Gold numbers are stored as the grader normalizes them: "8.0" and 8.0 become "8", 2.5 stays "2.5".
std::string number_text(const json& value, std::string_view shown) {
  if (value.is_number_integer())
    return value.dump();
  if (value.is_number_float()) {
    const double number = value.get<double>();
    char buffer[512];
    // Fixed notation in its shortest round-trip form: 2.5 -> "2.5", 1e20 -> "100000000000000000000".
    const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, number, std::chars_format::fixed);
    if (error != std::errc{} || !std::isfinite(number))
      fail(field_name(shown) + " is a number too large to write out");
    return normalize_number(std::string_view(buffer, end - buffer));
  }
  if (value.is_string()) {
    auto normalized = normalize_number(value.get<std::string>());
    if (!is_plain_number(normalized))
      fail(field_name(shown) + " must be a number, got \"" + value.get<std::string>() + "\"");
    return normalized;
  }
  wrong_type(shown, "a number", value);
}

std::string rationale_with_answer(std::string_view reasoning, std::string_view answer) {
  const std::string therefore = "Therefore, the answer is " + std::string(answer) + ".";
  return reasoning.empty() ? therefore : std::string(reasoning) + " " + therefore;
}

example parse_gsm8k(const json& record) {
  example ex;
  ex.question = text_field(record, "question");
  const auto answer = text_field(record, "answer");
  const auto hashes = answer.rfind("####");
  if (hashes == std::string::npos)
    fail(field_name("answer") + " has no `#### <number>` final answer");
  const auto final_text = text::trim(std::string_view(answer).substr(hashes + 4));
  ex.answer = normalize_number(final_text);
  if (!is_plain_number(ex.answer))
    fail(field_name("answer") + ": the text after `####` must be a number, got \"" + std::string(final_text) +
         "\"");
  ex.gold_rationale =
      rationale_with_answer(text::trim(std::string_view(answer).substr(0, hashes)), ex.answer);
  return ex;
}

example parse_svamp(const json& record) {
  example ex;
  auto body = text_field(record, "Body");
  if (!body.ends_with('.'))
    body += '.';
  ex.question = body + " " + text_field(record, "Question");
  ex.answer = number_text(field(record, "Answer"), "Answer");
  return ex;
}

example parse_multiarith(const json& record) {
  example ex;
  const bool original_keys = !record.contains("question") && record.contains("sQuestion");
  if (!original_keys) {
    ex.question = text_field(record, "question");
    ex.answer = number_text(field(record, "answer"), "answer");
    return ex;
  }
  ex.question = text_field(record, "sQuestion");
  const auto& solutions = field(record, "lSolutions");
  if (!solutions.is_array())
    wrong_type("lSolutions", "an array", solutions);
  if (solutions.empty())
    fail(field_name("lSolutions") + " is empty");
  ex.answer = number_text(solutions.back(), "lSolutions");
  return ex;
}

example parse_strategyqa(const json& record) {
  example ex;
  ex.question = text_field(record, "question");
  const auto& answer = field(record, "answer");
  if (answer.is_boolean()) {
    ex.answer = answer.get<bool>() ? "Yes" : "No";
  } else if (answer.is_string()) {
    const auto word = text::to_lower(text::trim(answer.get<std::string>()));
    if (word != "yes" && word != "no")
      fail(field_name("answer") + " must be true, false, \"yes\" or \"no\", got \"" +
           answer.get<std::string>() + "\"");
    ex.answer = word == "yes" ? "Yes" : "No";
  } else {
    wrong_type("answer", "true or false", answer);
  }
  return ex;
}

example parse_csqa(const json& record) {
  constexpr std::size_t choice_count = 5;
  const auto& question = field(record, "question");
  if (!question.is_object())
    wrong_type("question", "an object with `stem` and `choices`", question);
  example ex;
  ex.question = text_field(question, "stem", "question.stem") + "\nAnswer Choices:";
  const auto& choices = field(question, "choices", "question.choices");
  if (!choices.is_array())
    wrong_type("question.choices", "an array", choices);
  if (choices.size() != choice_count)
    fail(field_name("question.choices") + " must hold " + std::to_string(choice_count) + " choices, got " +
         std::to_string(choices.size()));
  std::string labels;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    const auto at = "question.choices[" + std::to_string(i) + "]";
    if (!choices[i].is_object())
      wrong_type(at, "an object with `label` and `text`", choices[i]);
    const auto label = text::to_lower(text_field(choices[i], "label", at + ".label"));
    if (label.size() != 1 || label[0] < 'a' || label[0] > 'e' || labels.find(label) != std::string::npos)
      fail(field_name(at + ".label") + " must be one of A to E, each once, got \"" + label + "\"");
    labels += label;
    ex.question += "\n(" + label + ") " + text_field(choices[i], "text", at + ".text");
  }
  ex.answer = text::to_lower(text_field(record, "answerKey"));
  if (ex.answer.size() != 1 || labels.find(ex.answer) == std::string::npos)
    fail(field_name("answerKey") + " must be the label of a choice, got \"" + ex.answer + "\"");
  return ex;
}

example parse_record(const json& record, task_kind task) {
  switch (task) {
  case task_kind::gsm8k:
  case task_kind::arith: // written in GSM8K form; its extra fields are for the built-in teacher
    return parse_gsm8k(record);
  case task_kind::svamp:
    return parse_svamp(record);
  case task_kind::multiarith:
    return parse_multiarith(record);
  case task_kind::strategyqa:
    return parse_strategyqa(record);
  case task_kind::csqa:
    return parse_csqa(record);
  }
  fail("unknown task");
}

// The record's own id when it has one ("id", or the key the task's original release uses), else
// "<file name>:<line>", which stays unique and points a user at the line.
std::string record_id(const json& record, task_kind task, const std::filesystem::path& file,
                      std::size_t line) {
  std::string_view key = "id";
  if (!record.contains(key)) {
    key = task == task_kind::svamp        ? "ID"
          : task == task_kind::strategyqa ? "qid"
          : task == task_kind::multiarith ? "iIndex"
                                          : "id";
  }
  const auto found = record.find(key);
  if (found == record.end())
    return file.filename().string() + ":" + std::to_string(line);
  if (found->is_number())
    return number_text(*found, key);
  if (!found->is_string())
    wrong_type(key, "a string or a number", *found);
  auto id = std::string(text::trim(found->get<std::string>()));
  if (id.empty())
    fail(field_name(key) + " is empty");
  return id;
}

// One pass over the file, shared by check_dataset (which only counts) and load_dataset (which keeps).
dataset_report read_dataset(const std::filesystem::path& file, task_kind task, std::size_t max_problems,
                            std::vector<example>* examples) {
  dataset_report report;
  const auto add_problem = [&](std::string message) {
    if (report.problems.size() < max_problems)
      report.problems.push_back(std::move(message));
    ++report.problem_count;
  };
  std::map<std::string, std::size_t, std::less<>> line_of_id;
  const auto read = for_each_jsonl_record(file, [&](result<jsonl_record> record) {
    ++report.lines;
    if (!record) {
      add_problem(record.error().message);
      return;
    }
    const auto where = file.string() + ":" + std::to_string(record->line) + ": ";
    try {
      auto ex = parse_record(record->object, task);
      ex.id = record_id(record->object, task, file, record->line);
      ex.task = task;
      const auto [first, inserted] = line_of_id.emplace(ex.id, record->line);
      if (!inserted)
        fail("duplicate id `" + ex.id + "` (first seen at line " + std::to_string(first->second) + ")");
      ++report.examples;
      if (examples)
        examples->push_back(std::move(ex));
    } catch (const bad_record& error) {
      add_problem(where + error.what());
    }
  });
  if (!read)
    add_problem(read.error().message);
  return report;
}

} // namespace

dataset_report check_dataset(const std::filesystem::path& file, task_kind task, std::size_t max_problems) {
  try {
    return read_dataset(file, task, max_problems, nullptr);
  } catch (const std::exception& error) {
    dataset_report report;
    report.problems.push_back(file.string() + ": " + error.what());
    report.problem_count = 1;
    return report;
  }
}

result<std::vector<example>> load_dataset(const std::filesystem::path& file, task_kind task) {
  try {
    std::vector<example> examples;
    const auto report = read_dataset(file, task, 1, &examples);
    if (report.problem_count == 0)
      return examples;
    auto message = report.problems.front();
    if (const auto more = report.problem_count - 1; more > 0)
      message += " (and " + std::to_string(more) + " more bad line" + (more == 1 ? ")" : "s)");
    return problem{std::move(message)};
  } catch (const std::exception& error) {
    return problem{file.string() + ": " + error.what()};
  }
}

} // namespace tailor
