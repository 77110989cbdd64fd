// The student's architecture as a Hugging Face `config.json` describes it (Llama, Qwen2, Qwen3, Mistral):
// parse, check, write back in the family it came from.
#pragma once

#include "gpu/model_families.hpp"
#include "gpu/rope_config.hpp"
#include "io/common/result.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tailor::gpu {

// The config.json a config was read from, kept so that to_hf_config() writes back what tailor does not
// read (a checkpoint's own keys, fields of a later transformers). It does not decide the computation, so
// configs compare equal whatever their source.
struct source_config {
  nlohmann::json json = nlohmann::json::object();
  friend bool operator==(const source_config&, const source_config&) { return true; }
};

// The fields of a decoder-only `config.json` that decide the computation. Defaults describe a tiny Llama.
struct llama_config {
  std::string model_type = "llama"; // the family: "llama", "qwen2", "qwen3" or "mistral" (model_families.hpp)
  int hidden_size = 64;
  int intermediate_size = 172;
  int num_hidden_layers = 2;
  int num_attention_heads = 4;
  int num_key_value_heads = 4; // grouped-query attention when fewer than the heads
  int head_dim = 16;           // hidden_size / num_attention_heads unless the config says otherwise (Qwen3)
  int vocab_size = 128;        // embedding and lm_head rows; may exceed what the tokenizer decodes
  int max_position_embeddings = 512;
  double rope_theta = 10000.0;
  rope_scaling_config rope_scaling; // none: plain rotary positions
  double rms_norm_eps = 1e-5;
  double initializer_range = 0.02; // std of the normal init for training from scratch
  bool tie_word_embeddings = false;
  bool attention_bias = false;        // biases on q_proj, k_proj, v_proj (Qwen2 always; Llama/Qwen3 by field)
  bool attention_output_bias = false; // a bias on o_proj too (Llama's and Qwen3's `attention_bias`)
  bool qk_norm = false;               // RMSNorm over head_dim of queries and keys before the rotation (Qwen3)
  // A query in a sliding layer sees itself and the sliding_window - 1 positions before it (Mistral, Qwen2
  // with use_sliding_window); 0: no window. sliding_layers says which layers slide; empty: all of them.
  int sliding_window = 0;
  std::vector<bool> sliding_layers;
  int bos_token_id = 1;
  int eos_token_id = 2;  // the first when the file lists several (its list is kept in `source`)
  int pad_token_id = -1; // -1: none (LLaMA has no pad token)
  source_config source;

  friend bool operator==(const llama_config&, const llama_config&) = default;
};

// Whether `layer` attends within the sliding window.
bool slides(const llama_config& config, int layer);

// The rotary settings of `config` (theta and scaling together).
rope_settings rope_of(const llama_config& config);

// Checks sizes and their consistency (heads dividing, positive sizes, rope numbers, what the family can say);
// the message names the field.
status check_llama_config(const llama_config& config);

// Reads a parsed `config.json` of a family tailor takes, with transformers' defaults of that family for
// absent keys. Keys tailor does not use are ignored (and kept in `source`); values it cannot honour (another
// family, activation, rope type, experts, softcapping, ...) are errors naming the field and the families it
// takes.
result<llama_config> parse_llama_config(const nlohmann::json& json);

// Reads and parses a `config.json` file; errors name the file.
result<llama_config> load_llama_config(const std::filesystem::path& config_json);

// The `config.json` that transformers loads as the same family's *ForCausalLM, in float32: the source's keys,
// with every field tailor computes with written from `config` (rope in both transformers 4's and 5's keys).
nlohmann::json to_hf_config(const llama_config& config);

} // namespace tailor::gpu
