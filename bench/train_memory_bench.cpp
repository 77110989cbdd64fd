// Peak memory of a training step, tailor's side: load a checkpoint, optionally add LoRA adapters and turn on
// activation checkpointing, take AdamW steps on one batch. Run by bench/train_memory_bench.py, which
// measures PyTorch + PEFT the same way in another process. Prints one JSON object.
//   train_memory_bench (--checkpoint DIR | --config CONFIG_JSON) [--device D] [--threads N] [--batch B]
//                      [--seq T] [--steps S] [--lora-rank R] [--checkpointing]
// --config builds the model from a published config.json with random weights (no tokenizer: the batch draws
// ids below its vocab_size), for sizes whose checkpoint would take longer to write than to train on.
#include "gpu/checkpoint.hpp"
#include "gpu/lora.hpp"
#include "gpu/runtime.hpp"
#include "gpu/train_step.hpp"

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <vector>

using namespace tailor;
using namespace tailor::gpu;
using clock_type = std::chrono::steady_clock;

namespace {

struct settings {
  std::string checkpoint, config, device = "cpu";
  int threads = 2, batch = 4, seq = 256, steps = 2, lora_rank = 0;
  bool checkpointing = false;
};

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view key = argv[i];
    auto value = [&] {
      if (i + 1 >= argc)
        throw std::invalid_argument(std::string{key} + " needs a value");
      return std::string{argv[++i]};
    };
    if (key == "--checkpoint")
      s.checkpoint = value();
    else if (key == "--config")
      s.config = value();
    else if (key == "--device")
      s.device = value();
    else if (key == "--threads")
      s.threads = std::stoi(value());
    else if (key == "--batch")
      s.batch = std::stoi(value());
    else if (key == "--seq")
      s.seq = std::stoi(value());
    else if (key == "--steps")
      s.steps = std::stoi(value());
    else if (key == "--lora-rank")
      s.lora_rank = std::stoi(value());
    else if (key == "--checkpointing")
      s.checkpointing = true;
    else
      throw std::invalid_argument("unknown option " + std::string{key});
  }
  if (s.checkpoint.empty() == s.config.empty())
    throw std::invalid_argument("give one of --checkpoint DIR and --config CONFIG_JSON");
  if (s.steps < 1)
    throw std::invalid_argument("--steps must be at least 1");
  return s;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0; // kilobytes on Linux
}

// Token ids from a fixed stream: the baseline draws a batch of the same shape and vocabulary.
std::vector<int> random_ids(int count, int vocab, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> token(0, vocab - 1);
  std::vector<int> ids(static_cast<std::size_t>(count));
  for (auto& id : ids)
    id = token(rng);
  return ids;
}

} // namespace

int main(int argc, char** argv) try {
  const auto s = parse(argc, argv);
  set_torch_threads(s.threads);
  nlohmann::json out;

  std::optional<llama_for_causal_lm> built;
  int vocab = 0;
  if (!s.checkpoint.empty()) {
    auto loaded = load_checkpoint(s.checkpoint);
    if (!loaded)
      throw std::runtime_error(loaded.error().message);
    built = loaded->model;
    vocab = loaded->tokenizer.vocab_size();
  } else {
    auto config = load_llama_config(s.config);
    if (!config)
      throw std::runtime_error(config.error().message);
    torch::manual_seed(0);
    built = llama_for_causal_lm(*config);
    vocab = config->vocab_size;
  }
  out["rss_after_load_mb"] = peak_rss_mb();
  auto model = *built;
  std::int64_t parameters = 0;
  for (const auto& p : model->parameters())
    parameters += p.numel();
  out["parameters"] = parameters;
  if (s.lora_rank > 0) {
    lora_settings lora;
    lora.rank = s.lora_rank;
    lora.alpha = 2.0 * s.lora_rank;
    lora.targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
    if (auto attached = attach_lora(model, lora); !attached)
      throw std::runtime_error(attached.error().message);
  }
  std::int64_t trainable = 0;
  for (const auto& p : model->parameters())
    if (p.requires_grad())
      trainable += p.numel();
  out["trainable_parameters"] = trainable;

  std::vector<tailored_example> examples(static_cast<std::size_t>(s.batch));
  for (std::size_t i = 0; i < examples.size(); ++i) {
    examples[i].prefix = random_ids(s.seq / 4, vocab, 100 + static_cast<std::uint32_t>(i));
    examples[i].target = random_ids(s.seq - s.seq / 4, vocab, 200 + static_cast<std::uint32_t>(i));
  }
  trainer_options options;
  options.total_steps = 10;
  options.device = s.device;
  options.optimizer.activation_checkpointing = s.checkpointing;
  options.loss.rationale_max_tokens = static_cast<std::uint32_t>(s.seq);
  auto made = trainer::create(model, options);
  if (!made)
    throw std::runtime_error(made.error().message);
  double last = 0;
  for (int i = 0; i < s.steps; ++i) { // the first step allocates AdamW's moments
    const auto start = clock_type::now();
    auto stats = made->step(examples);
    if (!stats)
      throw std::runtime_error(stats.error().message);
    last = std::chrono::duration<double>(clock_type::now() - start).count();
  }
  out["step_seconds"] = last;
  out["tokens_per_second"] = s.batch * s.seq / last;
  out["peak_rss_mb"] = peak_rss_mb();
  out["threads"] = s.threads;
  std::cout << out.dump() << "\n";
  return 0;
} catch (const std::exception& error) {
  std::cerr << "train_memory_bench: " << error.what() << "\n";
  return 1;
}
