// A command's body inside CLI11's callback: whatever goes wrong ends as a message on stderr and an exit
// status (CLI::RuntimeError carries it to main), never as an exception or a crash.
#pragma once

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

namespace tailor::cli {

// Runs `body` (-> exit status); an exception becomes "tailor COMMAND: <first line of its message>" and
// status 1 (torch's messages go on with a C++ stack trace that helps nobody at a terminal).
template <class Body>
void run_guarded(std::string_view command, Body body) {
  int status = 1;
  try {
    status = body();
  } catch (const std::exception& error) {
    const std::string what = error.what();
    std::cerr << "tailor " << command << ": " << what.substr(0, what.find('\n')) << "\n";
  }
  if (status != 0)
    throw CLI::RuntimeError(status);
}

} // namespace tailor::cli
