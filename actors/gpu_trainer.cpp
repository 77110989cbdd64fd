#include "actors/gpu_trainer.hpp"

#include "actors/shared_ranks.hpp"
#include "actors/trainer_ranks.hpp"
#include "gpu/checkpoint.hpp"
#include "gpu/lr_schedule.hpp"
#include "gpu/runtime.hpp"
#include "gpu/train_batches.hpp"
#include "gpu/train_step.hpp"
#include "gpu/trainer_restore.hpp"
#include "sharing/device_scheduler.hpp"
#include "io/data/prompts.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <deque>
#include <optional>

namespace tailor {

std::filesystem::path checkpoints_dir(const run_config& config) {
  return std::filesystem::path{config.output_dir} / "checkpoints";
}

namespace {

namespace fs = std::filesystem;

struct trainer_state_t {
  run_config config;
  example_index problems;
  reflection_builder_actor builder;
  caf::actor coordinator;
  std::shared_ptr<device_scheduler> devices; // null for a run alone
  std::string device;                        // resolved: "cpu", "cuda:0"
  std::optional<gpu::tokenizer> tokens;
  std::optional<gpu::trainer> trainer;
  std::uint64_t version = 0; // of the last snapshot published
  // The round in hand.
  std::uint32_t round = 0;
  std::uint64_t target = 0; // optimizer steps this round
  std::uint64_t done = 0;
  std::uint64_t every = 0;
  std::deque<fs::path> step_checkpoints;
  // The other data-parallel ranks (nproc > 1), which follow this trainer's every step; declared last so that
  // they stop before the trainer they mirror goes (unless an exam chunk still holds them: then after it).
  std::shared_ptr<trainer_ranks> ranks;
  std::shared_ptr<shared_ranks> exam_ranks; // where the exam finds them
};

// The student's corpus for a tokenizer: the demos, and each question with its gold rationale.
std::vector<std::string> tokenizer_corpus(const run_config& config, const example_index& problems) {
  std::vector<std::string> corpus;
  corpus.emplace_back(default_demos(config.data.task));
  if (!config.prompts.demos.empty())
    corpus.push_back(config.prompts.demos);
  for (const auto& [id, item] : *problems) {
    auto text = "Question: " + item.question + "\nReasoning: ";
    if (!item.gold_rationale.empty())
      text += student_target(item.task, item.gold_rationale, item.answer);
    corpus.push_back(std::move(text));
  }
  return corpus;
}

gpu::llama_config scratch_config(const student_config& s, int vocab, const gpu::tokenizer& tokens) {
  gpu::llama_config c;
  c.hidden_size = static_cast<int>(s.dim);
  c.num_hidden_layers = static_cast<int>(s.layers);
  c.num_attention_heads = static_cast<int>(s.heads);
  c.num_key_value_heads = static_cast<int>(s.kv_heads);
  c.head_dim = c.hidden_size / std::max(1, c.num_attention_heads);
  // SwiGLU's usual 8/3 of the width, rounded up to a multiple of 32.
  c.intermediate_size = ((c.hidden_size * 8 / 3) + 31) / 32 * 32;
  c.vocab_size = vocab;
  c.max_position_embeddings = static_cast<int>(s.max_seq_len);
  c.tie_word_embeddings = true;
  c.bos_token_id = tokens.bos_id();
  c.eos_token_id = tokens.eos_id();
  return c;
}

// The student from scratch, from a base checkpoint, or (resume_dir) from a round checkpoint of this run.
std::optional<std::string> build_student(trainer_state_t& s, const std::string& resume_dir,
                                         std::uint64_t total_steps) {
  auto device = gpu::resolve_device(s.config.device);
  if (!device)
    return device.error().message;
  s.device = device.value();
  gpu::set_torch_threads(static_cast<int>(s.config.threads)); // this actor's own thread (gpu/runtime.hpp)
  const std::string from = !resume_dir.empty() ? resume_dir : s.config.student.checkpoint_dir;
  if (!from.empty()) {
    auto restored = gpu::trainer_from_checkpoint(from, s.config, total_steps, !resume_dir.empty(), s.device);
    if (!restored)
      return restored.error().message;
    s.trainer.emplace(std::move(restored->trainer));
    s.tokens.emplace(std::move(restored->tokens));
    s.version = restored->version;
    return std::nullopt;
  }
  auto tokens = s.config.student.tokenizer_path.empty()
                    ? gpu::train_tokenizer(tokenizer_corpus(s.config, s.problems),
                                           {.vocab_size = static_cast<int>(s.config.student.vocab_size)})
                    : gpu::tokenizer::load(s.config.student.tokenizer_path);
  if (!tokens)
    return "tokenizer: " + tokens.error().message;
  s.tokens.emplace(std::move(tokens.value()));
  auto config = scratch_config(s.config.student, s.tokens->vocab_size(), *s.tokens);
  if (auto checked = gpu::check_llama_config(config); !checked)
    return "student: " + checked.error().message;
  torch::manual_seed(s.config.seed);
  auto trainer = gpu::trainer::create(gpu::llama_for_causal_lm(config), gpu::trainer_options_from(s.config, total_steps));
  if (!trainer)
    return trainer.error().message;
  s.trainer.emplace(std::move(trainer.value()));
  return std::nullopt;
}

// With nproc > 1: starts the other ranks, has them load `dir` (the checkpoint this trainer starts from) and
// makes their weights this trainer's; from then on they follow its every step.
std::optional<std::string> start_ranks(trainer_state_t& s, const std::string& dir, bool resume) {
  if (s.config.nproc <= 1)
    return std::nullopt;
  auto ranks = trainer_ranks::start(s.config);
  if (!ranks)
    return "data parallel: " + ranks.error().message;
  s.ranks = std::move(ranks.value());
  auto sent = s.ranks->send({.kind = "load", .checkpoint_dir = dir, .resume = resume});
  if (!sent)
    return "data parallel: " + s.ranks->explain(sent.error().message);
  if (auto joined = s.trainer->use_process_group(s.ranks->group()); !joined)
    return "data parallel: " + s.ranks->explain(joined.error().message);
  s.ranks->forget_read(sent.value());
  if (s.exam_ranks)
    s.exam_ranks->post(s.ranks);
  return std::nullopt;
}

gpu_trainer_actor::behavior_type gpu_trainer(gpu_trainer_actor::stateful_pointer<trainer_state_t> self,
                                             run_config config, example_index problems,
                                             reflection_builder_actor builder, caf::actor coordinator,
                                             std::shared_ptr<device_scheduler> devices,
                                             std::shared_ptr<shared_ranks> exam_ranks) {
  auto& s = self->state;
  s.exam_ranks = std::move(exam_ranks);
  s.config = std::move(config);
  s.problems = std::move(problems);
  s.builder = std::move(builder);
  s.coordinator = std::move(coordinator);
  s.devices = std::move(devices);
  auto fail = [self](const std::string& message) {
    self->quit(caf::make_error(caf::sec::runtime_error, "trainer: " + message));
  };
  // Saves a checkpoint and announces it; false (after failing the actor) when it cannot be written.
  auto publish = [self, fail](bool round_end) -> bool {
    auto& s = self->state;
    const auto dir = round_end ? checkpoints_dir(s.config) / ("round-" + std::to_string(s.round))
                               : checkpoints_dir(s.config) / ("step-" + std::to_string(s.trainer->steps()));
    std::optional<gpu::trainer_state> state;
    if (round_end)
      state = gpu::trainer_state{static_cast<std::int64_t>(s.trainer->steps()),
                                 {{"round", s.round}, {"version", s.version + 1}}};
    auto saved = gpu::save_checkpoint(dir, s.trainer->model(), *s.tokens,
                                      round_end ? &s.trainer->optimizer() : nullptr, state);
    if (!saved) {
      fail(saved.error().message);
      return false;
    }
    ++s.version;
    if (!round_end) {
      // The exam may still be reading the previous one; older ones are gone for good.
      s.step_checkpoints.push_back(dir);
      while (s.step_checkpoints.size() > 2) {
        std::error_code ignored;
        fs::remove_all(s.step_checkpoints.front(), ignored);
        s.step_checkpoints.pop_front();
      }
    }
    caf::anon_send(s.coordinator, snapshot_atom::value, weights_snapshot{s.version, dir.string()}, s.round, round_end);
    return true;
  };
  return {
      [self](prepare_atom, const std::string& resume_dir) -> caf::result<weights_snapshot> {
        auto& s = self->state;
        if (auto error = build_student(s, resume_dir, s.config.steps_per_round)) {
          auto message = "trainer: " + *error;
          self->quit(caf::make_error(caf::sec::runtime_error, message));
          return caf::make_error(caf::sec::runtime_error, message);
        }
        auto failed = [self](const std::string& message) -> caf::result<weights_snapshot> {
          self->quit(caf::make_error(caf::sec::runtime_error, "trainer: " + message));
          return caf::make_error(caf::sec::runtime_error, message);
        };
        if (!resume_dir.empty()) {
          if (auto error = start_ranks(s, resume_dir, /*resume=*/true))
            return failed(*error);
          return weights_snapshot{s.version, resume_dir};
        }
        const auto dir = checkpoints_dir(s.config) / "initial";
        if (auto saved = gpu::save_checkpoint(dir, s.trainer->model(), *s.tokens); !saved)
          return failed(saved.error().message);
        if (auto error = start_ranks(s, dir.string(), /*resume=*/false))
          return failed(*error);
        return weights_snapshot{0, dir.string()};
      },
      [self](train_atom, std::uint32_t round, std::uint64_t steps, double peak, std::uint64_t every) {
        auto& s = self->state;
        s.round = round;
        s.target = steps;
        s.done = 0;
        s.every = every;
        s.trainer->restart_schedule(gpu::round_schedule(s.config.optimizer, round, steps, peak));
        if (s.ranks)
          if (auto sent = s.ranks->send({.kind = "round", .round = round, .steps = steps, .peak = peak}); !sent) {
            self->quit(caf::make_error(caf::sec::runtime_error,
                                       "trainer: data parallel: " + s.ranks->explain(sent.error().message)));
            return;
          }
        self->send(self, next_atom::value);
      },
      [self, fail, publish](next_atom) {
        auto& s = self->state;
        if (s.done >= s.target) {
          publish(true);
          return;
        }
        self->request(s.builder, caf::infinite, credit_atom::value, s.config.optimizer.batch_size, s.round)
            .then(
                [self, fail, publish](const std::vector<training_item>& items) {
                  auto& s = self->state;
                  if (items.empty()) {
                    // Nothing to learn from yet (the teacher's first answers are on their way).
                    self->delayed_send(self, std::chrono::milliseconds{20}, next_atom::value);
                    return;
                  }
                  auto examples = gpu::tokenize_items(*s.tokens, items);
                  std::uint64_t posted = 0; // the step's command
                  if (s.ranks) {
                    if (auto dead = s.ranks->dead_rank())
                      return fail("data parallel: " + *dead);
                    auto sent = s.ranks->send({.kind = "step", .items = items});
                    if (!sent)
                      return fail("data parallel: " + s.ranks->explain(sent.error().message));
                    posted = sent.value();
                  }
                  auto turn = take_device_turn(s.devices.get(), s.device);
                  auto stats = s.trainer->step(examples);
                  turn.release();
                  if (!stats)
                    return fail(s.ranks ? "data parallel: " + s.ranks->explain(stats.error().message)
                                        : stats.error().message);
                  if (s.ranks)
                    s.ranks->forget_read(posted);
                  ++s.done;
                  auto metrics = gpu::to_training_metrics(stats.value());
                  metrics.round = s.round;
                  metrics.weights_version = s.version + 1;
                  caf::anon_send(s.coordinator, metrics_atom::value, metrics);
                  if (s.every > 0 && s.done < s.target && s.done % s.every == 0 && !publish(false))
                    return;
                  self->send(self, next_atom::value);
                },
                [fail](const caf::error& error) { fail("the reflection builder is gone: " + caf::to_string(error)); });
      },
  };
}

} // namespace

gpu_trainer_actor spawn_gpu_trainer(caf::actor_system& system, run_config config, example_index problems,
                                    reflection_builder_actor builder, caf::actor coordinator,
                                    std::shared_ptr<device_scheduler> devices,
                                    std::shared_ptr<shared_ranks> exam_ranks) {
  return system.spawn<caf::detached>(gpu_trainer, std::move(config), std::move(problems), std::move(builder),
                                     std::move(coordinator), std::move(devices), std::move(exam_ranks));
}

} // namespace tailor
