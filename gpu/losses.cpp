// Tailored learning's objective: L_lm (prefix tokens down-weighted) + λ·L_cl (self-reflection triplets).
#include "gpu/losses.hpp"

#include <algorithm>

namespace tailor::gpu {

namespace F = torch::nn::functional;

// ---- collation -------------------------------------------------------------------------------------------

namespace {

// Copies `ids` into row `row` of a [rows, width] long tensor accessor and marks them valid.
void fill_row(torch::TensorAccessor<int64_t, 2> ids, torch::TensorAccessor<bool, 2> valid, int64_t row,
              const std::vector<int>& tokens, size_t offset = 0, size_t limit = SIZE_MAX) {
  const size_t n = std::min(tokens.size(), limit);
  for (size_t i = 0; i < n; ++i) {
    ids[row][offset + i] = tokens[i];
    valid[row][offset + i] = true;
  }
}

} // namespace

tailored_batch collate_tailored_batch(const std::vector<tailored_example>& examples, int pad_id,
                                      int max_rationale_tokens) {
  const auto batch = static_cast<int64_t>(examples.size());
  const auto cut = static_cast<size_t>(std::max(max_rationale_tokens, 1));
  size_t lm_width = 1, prefix_width = 1, rationale_width = 1;
  for (const auto& e : examples) {
    lm_width = std::max(lm_width, e.prefix.size() + e.target.size());
    prefix_width = std::max(prefix_width, e.prefix.size());
    for (const auto* r : {&e.anchor, &e.positive, &e.negative})
      rationale_width = std::max(rationale_width, std::min(r->size(), cut));
  }
  auto ids = [&](std::vector<int64_t> shape) { return torch::full(shape, pad_id, torch::kLong); };
  auto flags = [](std::vector<int64_t> shape) { return torch::zeros(shape, torch::kBool); };
  const auto L = static_cast<int64_t>(lm_width), P = static_cast<int64_t>(prefix_width),
             R = static_cast<int64_t>(rationale_width);

  tailored_batch out{ids({batch, L}),   flags({batch, L}),  flags({batch, L}),    ids({batch, P}),
                     flags({batch, P}), ids({3, batch, R}), flags({3, batch, R}), flags({batch})};
  auto input_ids = out.input_ids.accessor<int64_t, 2>();
  auto valid = out.valid.accessor<bool, 2>();
  auto is_target = out.is_target.accessor<bool, 2>();
  auto prefix_ids = out.prefix_ids.accessor<int64_t, 2>();
  auto prefix_valid = out.prefix_valid.accessor<bool, 2>();
  auto rationale_ids = out.rationale_ids.accessor<int64_t, 3>();
  auto rationale_valid = out.rationale_valid.accessor<bool, 3>();
  auto triplet_rows = out.triplet_rows.accessor<bool, 1>();

  for (int64_t b = 0; b < batch; ++b) {
    const auto& e = examples[b];
    fill_row(input_ids, valid, b, e.prefix);
    fill_row(input_ids, valid, b, e.target, e.prefix.size());
    for (size_t i = 0; i < e.target.size(); ++i)
      is_target[b][e.prefix.size() + i] = true;
    fill_row(prefix_ids, prefix_valid, b, e.prefix);
    const std::vector<int>* rationales[] = {&e.anchor, &e.positive, &e.negative};
    for (int64_t k = 0; k < 3; ++k)
      fill_row(rationale_ids[k], rationale_valid[k], b, *rationales[k], 0, cut);
    // A positive equal to the anchor teaches nothing: the row needs a *different* one.
    triplet_rows[b] =
        !e.anchor.empty() && !e.positive.empty() && !e.negative.empty() && e.positive != e.anchor;
  }
  return out;
}

tailored_batch tailored_batch::to(const torch::Device& device) const {
  return {input_ids.to(device),       is_target.to(device),    valid.to(device),
          prefix_ids.to(device),      prefix_valid.to(device), rationale_ids.to(device),
          rationale_valid.to(device), triplet_rows.to(device)};
}

// ---- L_lm ------------------------------------------------------------------------------------------------

torch::Tensor weighted_lm_loss(const torch::Tensor& logits, const torch::Tensor& input_ids,
                               const torch::Tensor& is_target, const torch::Tensor& valid,
                               double prefix_weight) {
  const int64_t batch = logits.size(0), length = logits.size(1), vocab = logits.size(2);
  if (length < 2)
    return torch::zeros({}, logits.options().dtype(torch::kFloat));
  using torch::indexing::Slice;
  auto predicting = logits.index({Slice(), Slice(0, -1)}).to(torch::kFloat); // [B, T-1, V]
  auto labels = input_ids.index({Slice(), Slice(1)});                        // [B, T-1]
  // A prediction counts when both the token it reads and the token it predicts are real.
  auto counted = valid.index({Slice(), Slice(1)}).logical_and(valid.index({Slice(), Slice(0, -1)}));
  auto weight = torch::where(is_target.index({Slice(), Slice(1)}), 1.0, prefix_weight)
                    .to(predicting.device(), torch::kFloat); // [B, T-1]
  auto token_loss = F::cross_entropy(predicting.reshape({-1, vocab}), labels.reshape({-1}),
                                     F::CrossEntropyFuncOptions().reduction(torch::kNone))
                        .view({batch, length - 1}); // [B, T-1]
  auto weighted = torch::where(counted, token_loss * weight, torch::zeros_like(token_loss));
  return weighted.sum() / counted.sum().clamp_min(1).to(torch::kFloat);
}

// ---- L_cl ------------------------------------------------------------------------------------------------

torch::Tensor triplet_cosine_loss(const torch::Tensor& anchor, const torch::Tensor& positive,
                                  const torch::Tensor& negative, const torch::Tensor& rows, double margin) {
  auto a = anchor.to(torch::kFloat), p = positive.to(torch::kFloat), n = negative.to(torch::kFloat);
  auto cos = [](const torch::Tensor& x, const torch::Tensor& y) {
    return F::cosine_similarity(x, y, F::CosineSimilarityFuncOptions().dim(1)); // [B]
  };
  auto per_row = torch::relu(margin - cos(a, p) + cos(a, n)); // [B]
  auto counted = rows.to(per_row.device(), torch::kBool);
  // where() rather than a product: a masked row's value never reaches the sum, even if it is not finite.
  auto kept = torch::where(counted, per_row, torch::zeros_like(per_row));
  return kept.sum() / counted.sum().clamp_min(1).to(torch::kFloat);
}

triplet_encodings encode_triplets(llama_for_causal_lm& model, const tailored_batch& batch) {
  const auto device = batch.prefix_ids.device();
  auto rows = batch.triplet_rows.nonzero().flatten(); // [B'] long
  const int64_t count = rows.size(0);
  if (count == 0) {
    auto empty = torch::zeros({0, model->config().hidden_size}, torch::TensorOptions().device(device));
    return {empty, empty, empty};
  }
  auto prefix_ids = batch.prefix_ids.index_select(0, rows);     // [B', P]
  auto prefix_valid = batch.prefix_valid.index_select(0, rows); // [B', P]
  const int64_t prefix_width = prefix_ids.size(1);

  // The question prefix is context, not something to learn here: one pass without gradient fills the cache.
  kv_cache prefix_cache;
  {
    torch::NoGradGuard no_grad;
    model->forward(prefix_ids, positions_from_valid(prefix_valid),
                   causal_padding_mask(prefix_valid, prefix_width), &prefix_cache, /*want_logits=*/false);
  }

  // Anchor, positive and negative rows go through together: [3, B', R] -> [3B', R], prefix cache repeated.
  auto rationale_ids = batch.rationale_ids.index_select(1, rows).flatten(0, 1);     // [3B', R]
  auto rationale_valid = batch.rationale_valid.index_select(1, rows).flatten(0, 1); // [3B', R]
  const int64_t rationale_width = rationale_ids.size(1);
  auto repeat = torch::arange(count, rows.options()).repeat({3}); // [3B']: prefix row of each rationale row
  kv_cache cache = prefix_cache.select_rows(repeat);
  auto keys_valid = torch::cat({prefix_valid.index_select(0, repeat), rationale_valid}, 1); // [3B', P + R]
  // Positions continue after each row's real prefix, whatever padding follows it.
  auto positions = positions_after(prefix_valid.sum(1).index_select(0, repeat), rationale_width);
  auto hidden =
      model
          ->forward(rationale_ids, positions, causal_padding_mask(keys_valid, rationale_width), &cache,
                    /*want_logits=*/false)
          .hidden; // [3B', R, D]

  auto last = (rationale_valid.sum(1) - 1).clamp_min(0);                              // [3B']
  auto final_states = hidden.index({torch::arange(3 * count, rows.options()), last}); // [3B', D]
  auto parts = final_states.chunk(3, 0);
  return {parts[0], parts[1], parts[2]};
}

tailored_loss tailored_learning_loss(llama_for_causal_lm& model, const tailored_batch& batch,
                                     const loss_options& options) {
  tailored_loss out;
  // Rows are right-padded, so real tokens only ever see real tokens under the plain causal mask: positions
  // 0..L-1 and no explicit mask are exact, and let fused attention kernels run.
  auto lm_logits = model->forward(batch.input_ids).logits; // [B, L, V]
  out.lm = weighted_lm_loss(lm_logits, batch.input_ids, batch.is_target, batch.valid, options.prefix_weight);

  auto encoded = encode_triplets(model, batch);
  out.triplet_rows = encoded.anchor.size(0);
  if (out.triplet_rows > 0) {
    auto all =
        torch::ones({out.triplet_rows}, torch::TensorOptions().dtype(torch::kBool).device(out.lm.device()));
    out.triplet =
        triplet_cosine_loss(encoded.anchor, encoded.positive, encoded.negative, all, options.margin);
  } else {
    out.triplet = torch::zeros({}, out.lm.options());
  }
  out.total = out.lm + options.triplet_weight * out.triplet;
  return out;
}

} // namespace tailor::gpu
