// Rotary position embeddings: the inverse frequencies of each rope type (transformers' float32 arithmetic,
// step for step), the cos/sin tables of a batch's positions, and the rotation of queries and keys.
#pragma once

#include "gpu/rope_config.hpp"

#include <cstdint>
#include <torch/torch.h>
#include <utility>

namespace tailor::gpu {

struct rotary_frequencies {
  torch::Tensor inv_freq;         // float32 [head_dim / 2] on the CPU
  double attention_scaling = 1.0; // multiplies cos and sin (yarn's mscale; 1 for the other types)
};

// What transformers' rope init functions compute for `head_dim` channels (`_compute_llama3_parameters`,
// `_compute_yarn_parameters`, ...), bit for bit on the CPU. `max_position_embeddings` stands in for a
// scaling's original context when that is 0.
rotary_frequencies rotary_inverse_frequencies(const rope_settings& rope, int64_t head_dim,
                                              int max_position_embeddings);

// cos, sin [B, 1, T, head_dim] in float32 for positions [B, T] (the 1 broadcasts over heads), on the
// positions' device; the two halves repeat the frequencies. sin's first half is negated: the sign of
// rotate_half, paid once per forward rather than for every layer's queries and keys.
std::pair<torch::Tensor, torch::Tensor> rotary_tables(const torch::Tensor& position_ids,
                                                      const rotary_frequencies& frequencies);

// x [B, heads, T, hd] -> x * cos + rotate_half(x) * sin, with the tables of rotary_tables().
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& signed_sin);

} // namespace tailor::gpu
