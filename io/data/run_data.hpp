// The questions of a run: the configured JSONL files, or for `arith` without files, problems generated from
// the run's seed and written into the run directory (so the built-in teacher and a resumed run read the
// very same ones).
#pragma once

#include "io/common/result.hpp"
#include "messages/example.hpp"
#include "messages/run_config.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace tailor {

using example_index = std::shared_ptr<const std::unordered_map<std::string, example>>;

struct run_data {
  std::vector<example> train;
  std::vector<example> test;
  example_index index; // the training questions by id
  std::vector<std::filesystem::path> train_files;
};

// Errors name the file and line, or the config key (data.train_file) when a file is missing.
result<run_data> prepare_run_data(const run_config& config);

} // namespace tailor
