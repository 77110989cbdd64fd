// The keys and values a decoder keeps per layer while it decodes, and the masks and positions of padded batches.
#pragma once

#include <cstdint>
#include <functional>
#include <torch/torch.h>
#include <utility>
#include <vector>

namespace tailor::gpu {

// Keys and values of every layer for the positions seen so far, each [B, kv_heads, T_past, head_dim].
// By default a forward pass appends by concatenation: copying a cache is cheap (tensor handles) and a copy
// keeps its prefix, so it can be reused for several continuations, and gradients flow through the new part.
// After reserve(), each layer's keys and values live in a buffer with room for more positions, written in
// place: no copy of the past per token, for decoding. Copies of a reserved cache share its buffers (a forward
// through one overwrites what another would append); select_rows gives an independent cache.
class kv_cache {
public:
  std::vector<torch::Tensor> keys;   // one per layer, empty before the first forward
  std::vector<torch::Tensor> values; // one per layer
  // Where a forward's new keys and values go instead of `keys`/`values`, when set: decoding slots that each
  // write at their own position (gpu/slot_cache.hpp). Gets the layer and its new keys and values
  // [B, kv_heads, T, hd] -> that layer's keys and values to attend over. `keys` must still hold the past
  // each row attends over (the backbone checks the mask against length()).
  using store_function = std::function<std::pair<torch::Tensor, torch::Tensor>(
      std::size_t layer, const torch::Tensor& new_keys, const torch::Tensor& new_values)>;
  store_function store;

  int64_t length() const { return keys.empty() ? 0 : keys.front().size(2); }
  bool empty() const { return keys.empty(); }
  // Whether a forward overwrites tensors in place (reserved buffers, or a store): copies then share them.
  bool writes_in_place() const { return reserved_ > 0 || static_cast<bool>(store); }
  // Room for `positions` in all (buffers are allocated by the first forward, grown by doubling when a
  // later one overruns them). Only used while no gradient is recorded; otherwise the cache concatenates.
  void reserve(int64_t positions);
  // Adds layer `layer`'s new keys and values [B, kv_heads, T, hd] -> that layer's keys and values of all
  // positions so far, [B, kv_heads, T_past + T, hd]. Layers are added in order at the first forward.
  std::pair<torch::Tensor, torch::Tensor> append(std::size_t layer, const torch::Tensor& new_keys,
                                                 const torch::Tensor& new_values);
  // Forgets the first `positions` positions of every row (columns that are padding in every row).
  void drop_front(int64_t positions);
  // The cache of the batch rows `rows` (long [B'], repeats allowed): drop finished rows, or repeat a prefix.
  kv_cache select_rows(const torch::Tensor& rows) const;
  // The same keys and values cut from the autograd graph.
  kv_cache detached() const;

private:
  int64_t reserved_ = 0;
  // [B, kv_heads, capacity, hd] per layer once reserved; keys/values are their first length() positions.
  std::vector<torch::Tensor> key_buffers_, value_buffers_;
};

// Attention mask (true = may attend) of the last `query_length` positions of a sequence whose keys are
// `valid` [B, T_total] bool (past and new): causal, pad keys hidden. Every query also sees itself, so that
// rows of pad queries stay finite instead of softmaxing over nothing. Result: bool [B, query_length,
// T_total].
torch::Tensor causal_padding_mask(const torch::Tensor& valid, int64_t query_length);

// Positions of a left- or right-padded batch: the running count of real tokens minus one, 0 on leading pads.
// valid [B, T] bool -> long [B, T].
torch::Tensor positions_from_valid(const torch::Tensor& valid);

// Positions that continue each row after `start` [B] long real tokens: start[b] + 0..length-1 -> long [B,
// length].
torch::Tensor positions_after(const torch::Tensor& start, int64_t length);

} // namespace tailor::gpu
