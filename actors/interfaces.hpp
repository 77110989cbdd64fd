// The typed interfaces of the loop's actors: who accepts which message. The coordinator is dynamically
// typed (it hears from all five) and is passed around as caf::actor.
#pragma once

#include "messages/atoms.hpp"
#include "messages/example.hpp"
#include "messages/grading.hpp"
#include "messages/teacher.hpp"
#include "messages/training.hpp"
#include "messages/weights.hpp"

#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tailor {

// Pools of positives and negatives; serves batches of training items against credit.
using reflection_builder_actor = caf::typed_actor<
    caf::reacts_to<positive_atom, teacher_reply>, // every answer, with or without correct rationales
    // The questions of round 1 in the order asked: round 1's batches train on them in that order, one batch of
    // them every `every` batches (io/loop/first_pass.hpp).
    caf::reacts_to<first_pass_atom, std::vector<std::string> /*example ids*/, std::uint32_t /*every*/>,
    // A wrong rationale of the student, from round `round`'s exam.
    caf::reacts_to<negative_atom, std::string /*example id*/, std::string /*reasoning*/, std::uint32_t /*round*/>,
    // A batch of at most n items of distinct questions for round `round`'s training, with no answer meant for
    // a later round; empty while the pools cannot fill one yet.
    caf::replies_to<credit_atom, std::uint32_t /*n*/, std::uint32_t /*round*/>::with<std::vector<training_item>>,
    // Writes the pools to a file in the directory (part of a checkpoint); restores them from one.
    caf::replies_to<checkpoint_atom, std::string>::with<bool>,
    caf::replies_to<resume_atom, std::string>::with<bool>>;

// Sends teacher requests through the backend, answers one by one; each answer goes to the builder and a
// notice of it to the coordinator.
// The answer comes back as (answered_atom, request, reply, the index of the teacher that answered).
using teacher_client_actor =
    caf::typed_actor<caf::reacts_to<teach_atom, teacher_request>,
                     caf::reacts_to<answered_atom, teacher_request, teacher_reply, std::uint32_t>>;

// Deduplicates wrong answers, feeds negatives to the builder and mistakes (within the round's quota) to the
// teacher client.
using mistake_collector_actor =
    caf::typed_actor<caf::reacts_to<graded_atom, std::vector<graded_answer>, std::uint32_t /*exam pass*/,
                                    bool /*the pass's last batch*/>,
                     caf::reacts_to<stand_in_atom, std::uint32_t /*exam pass*/, std::vector<example>>>;

// Samples and grades (exam) or answers greedily (evaluation) with a weights snapshot it loads itself.
using student_inference_actor = caf::typed_actor<
    // Questions, the seed, the exam pass; answers the questions in chunks with the newest snapshot it has.
    caf::reacts_to<exam_atom, std::vector<example>, std::uint64_t, std::uint32_t>,
    // Test questions, the snapshot to evaluate, the round it closes.
    caf::reacts_to<eval_atom, std::vector<example>, weights_snapshot, std::uint32_t>,
    caf::reacts_to<snapshot_atom, weights_snapshot>, // newer weights for the exam
    caf::reacts_to<next_atom>>;                      // the next chunk of the exam in hand

// Owns the model and the optimizer.
using gpu_trainer_actor = caf::typed_actor<
    // Build the student (or load it from a checkpoint directory to resume) and save weights v0.
    caf::replies_to<prepare_atom, std::string /*resume dir*/>::with<weights_snapshot>,
    // Train `steps` optimizer steps of round `round` at peak rate `lr`, checkpointing every `every` steps
    // (0: only at the end). Reports metrics and snapshots to the coordinator.
    caf::reacts_to<train_atom, std::uint32_t, std::uint64_t, double, std::uint64_t>,
    caf::reacts_to<next_atom>>;

} // namespace tailor
