// A stand-in for the training loop with spawn_run's contract (actors/run.hpp) and none of its cost: it walks
// through the phases on a timer, reports plausible numbers, writes a journal and results.json, honours
// stop_atom and resumes from its journal. For the daemon's tests
// (tailord-simulated) and its benchmark; not part of the product.
#pragma once

#include "actors/run.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <chrono>
#include <cstdint>

namespace tailor {

struct simulated_run_options {
  std::chrono::microseconds step_interval{std::chrono::milliseconds(50)}; // between training steps
  std::uint32_t steps_per_round = 20; // when the config's steps_per_round is 0
  // Puts the send time (steady clock, ns) in each event's `message`, for delivery-delay benchmarks.
  bool stamp_send_time = false;
};

// Rounds come from config.rounds, steps from config.steps_per_round (round 1: config.first_round_steps when
// set); output goes to config.output_dir:
// journal.jsonl (one fsynced line per finished round), results.json ({"rounds": [...]}), and made-up
// evaluations/, mistakes/ and exams/ round files, as the loop writes them, for the dashboard and compare.
// With spec.devices, every step holds a turn on config.device for its interval, as the loop's steps do.
caf::actor spawn_simulated_run(caf::actor_system& system, run_spec spec, caf::actor listener,
                               simulated_run_options options = {});

} // namespace tailor
