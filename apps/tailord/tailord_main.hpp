// tailord's command line and life cycle, shared by the daemon (with the training loop) and its simulated
// twin (tailord-simulated, for tests and demos without a GPU or LibTorch).
#pragma once

#include "actors/run_registry.hpp"

namespace tailor {

// Parses the command line, starts the daemon and serves until SIGINT or SIGTERM. `loop` launches real
// runs; when it is empty, every run is simulated (as with --simulate). Returns the exit status.
int tailord_main(int argc, char** argv, run_launcher loop);

} // namespace tailor
