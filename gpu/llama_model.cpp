// The LLaMA decoder, block by block, following Hugging Face's `modeling_llama.py` so that logits match it.
#include "gpu/llama_model.hpp"

#include <algorithm>
#include <set>
#include <tuple>

namespace tailor::gpu {

namespace F = torch::nn::functional;

// ---- cache and masks ------------------------------------------------------------------------------------

namespace {

// [B, KV, capacity, hd], typed like `like`; its first positions a copy of `past` (may be undefined).
torch::Tensor cache_buffer(const torch::Tensor& like, const torch::Tensor& past, int64_t capacity) {
  auto buffer = torch::empty({like.size(0), like.size(1), capacity, like.size(3)}, like.options());
  if (past.defined() && past.size(2) > 0)
    buffer.narrow(2, 0, past.size(2)).copy_(past);
  return buffer;
}

} // namespace

void kv_cache::reserve(int64_t positions) {
  reserved_ = std::max<int64_t>(positions, 0);
}

std::pair<torch::Tensor, torch::Tensor> kv_cache::append(std::size_t layer, const torch::Tensor& new_keys,
                                                         const torch::Tensor& new_values) {
  TORCH_CHECK(layer <= keys.size(), "cache layers must be added in order");
  const bool first = layer == keys.size();
  if (first) {
    keys.emplace_back();
    values.emplace_back();
  }
  key_buffers_.resize(keys.size());
  value_buffers_.resize(keys.size());
  auto &k = keys[layer], &v = values[layer];
  auto &k_buffer = key_buffers_[layer], &v_buffer = value_buffers_[layer];
  // Writing in place into a buffer that autograd saw would invalidate what the backward pass saved.
  const bool recording =
      torch::GradMode::is_enabled() && (new_keys.requires_grad() || new_values.requires_grad());
  if (reserved_ == 0 || recording) {
    k_buffer = v_buffer = torch::Tensor{};
    k = first ? new_keys : torch::cat({k.to(new_keys.scalar_type()), new_keys}, 2); // [B, KV, T_past + T, hd]
    v = first ? new_values : torch::cat({v.to(new_values.scalar_type()), new_values}, 2);
    return {k, v};
  }
  const int64_t past = first ? 0 : k.size(2), total = past + new_keys.size(2);
  if (!k_buffer.defined() || k_buffer.size(2) < total || k_buffer.scalar_type() != new_keys.scalar_type()) {
    const int64_t capacity = std::max({reserved_, total, k_buffer.defined() ? 2 * k_buffer.size(2) : 0});
    k_buffer = cache_buffer(new_keys, k, capacity);
    v_buffer = cache_buffer(new_values, v, capacity);
  }
  k_buffer.narrow(2, past, total - past).copy_(new_keys);
  v_buffer.narrow(2, past, total - past).copy_(new_values);
  k = k_buffer.narrow(2, 0, total);
  v = v_buffer.narrow(2, 0, total);
  return {k, v};
}

void kv_cache::drop_front(int64_t positions) {
  if (positions <= 0)
    return;
  const int64_t kept = length() - positions;
  TORCH_CHECK(kept >= 0, "cannot drop ", positions, " positions from a cache of ", length());
  for (std::size_t layer = 0; layer < keys.size(); ++layer) {
    keys[layer] = keys[layer].narrow(2, positions, kept);
    values[layer] = values[layer].narrow(2, positions, kept);
    if (layer < key_buffers_.size() && key_buffers_[layer].defined()) {
      auto& k_buffer = key_buffers_[layer];
      k_buffer = k_buffer.narrow(2, positions, k_buffer.size(2) - positions);
      auto& v_buffer = value_buffers_[layer];
      v_buffer = v_buffer.narrow(2, positions, v_buffer.size(2) - positions);
    }
  }
}

kv_cache kv_cache::select_rows(const torch::Tensor& rows) const {
  kv_cache out;
  out.reserved_ = reserved_;
  out.key_buffers_.resize(key_buffers_.size());
  out.value_buffers_.resize(value_buffers_.size());
  const int64_t filled = length();
  for (std::size_t layer = 0; layer < keys.size(); ++layer) {
    const auto& k = keys[layer];
    const auto on_device = rows.to(k.device());
    if (layer < key_buffers_.size() && key_buffers_[layer].defined()) {
      out.key_buffers_[layer] = key_buffers_[layer].index_select(0, on_device);
      out.value_buffers_[layer] = value_buffers_[layer].index_select(0, on_device);
      out.keys.push_back(out.key_buffers_[layer].narrow(2, 0, filled));
      out.values.push_back(out.value_buffers_[layer].narrow(2, 0, filled));
    } else {
      out.keys.push_back(k.index_select(0, on_device));
      out.values.push_back(values[layer].index_select(0, on_device));
    }
  }
  return out;
}

kv_cache kv_cache::detached() const {
  kv_cache out;
  out.reserved_ = reserved_;
  for (const auto& k : keys)
    out.keys.push_back(k.detach());
  for (const auto& v : values)
    out.values.push_back(v.detach());
  for (const auto& b : key_buffers_)
    out.key_buffers_.push_back(b.defined() ? b.detach() : b);
  for (const auto& b : value_buffers_)
    out.value_buffers_.push_back(b.defined() ? b.detach() : b);
  return out;
}

torch::Tensor causal_padding_mask(const torch::Tensor& valid, int64_t query_length) {
  const int64_t total = valid.size(1);
  const int64_t past = total - query_length;
  auto long_opts = torch::TensorOptions().dtype(torch::kLong).device(valid.device());
  auto query_pos = (torch::arange(query_length, long_opts) + past).unsqueeze(1);       // [Tq, 1]
  auto key_pos = torch::arange(total, long_opts).unsqueeze(0);                         // [1, T_total]
  auto causal = key_pos.le(query_pos);                                                 // [Tq, T_total]
  auto allowed = causal.unsqueeze(0).logical_and(valid.to(torch::kBool).unsqueeze(1)); // [B, Tq, T_total]
  return allowed.logical_or(key_pos.eq(query_pos).unsqueeze(0));
}

torch::Tensor positions_from_valid(const torch::Tensor& valid) {
  return (valid.to(torch::kLong).cumsum(1) - 1).clamp_min(0);
}

torch::Tensor positions_after(const torch::Tensor& start, int64_t length) {
  auto steps = torch::arange(length, torch::TensorOptions().dtype(torch::kLong).device(start.device()));
  return start.to(torch::kLong).unsqueeze(1) + steps.unsqueeze(0); // [B, length]
}

// ---- rotary positions ----------------------------------------------------------------------------------

namespace {

// cos, sin [B, 1, T, head_dim] in float32 for explicit positions [B, T] (the 1 broadcasts over heads); the
// two halves repeat the frequencies. sin's first half is negated: the sign of rotate_half, paid once per
// forward rather than for every layer's queries and keys.
std::pair<torch::Tensor, torch::Tensor> rotary_tables(const torch::Tensor& position_ids, int64_t head_dim,
                                                      double theta) {
  auto float_opts = torch::TensorOptions().dtype(torch::kFloat).device(position_ids.device());
  // Same float32 arithmetic as transformers' default rope init: 1 / theta^(2i / d).
  auto exponent = torch::arange(0, head_dim, 2, float_opts) / static_cast<double>(head_dim);
  auto inv_freq = 1.0 / torch::pow(theta, exponent);                    // [hd/2]
  auto freqs = position_ids.to(torch::kFloat).unsqueeze(-1) * inv_freq; // [B, T, hd/2]
  auto angles = torch::cat({freqs, freqs}, -1).unsqueeze(1);            // [B, 1, T, hd]
  auto sin = angles.sin();
  sin.narrow(-1, 0, head_dim / 2).neg_();
  return {angles.cos(), sin};
}

// x [B, heads, T, hd] -> x * cos + rotate_half(x) * sin, where rotate_half(x1, x2) = (-x2, x1): the halves
// swapped (a roll by half the width) with the sign that `signed_sin` carries.
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                           const torch::Tensor& signed_sin) {
  return x * cos + x.roll(x.size(-1) / 2, -1) * signed_sin;
}

torch::nn::Linear linear(int64_t in, int64_t out) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
}

} // namespace

// ---- blocks ----------------------------------------------------------------------------------------------

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
  q_proj = register_module("q_proj", linear(c.hidden_size, heads_ * head_dim_));
  k_proj = register_module("k_proj", linear(c.hidden_size, kv_heads_ * head_dim_));
  v_proj = register_module("v_proj", linear(c.hidden_size, kv_heads_ * head_dim_));
  o_proj = register_module("o_proj", linear(heads_ * head_dim_, c.hidden_size));
}

torch::Tensor llama_attention_impl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                            const torch::Tensor& sin, const torch::Tensor& mask,
                                            kv_cache* cache) {
  const int64_t batch = x.size(0), length = x.size(1);
  auto q = q_proj(x).view({batch, length, heads_, head_dim_}).transpose(1, 2);    // [B, H, T, hd]
  auto k = k_proj(x).view({batch, length, kv_heads_, head_dim_}).transpose(1, 2); // [B, KV, T, hd]
  auto v = v_proj(x).view({batch, length, kv_heads_, head_dim_}).transpose(1, 2); // [B, KV, T, hd]
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
  return o_proj(out.transpose(1, 2).reshape({batch, length, heads_ * head_dim_}));
}

llama_mlp_impl::llama_mlp_impl(const llama_config& c) {
  gate_proj = register_module("gate_proj", linear(c.hidden_size, c.intermediate_size));
  up_proj = register_module("up_proj", linear(c.hidden_size, c.intermediate_size));
  down_proj = register_module("down_proj", linear(c.intermediate_size, c.hidden_size));
}

torch::Tensor llama_mlp_impl::forward(const torch::Tensor& x) {
  return down_proj(F::silu(gate_proj(x)) * up_proj(x));
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

llama_backbone_impl::llama_backbone_impl(const llama_config& c) : config_(c) {
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

  auto h = embed_tokens(input_ids); // [B, T, D]
  auto [cos, sin] = rotary_tables(position_ids, config_.head_dim, config_.rope_theta);
  for (auto& layer : typed_layers_)
    h = layer(h, cos, sin, mask, cache);
  return norm(h); // [B, T, D]
}

llama_for_causal_lm_impl::llama_for_causal_lm_impl(const llama_config& c) : config_(c) {
  auto valid = check_llama_config(c);
  TORCH_CHECK(valid.ok(), valid.ok() ? "" : valid.error().message);
  model = register_module("model", llama_backbone(c));
  if (!c.tie_word_embeddings)
    lm_head = register_module("lm_head", linear(c.hidden_size, c.vocab_size));
  reset_parameters();
}

void llama_for_causal_lm_impl::reset_parameters() {
  torch::NoGradGuard no_grad;
  for (auto& item : named_parameters()) {
    if (item.key().ends_with("norm.weight"))
      item.value().fill_(1.0);
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
      auto& param = item.value();
      auto it = weights.find(name);
      if (it == weights.end())
        return problem{"weight `" + name + "` is missing"};
      if (it->second.sizes() != param.sizes())
        return problem{"weight `" + name + "` has shape " + c10::str(it->second.sizes()) +
                       ", the model expects " + c10::str(param.sizes())};
      param.copy_(it->second.to(param.scalar_type()));
      used.insert(name);
    }
    for (const auto& [name, tensor] : weights) {
      if (used.contains(name))
        continue;
      const bool tied_head = name == "lm_head.weight" && model->config().tie_word_embeddings;
      if (tied_head || name.ends_with("rotary_emb.inv_freq"))
        continue;
      return problem{"weight `" + name + "` is not a parameter of this LLaMA model (check the config)"};
    }
    return ok_status();
  } catch (const c10::Error& e) {
    return problem{std::string{"loading weights failed: "} + e.what_without_backtrace()};
  } catch (const std::exception& e) {
    return problem{std::string{"loading weights failed: "} + e.what()};
  }
}

} // namespace tailor::gpu
