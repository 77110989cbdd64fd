// The run config as JSON: read with every problem named by its JSON path, checked, and written back whole.
#pragma once

#include "io/common/result.hpp"
#include "messages/run_config.hpp"

#include <filesystem>
#include <nlohmann/json_fwd.hpp>

namespace tailor {

// The struct's defaults with every key of `j` applied, then checked. Relative paths are resolved against
// `base_dir` and stored absolute; files and directories named must exist. The problem lists every mistake
// found, one per line, each led by its JSON path:
//   optimizer.learning_rate: expected a number, got "fast"
//   teacher.kind: unknown value "gpt"; one of builtin, openai_compatible
//   exam.smaples: unknown key; did you mean "samples"?
//   data.train_file: no such file: /abs/train.jsonl
// docs/config.md lists the keys and the checks.
result<run_config> run_config_from_json(const nlohmann::json& j, const std::filesystem::path& base_dir);

// run_config_from_json on the file's contents, with paths relative to the file's directory. A file that
// cannot be read or is not JSON is a problem that names it (and the line and column of a syntax error).
result<run_config> load_run_config(const std::filesystem::path& file);

// Every field, so that a run directory's config.json records exactly what ran:
// run_config_from_json(to_json(c), any_dir) == c for every c that passes the checks.
nlohmann::json to_json(const run_config& config);

} // namespace tailor
