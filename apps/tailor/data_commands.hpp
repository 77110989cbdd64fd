// `tailor data generate|check`: make datasets and check them before a run spends money on them.
#pragma once

#include <CLI/App.hpp>

namespace tailor::cli {

void add_data_commands(CLI::App& app);

} // namespace tailor::cli
