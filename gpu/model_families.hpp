// The model families tailor takes (Llama, Qwen2, Qwen3, Mistral: one decoder with a few switches), the
// defaults transformers gives each when `config.json` omits a key, and what is refused, naming the field.
#pragma once

#include "io/common/result.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace tailor::gpu {

struct llama_config;

// How a family's config.json says which layers attend within a sliding window.
enum class window_layout : std::uint8_t {
  none,       // full attention everywhere (Llama)
  all_layers, // `sliding_window`, every layer (Mistral)
  per_layer,  // `use_sliding_window`, `sliding_window`, `max_window_layers` or `layer_types` (Qwen2, Qwen3)
};

// One `model_type` and what its transformers config class assumes for keys a file leaves out.
struct model_family {
  std::string_view model_type;   // "llama"
  std::string_view architecture; // its causal LM class: "LlamaForCausalLM"
  std::string_view examples;     // the checkpoints people bring of it, for messages
  int max_position_embeddings;
  int num_key_value_heads;        // when absent; 0: as many as the attention heads
  int head_dim;                   // when absent; 0: hidden_size / num_attention_heads
  int bos_token_id, eos_token_id; // when absent; -1: none
  bool reads_attention_bias;      // `attention_bias` puts biases on q/k/v and o_proj (Llama, Qwen3)
  bool qkv_bias;                  // always biases on q/k/v and none on o_proj, whatever the file says (Qwen2)
  bool qk_norm;                   // RMSNorm of each head's queries and keys before the rotation (Qwen3)
  window_layout windows;
  int sliding_window; // when `sliding_window` is absent (transformers' default)
};

// The family of `model_type`, or null.
const model_family* find_family(std::string_view model_type);

// "llama (Llama 2, Llama 3.x, ...), qwen2 (...), ...": the end of every refusal.
std::string supported_families();

// Which family a config.json describes: its `model_type` (else its `architectures`, else llama), refusing
// other families, multimodal wrappers (`text_config`, *ForConditionalGeneration), mixtures of experts,
// logit softcapping, quantized weights, activations other than silu, MLP biases and dropout.
result<const model_family*> identify_family(const nlohmann::json& config);

// The family's own switches into `c` (whose num_hidden_layers is read): biases, q/k norms, sliding
// windows and `layer_types`.
status read_family_fields(const nlohmann::json& config, const model_family& family, llama_config& c);

// That `c` is something its family's config.json can say (a Qwen2 without q/k/v biases cannot be written as
// one), so that to_hf_config() describes exactly the model tailor computes.
status check_family_features(const llama_config& c);

// Writes the family's own keys of `c` into `out` (architectures, model_type, biases, windows, head_dim).
void write_family_fields(const llama_config& c, nlohmann::json& out);

} // namespace tailor::gpu
