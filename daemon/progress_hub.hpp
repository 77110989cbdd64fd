// Fans progress events out to subscribers (websocket clients), each with its own bounded queue, and keeps
// every run's current state so that a late subscriber starts from it.
#pragma once

#include "io/api/event_queue.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <cstddef>
#include <memory>

// Queues are handed to the hub in-process only; they never cross a node.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<tailor::event_queue>)

namespace tailor {

struct progress_hub_options {
  // Chart points kept per run and series; past it, every other point is dropped, so that a long run keeps
  // its whole shape at a coarser grain.
  std::size_t history_points = 500;
};

// Messages it handles (all one-way but `get`):
//   (progress_atom, progress_event)   a run's event: updates its state, goes to every matching queue
//   (subscribe_atom, std::string run_id, std::shared_ptr<event_queue>)
//        run_id empty: all runs. The queue first gets a `state` message per run (with chart history when
//        subscribed to one run), then every event as {"type": "progress", ...}. Closed queues are forgotten.
//   (caf::get_atom, std::string run_id) -> std::string   the run's state message ("null" when unknown)
caf::actor spawn_progress_hub(caf::actor_system& system, progress_hub_options options = {});

} // namespace tailor
