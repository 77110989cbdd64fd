// `tailor cache stats`: what the teacher cache holds and what it has saved so far.
#pragma once

#include <CLI/App.hpp>

namespace tailor::cli {

void add_cache_command(CLI::App& app);

} // namespace tailor::cli
