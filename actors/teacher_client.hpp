// teacher_client: puts teacher requests to the run's teacher (built-in or HTTP, cached, budgeted) and routes
// the answer-correct rationales to the reflection builder.
#pragma once

#include "actors/interfaces.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace tailor {

class run_teacher;

// The actor shares `teacher` with the coordinator; the last one to let go destroys it, after its callbacks.
// Each answer, also a failed one, goes to `builder` as (positive_atom, reply), and to `coordinator` as
// (answered_atom, reply) so it can count requests, tokens and cost. A request that failed after all its
// tries for a transient reason is asked once more `retry_failed_after` later; the coordinator hears of the
// first failure as (retrying_atom, reply), and of the second as an answer with the error. With an
// `output_dir`, each final answer to a tailored feedback is also a mistake record (io/store/mistake_records.hpp).
teacher_client_actor spawn_teacher_client(caf::actor_system& system, std::shared_ptr<run_teacher> teacher,
                                          reflection_builder_actor builder, caf::actor coordinator,
                                          std::chrono::milliseconds retry_failed_after, std::string output_dir = {});

} // namespace tailor
