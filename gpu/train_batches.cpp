// Batch planning and tokenization of training items; no tensors here, only ids.
#include "gpu/train_batches.hpp"

#include <algorithm>
#include <queue>
#include <unordered_map>

namespace tailor::gpu {

std::vector<std::vector<std::size_t>> distinct_question_batches(std::span<const std::string> question_of_item,
                                                                std::size_t batch_size,
                                                                std::mt19937_64& rng) {
  batch_size = std::max<std::size_t>(batch_size, 1);
  std::vector<std::size_t> order(question_of_item.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);

  std::unordered_map<std::string_view, std::size_t> question_index;
  std::vector<std::vector<std::size_t>> pending; // items of each question, in shuffled order
  for (auto item : order) {
    auto [it, fresh] = question_index.try_emplace(question_of_item[item], pending.size());
    if (fresh)
      pending.emplace_back();
    pending[it->second].push_back(item);
  }

  // Each batch takes one item from each of the questions with the most items left: a question with many
  // items must be spread over many batches, and serving it first is what keeps all but the last batches
  // full. Ties break at random so that batches mix different questions from epoch to epoch.
  struct entry {
    std::size_t remaining;
    std::uint64_t tie;
    std::size_t question;
    bool operator<(const entry& other) const {
      return remaining != other.remaining ? remaining < other.remaining : tie < other.tie;
    }
  };
  std::priority_queue<entry> heap;
  for (std::size_t q = 0; q < pending.size(); ++q)
    heap.push({pending[q].size(), rng(), q});

  std::vector<std::vector<std::size_t>> batches;
  std::vector<entry> taken;
  while (!heap.empty()) {
    std::vector<std::size_t> batch;
    taken.clear();
    while (batch.size() < batch_size && !heap.empty()) {
      auto top = heap.top();
      heap.pop();
      batch.push_back(pending[top.question].back());
      pending[top.question].pop_back();
      taken.push_back(top);
    }
    for (auto e : taken)
      if (--e.remaining > 0)
        heap.push({e.remaining, rng(), e.question});
    std::shuffle(batch.begin(), batch.end(), rng);
    batches.push_back(std::move(batch));
  }
  // The heap serves crowded questions first; shuffling the batches spreads them over the epoch.
  std::shuffle(batches.begin(), batches.end(), rng);
  return batches;
}

std::vector<std::vector<std::size_t>> distinct_question_batches(std::span<const training_item> items,
                                                                std::size_t batch_size,
                                                                std::mt19937_64& rng) {
  std::vector<std::string> questions;
  questions.reserve(items.size());
  for (const auto& item : items)
    questions.push_back(item.example_id);
  return distinct_question_batches(questions, batch_size, rng);
}

tailored_example tokenize_item(const tokenizer& tokens, const training_item& item) {
  tailored_example out;
  out.prefix = tokens.encode(item.prefix, /*add_bos=*/true);
  out.target = tokens.encode(item.target, /*add_bos=*/false, /*add_eos=*/true);
  if (item.has_triplet()) {
    out.anchor = tokens.encode(item.contrast.anchor);
    out.positive = tokens.encode(item.contrast.positive);
    out.negative = tokens.encode(item.contrast.negative);
  }
  return out;
}

std::vector<tailored_example> tokenize_items(const tokenizer& tokens, std::span<const training_item> items) {
  std::vector<tailored_example> out;
  out.reserve(items.size());
  for (const auto& item : items)
    out.push_back(tokenize_item(tokens, item));
  return out;
}

} // namespace tailor::gpu
