// `tailor generate` and `tailor eval`: a checkpoint's completions of a prompt, and its accuracy on a dataset.
#pragma once

#include <CLI/App.hpp>

namespace tailor::cli {

void add_model_commands(CLI::App& app);

} // namespace tailor::cli
