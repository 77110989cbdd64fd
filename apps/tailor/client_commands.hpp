// `tailor submit|ls|watch|cancel|results`: the CLI client of the daemon (tailord), found through --server
// or TAILOR_SERVER.
#pragma once

#include <CLI/App.hpp>

namespace tailor::cli {

void add_client_commands(CLI::App& app);

} // namespace tailor::cli
