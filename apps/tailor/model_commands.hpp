// `tailor generate` and `tailor eval`: a checkpoint's completions of a prompt, and its accuracy on a dataset;
// `tailor model merge`: a checkpoint's LoRA adapters folded into its base.
#pragma once

#include <CLI/App.hpp>

namespace tailor::cli {

void add_model_commands(CLI::App& app);
// Adds `merge` to the `model` command group.
void add_model_merge(CLI::App& model_group);

} // namespace tailor::cli
