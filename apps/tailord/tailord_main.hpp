// tailord's command line and life cycle, shared by the daemon (with the training loop) and its simulated
// twin in the tests (tests/support: tailord-simulated, for the daemon's tests and benchmark).
#pragma once

#include "daemon/run_registry.hpp"

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace tailor {

// How the program launches runs: options of its own on the command line, then, once parsed, the launcher.
struct run_launch_setup {
  std::function<void(CLI::App&)> add_options; // may be empty
  std::function<run_launcher()> launcher;
  std::string banner; // added to "listening on ..." (e.g. " (simulated runs)")
  std::function<int()> visible_gpus; // GPUs there are to place runs on (--gpus overrides); empty: none
};

// Parses the command line, starts the daemon and serves until SIGINT or SIGTERM. Returns the exit status.
int tailord_main(int argc, char** argv, run_launch_setup launch);

} // namespace tailor
