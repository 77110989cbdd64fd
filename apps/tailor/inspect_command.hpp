// `tailor model inspect DIR`: a checkpoint's family, size, tokenizer, context and fine-tuning memory.
#pragma once

#include <CLI/App.hpp>

namespace tailor::cli {

// Adds the `model` command group (`tailor model inspect`, `tailor model merge`).
void add_model_group(CLI::App& app);

} // namespace tailor::cli
