// The student: a LLaMA-family decoder (RMSNorm, rotary positions, grouped-query attention, SwiGLU) in
// LibTorch, with the switches of Qwen2/Qwen3/Mistral (q/k/v biases, q/k norms, sliding windows), whose
// parameter names are Hugging Face's so that checkpoints move between the two unchanged.
#pragma once

#include "gpu/kv_cache.hpp"
#include "gpu/model_config.hpp"
#include "gpu/rope.hpp"
#include "io/common/result.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <torch/torch.h>
#include <vector>

namespace tailor::gpu {

struct model_output {
  torch::Tensor logits; // [B, T, V]; undefined when the caller asked for none
  torch::Tensor hidden; // [B, T, D] hidden states after the final norm
};

// x * rsqrt(mean(x^2) + eps) * weight, computed in float32 as Hugging Face does.
class rms_norm_impl : public torch::nn::Module {
public:
  rms_norm_impl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;

private:
  double eps_;
};
TORCH_MODULE_IMPL(rms_norm, rms_norm_impl);

// A LoRA adapter beside one projection (attached by gpu/lora.hpp; absent while A is null). A and B are also
// registered as children "lora_A"/"lora_B" of the projection itself, so parameters(), to() and train() see
// them and their names are PEFT's (`...q_proj.lora_A.weight`).
struct lora_branch {
  torch::nn::Linear A{nullptr}, B{nullptr};
  double dropout = 0.0, scaling = 1.0;
};

// Whether a named_parameters() name is an adapter's (not one of the Hugging Face weights).
bool is_lora_parameter(const std::string& name);

// base(x), plus B(A(dropout(x))) * scaling when the projection has an adapter.
torch::Tensor project(torch::nn::Linear& base, lora_branch& adapter, const torch::Tensor& x,
                      bool training);

// Multi-head attention with grouped keys/values and rotary positions; q,k,v,o_proj as in Hugging Face
// (with biases when the config says so), and Qwen3's q_norm/k_norm over each head before the rotation.
class llama_attention_impl : public torch::nn::Module {
public:
  llama_attention_impl(const llama_config& config, int layer_index);
  // x [B, T, D]; cos/sin [B, 1, T, head_dim] from the backbone's rotary tables (sin's first half negated);
  // mask bool [B, T, T_past + T] or undefined (T == 1, no pads).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, kv_cache* cache);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  rms_norm q_norm{nullptr}, k_norm{nullptr}; // null unless config.qk_norm
  lora_branch q_lora, k_lora, v_lora, o_lora;

private:
  int64_t heads_, kv_heads_, head_dim_;
  int layer_index_;
};
TORCH_MODULE_IMPL(llama_attention, llama_attention_impl);

// down(silu(gate(x)) * up(x)).
class llama_mlp_impl : public torch::nn::Module {
public:
  explicit llama_mlp_impl(const llama_config& config);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
  lora_branch gate_lora, up_lora, down_lora;
};
TORCH_MODULE_IMPL(llama_mlp, llama_mlp_impl);

// Pre-norm residual block: x + attn(norm(x)), then + mlp(norm(.)). The mask is the backbone's: with the
// sliding window applied when this layer slides.
class llama_decoder_layer_impl : public torch::nn::Module {
public:
  llama_decoder_layer_impl(const llama_config& config, int layer_index);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, kv_cache* cache);
  llama_attention self_attn{nullptr};
  llama_mlp mlp{nullptr};
  rms_norm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE_IMPL(llama_decoder_layer, llama_decoder_layer_impl);

// Hugging Face's `LlamaModel` (registered as `model`): embeddings, the layers, the final norm.
class llama_backbone_impl : public torch::nn::Module {
public:
  explicit llama_backbone_impl(const llama_config& config);
  // -> hidden states after the final norm, [B, T, D].
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                        const torch::Tensor& attention_mask, kv_cache* cache);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  rms_norm norm{nullptr};
  // The rotary inverse frequencies (float32 [head_dim / 2], computed on the CPU as transformers does, moved
  // to the device of the positions at the first forward there) and their cos/sin scale.
  const rotary_frequencies& frequencies() const { return frequencies_; }
  // While training with gradients, run each layer under activation checkpointing (gpu/activation_checkpoint.hpp).
  void set_activation_checkpointing(bool on) { checkpoint_layers_ = on; }
  bool activation_checkpointing() const { return checkpoint_layers_; }

private:
  llama_config config_;
  rotary_frequencies frequencies_;
  bool checkpoint_layers_ = false;
  std::vector<llama_decoder_layer> typed_layers_; // the same modules as `layers`, typed for the forward
};
TORCH_MODULE_IMPL(llama_backbone, llama_backbone_impl);

// Hugging Face's `LlamaForCausalLM` (and Qwen2/Qwen3/MistralForCausalLM, which name their parameters the
// same): `model.…` and `lm_head.weight` (absent when tied, as transformers saves it).
class llama_for_causal_lm_impl : public torch::nn::Module {
public:
  // Weights drawn as for training from scratch: normal(0, initializer_range), norms at one; or, when
  // `draw_weights` is false, left as the layers' constructors made them, for a loader that overwrites them
  // all (drawing a billion numbers is most of what loading a checkpoint would otherwise cost).
  explicit llama_for_causal_lm_impl(const llama_config& config, bool draw_weights = true);

  // input_ids, position_ids [B, T] long; attention_mask bool [B, T, T_past + T] (true = may attend) or
  // undefined for plain causal attention over all past and new positions; cache (nullable) supplies the past
  // and receives the new keys/values. In layers with a sliding window a query sees only the last
  // sliding_window keys the mask allows it (itself included). Logits are skipped when `want_logits` is false.
  model_output forward(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                       const torch::Tensor& attention_mask = {}, kv_cache* cache = nullptr,
                       bool want_logits = true);
  // One unpadded batch, positions 0..T-1.
  model_output forward(const torch::Tensor& input_ids);

  // hidden [B, T, D] -> logits [B, T, V] through lm_head (or the embedding matrix when tied).
  torch::Tensor project_to_vocab(const torch::Tensor& hidden);

  const llama_config& config() const { return config_; }
  void reset_parameters();

  llama_backbone model{nullptr};
  torch::nn::Linear lm_head{nullptr}; // null when tie_word_embeddings

private:
  llama_config config_;
};
TORCH_MODULE_IMPL(llama_for_causal_lm, llama_for_causal_lm_impl);

// Copies weights named as Hugging Face names them into `model` (converting dtype, keeping the model's
// device). Every parameter must be present with its shape; `lm_head.weight` of a tied model (some tied
// checkpoints store the shared matrix under that name too) and rotary `inv_freq` buffers of old checkpoints
// are ignored; any other unknown name is an error.
status load_hf_weights(llama_for_causal_lm& model, const std::map<std::string, torch::Tensor>& weights);

} // namespace tailor::gpu
