// `tailor compare`: arms of a run config over seeds, paired statistics, compare.json and a table.
#pragma once

#include <CLI/App.hpp>

namespace tailor::cli {

void add_compare_command(CLI::App& app);

} // namespace tailor::cli
