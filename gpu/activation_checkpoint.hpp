// Activation checkpointing: a block's forward runs without keeping its intermediate activations, and the
// backward pass recomputes them from the block's input. Peak memory then holds one block's activations
// instead of all of them, for about one more forward pass of compute.
#pragma once

#include "gpu/kv_cache.hpp"

#include <functional>
#include <torch/torch.h>

namespace tailor::gpu {

// A block: its input [B, T, D] and the cache it appends its keys and values to (nullable) -> its output.
using block_function = std::function<torch::Tensor(const torch::Tensor& x, kv_cache* cache)>;

// Whether a block may be checkpointed with this cache: one that writes in place (reserved buffers, decoding
// slots) would be overwritten by the recomputation, so those blocks run plainly.
bool checkpointable(const kv_cache* cache);

// block(x, cache), with the activations in between recomputed in the backward pass instead of kept. The
// recomputation sees what the forward saw: the cache as it was before the block appended to it, the same
// random stream (so dropout masks repeat) and the same autocast state. Gradients reach the block's
// parameters and `x` exactly as a plain call's would, through `backward()` (the trainer's way): like
// PyTorch's reentrant checkpoint, `torch::autograd::grad` with explicit inputs cannot see through it. With
// grad mode off the block is simply called.
torch::Tensor checkpointed(const block_function& block, const torch::Tensor& x, kv_cache* cache);

} // namespace tailor::gpu
