// A follower rank: it reads RUN_DIR/config.json, meets rank 0, and does what rank 0's commands say (load a
// checkpoint, start a round, step on a batch) on its own copy of the student, taking its share of each
// batch's micro-batches, and answers the exam questions rank 0 hands it with the weights snapshot it names;
// it writes nothing but those answers, to the group's store. It ends at rank 0's `stop`, or with an error
// when rank 0 is gone.
#include "apps/tailor/rank_worker_command.hpp"

#include "gpu/checkpoint.hpp"
#include "gpu/distributed.hpp"
#include "gpu/runtime.hpp"
#include "gpu/student_exam.hpp"
#include "gpu/train_batches.hpp"
#include "gpu/trainer_restore.hpp"
#include "io/config/run_config_json.hpp"
#include "messages/rank_command.hpp"

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

namespace tailor::cli {
namespace {

int fail(int rank, const std::string& message) {
  std::cerr << "tailor rank-worker: rank " << rank << ": " << message << std::endl;
  return 1;
}

// The weights snapshot the exam answers with, apart from the student in training (as on rank 0).
struct exam_weights {
  std::string dir;
  std::uint64_t version = 0;
  std::optional<gpu::loaded_checkpoint> checkpoint;
};

// Rank 0's exam questions for this rank, answered with the snapshot the command names.
rank_exam_answers sit_exam_part(exam_weights& weights, const rank_command& command, const run_config& config,
                                const std::string& device) {
  if (!weights.checkpoint || weights.dir != command.checkpoint_dir || weights.version != command.version) {
    weights.checkpoint.reset(); // one snapshot in memory at a time
    auto loaded = gpu::load_checkpoint(command.checkpoint_dir, torch::Device{device});
    if (!loaded)
      return {.error = "cannot load weights v" + std::to_string(command.version) + ": " + loaded.error().message};
    weights.checkpoint.emplace(std::move(loaded.value()));
    weights.checkpoint->model->eval();
    weights.dir = command.checkpoint_dir;
    weights.version = command.version;
  }
  auto answers = gpu::sit_exam(weights.checkpoint->model, weights.checkpoint->tokenizer, command.questions,
                               gpu::exam_options_from(config, command.greedy, command.seed), command.version);
  if (!answers)
    return {.error = answers.error().message};
  return {.answers = std::move(answers.value())};
}

int follow(const std::filesystem::path& run_dir) {
  auto where = gpu::rendezvous_from_environment();
  if (!where)
    return fail(-1, where.error().message);
  const int rank = where->rank;
  if (rank == 0)
    return fail(rank, "rank 0 is `tailor run` itself; a rank worker has RANK 1 or more");
  auto config = load_run_config(run_dir / "config.json");
  if (!config)
    return fail(rank, config.error().message);
  auto device = gpu::rank_device(config->device, rank);
  if (!device)
    return fail(rank, device.error().message);
  gpu::set_torch_threads(static_cast<int>(config->threads));
  auto meet = where.value();
  meet.timeout = std::chrono::minutes{5}; // as rank 0's (actors/trainer_ranks.cpp)
  auto group = gpu::process_group::create(meet);
  if (!group)
    return fail(rank, group.error().message);
  std::cerr << "tailor rank-worker: rank " << rank << " of " << meet.world_size << " on " << *device
            << std::endl;

  std::optional<gpu::restored_trainer> student;
  exam_weights exam;
  for (std::uint64_t index = 0;; ++index) {
    const auto key = "command/" + std::to_string(index);
    std::optional<std::string> bytes;
    while (!bytes) {
      auto read = group.value()->store_get_if_set(key);
      if (!read)
        return fail(rank, "rank 0 is gone: " + read.error().message);
      bytes = std::move(read.value());
      if (!bytes)
        std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
    auto command = rank_command_from_bytes(*bytes);
    if (!command)
      return fail(rank, "command " + std::to_string(index) + " from rank 0 is not a rank command");
    if (command->kind == "stop")
      return 0;
    if (command->kind == "exam") {
      if (command->rank != static_cast<std::uint32_t>(rank))
        continue; // another rank's share
      auto answers = sit_exam_part(exam, *command, *config, *device);
      std::cerr << "tailor rank-worker: rank " << rank << ": "
                << (answers.error.empty() ? "answered " + std::to_string(command->questions.size()) +
                                                (command->greedy ? " evaluation" : " exam") + " questions"
                                          : "could not answer: " + answers.error)
                << " (weights v" << command->version << ")" << std::endl;
      if (auto posted = group.value()->store_set(exam_answers_key(index), rank_message_bytes(answers)); !posted)
        return fail(rank, "rank 0 is gone: " + posted.error().message);
      continue;
    }
    if (command->kind == "load") {
      auto restored = gpu::trainer_from_checkpoint(command->checkpoint_dir, *config, config->steps_per_round,
                                                   command->resume, *device);
      if (!restored)
        return fail(rank, restored.error().message);
      student.emplace(std::move(restored.value()));
      if (auto joined = student->trainer.use_process_group(group.value()); !joined)
        return fail(rank, joined.error().message);
      continue;
    }
    if (!student)
      return fail(rank, "rank 0 sent `" + command->kind + "` before `load`");
    if (command->kind == "round") {
      student->trainer.restart_schedule(
          gpu::round_schedule(config->optimizer, command->round, command->steps, command->peak));
    } else if (command->kind == "step") {
      auto examples = gpu::tokenize_items(student->tokens, command->items);
      // Rank 0 takes the same step and decides what a failed one means for the run.
      if (auto stats = student->trainer.step(examples); !stats)
        std::cerr << "tailor rank-worker: rank " << rank << ": step: " << stats.error().message << std::endl;
    } else {
      return fail(rank, "unknown command `" + command->kind + "` from rank 0");
    }
  }
}

} // namespace

void add_rank_worker_command(CLI::App& app) {
  auto run_dir = std::make_shared<std::string>();
  auto* worker =
      app.add_subcommand("rank-worker", "one data-parallel trainer rank of a run (started by tailor run "
                                        "--nproc, or by hand on another machine)");
  worker->group(""); // not in the help: users start runs, not ranks
  worker->add_option("run_dir", *run_dir, "the run directory (shared with rank 0)")->required();
  worker->callback([run_dir] {
    if (int status = follow(*run_dir); status != 0)
      throw CLI::RuntimeError{status};
  });
}

} // namespace tailor::cli
