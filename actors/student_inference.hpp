// student_inference (detached: it blocks in LibTorch): the exam and the evaluation, each with a weights
// snapshot it loads from its checkpoint directory.
#pragma once

#include "actors/interfaces.hpp"
#include "messages/run_config.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <memory>

namespace tailor {

class device_scheduler;
class shared_ranks;

// Exam answers go to `collector` as (graded_atom, answers, pass, last batch of the pass), a chunk of exam.batch_size questions at a
// time; each chunk uses the newest snapshot received so far, so a long exam follows the trainer. To the
// coordinator: (exam_atom, pass, answered questions, weights version) after each chunk (it learns that a
// pass is over from the collector's counts); (eval_atom, round, accuracy, weights version) after an
// evaluation. A checkpoint that cannot be loaded ends the actor with an error the coordinator reports.
// With `devices` (the daemon's runs), each exam chunk and each evaluation waits for its turn on the device.
// Once the trainer has posted its data-parallel ranks in `ranks` (nproc > 1), each step of the exam takes a
// chunk per rank (rank r the r-th) and the evaluation a part per rank, rank 0 answering its own here: the
// answers, gathered in question order, are the ones a single process gives.
student_inference_actor spawn_student_inference(caf::actor_system& system, run_config config,
                                                mistake_collector_actor collector, caf::actor coordinator,
                                                std::shared_ptr<device_scheduler> devices = nullptr,
                                                std::shared_ptr<shared_ranks> ranks = nullptr);

} // namespace tailor
