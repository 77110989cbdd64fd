// `tailor rank-worker RUN_DIR`: one data-parallel trainer rank other than 0, which `tailor run --nproc N`
// starts (or a user on another machine, with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set).
#pragma once

#include <CLI/App.hpp>

namespace tailor::cli {

void add_rank_worker_command(CLI::App& app);

} // namespace tailor::cli
