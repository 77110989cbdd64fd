// Loads the JSONL datasets of METHOD.md (gsm8k, svamp, multiarith, strategyqa, csqa, arith) into examples.
#pragma once

#include "io/common/result.hpp"
#include "messages/example.hpp"

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace tailor {

// What `tailor data check` prints: how much was read and the first problems found, each "file:line: what".
struct dataset_report {
  std::size_t lines = 0;              // non-blank lines read
  std::size_t examples = 0;           // lines that became examples
  std::vector<std::string> problems;  // at most `max_problems` of them
  std::size_t problem_count = 0;      // all of them, also those not kept
};

// Parses every line of `file` as `task`; keeps going after a bad line so that all problems are counted.
dataset_report check_dataset(const std::filesystem::path& file, task_kind task, std::size_t max_problems = 10);

// Loads `file` as `task`. Any bad line fails the whole load with that line's "file:line: what" message
// (and how many other lines are bad), so a run never silently trains on part of a dataset.
result<std::vector<example>> load_dataset(const std::filesystem::path& file, task_kind task);

} // namespace tailor
