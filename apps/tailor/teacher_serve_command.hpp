// `tailor teacher-serve`: the built-in teacher behind an OpenAI-compatible endpoint, for tests and demos.
#pragma once

#include <CLI/App.hpp>

namespace tailor::cli {

void add_teacher_serve_command(CLI::App& app);

} // namespace tailor::cli
