// Writing and reading the per-question evaluation files of a run.
#include "io/store/evaluation_records.hpp"

#include "io/common/atomic_file.hpp"

#include <fstream>
#include <nlohmann/json.hpp>

namespace tailor {

namespace fs = std::filesystem;

fs::path evaluation_file(const fs::path& run_dir, std::uint32_t round) {
  return run_dir / "evaluations" / ("round_" + std::to_string(round) + ".jsonl");
}

status write_evaluation(const fs::path& run_dir, std::uint32_t round, std::span<const graded_answer> answers) {
  std::string text;
  for (const auto& answer : answers) {
    nlohmann::json line = {{"id", answer.example_id},
                           {"correct", answer.correct},
                           {"answer", answer.extracted_answer},
                           {"reasoning", answer.reasoning.text}};
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
    if (!json.contains("id") || !json["id"].is_string() || !json.contains("correct") || !json["correct"].is_boolean())
      return problem{where() + "needs a string `id` and a boolean `correct`"};
    records.push_back({json["id"].get<std::string>(), json["correct"].get<bool>(), json.value("answer", ""),
                       json.value("reasoning", "")});
  }
  return records;
}

} // namespace tailor
