// Model-side helpers of the checkpoint tests: weights spread far from the tiny initialisation, and one
// AdamW step on a next-token batch, as the resume tests take it before and after a checkpoint.
#pragma once

#include "gpu/llama_model.hpp"

#include <torch/torch.h>

namespace tailor::test {

// Norm gains near 1, every other weight N(0, 0.3): logits O(1), so comparisons mean something.
inline void spread_weights(gpu::llama_for_causal_lm& model) {
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    if (item.key().ends_with("norm.weight"))
      item.value().copy_(1 + 0.1 * torch::randn_like(item.value()));
    else
      item.value().normal_(0, 0.3);
  }
}

// One AdamW step predicting each token of `tokens` [B, T] from those before it; the loss before the step.
inline float next_token_step(gpu::llama_for_causal_lm& model, torch::optim::AdamW& optimizer,
                             torch::Tensor tokens) {
  tokens = tokens.to(model->parameters().front().device());
  auto logits = model->forward(tokens.slice(1, 0, -1)).logits;
  auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}),
                                                   tokens.slice(1, 1).reshape({-1}));
  optimizer.zero_grad();
  loss.backward();
  optimizer.step();
  return loss.item<float>();
}

} // namespace tailor::test
