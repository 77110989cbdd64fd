// Writing and reading the per-question evaluation files of a run.
#include "io/store/evaluation_records.hpp"

#include "io/common/atomic_file.hpp"

#include <fstream>
#include <nlohmann/json.hpp>

namespace tailor {

namespace fs = std::filesystem;

nlohmann::json to_json(const evaluation_record& record) {
  return {{"id", record.example_id}, {"correct", record.correct}, {"answer", record.answer},
          {"reasoning", record.reasoning}};
}

result<evaluation_record> evaluation_record_from_json(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("id") || !json["id"].is_string() || !json.contains("correct") ||
      !json["correct"].is_boolean())
    return problem{"needs a string `id` and a boolean `correct`"};
  const auto text = [&](const char* key) {
    return json.contains(key) && json[key].is_string() ? json[key].get<std::string>() : std::string{};
  };
  return evaluation_record{json["id"].get<std::string>(), json["correct"].get<bool>(), text("answer"),
                           text("reasoning")};
}

fs::path evaluation_file(const fs::path& run_dir, std::uint32_t round) {
  return run_dir / "evaluations" / ("round_" + std::to_string(round) + ".jsonl");
}

status write_evaluation(const fs::path& run_dir, std::uint32_t round, std::span<const graded_answer> answers) {
  std::string text;
  for (const auto& answer : answers) {
    const auto line =
        to_json(evaluation_record{answer.example_id, answer.correct, answer.extracted_answer, answer.reasoning.text});
    // Invalid UTF-8 in a student's text is replaced, not a reason to lose the record.
    text += line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  const auto file = evaluation_file(run_dir, round);
  std::error_code error;
  fs::create_directories(file.parent_path(), error);
  if (error)
    return problem{file.parent_path().string() + ": cannot create: " + error.message()};
  return write_file_atomically(file, text);
}

result<std::vector<evaluation_record>> read_evaluation(const fs::path& file) {
  std::ifstream in{file};
  if (!in)
    return problem{file.string() + ": cannot open"};
  std::vector<evaluation_record> records;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.empty())
      continue;
    auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    auto where = [&] { return file.string() + ":" + std::to_string(number) + ": "; };
    if (json.is_discarded() || !json.is_object())
      return problem{where() + "not a JSON object"};
    auto record = evaluation_record_from_json(json);
    if (!record)
      return problem{where() + record.error().message};
    records.push_back(std::move(record.value()));
  }
  return records;
}

} // namespace tailor
