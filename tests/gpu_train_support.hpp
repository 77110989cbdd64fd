// Helpers shared by the training tests: a tiny config, random examples, trainer options and a trainer.
#pragma once

#include "gpu/lr_schedule.hpp"
#include "gpu/train_step.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace tailor::train_test {

inline gpu::llama_config tiny_config() {
  gpu::llama_config c;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.vocab_size = 64;
  return c;
}

inline std::vector<int> random_tokens(std::mt19937& rng, std::size_t count) {
  std::uniform_int_distribution<int> token(3, tiny_config().vocab_size - 1);
  std::vector<int> out(count);
  for (auto& t : out)
    t = token(rng);
  return out;
}

// Examples of uneven lengths (so micro-batches pad differently); every other one carries a full triplet.
inline std::vector<gpu::tailored_example> random_examples(std::size_t count, bool triplets,
                                                          unsigned seed = 5) {
  std::mt19937 rng(seed);
  std::vector<gpu::tailored_example> out;
  for (std::size_t i = 0; i < count; ++i) {
    gpu::tailored_example e;
    e.prefix = random_tokens(rng, 6 + i % 3);
    e.prefix.insert(e.prefix.begin(), 1); // BOS
    e.target = random_tokens(rng, 10 + 2 * (i % 4));
    e.target.push_back(2); // EOS
    if (triplets && i % 2 == 0) {
      e.anchor = std::vector<int>(e.target.begin(), e.target.end() - 1);
      e.positive = random_tokens(rng, 7 + i % 2);
      e.negative = random_tokens(rng, 9);
    }
    out.push_back(std::move(e));
  }
  return out;
}

inline gpu::trainer_options options_with(double lr, std::uint32_t warmup, lr_schedule kind,
                                         std::uint64_t total_steps) {
  gpu::trainer_options o;
  o.optimizer.learning_rate = lr;
  o.optimizer.warmup_steps = warmup;
  o.optimizer.schedule = kind;
  o.total_steps = total_steps;
  o.device = "cpu";
  return o;
}

inline gpu::trainer make_trainer(gpu::llama_for_causal_lm model, const gpu::trainer_options& options) {
  auto made = gpu::trainer::create(std::move(model), options);
  REQUIRE(made.ok());
  return std::move(made).value();
}

} // namespace tailor::train_test
