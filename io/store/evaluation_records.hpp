// Each question of a round's held-out evaluation, as the run answered it: <run>/evaluations/round_N.jsonl.
// Accuracy alone cannot be paired across runs; per-question correctness can (io/compare).
#pragma once

#include "io/common/result.hpp"
#include "messages/grading.hpp"

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace tailor {

struct evaluation_record {
  std::string example_id;
  bool correct = false;
  std::string answer;    // what the answer extraction found; empty when none
  std::string reasoning; // the student's rationale before its answer line

  friend bool operator==(const evaluation_record&, const evaluation_record&) = default;
};

// A line of the file: {"id", "correct", "answer", "reasoning"}; also how the daemon serves them.
nlohmann::json to_json(const evaluation_record& record);
result<evaluation_record> evaluation_record_from_json(const nlohmann::json& line);

// <run_dir>/evaluations/round_<round>.jsonl
std::filesystem::path evaluation_file(const std::filesystem::path& run_dir, std::uint32_t round);

// One line per question, in the order given; replaced atomically (a resumed run writes it again).
status write_evaluation(const std::filesystem::path& run_dir, std::uint32_t round,
                        std::span<const graded_answer> answers);

// The records of one file; a bad line is an error naming the file and the line.
result<std::vector<evaluation_record>> read_evaluation(const std::filesystem::path& file);

// {"rounds": [{"round", "records": [...]}]}: the run's evaluations of one round or (nullopt) of all it has, as
// the daemon serves them to `tailor compare --server`.
result<nlohmann::json> evaluations_json(const std::filesystem::path& run_dir, std::optional<std::uint32_t> round);

// The rounds N of a directory's round_N.jsonl files (evaluations/, mistakes/, exams/); none when it is missing.
std::set<std::uint32_t> round_files_in(const std::filesystem::path& dir);

} // namespace tailor
