// gpu_trainer (detached: it blocks in LibTorch): owns the student and its optimizer, trains on items it
// draws against credit from the reflection builder, and publishes weights snapshots as checkpoints.
#pragma once

#include "actors/interfaces.hpp"
#include "actors/reflection_builder.hpp"
#include "messages/run_config.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <filesystem>
#include <memory>

namespace tailor {

class device_scheduler;
class shared_ranks;

// To the coordinator: (metrics_atom, training_metrics) after every optimizer step; (snapshot_atom,
// weights_snapshot, round, round_end) after every checkpoint, round_end true for the checkpoint that closes
// a round (checkpoints/round-N, with optimizer state; the others are checkpoints/step-N, of which the two
// newest are kept). From scratch, the tokenizer is trained on `problems`' questions and gold rationales.
// A failure ends the actor with an error the coordinator reports. With `devices` (the daemon's runs), each
// optimizer step waits for its turn on the device. With nproc > 1 the trainer starts the other ranks and
// posts them in `exam_ranks`, where the exam (spawn_student_inference) finds them.
gpu_trainer_actor spawn_gpu_trainer(caf::actor_system& system, run_config config, example_index problems,
                                    reflection_builder_actor builder, caf::actor coordinator,
                                    std::shared_ptr<device_scheduler> devices = nullptr,
                                    std::shared_ptr<shared_ranks> exam_ranks = nullptr);

// Where a run keeps its checkpoints.
std::filesystem::path checkpoints_dir(const run_config& config);

} // namespace tailor
