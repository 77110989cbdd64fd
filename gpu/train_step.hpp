// The trainer: one optimizer step of tailored learning (L_lm + λ·L_cl) with AdamW, warm-up and decay,
// gradient clipping, gradient accumulation and bf16 autocast on CUDA.
#pragma once

#include "gpu/distributed.hpp"
#include "gpu/llama_model.hpp"
#include "gpu/losses.hpp"
#include "gpu/lr_schedule.hpp"
#include "io/common/result.hpp"
#include "messages/run_config.hpp"
#include "messages/training.hpp"

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <torch/torch.h>
#include <vector>

namespace tailor::gpu {

struct trainer_options {
  optimizer_config optimizer;
  loss_config loss;
  std::uint64_t total_steps = 0; // optimizer steps the schedule spans (cosine decays over them)
  std::uint64_t seed = 42;       // torch's generator and the batch order
  std::string device = "cpu";    // as resolve_device() accepts
  bool bf16 = true;              // bf16 autocast when the device is a GPU; the CPU always computes in fp32
};

// The trainer options of a run; `total_steps` comes from the data the run trains on.
trainer_options trainer_options_from(const run_config& config, std::uint64_t total_steps);

// What one optimizer step did.
struct step_stats {
  std::uint64_t step = 0; // optimizer steps taken so far, this one included
  double lm_loss = 0;     // L_lm of the whole batch (accumulated micro-batches weighed as one batch)
  double triplet_loss = 0;
  double total_loss = 0;
  double learning_rate = 0; // the rate this step used
  double grad_norm = 0;     // global gradient norm before clipping
  std::uint64_t tokens = 0; // non-pad prefix + target tokens
  std::uint32_t examples = 0;
  std::uint32_t triplet_examples = 0;
  double seconds = 0;
};

// The message the trainer reports; `round` and `weights_version` are the caller's to fill.
training_metrics to_training_metrics(const step_stats& stats);

// Owns the student and its AdamW state. Weight decay applies to matrices (projections and embeddings) but
// not to RMSNorm weights, as Hugging Face's Trainer does for norms: decaying a norm's gain towards 0 shrinks
// the activations it is there to scale. Not thread-safe; one owner steps it.
class trainer {
public:
  // Moves `model` to the device; seeds torch's generator and the batch-order generator with the seed.
  static result<trainer> create(llama_for_causal_lm model, const trainer_options& options);

  trainer(trainer&&) noexcept;
  trainer& operator=(trainer&&) noexcept;
  ~trainer();

  // One optimizer step over `examples` (one batch, distinct questions), split into the configured number of
  // micro-batches. Their losses are weighted so that the summed gradient equals that of the whole batch.
  // A non-finite loss or gradient skips the update and is reported as a problem.
  result<step_stats> step(std::span<const tailored_example> examples);
  // The same over batches collated by the caller, one per micro-batch.
  result<step_stats> step(std::span<const tailored_batch> micro_batches);

  // Batches of one epoch over `items`, each of distinct questions, drawn from the trainer's seeded generator.
  std::vector<std::vector<std::size_t>> plan_epoch(std::span<const training_item> items);

  // Data parallel: every rank steps with the same whole batch, runs micro-batches i with i % world == rank,
  // and the gradients and loss sums are all-reduced before clipping, so each rank takes the one-process step.
  // Makes the weights rank 0's first. The batch is split into at least `world` micro-batches.
  status use_process_group(std::shared_ptr<process_group> group);

  // Starts a new schedule from its step 0 (e.g. a later round's lower rate); AdamW's moments are kept.
  void restart_schedule(const lr_schedule_params& schedule);
  double learning_rate() const; // the rate the next step will use
  std::uint64_t steps() const;
  // Counts on from a checkpoint's step, so a resumed run numbers its steps as the interrupted one did.
  void continue_from_step(std::uint64_t steps);

  llama_for_causal_lm& model();
  torch::optim::AdamW& optimizer(); // for checkpointing its state
  const torch::Device& device() const;

private:
  struct state;
  explicit trainer(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

// Micro-batch i of n over `count` examples: contiguous, sizes differing by at most one.
std::vector<std::span<const tailored_example>> split_micro_batches(std::span<const tailored_example> examples,
                                                                   std::size_t micro_batches);

} // namespace tailor::gpu
