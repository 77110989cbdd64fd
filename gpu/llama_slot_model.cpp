// The student behind the continuous loop: right-padded prefills copied into fixed decoding slots.
#include "gpu/continuous_sampler.hpp"
#include "gpu/decoding_support.hpp"

#include <algorithm>

namespace tailor::gpu {

llama_slot_model::llama_slot_model(llama_for_causal_lm model, int pad_id)
    : model_(std::move(model)), pad_id_(std::max(pad_id, 0)) {} // pads are never attended to: any id will do

void llama_slot_model::reserve(int slots, int64_t positions) {
  slots_ = slot_cache{slots, positions};
}

torch::Tensor llama_slot_model::prefill(const std::vector<std::vector<int>>& prompts) {
  const auto device = model_->model->embed_tokens->weight.device();
  const int64_t vocab = model_->config().vocab_size;
  const auto batch = static_cast<int64_t>(prompts.size());
  const int64_t width = decoding::longest(prompts);
  // Right padding: row b's tokens sit at positions and columns 0..L_b-1, as they will in its slots, and
  // causal attention keeps every real token from the pads after it, so no mask is needed.
  auto ids = torch::full({batch, width}, pad_id_, torch::kLong);
  auto ids_at = ids.accessor<int64_t, 2>();
  prefix_lengths_.assign(prompts.size(), 0);
  std::vector<int64_t> last(prompts.size());
  for (int64_t b = 0; b < batch; ++b) {
    const auto& prompt = prompts[static_cast<std::size_t>(b)];
    for (std::size_t t = 0; t < prompt.size(); ++t) {
      TORCH_CHECK(prompt[t] < vocab, "token id ", prompt[t], " is outside the model's vocabulary of ", vocab);
      ids_at[b][static_cast<int64_t>(t)] = prompt[t];
    }
    prefix_lengths_[static_cast<std::size_t>(b)] = static_cast<int64_t>(prompt.size());
    last[static_cast<std::size_t>(b)] = static_cast<int64_t>(prompt.size()) - 1;
  }
  ids = ids.to(device);
  auto positions = torch::arange(width, ids.options()).unsqueeze(0).expand({batch, width});
  prefixes_ = kv_cache{}; // not reserved: the forward's keys and values are kept as they come
  auto out = model_->forward(ids, positions, /*attention_mask=*/{}, &prefixes_, /*want_logits=*/false);
  // Each row's last real token: [P, width, D] -> [P, 1, D] -> logits [P, V].
  const int64_t dim = out.hidden.size(2);
  auto at = torch::tensor(last, torch::kLong).to(device).view({batch, 1, 1}).expand({batch, 1, dim});
  return model_->project_to_vocab(out.hidden.gather(1, at)).squeeze(1).to(torch::kFloat);
}

void llama_slot_model::load(const std::vector<int>& slots, const std::vector<int>& prefixes) {
  std::vector<int64_t> lengths;
  lengths.reserve(prefixes.size());
  for (int prefix : prefixes)
    lengths.push_back(prefix_lengths_.at(static_cast<std::size_t>(prefix)));
  slots_.load(slots, prefixes_, prefixes, lengths);
}

void llama_slot_model::move(int from, int to) {
  slots_.move(from, to);
}

torch::Tensor llama_slot_model::step(const torch::Tensor& tokens) {
  const auto active = static_cast<int>(tokens.size(0));
  auto in = slots_.prepare_step(active);
  auto out = model_->forward(tokens.unsqueeze(1), in.positions, in.mask, &in.cache, /*want_logits=*/false);
  slots_.advance(active);
  return model_->project_to_vocab(out.hidden).squeeze(1).to(torch::kFloat); // [B, V]
}

} // namespace tailor::gpu
