#pragma once
// LoRA adapters on the student's projections, with PEFT's semantics: beside each target projection W a pair
// A [rank, in] (kaiming-uniform, a = sqrt(5): PEFT's default distribution, drawn by a generator of tailor's
// own, so not PEFT's values) and B [out, rank] (zeros), so that out = W x + B A dropout(x) * alpha / rank and
// an untrained adapter leaves the model as it was.
#include "gpu/llama_model.hpp"
#include "io/common/result.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tailor::gpu {

struct lora_settings {
  int rank = 0; // 0: no adapters
  double alpha = 16.0;
  double dropout = 0.0;
  std::vector<std::string> targets{"q_proj", "k_proj", "v_proj", "o_proj"};
  std::uint64_t seed = 0; // seeds the one generator that draws every A: the same seed, the same A
};

// The projection names an adapter may target, in the order of a decoder layer.
const std::vector<std::string>& lora_target_names();

// Checks rank >= 1, alpha > 0, dropout in [0, 1) and the targets (known, not repeated, at least one).
status check_lora_settings(const lora_settings& settings);

// Adds an adapter to every target projection of every layer, on the model's device in float32, and freezes
// every other parameter (requires_grad false), so an optimizer over the trainable parameters trains the
// adapters only. Refuses a model that already has adapters. The A matrices come from a CPU generator seeded
// with settings.seed, whatever the state of torch's global generator; that one still advances, since making
// the adapters' Linear layers draws their (overwritten) default init from it.
status attach_lora(llama_for_causal_lm& model, const lora_settings& settings);

// Whether the model has adapters, and the settings they were attached with (rank 0 when none).
bool has_lora(const llama_for_causal_lm& model);
lora_settings lora_of(const llama_for_causal_lm& model);

} // namespace tailor::gpu
