// Writing and reading a run's mistake records and exam outcomes (io/store/mistake_records.hpp).
#include "io/store/mistake_records.hpp"

#include "io/common/atomic_file.hpp"
#include "io/common/jsonl.hpp"

#include <nlohmann/json.hpp>

namespace tailor {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

fs::path round_file(const fs::path& run_dir, const char* dir, std::uint32_t round) {
  return run_dir / dir / ("round_" + std::to_string(round) + ".jsonl");
}

status create_parent(const fs::path& file) {
  std::error_code error;
  fs::create_directories(file.parent_path(), error);
  if (error)
    return problem{file.parent_path().string() + ": cannot create: " + error.message()};
  return ok_status();
}

// Invalid UTF-8 in a student's or a teacher's text is replaced, not a reason to lose the record.
std::string dump_line(const json& line) {
  return line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string where(const fs::path& file, std::size_t line) {
  return file.string() + ":" + std::to_string(line) + ": ";
}

result<mistake_record> mistake_from_json(const json& j) {
  if (!j.contains("example_id") || !j["example_id"].is_string() || !j.contains("wrong_rationale") ||
      !j["wrong_rationale"].is_string())
    return problem{"needs a string `example_id` and a string `wrong_rationale`"};
  try {
    return mistake_record{.example_id = j["example_id"].get<std::string>(),
                          .task = j.value("task", ""),
                          .question = j.value("question", ""),
                          .gold_answer = j.value("gold_answer", ""),
                          .wrong_rationale = j["wrong_rationale"].get<std::string>(),
                          .wrong_answer = j.value("wrong_answer", ""),
                          .teacher_asked = j.value("teacher_asked", true),
                          .feedback = j.value("feedback", ""),
                          .corrected_rationale = j.value("corrected_rationale", ""),
                          .teacher_error = j.value("teacher_error", ""),
                          .teacher_tokens = j.value("teacher_tokens", std::uint64_t{0})};
  } catch (const json::exception& error) {
    return problem{std::string("a field of the wrong type: ") + error.what()};
  }
}

} // namespace

mistake_record mistake_of(const teacher_request& request, const teacher_reply& reply) {
  const auto& m = request.student_mistake;
  return {.example_id = request.problem.id,
          .task = std::string(to_string(request.problem.task)),
          .question = request.problem.question,
          .gold_answer = request.problem.answer,
          .wrong_rationale = m.wrong_rationale.text,
          .wrong_answer = m.extracted_answer,
          .teacher_asked = true,
          .feedback = reply.feedback,
          .corrected_rationale = reply.rationales.empty() ? std::string{} : reply.rationales.front().text,
          .teacher_error = reply.error,
          .teacher_tokens = reply.usage.prompt_tokens + reply.usage.completion_tokens};
}

mistake_record unasked_mistake_of(const example& problem, const graded_answer& answer) {
  return {.example_id = problem.id,
          .task = std::string(to_string(problem.task)),
          .question = problem.question,
          .gold_answer = problem.answer,
          .wrong_rationale = answer.reasoning.text,
          .wrong_answer = answer.extracted_answer,
          .teacher_asked = false,
          .feedback = {},
          .corrected_rationale = {},
          .teacher_error = {},
          .teacher_tokens = 0};
}

json to_json(const mistake_record& r) {
  return {{"example_id", r.example_id},
          {"task", r.task},
          {"question", r.question},
          {"gold_answer", r.gold_answer},
          {"wrong_rationale", r.wrong_rationale},
          {"wrong_answer", r.wrong_answer},
          {"teacher_asked", r.teacher_asked},
          {"feedback", r.feedback},
          {"corrected_rationale", r.corrected_rationale},
          {"teacher_error", r.teacher_error},
          {"teacher_tokens", r.teacher_tokens}};
}

fs::path mistake_file(const fs::path& run_dir, std::uint32_t round) {
  return round_file(run_dir, "mistakes", round);
}

status append_mistake(const fs::path& run_dir, std::uint32_t round, const mistake_record& record) {
  const auto file = mistake_file(run_dir, round);
  if (auto created = create_parent(file); !created)
    return created;
  return append_line_durably(file, dump_line(to_json(record)));
}

status clear_mistakes(const fs::path& run_dir, std::uint32_t round) {
  std::error_code error;
  fs::remove(mistake_file(run_dir, round), error);
  if (error)
    return problem{mistake_file(run_dir, round).string() + ": cannot remove: " + error.message()};
  return ok_status();
}

result<std::vector<mistake_record>> read_mistakes(const fs::path& file) {
  return read_append_log_as<mistake_record>(file, mistake_from_json);
}

fs::path exam_outcome_file(const fs::path& run_dir, std::uint32_t round) {
  return round_file(run_dir, "exams", round);
}

status write_exam_outcomes(const fs::path& run_dir, std::uint32_t round, std::span<const exam_outcome> outcomes) {
  std::string text;
  for (const auto& o : outcomes)
    text += dump_line({{"id", o.example_id}, {"answers", o.answers}, {"right", o.right}});
  const auto file = exam_outcome_file(run_dir, round);
  if (auto created = create_parent(file); !created)
    return created;
  return write_file_atomically(file, text);
}

result<std::optional<std::vector<exam_outcome>>> read_exam_outcomes(const fs::path& file) {
  std::error_code error;
  if (!fs::exists(file, error))
    return std::optional<std::vector<exam_outcome>>{};
  // Replaced atomically, so never torn: every line must be whole.
  std::vector<exam_outcome> outcomes;
  std::optional<problem> bad;
  const auto read = for_each_jsonl_record(file, [&](result<jsonl_record> line) {
    if (bad)
      return;
    if (!line)
      return void(bad = line.error());
    const json& j = line->object;
    if (!j.contains("id") || !j["id"].is_string() || !j.contains("answers") || !j["answers"].is_number_unsigned() ||
        !j.contains("right") || !j["right"].is_number_unsigned())
      return void(bad = problem{where(file, line->line) + "needs a string `id` and counts `answers` and `right`"});
    outcomes.push_back({j["id"].get<std::string>(), j["answers"].get<std::uint32_t>(), j["right"].get<std::uint32_t>()});
  });
  if (bad)
    return *bad;
  if (!read && fs::file_size(file, error) > 0) // an empty file is an exam of no question
    return read.error();
  return std::optional<std::vector<exam_outcome>>{std::move(outcomes)};
}

} // namespace tailor
