// The exam benchmark's scenarios: the trained student on its questions, random models with its stops.
#pragma once

#include "bench/exam_forced_stops.hpp"
#include "gpu/checkpoint.hpp"
#include "io/data/arith.hpp"
#include "io/data/prompts.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace tailor::bench {

// Token counts (the EOS included) of the embedded default's round-3 student (`tailor run`, seed 1, 83.5 %
// held out) on 1,600 sampled exam answers: its first 800 training questions, 2 samples, temperature 1, top-k
// 50, at most 80 tokens; 22-57 tokens, mean 36.1. {length, answers} pairs, measured 2026-12-03;
// `exam_bench --measure-stops` prints them again.
inline const std::vector<std::pair<int, int>> student_stops = {
    {22, 1},   {24, 244}, {26, 209}, {27, 86}, {28, 2},  {29, 6},  {30, 4},  {33, 160},
    {34, 1},   {35, 49},  {36, 36},  {37, 73}, {38, 96}, {39, 36}, {40, 29}, {41, 12},
    {42, 160}, {43, 9},   {44, 26},  {45, 32}, {46, 20}, {47, 28}, {48, 43}, {49, 88},
    {50, 44},  {51, 49},  {52, 25},  {53, 14}, {54, 10}, {55, 5},  {56, 1},  {57, 2}};

// The exam's shape: the embedded default's exam settings unless a scenario says otherwise.
struct scenario {
  std::string name;
  gpu::llama_for_causal_lm model{nullptr};
  nlohmann::json model_for_python; // {"checkpoint": dir} or {"config": {...}}
  gpu::token_decoder decoder;
  std::vector<std::vector<int>> prompts;
  std::optional<forced_stops> stops; // none: the model's own stops
  int samples = 2, batch = 48, max_new_tokens = 80, top_k = 50;
};

// Random prompts (ids 3.., BOS first) of 32-96 tokens, distinct.
inline std::vector<std::vector<int>> random_prompts(std::size_t count, int vocab, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> length(32, 96), token(3, vocab - 1);
  std::vector<std::vector<int>> prompts(count);
  for (auto& prompt : prompts) {
    prompt.push_back(1);
    for (int t = length(rng); t > 1; --t)
      prompt.push_back(token(rng));
  }
  return prompts;
}

// Lengths drawn from the student's, at least 2 (bench/exam_forced_stops.hpp), per prompt and sample.
inline forced_stops student_like_stops(const std::vector<std::vector<int>>& prompts, int samples,
                                       std::uint64_t seed) {
  std::vector<int> lengths, weights;
  for (const auto& [length, answers] : student_stops) {
    lengths.push_back(std::max(length, 2));
    weights.push_back(answers);
  }
  std::mt19937_64 rng(seed);
  std::discrete_distribution<std::size_t> pick(weights.begin(), weights.end());
  forced_stops stops;
  for (std::size_t p = 0; p < prompts.size(); ++p) {
    stops.prompt_index.emplace(prompts[p], p);
    stops.targets.emplace_back();
    for (int s = 0; s < samples; ++s)
      stops.targets.back().push_back(lengths[pick(rng)]);
  }
  return stops;
}

inline gpu::token_decoder silent_decoder() {
  return {.decode = [](std::span<const int> ids) { return std::string(ids.size(), 'x'); },
          .eos_id = 2,
          .stop_ids = {},
          .decodable_vocab = 0};
}

inline gpu::llama_config student_size() {
  gpu::llama_config c;
  c.hidden_size = 192;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 4;
  c.head_dim = 48;
  c.intermediate_size = 512;
  c.vocab_size = 384;
  c.max_position_embeddings = 256;
  c.tie_word_embeddings = true;
  return c;
}

inline gpu::llama_config qwen_05b_size() {
  gpu::llama_config c;
  c.hidden_size = 896;
  c.num_hidden_layers = 24;
  c.num_attention_heads = 14;
  c.num_key_value_heads = 2;
  c.head_dim = 64;
  c.intermediate_size = 4864;
  c.vocab_size = 151936;
  c.max_position_embeddings = 32768;
  c.rope_theta = 1000000.0;
  c.rms_norm_eps = 1e-6;
  c.tie_word_embeddings = true;
  return c;
}

inline nlohmann::json config_for_python(const gpu::llama_config& c) {
  return {{"hidden_size", c.hidden_size},
          {"num_hidden_layers", c.num_hidden_layers},
          {"num_attention_heads", c.num_attention_heads},
          {"num_key_value_heads", c.num_key_value_heads},
          {"head_dim", c.head_dim},
          {"intermediate_size", c.intermediate_size},
          {"vocab_size", c.vocab_size},
          {"max_position_embeddings", c.max_position_embeddings},
          {"rope_theta", c.rope_theta},
          {"rms_norm_eps", c.rms_norm_eps},
          {"tie_word_embeddings", c.tie_word_embeddings}};
}

// `name`'s exam; the student scenario loads `checkpoint` into `student` once (nullopt when it cannot).
inline std::optional<scenario> make_scenario(const std::string& name, bool quick,
                                             const std::filesystem::path& checkpoint,
                                             std::optional<gpu::loaded_checkpoint>& student) {
  scenario s;
  s.name = name;
  if (name == "student") {
    if (!student) {
      auto loaded = gpu::load_checkpoint(checkpoint);
      if (!loaded) {
        std::cerr << "exam_bench: scenario student skipped: " << loaded.error().message
                  << " (train one with `tailor run`, or pass --checkpoint DIR)\n";
        return std::nullopt;
      }
      student.emplace(std::move(loaded).value());
    }
    s.model = student->model;
    s.model_for_python = {{"checkpoint", std::filesystem::absolute(checkpoint).string()}};
    s.decoder = gpu::decoder_of(student->tokenizer);
    // Its own questions: the embedded default's training split (seed 1, 1-3 operations, operands <= 5).
    const auto count = quick ? 192 : 800;
    for (const auto& problem : generate_arith(count, 1, arith_split::train, {1, 3, 5, 3}))
      s.prompts.push_back(student->tokenizer.encode(
          student_prefix(task_kind::arith, to_example(problem).question, "none"), true));
    return s;
  }
  const bool big = name == "qwen0.5b-size";
  if (!big && name != "student-size")
    throw std::invalid_argument("unknown scenario " + name + " (student, student-size, qwen0.5b-size)");
  const auto config = big ? qwen_05b_size() : student_size();
  torch::manual_seed(0);
  s.model = gpu::llama_for_causal_lm{config};
  s.model->eval();
  s.model_for_python = {{"config", config_for_python(config)}};
  s.decoder = silent_decoder();
  if (big) { // on 2 cores: 64 questions in batches of 16, still four batches to refill across
    s.batch = 16;
    s.prompts = random_prompts(quick ? 32 : 64, config.vocab_size, 7);
  } else {
    s.prompts = random_prompts(quick ? 192 : 800, config.vocab_size, 7);
  }
  s.stops = student_like_stops(s.prompts, s.samples, 11);
  return s;
}

} // namespace tailor::bench
