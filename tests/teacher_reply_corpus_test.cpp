// The teacher-reply reader on replies shaped the way chat models write them (tests/data/teacher_replies/):
// every reply's answer and verdict, and that a kept rationale reads like the demos.
#include "io/common/jsonl.hpp"
#include "io/data/answer_extraction.hpp"
#include "io/data/prompts.hpp"
#include "io/teacher/teacher_prompts.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace tailor;

namespace {

struct corpus_entry {
  std::string where; // "numbers.jsonl:12 exact_format"
  std::string shape;
  std::string request; // "cot" or "feedback"
  example item;
  std::string reply;
  bool kept = false;
  std::string answer;
  std::vector<std::string> choices; // CSQA: the texts of (a)..(e), as the question lists them
  std::optional<std::string> rationale;
  std::optional<std::string> feedback;
};

std::vector<corpus_entry> read_corpus(const std::string& file_name) {
  const auto path =
      std::filesystem::path(TAILOR_SOURCE_DIR) / "tests" / "data" / "teacher_replies" / file_name;
  std::vector<corpus_entry> entries;
  std::vector<std::string> problems;
  const auto read = for_each_jsonl_record(path, [&](result<jsonl_record> record) {
    if (!record) {
      problems.push_back(record.error().message);
      return;
    }
    const auto& o = record->object;
    corpus_entry entry;
    entry.shape = o.at("shape").get<std::string>();
    entry.where = file_name + ":" + std::to_string(record->line) + " " + entry.shape;
    entry.request = o.at("request").get<std::string>();
    const auto task = parse_task_kind(o.at("task").get<std::string>());
    if (!task) {
      problems.push_back(entry.where + ": unknown task");
      return;
    }
    entry.item = {entry.where, *task, o.at("question").get<std::string>(), o.at("gold").get<std::string>(),
                  ""};
    entry.reply = o.at("reply").get<std::string>();
    entry.kept = o.at("kept").get<bool>();
    entry.answer = o.at("answer").get<std::string>();
    if (o.contains("choices"))
      entry.choices = o.at("choices").get<std::vector<std::string>>();
    if (o.contains("rationale"))
      entry.rationale = o.at("rationale").get<std::string>();
    if (o.contains("feedback"))
      entry.feedback = o.at("feedback").get<std::string>();
    entries.push_back(std::move(entry));
  });
  INFO(path.string());
  REQUIRE(read);
  for (const auto& problem : problems)
    FAIL_CHECK(problem);
  return entries;
}

// The sentence the demos end with, for the gold answer.
std::string answer_sentence(const corpus_entry& entry) {
  const auto& gold = entry.item.answer;
  if (entry.item.task != task_kind::csqa)
    return "Therefore, the answer is " + normalize_number(gold) + ".";
  const auto index = static_cast<std::size_t>(gold.front() - 'a');
  const auto text = index < entry.choices.size() ? entry.choices[index] : "?";
  return "Therefore, the answer is " + text + " (" + gold + ").";
}

// What is wrong with a kept rationale: more than one line, markup left in it, a marker, or a wrong ending.
std::vector<std::string> rationale_problems(const std::string& rationale, const corpus_entry& entry) {
  const auto& item = entry.item;
  std::vector<std::string> problems;
  if (rationale.find('\n') != std::string::npos)
    problems.push_back("the rationale spans lines");
  for (const char* markup : {"**", "__", "`", "\\", "$$", "{", "}", "#", "  "})
    if (rationale.find(markup) != std::string::npos)
      problems.push_back(std::string("the rationale holds \"") + markup + "\"");
  for (const char* marker : {"Reasoning:", "Answer:", "Feedback:", "Explanation:"})
    if (rationale.find(marker) != std::string::npos)
      problems.push_back(std::string("the rationale holds the marker ") + marker);
  if (!rationale.ends_with(answer_sentence(entry)))
    problems.push_back("the rationale does not end with \"" + answer_sentence(entry) + "\"");
  const auto target = student_target(item.task, rationale, item.answer);
  if (!answer_matches(extract_answer(target, item.task), item.answer))
    problems.push_back("the student's target grades as \"" + extract_answer(target, item.task) + "\"");
  return problems;
}

std::vector<std::string> entry_problems(const corpus_entry& entry) {
  std::vector<std::string> problems;
  const auto parsed = parse_teacher_reply(entry.reply, entry.item.task, entry.item.question);
  if (parsed.answer != entry.answer)
    problems.push_back("answer \"" + parsed.answer + "\", expected \"" + entry.answer + "\"");
  if (is_answer_correct(parsed, entry.item) != entry.kept)
    problems.push_back(entry.kept ? "not kept, expected kept" : "kept, expected not kept");
  chat_response response;
  response.choices = {entry.reply};
  const auto kept = kept_rationales(response, entry.item);
  if (kept.size() != (entry.kept ? 1u : 0u) || (entry.kept && kept.front() != parsed.rationale))
    problems.push_back("kept_rationales keeps " + std::to_string(kept.size()) + " rationales, expected " +
                       (entry.kept ? "the parsed one" : "none"));
  if (entry.kept)
    for (auto& problem : rationale_problems(parsed.rationale, entry))
      problems.push_back(std::move(problem));
  if (entry.rationale && parsed.rationale != *entry.rationale)
    problems.push_back("rationale\n      \"" + parsed.rationale + "\"\n    expected\n      \"" +
                       *entry.rationale + "\"");
  if (entry.feedback && parsed.feedback != *entry.feedback)
    problems.push_back("feedback \"" + parsed.feedback + "\", expected \"" + *entry.feedback + "\"");
  return problems;
}

void check_corpus(const std::string& file_name, const std::set<task_kind>& tasks) {
  const auto entries = read_corpus(file_name);
  std::set<std::string> shapes;
  std::set<std::string> requests;
  std::size_t negatives = 0;
  std::string report;
  std::size_t failed = 0;
  for (const auto& entry : entries) {
    shapes.insert(entry.shape);
    requests.insert(entry.request);
    negatives += entry.kept ? 0 : 1;
    CHECK(tasks.count(entry.item.task) == 1);
    // The corpus itself is consistent: a kept reply gives the gold answer, the choices are the question's.
    if (entry.kept)
      CHECK(answer_matches(entry.answer, entry.item.answer));
    CHECK((entry.item.task == task_kind::csqa) == (entry.choices.size() == 5));
    for (std::size_t i = 0; i < entry.choices.size(); ++i) {
      const auto line = "(" + std::string(1, static_cast<char>('a' + i)) + ") " + entry.choices[i];
      const auto& question = entry.item.question;
      CHECK((question.find("\n" + line + "\n") != std::string::npos || question.ends_with("\n" + line)));
    }
    const auto problems = entry_problems(entry);
    if (problems.empty())
      continue;
    ++failed;
    report += "\n  " + entry.where + ":";
    for (const auto& problem : problems)
      report += "\n    " + problem;
  }
  INFO(file_name << ": " << failed << " of " << entries.size() << " replies read wrong:" << report);
  CHECK(failed == 0);
  // Enough kinds of reply to mean something, of both requests, and the ones to reject among them.
  CHECK(shapes.size() >= 30);
  CHECK(shapes.size() == entries.size());
  CHECK(requests == std::set<std::string>{"cot", "feedback"});
  CHECK(negatives >= 10);
}

} // namespace

TEST_CASE("teacher replies: number answers as chat models write them", "[teacher_reply_corpus]") {
  check_corpus("numbers.jsonl",
               {task_kind::gsm8k, task_kind::svamp, task_kind::multiarith, task_kind::arith});
}

TEST_CASE("teacher replies: yes/no answers as chat models write them", "[teacher_reply_corpus]") {
  check_corpus("yes_no.jsonl", {task_kind::strategyqa});
}

TEST_CASE("teacher replies: multiple-choice answers as chat models write them", "[teacher_reply_corpus]") {
  check_corpus("choices.jsonl", {task_kind::csqa});
}
