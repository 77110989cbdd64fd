// Launching one tailored-learning run: the only entry point the CLI and the daemon need.
#pragma once

#include "messages/progress.hpp"
#include "messages/run_config.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <memory>
#include <string>

namespace tailor {

class device_scheduler;
class fifo_semaphore;

struct run_spec {
  std::string run_id;   // names the run in its progress events
  run_config config;    // config.output_dir must be set: the run directory (created when missing)
  // What the run shares with the daemon's other runs; both null for a run alone (`tailor run`), which then
  // waits for nothing.
  std::shared_ptr<device_scheduler> devices;    // a turn on the device per training step and exam chunk
  std::shared_ptr<fifo_semaphore> teacher_gate; // HTTP teacher requests in flight over all runs
};

// Spawns the run's coordinator, which spawns and monitors the loop's actors and starts at once.
// - Every progress event goes to `listener` as (progress_atom, progress_event); the last one has a final
//   phase (finished, failed with the error in `message`, or cancelled). `listener` may be invalid.
// - The run directory holds config.json, journal.jsonl, metrics.jsonl, checkpoints/round-N/ and, at the
//   end, results.json ({"rounds": [{"round": 1, "accuracy": 0.42, ...}], ...}).
// - Cancel: send the coordinator (stop_atom); it stops its actors, writes what it has and reports
//   `cancelled`. Killing the process instead is safe too: spawning a run again on the same directory
//   resumes from its last completed round, and the teacher cache answers what was already paid for.
// The coordinator quits after its final event.
caf::actor spawn_run(caf::actor_system& system, run_spec spec, caf::actor listener);

} // namespace tailor
