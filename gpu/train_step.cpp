// One optimizer step of tailored learning: micro-batches weighed into one batch's gradient, clipped, AdamW.
#include "gpu/train_step.hpp"

#include "gpu/autocast.hpp"
#include "gpu/runtime.hpp"
#include "gpu/train_batches.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace tailor::gpu {

namespace {

status check_options(const trainer_options& options) {
  const auto& o = options.optimizer;
  if (!(o.learning_rate > 0))
    return problem{"optimizer.learning_rate must be positive, got " + std::to_string(o.learning_rate)};
  if (!(o.weight_decay >= 0))
    return problem{"optimizer.weight_decay must be 0 or more, got " + std::to_string(o.weight_decay)};
  if (!(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1))
    return problem{"optimizer.beta1 and beta2 must lie in [0, 1)"};
  if (!(o.eps > 0))
    return problem{"optimizer.eps must be positive"};
  if (!(o.min_lr_ratio >= 0 && o.min_lr_ratio <= 1))
    return problem{"optimizer.min_lr_ratio must lie in [0, 1]"};
  if (!(o.grad_clip >= 0))
    return problem{"optimizer.grad_clip must be 0 (off) or positive"};
  return ok_status();
}

torch::optim::AdamWOptions adamw_options(const optimizer_config& o, double weight_decay) {
  return torch::optim::AdamWOptions(o.learning_rate)
      .betas({o.beta1, o.beta2})
      .eps(o.eps)
      .weight_decay(weight_decay);
}

// Predicted tokens L_lm divides by in a micro-batch: both the read and the predicted token are real.
int64_t counted_predictions(const tailored_batch& batch) {
  using torch::indexing::Slice;
  const auto& valid = batch.valid;
  if (valid.size(1) < 2)
    return 0;
  return valid.index({Slice(), Slice(1)})
      .logical_and(valid.index({Slice(), Slice(0, -1)}))
      .sum()
      .item<int64_t>();
}

// Token ids outside the embedding table would fail deep inside the forward (on a GPU, as a device assert that
// poisons the context): check them here, where the message can say what disagrees.
status check_token_range(const tailored_batch& batch, int64_t vocab) {
  for (const auto* ids : {&batch.input_ids, &batch.rationale_ids}) {
    if (ids->numel() == 0)
      continue;
    const auto low = ids->min().item<int64_t>(), high = ids->max().item<int64_t>();
    if (low < 0 || high >= vocab)
      return problem{"token id " + std::to_string(low < 0 ? low : high) +
                     " is outside the model's vocabulary of " + std::to_string(vocab) +
                     ": the tokenizer and the model do not match"};
  }
  return ok_status();
}

// Sums this step's gradients and loss sums over the ranks. A rank that ran no micro-batch has no gradients
// yet: zeros stand in, so every rank reduces the same tensors in the same order.
status all_reduce_step(process_group& group, std::span<const torch::Tensor> parameters, torch::Tensor& lm_sum,
                       torch::Tensor& triplet_sum) {
  std::vector<torch::Tensor> tensors;
  for (auto p : parameters) {
    if (!p.grad().defined())
      p.mutable_grad() = torch::zeros_like(p);
    tensors.push_back(p.grad());
  }
  auto sums = torch::stack({lm_sum, triplet_sum}).to(torch::kFloat);
  tensors.push_back(sums);
  if (auto reduced = group.allreduce_sum(tensors); !reduced)
    return reduced;
  lm_sum = sums[0];
  triplet_sum = sums[1];
  return ok_status();
}

} // namespace

trainer_options trainer_options_from(const run_config& config, std::uint64_t total_steps) {
  return {.optimizer = config.optimizer,
          .loss = config.loss,
          .total_steps = total_steps,
          .seed = config.seed,
          .device = config.device,
          .bf16 = config.bf16};
}

training_metrics to_training_metrics(const step_stats& stats) {
  training_metrics m;
  m.step = stats.step;
  m.lm_loss = stats.lm_loss;
  m.triplet_loss = stats.triplet_loss;
  m.total_loss = stats.total_loss;
  m.learning_rate = stats.learning_rate;
  m.tokens = stats.tokens;
  m.examples = stats.examples;
  m.triplet_examples = stats.triplet_examples;
  m.examples_per_second = stats.seconds > 0 ? stats.examples / stats.seconds : 0;
  return m;
}

std::vector<std::span<const tailored_example>> split_micro_batches(std::span<const tailored_example> examples,
                                                                   std::size_t micro_batches) {
  const std::size_t parts =
      std::clamp<std::size_t>(micro_batches, 1, std::max<std::size_t>(examples.size(), 1));
  std::vector<std::span<const tailored_example>> out;
  std::size_t begin = 0;
  for (std::size_t i = 0; i < parts; ++i) {
    const std::size_t size = examples.size() / parts + (i < examples.size() % parts ? 1 : 0);
    out.push_back(examples.subspan(begin, size));
    begin += size;
  }
  return out;
}

struct trainer::state {
  state(llama_for_causal_lm m, torch::Device d, trainer_options o)
      : model(std::move(m)), device(d), options(std::move(o)) {}
  llama_for_causal_lm model;
  torch::Device device;
  trainer_options options;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::vector<torch::Tensor> parameters;
  lr_schedule_params schedule;
  std::uint64_t steps = 0;         // since the trainer was made
  std::uint64_t schedule_step = 0; // since the schedule (re)started
  std::mt19937_64 rng;
  bool autocast = false;
  std::shared_ptr<process_group> group; // null: one process
};

trainer::trainer(std::unique_ptr<state> s) : state_(std::move(s)) {}
trainer::trainer(trainer&&) noexcept = default;
trainer& trainer::operator=(trainer&&) noexcept = default;
trainer::~trainer() = default;

result<trainer> trainer::create(llama_for_causal_lm model, const trainer_options& options) {
  if (auto valid = check_options(options); !valid)
    return valid.error();
  auto device_name = resolve_device(options.device);
  if (!device_name)
    return device_name.error();
  try {
    torch::Device device(device_name.value());
    torch::manual_seed(options.seed);
    model->to(device);
    model->train();
    model->model->set_activation_checkpointing(options.optimizer.activation_checkpointing);

    std::vector<torch::Tensor> decayed, not_decayed;
    for (auto& p : model->parameters()) {
      if (!p.requires_grad())
        continue;
      (p.dim() >= 2 ? decayed : not_decayed).push_back(p);
    }
    const auto& o = options.optimizer;
    std::vector<torch::optim::OptimizerParamGroup> groups;
    if (!decayed.empty())
      groups.emplace_back(decayed,
                          std::make_unique<torch::optim::AdamWOptions>(adamw_options(o, o.weight_decay)));
    if (!not_decayed.empty())
      groups.emplace_back(not_decayed, std::make_unique<torch::optim::AdamWOptions>(adamw_options(o, 0.0)));
    if (groups.empty())
      return problem{"the model has no trainable parameters"};

    auto s = std::make_unique<state>(model, device, options);
    s->optimizer = std::make_unique<torch::optim::AdamW>(groups, adamw_options(o, o.weight_decay));
    s->parameters = decayed;
    s->parameters.insert(s->parameters.end(), not_decayed.begin(), not_decayed.end());
    s->schedule = schedule_from(o, options.total_steps);
    s->rng.seed(options.seed);
    s->autocast = options.bf16 && device.is_cuda();
    return trainer{std::move(s)};
  } catch (const std::exception& e) {
    return problem{"cannot set up training: " + torch_error_text(e)};
  }
}

result<step_stats> trainer::step(std::span<const tailored_example> examples) {
  if (examples.empty())
    return problem{"a training step needs at least one example"};
  const auto& config = state_->model->config();
  const int pad_id = config.pad_token_id >= 0 ? config.pad_token_id : config.eos_token_id;
  try {
    std::vector<tailored_batch> batches;
    // Under data parallel every rank needs a micro-batch of its own; more micro-batches give the same
    // gradient.
    const std::size_t world = state_->group ? static_cast<std::size_t>(state_->group->world_size()) : 1;
    const std::size_t accumulation = state_->options.optimizer.grad_accumulation;
    const std::size_t parts = (std::max<std::size_t>(accumulation, 1) + world - 1) / world * world;
    for (auto part : split_micro_batches(examples, parts))
      batches.push_back(collate_tailored_batch({part.begin(), part.end()}, pad_id,
                                               static_cast<int>(state_->options.loss.rationale_max_tokens)));
    return step(std::span<const tailored_batch>(batches));
  } catch (const std::exception& e) {
    return problem{"training step " + std::to_string(state_->steps + 1) + " failed: " + torch_error_text(e)};
  }
}

result<step_stats> trainer::step(std::span<const tailored_batch> micro_batches) {
  if (micro_batches.empty())
    return problem{"a training step needs at least one micro-batch"};
  auto& s = *state_;
  const auto started = std::chrono::steady_clock::now();
  try {
    // Each micro-batch's losses are means over its own tokens (L_lm) and triplet rows (L_cl); weighing them
    // by their share of the whole batch's counts makes the summed gradient that of one batch of all of them.
    step_stats stats;
    std::vector<int64_t> predictions, triplets;
    int64_t all_predictions = 0, all_triplets = 0;
    for (const auto& batch : micro_batches) {
      if (auto in_range = check_token_range(batch, s.model->config().vocab_size); !in_range)
        return problem{"training step " + std::to_string(s.steps + 1) + ": " + in_range.error().message};
      predictions.push_back(counted_predictions(batch));
      triplets.push_back(batch.triplet_rows.sum().item<int64_t>());
      all_predictions += predictions.back();
      all_triplets += triplets.back();
      stats.tokens += static_cast<std::uint64_t>(batch.valid.sum().item<int64_t>());
      stats.examples += static_cast<std::uint32_t>(batch.input_ids.size(0));
    }
    stats.triplet_examples = static_cast<std::uint32_t>(all_triplets);

    const double lr = learning_rate_at(s.schedule, s.schedule_step);
    for (auto& group : s.optimizer->param_groups())
      group.options().set_lr(lr);
    s.optimizer->zero_grad();

    const loss_options loss_opts{.prefix_weight = s.options.loss.prefix_weight,
                                 .margin = s.options.loss.margin,
                                 .triplet_weight = s.options.loss.lambda,
                                 .max_rationale_tokens =
                                     static_cast<int>(s.options.loss.rationale_max_tokens)};
    auto lm_sum = torch::zeros({}, torch::TensorOptions().device(s.device));
    auto triplet_sum = torch::zeros({}, torch::TensorOptions().device(s.device));
    const std::size_t world = s.group ? static_cast<std::size_t>(s.group->world_size()) : 1;
    const std::size_t rank = s.group ? static_cast<std::size_t>(s.group->rank()) : 0;
    for (std::size_t i = rank; i < micro_batches.size(); i += world) {
      const double lm_share = static_cast<double>(predictions[i]) / std::max<int64_t>(all_predictions, 1);
      const double triplet_share = static_cast<double>(triplets[i]) / std::max<int64_t>(all_triplets, 1);
      auto batch = micro_batches[i].to(s.device);
      tailored_loss loss;
      {
        cuda_autocast_scope autocast(s.autocast);
        loss = tailored_learning_loss(s.model, batch, loss_opts);
      }
      auto weighted = loss.lm * lm_share;
      if (triplets[i] > 0)
        weighted = weighted + s.options.loss.lambda * triplet_share * loss.triplet;
      weighted.backward();
      lm_sum += loss.lm.detach() * lm_share;
      triplet_sum += loss.triplet.detach() * triplet_share;
    }

    if (s.group) {
      if (auto reduced = all_reduce_step(*s.group, s.parameters, lm_sum, triplet_sum); !reduced) {
        s.optimizer->zero_grad();
        return problem{"training step " + std::to_string(s.steps + 1) + ": " + reduced.error().message};
      }
    }

    const double max_norm = s.options.optimizer.grad_clip > 0 ? s.options.optimizer.grad_clip
                                                              : std::numeric_limits<double>::infinity();
    stats.grad_norm = torch::nn::utils::clip_grad_norm_(s.parameters, max_norm);
    stats.lm_loss = lm_sum.item<double>();
    stats.triplet_loss = triplet_sum.item<double>();
    stats.total_loss = stats.lm_loss + s.options.loss.lambda * stats.triplet_loss;
    stats.learning_rate = lr;
    if (!std::isfinite(stats.total_loss) || !std::isfinite(stats.grad_norm)) {
      s.optimizer->zero_grad();
      return problem{"training step " + std::to_string(s.steps + 1) +
                     ": the loss or gradient is not finite (loss " + std::to_string(stats.total_loss) +
                     ", lr " + std::to_string(lr) +
                     "); the update was skipped. Lower optimizer.learning_rate or lengthen the warm-up."};
    }
    s.optimizer->step();
    stats.step = ++s.steps;
    ++s.schedule_step;
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return stats;
  } catch (const std::exception& e) {
    s.optimizer->zero_grad();
    return problem{"training step " + std::to_string(s.steps + 1) + " failed: " + torch_error_text(e)};
  }
}

status trainer::use_process_group(std::shared_ptr<process_group> group) {
  if (!group)
    return problem{"use_process_group: no process group"};
  if (auto same = broadcast_module(*group, *state_->model); !same)
    return same;
  state_->group = group->world_size() > 1 ? std::move(group) : nullptr;
  return ok_status();
}

std::vector<std::vector<std::size_t>> trainer::plan_epoch(std::span<const training_item> items) {
  return distinct_question_batches(items, state_->options.optimizer.batch_size, state_->rng);
}

void trainer::restart_schedule(const lr_schedule_params& schedule) {
  state_->schedule = schedule;
  state_->schedule_step = 0;
}

double trainer::learning_rate() const {
  return learning_rate_at(state_->schedule, state_->schedule_step);
}
std::uint64_t trainer::steps() const {
  return state_->steps;
}
void trainer::continue_from_step(std::uint64_t steps) {
  state_->steps = steps;
}
llama_for_causal_lm& trainer::model() {
  return state_->model;
}
torch::optim::AdamW& trainer::optimizer() {
  return *state_->optimizer;
}
const torch::Device& trainer::device() const {
  return state_->device;
}

} // namespace tailor::gpu
