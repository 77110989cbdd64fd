// The paper's two training losses: the prefix-weighted LM loss and the self-reflection triplet loss.
#pragma once

#include "gpu/llama_model.hpp"

#include <cstdint>
#include <torch/torch.h>
#include <vector>

namespace tailor::gpu {

struct loss_options {
  double prefix_weight = 0.1;     // weight of prefix tokens in the LM loss (target tokens weigh 1)
  double margin = 1.0;            // triplet margin on cosine similarities
  double triplet_weight = 0.5;    // λ in L_lm + λ·L_cl
  int max_rationale_tokens = 192; // for collate_tailored_batch: rationales keep their first tokens
};

// One training example, tokenized. An empty positive or negative masks the example out of the triplet loss.
struct tailored_example {
  std::vector<int> prefix;   // demos + question + "Reasoning: " (BOS first when the tokenizer adds it)
  std::vector<int> target;   // rationale + "\nAnswer: " + gold + EOS
  std::vector<int> anchor;   // the teacher rationale trained on, encoded after the prefix
  std::vector<int> positive; // a different teacher rationale for the same question, or empty
  std::vector<int> negative; // one of the student's wrong rationales, or empty
};

// Padded token tensors of a batch of B examples (all right-padded with the pad id; `valid` marks real
// tokens).
struct tailored_batch {
  torch::Tensor input_ids;       // [B, L] long: prefix + target
  torch::Tensor is_target;       // [B, L] bool: position holds a target token
  torch::Tensor valid;           // [B, L] bool
  torch::Tensor prefix_ids;      // [B, P] long
  torch::Tensor prefix_valid;    // [B, P] bool
  torch::Tensor rationale_ids;   // [3, B, R] long: anchor, positive, negative
  torch::Tensor rationale_valid; // [3, B, R] bool
  torch::Tensor triplet_rows;    // [B] bool: the example has a positive and a negative

  tailored_batch to(const torch::Device& device) const;
};

// Pads and stacks examples; rationales are cut to `max_rationale_tokens`. A triplet row also needs a
// non-empty anchor. Tensors are on the CPU.
tailored_batch collate_tailored_batch(const std::vector<tailored_example>& examples, int pad_id,
                                      int max_rationale_tokens = 192);

// Next-token cross-entropy of logits [B, T, V] against input_ids [B, T]: position t predicts token t+1,
// weighted 1 when token t+1 is a target token and `prefix_weight` when it is a prefix token; the weighted sum
// is divided by the number of valid predicted tokens (prefix included). -> scalar (float32).
torch::Tensor weighted_lm_loss(const torch::Tensor& logits, const torch::Tensor& input_ids,
                               const torch::Tensor& is_target, const torch::Tensor& valid,
                               double prefix_weight = 0.1);

// mean over rows where `rows` [B] bool is true of max(0, margin - cos(a, p) + cos(a, n)), a/p/n [B, D];
// 0 when no row is true. -> scalar (float32).
torch::Tensor triplet_cosine_loss(const torch::Tensor& anchor, const torch::Tensor& positive,
                                  const torch::Tensor& negative, const torch::Tensor& rows,
                                  double margin = 1.0);

// Representations of the triplet rows: the prefixes run once without gradient, and their key/value cache is
// reused for anchor, positive and negative (with gradient); each is the final-norm hidden state at its last
// real token. Rows not in `batch.triplet_rows` are skipped. -> {anchor, positive, negative} each [B', D].
struct triplet_encodings {
  torch::Tensor anchor, positive, negative;
};
triplet_encodings encode_triplets(llama_for_causal_lm& model, const tailored_batch& batch);

struct tailored_loss {
  torch::Tensor total;   // lm + triplet_weight * triplet, the one to call backward() on
  torch::Tensor lm;      // L_lm
  torch::Tensor triplet; // L_cl (0 when no row has a triplet)
  int64_t triplet_rows = 0;
};

// L_lm on prefix + target and L_cl on the triplets of the same batch.
tailored_loss tailored_learning_loss(llama_for_causal_lm& model, const tailored_batch& batch,
                                     const loss_options& options = {});

} // namespace tailor::gpu
