// The KV cache of decoding (concatenating or in reserved buffers) and the masks and positions of padded batches.
#include "gpu/kv_cache.hpp"

#include <algorithm>

namespace tailor::gpu {

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
  if (store)
    return store(layer, new_keys, new_values);
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

} // namespace tailor::gpu
