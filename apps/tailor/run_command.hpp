// `tailor run`: a tailored-learning job in this process; with no config, the embedded default.
#pragma once

#include <CLI/App.hpp>

namespace tailor::cli {

void add_run_command(CLI::App& app);

} // namespace tailor::cli
