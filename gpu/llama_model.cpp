// The decoder, block by block, following Hugging Face's `modeling_llama.py` (and the Qwen2/Qwen3/Mistral
// files where they differ) so that logits match it.
#include "gpu/llama_model.hpp"

#include "gpu/activation_checkpoint.hpp"

#include <algorithm>
#include <set>
#include <tuple>

namespace tailor::gpu {

namespace F = torch::nn::functional;

namespace {

torch::nn::Linear linear(int64_t in, int64_t out, bool bias = false) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

// The mask of sliding layers: of the keys `mask` lets a query see (undefined: causal), the last `window`,
// the query itself included. Counting visible keys rather than columns makes this transformers' window over
// positions whatever the layout of a row, as long as its real tokens are contiguous: left or right padding,
// decoding slots of different lengths. Returns `mask` itself when the window hides nothing, so that short
// sequences keep the plain path.
torch::Tensor sliding_window_mask(const torch::Tensor& mask, int64_t batch, int64_t past, int64_t length,
                                  int64_t window, const torch::TensorOptions& on_device) {
  if (window <= 0 || past + length <= window)
    return mask;
  auto base = mask.defined()
                  ? mask
                  : causal_padding_mask(torch::ones({batch, past + length}, on_device.dtype(torch::kBool)),
                                        length); // [B, T, T_past + T]
  // Visible keys at this column or later, i.e. between the key and the query.
  auto nearer = base.flip(-1).cumsum(-1, torch::kInt).flip(-1); // [B, T, T_past + T]
  return base.logical_and(nearer.le(window));
}

} // namespace

// ---- blocks ----------------------------------------------------------------------------------------------

bool is_lora_parameter(const std::string& name) {
  return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos;
}

torch::Tensor project(torch::nn::Linear& base, lora_branch& adapter, const torch::Tensor& x,
                      bool training) {
  auto out = base(x);
  if (!adapter.A)
    return out;
  auto in = adapter.dropout > 0.0 ? F::dropout(x, F::DropoutFuncOptions().p(adapter.dropout).training(training))
                                  : x;
  return out + adapter.B(adapter.A(in)) * adapter.scaling;
}

rms_norm_impl::rms_norm_impl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor rms_norm_impl::forward(const torch::Tensor& x) {
  auto h = x.to(torch::kFloat);
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight * h.to(x.scalar_type());
}

llama_attention_impl::llama_attention_impl(const llama_config& c, int layer_index)
    : heads_(c.num_attention_heads), kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim),
      layer_index_(layer_index) {
  q_proj = register_module("q_proj", linear(c.hidden_size, heads_ * head_dim_, c.attention_bias));
  k_proj = register_module("k_proj", linear(c.hidden_size, kv_heads_ * head_dim_, c.attention_bias));
  v_proj = register_module("v_proj", linear(c.hidden_size, kv_heads_ * head_dim_, c.attention_bias));
  o_proj = register_module("o_proj", linear(heads_ * head_dim_, c.hidden_size, c.attention_output_bias));
  if (c.qk_norm) {
    q_norm = register_module("q_norm", rms_norm(head_dim_, c.rms_norm_eps));
    k_norm = register_module("k_norm", rms_norm(head_dim_, c.rms_norm_eps));
  }
}

torch::Tensor llama_attention_impl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                            const torch::Tensor& sin, const torch::Tensor& mask,
                                            kv_cache* cache) {
  const int64_t batch = x.size(0), length = x.size(1);
  auto q = project(q_proj, q_lora, x, is_training()).view({batch, length, heads_, head_dim_});    // [B, T, H, hd]
  auto k = project(k_proj, k_lora, x, is_training()).view({batch, length, kv_heads_, head_dim_}); // [B, T, KV, hd]
  if (q_norm) { // each head's queries and keys normalised over head_dim
    q = q_norm(q);
    k = k_norm(k);
  }
  q = q.transpose(1, 2);                                                          // [B, H, T, hd]
  k = k.transpose(1, 2);                                                          // [B, KV, T, hd]
  auto v = project(v_proj, v_lora, x, is_training()).view({batch, length, kv_heads_, head_dim_}).transpose(1, 2); // [B, KV, T, hd]
  q = apply_rotary(q, cos, sin);
  k = apply_rotary(k, cos, sin);

  bool had_past = false;
  if (cache) {
    had_past = static_cast<int>(cache->keys.size()) > layer_index_;
    std::tie(k, v) = cache->append(static_cast<std::size_t>(layer_index_), k, v); // [B, KV, T_past + T, hd]
  }
  // Grouped-query attention: each key/value head serves heads / kv_heads consecutive query heads. The CPU
  // kernel groups them itself (forward and backward), which spares a copy of the whole cache per step; other
  // devices' fused kernels may not, so there the heads are repeated.
  const bool grouped_in_kernel = kv_heads_ != heads_ && x.device().is_cpu();
  if (kv_heads_ != heads_ && !grouped_in_kernel) {
    k = k.repeat_interleave(heads_ / kv_heads_, 1); // [B, H, T_k, hd]
    v = v.repeat_interleave(heads_ / kv_heads_, 1);
  }
  // Without a mask the causal flag is exact only when queries and keys start together.
  TORCH_CHECK(mask.defined() || length == 1 || !had_past, "attention over a cache needs an explicit mask");
  const bool is_causal = !mask.defined() && length > 1;
  auto attn_mask = mask.defined() ? std::optional<torch::Tensor>(mask.unsqueeze(1)) : std::nullopt;
  auto out = at::scaled_dot_product_attention(q, k, v, attn_mask, 0.0, is_causal, std::nullopt,
                                              grouped_in_kernel); // [B, H, T, hd]
  return project(o_proj, o_lora, out.transpose(1, 2).reshape({batch, length, heads_ * head_dim_}), is_training());
}

llama_mlp_impl::llama_mlp_impl(const llama_config& c) {
  gate_proj = register_module("gate_proj", linear(c.hidden_size, c.intermediate_size));
  up_proj = register_module("up_proj", linear(c.hidden_size, c.intermediate_size));
  down_proj = register_module("down_proj", linear(c.intermediate_size, c.hidden_size));
}

torch::Tensor llama_mlp_impl::forward(const torch::Tensor& x) {
  const bool training = is_training();
  auto hidden = F::silu(project(gate_proj, gate_lora, x, training)) * project(up_proj, up_lora, x, training);
  return project(down_proj, down_lora, hidden, training);
}

llama_decoder_layer_impl::llama_decoder_layer_impl(const llama_config& c, int layer_index) {
  self_attn = register_module("self_attn", llama_attention(c, layer_index));
  mlp = register_module("mlp", llama_mlp(c));
  input_layernorm = register_module("input_layernorm", rms_norm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm =
      register_module("post_attention_layernorm", rms_norm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor llama_decoder_layer_impl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                                const torch::Tensor& sin, const torch::Tensor& mask,
                                                kv_cache* cache) {
  auto h = x + self_attn(input_layernorm(x), cos, sin, mask, cache);
  return h + mlp(post_attention_layernorm(h));
}

// ---- the whole model -------------------------------------------------------------------------------------

llama_backbone_impl::llama_backbone_impl(const llama_config& c)
    : config_(c),
      frequencies_(rotary_inverse_frequencies(rope_of(c), c.head_dim, c.max_position_embeddings)) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    typed_layers_.push_back(llama_decoder_layer(c, i));
    layers->push_back(typed_layers_.back());
  }
  norm = register_module("norm", rms_norm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor llama_backbone_impl::forward(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                                           const torch::Tensor& attention_mask, kv_cache* cache) {
  const int64_t batch = input_ids.size(0), length = input_ids.size(1);
  const int64_t past = cache ? cache->length() : 0;
  auto mask = attention_mask;
  if (!mask.defined() && length > 1 && past > 0) // plain causal over past and new positions
    mask = causal_padding_mask(torch::ones({batch, past + length}, input_ids.options().dtype(torch::kBool)),
                               length);
  TORCH_CHECK(!mask.defined() ||
                  (mask.size(0) == batch && mask.size(1) == length && mask.size(2) == past + length),
              "attention mask must be [B, T, T_past + T]");
  if (mask.defined())
    mask = mask.to(torch::kBool);

  const auto sliding_mask =
      sliding_window_mask(mask, batch, past, length, config_.sliding_window, input_ids.options());

  auto h = embed_tokens(input_ids); // [B, T, D]
  if (frequencies_.inv_freq.device() != position_ids.device())
    frequencies_.inv_freq = frequencies_.inv_freq.to(position_ids.device());
  auto [cos, sin] = rotary_tables(position_ids, frequencies_);
  const bool checkpoint = checkpoint_layers_ && is_training() && torch::GradMode::is_enabled() &&
                          checkpointable(cache);
  for (size_t i = 0; i < typed_layers_.size(); ++i) {
    const auto& layer_mask = slides(config_, static_cast<int>(i)) ? sliding_mask : mask;
    if (!checkpoint) {
      h = typed_layers_[i](h, cos, sin, layer_mask, cache);
      continue;
    }
    auto layer = typed_layers_[i];
    h = checkpointed([layer, cos, sin, layer_mask](const torch::Tensor& x,
                                                   kv_cache* c) mutable { return layer(x, cos, sin, layer_mask, c); },
                     h, cache);
  }
  return norm(h); // [B, T, D]
}

llama_for_causal_lm_impl::llama_for_causal_lm_impl(const llama_config& c, bool draw_weights) : config_(c) {
  auto valid = check_llama_config(c);
  TORCH_CHECK(valid.ok(), valid.ok() ? "" : valid.error().message);
  model = register_module("model", llama_backbone(c));
  if (!c.tie_word_embeddings)
    lm_head = register_module("lm_head", linear(c.hidden_size, c.vocab_size));
  if (draw_weights)
    reset_parameters();
}

void llama_for_causal_lm_impl::reset_parameters() {
  torch::NoGradGuard no_grad;
  for (auto& item : named_parameters()) {
    if (item.key().ends_with("norm.weight"))
      item.value().fill_(1.0);
    else if (item.key().ends_with(".bias")) // as transformers initialises linear biases
      item.value().zero_();
    else
      item.value().normal_(0.0, config_.initializer_range);
  }
}

model_output llama_for_causal_lm_impl::forward(const torch::Tensor& input_ids,
                                               const torch::Tensor& position_ids,
                                               const torch::Tensor& attention_mask, kv_cache* cache,
                                               bool want_logits) {
  model_output out;
  out.hidden = model(input_ids, position_ids, attention_mask, cache);
  if (want_logits)
    out.logits = project_to_vocab(out.hidden);
  return out;
}

model_output llama_for_causal_lm_impl::forward(const torch::Tensor& input_ids) {
  auto positions = torch::arange(input_ids.size(1), input_ids.options().dtype(torch::kLong))
                       .unsqueeze(0)
                       .expand({input_ids.size(0), input_ids.size(1)});
  return forward(input_ids, positions);
}

torch::Tensor llama_for_causal_lm_impl::project_to_vocab(const torch::Tensor& hidden) {
  if (lm_head)
    return lm_head(hidden);
  return F::linear(hidden, model->embed_tokens->weight); // [B, T, V]
}

// ---- weights by Hugging Face name ------------------------------------------------------------------------

status load_hf_weights(llama_for_causal_lm& model, const std::map<std::string, torch::Tensor>& weights) {
  try {
    torch::NoGradGuard no_grad;
    std::set<std::string> used;
    for (auto& item : model->named_parameters()) {
      const auto& name = item.key();
      if (is_lora_parameter(name)) // adapters are not among the Hugging Face weights
        continue;
      auto& param = item.value();
      auto it = weights.find(name);
      if (it == weights.end())
        return problem{"weight `" + name + "` is missing"};
      if (it->second.sizes() != param.sizes())
        return problem{"weight `" + name + "` has shape " + c10::str(it->second.sizes()) +
                       ", the model expects " + c10::str(param.sizes())};
      param.copy_(it->second); // converting as it copies: no full-size temporary per weight
      used.insert(name);
    }
    for (const auto& [name, tensor] : weights) {
      if (used.contains(name))
        continue;
      const bool tied_head = name == "lm_head.weight" && model->config().tie_word_embeddings;
      if (tied_head || name.ends_with("rotary_emb.inv_freq"))
        continue;
      return problem{"weight `" + name + "` is not a parameter of this " + model->config().model_type +
                     " model (check the config: biases, q/k norms, layers, tied embeddings)"};
    }
    return ok_status();
  } catch (const c10::Error& e) {
    return problem{std::string{"loading weights failed: "} + e.what_without_backtrace()};
  } catch (const std::exception& e) {
    return problem{std::string{"loading weights failed: "} + e.what()};
  }
}

} // namespace tailor::gpu
