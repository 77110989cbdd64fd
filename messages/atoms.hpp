// Atoms that name the operations of the actors' typed interfaces (CAF 0.17: at most 10 characters each).
#pragma once

#include <caf/atom.hpp>

namespace tailor {

// student_inference
using exam_atom = caf::atom_constant<caf::atom("exam")>; // sample answers to training questions, grade them
using eval_atom = caf::atom_constant<caf::atom("eval")>; // greedy answers to test questions, accuracy
using graded_atom = caf::atom_constant<caf::atom("graded")>; // a batch of graded answers

// mistake_collector and reflection_builder
using mistake_atom = caf::atom_constant<caf::atom("mistake")>;
using negative_atom = caf::atom_constant<caf::atom("negative")>; // a student's wrong rationale for the pools
// The ablation's random questions of an exam pass: one is asked about wherever the method would ask about a
// mistake.
using stand_in_atom = caf::atom_constant<caf::atom("standin")>;
// A teacher answer for the pools: its correct rationales, if any.
using positive_atom = caf::atom_constant<caf::atom("positive")>;

// teacher_client
using teach_atom = caf::atom_constant<caf::atom("teach")>; // a teacher_request, answered by a teacher_reply

// gpu_trainer: items flow only against credit, so no mailbox grows without bound
using train_atom = caf::atom_constant<caf::atom("train")>;
using credit_atom = caf::atom_constant<caf::atom("credit")>; // "send me N more items"
using checkpoint_atom = caf::atom_constant<caf::atom("checkpoint")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>; // new weights are ready: a weights_snapshot
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;

// run_coordinator and progress_hub
using progress_atom = caf::atom_constant<caf::atom("progress")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using pause_atom = caf::atom_constant<caf::atom("pause")>; // e.g. the exam, when its weights are too stale
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>; // finish what is in hand, then quit
using prepare_atom = caf::atom_constant<caf::atom("prepare")>; // build or load the student: weights v0
using next_atom = caf::atom_constant<caf::atom("next")>;       // an actor's own continuation of long work
using answered_atom = caf::atom_constant<caf::atom("answered")>; // the teacher answered one request
// A teacher request failed after all its tries and will be asked again later: a teacher_reply with the error.
using retrying_atom = caf::atom_constant<caf::atom("retrying")>;
using first_pass_atom = caf::atom_constant<caf::atom("firstpass")>; // the questions of round 1, as asked

} // namespace tailor
