// The life cycle of the coordinator's rounds: teacher work, training, round end, evaluation; internal to it.
#pragma once

#include "actors/run_coordinator_state.hpp"

#include <cstdint>

namespace tailor::coordination {

// The teacher work of round `round`: chain of thought for round 1; then an exam on the newest weights, whose
// mistakes go to the teacher, or, for the ablation, random questions in their place. The ablation sits the
// same exam so that its teacher answers arrive when the method's would: in continuous mode, answers that came
// earlier would be trained on for more steps, and later ones closer to the round's evaluation.
void start_teacher_work(coordinator_actor* self, std::uint32_t round);

// Continuous mode: the next round's exam starts once the trainer is within `exam_lead_checkpoints` of the
// round's end, so that the exam, the teacher and the round's last steps overlap. Its mistakes and answers
// wait in the reflection builder until the next round trains; the exam loads each newer checkpoint as it
// comes, so its weights lag the trainer's by at most the lead (itself at most `max_staleness`). With no lead
// the exam starts when the round ends, at the open of the next one.
void maybe_start_next_exam(coordinator_actor* self);

void start_training(coordinator_actor* self);

// A round that waits for its teacher work (every round of round mode; continuous mode's later rounds unless
// told otherwise) starts training once the round's exam and teacher requests are all answered.
void maybe_start_round_training(coordinator_actor* self);

// Round `round` becomes the one in training. It trains at once, on what the pools hold, while its teacher
// work (perhaps started during the round before) goes on, or once that work is answered (see trains_at_open).
void open_round(coordinator_actor* self, std::uint32_t round);

void close_round(coordinator_actor* self, std::uint32_t round, double accuracy, std::uint64_t version);

// A round ends once its training steps are done and its teacher work is answered, so that the pools saved
// with its checkpoint hold every answer it paid for. Round mode trains only after the answers; in continuous
// mode the trainer waits here when the exam and the teacher are slower than its steps (a fast GPU), instead
// of running into the next round before that round's data exists.
void maybe_end_round(coordinator_actor* self);

} // namespace tailor::coordination
