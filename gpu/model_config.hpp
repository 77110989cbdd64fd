// The student's architecture as Hugging Face's LLaMA `config.json` describes it: parse, check, write back.
#pragma once

#include "io/common/result.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

namespace tailor::gpu {

// The fields of a LLaMA-family `config.json` that decide the computation. Defaults describe a tiny student.
struct llama_config {
  int hidden_size = 64;
  int intermediate_size = 172;
  int num_hidden_layers = 2;
  int num_attention_heads = 4;
  int num_key_value_heads = 4; // grouped-query attention when fewer than the heads
  int head_dim = 16;           // hidden_size / num_attention_heads unless the config says otherwise
  int vocab_size = 128;
  int max_position_embeddings = 512;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-5;
  double initializer_range = 0.02; // std of the normal init for training from scratch
  bool tie_word_embeddings = false;
  int bos_token_id = 1;
  int eos_token_id = 2;
  int pad_token_id = -1; // -1: none (LLaMA has no pad token)

  friend bool operator==(const llama_config&, const llama_config&) = default;
};

// Checks sizes and their consistency (heads dividing, positive sizes); the message names the field.
status check_llama_config(const llama_config& config);

// Reads a parsed `config.json`. Keys tailor does not use are ignored; values it cannot honour (another
// activation, rope scaling, biases, another model_type) are errors naming the field.
result<llama_config> parse_llama_config(const nlohmann::json& json);

// Reads and parses a `config.json` file; errors name the file.
result<llama_config> load_llama_config(const std::filesystem::path& config_json);

// The `config.json` that transformers needs to load the model as a `LlamaForCausalLM` in float32.
nlohmann::json to_hf_config(const llama_config& config);

} // namespace tailor::gpu
