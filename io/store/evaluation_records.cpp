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

result<nlohmann::json> evaluations_json(const fs::path& run_dir, std::optional<std::uint32_t> round) {
  auto rounds = nlohmann::json::array();
  for (const auto number : round_files_in(run_dir / "evaluations")) {
    if (round && *round != number)
      continue;
    auto records = read_evaluation(evaluation_file(run_dir, number));
    if (!records)
      return records.error();
    auto lines = nlohmann::json::array();
    for (const auto& record : *records)
      lines.push_back(to_json(record));
    rounds.push_back({{"round", number}, {"records", std::move(lines)}});
  }
  return nlohmann::json{{"rounds", std::move(rounds)}};
}

std::set<std::uint32_t> round_files_in(const fs::path& dir) {
  std::set<std::uint32_t> rounds;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("round_") || !name.ends_with(".jsonl"))
      continue;
    const std::string digits = name.substr(6, name.size() - 6 - 6);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
      continue;
    rounds.insert(static_cast<std::uint32_t>(std::stoul(digits)));
  }
  return rounds;
}

} // namespace tailor
