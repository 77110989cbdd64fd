// The keys and values of fixed decoding slots: each slot holds one sequence at its own length, refilled in
// place.
#pragma once

#include "gpu/kv_cache.hpp"

#include <cstdint>
#include <torch/torch.h>
#include <vector>

namespace tailor::gpu {

// Per layer one buffer of keys and one of values, [slots, kv_heads, room, head_dim]. Slot s holds its
// sequence's positions 0..length(s)-1 in columns 0..length(s)-1: left-aligned, no padding in front, so a
// newcomer of any length takes any slot without moving the others. A decoding step runs over slots
// 0..active-1 (the caller keeps the occupied ones there) and attends over the first max(length) + 1
// columns, each row masked to its own length: whatever an earlier occupant left beyond that is never seen.
// The buffers take the dtype and device of the first keys loaded (bf16 under CUDA autocast).
class slot_cache {
public:
  slot_cache() = default;
  slot_cache(int slots, int64_t room);

  int slots() const { return static_cast<int>(lengths_.size()); }
  int64_t room() const { return room_; }
  int64_t length(int slot) const { return lengths_.at(static_cast<std::size_t>(slot)); }

  // Slot targets[i] gets row rows[i] of `prefill` (each layer [P, kv_heads, T, hd], the sequence in columns
  // 0..lengths[i]-1; columns after it may hold anything finite), replacing what it held. A row may go to
  // several slots: a prompt's samples share its prefill.
  void load(const std::vector<int>& targets, const kv_cache& prefill, const std::vector<int>& rows,
            const std::vector<int64_t>& lengths);
  // Slot `to` gets slot `from`'s sequence; `from` is left empty.
  void move(int from, int to);

  // What one decoding step over slots 0..active-1 needs: a cache whose forward writes each row's one new
  // position at column length(row) and attends over the first max(length) + 1 columns, the mask of those
  // columns for each row (bool [active, 1, columns]) and the new tokens' positions (long [active, 1]).
  struct step_inputs {
    kv_cache cache;
    torch::Tensor mask, positions;
  };
  step_inputs prepare_step(int active);
  // After the step's forward: slots 0..active-1 are one position longer.
  void advance(int active);

private:
  int64_t room_ = 0;
  std::vector<int64_t> lengths_;                           // per slot, on the host
  std::vector<torch::Tensor> key_buffers_, value_buffers_; // per layer, allocated by the first load
};

} // namespace tailor::gpu
