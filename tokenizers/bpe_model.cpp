// BPE as Hugging Face tokenizers runs it: characters to ids, then the lowest-ranked merge first (leftmost on
// ties).
#include "tokenizers/bpe_model.hpp"

#include "tokenizers/unicode.hpp"

#include <array>
#include <cstdio>
#include <mutex>
#include <queue>
#include <shared_mutex>

namespace tailor::tokenizers {
namespace {

std::uint64_t pair_key(int left, int right) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) |
         static_cast<std::uint32_t>(right);
}

// HF caches up to 10,000 words shorter than 256 bytes; the cache changes speed, never ids.
constexpr std::size_t cache_capacity = 10000;
constexpr std::size_t cache_max_word_bytes = 256;

} // namespace

struct bpe_model::word_cache {
  std::shared_mutex lock; // shared for the lookups, which are nearly all hits once a corpus is under way
  std::unordered_map<std::string, std::vector<int>, string_hash, std::equal_to<>> words;
  std::array<int, 256> byte_fallback_ids{}; // id of `<0xXX>` per byte, -1 when absent
};

bpe_model::bpe_model(bpe_model&&) noexcept = default;
bpe_model& bpe_model::operator=(bpe_model&&) noexcept = default;
bpe_model::~bpe_model() = default;

result<bpe_model> bpe_model::create(vocabulary vocab,
                                    const std::vector<std::pair<std::string, std::string>>& merges,
                                    bpe_options options) {
  bpe_model model;
  int limit = 0;
  for (const auto& [token, id] : vocab) {
    if (id < 0)
      return problem{"model.vocab: `" + token + "` has the negative id " + std::to_string(id)};
    limit = std::max(limit, id + 1);
  }
  model.tokens_.assign(static_cast<std::size_t>(limit), {});
  model.has_token_.assign(static_cast<std::size_t>(limit), false);
  for (const auto& [token, id] : vocab) {
    model.tokens_[static_cast<std::size_t>(id)] = token;
    model.has_token_[static_cast<std::size_t>(id)] = true;
  }
  model.vocab_ = std::move(vocab);
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const auto named = [&](const std::string& token) {
      return problem{"model.merges[" + std::to_string(rank) + "] `" + left + " " + right + "`: `" + token +
                     "` is not in model.vocab"};
    };
    const int left_id = model.token_to_id(left), right_id = model.token_to_id(right);
    if (left_id < 0)
      return named(left);
    if (right_id < 0)
      return named(right);
    const int merged_id = model.token_to_id(left + right);
    if (merged_id < 0)
      return named(left + right);
    // A pair listed twice keeps its last rank, as HF's map built from the list does.
    model.merges_.insert_or_assign(pair_key(left_id, right_id), std::pair{static_cast<int>(rank), merged_id});
  }
  if (options.unk_token)
    model.unk_id_ = model.token_to_id(*options.unk_token);
  model.options_ = std::move(options);
  model.cache_ = std::make_unique<word_cache>();
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    model.cache_->byte_fallback_ids[static_cast<std::size_t>(b)] = model.token_to_id(name);
  }
  return model;
}

int bpe_model::token_to_id(std::string_view token) const {
  auto found = vocab_.find(token);
  return found == vocab_.end() ? -1 : found->second;
}

const std::string* bpe_model::id_to_token(int id) const {
  if (id < 0 || id >= static_cast<int>(tokens_.size()) || !has_token_[static_cast<std::size_t>(id)])
    return nullptr;
  return &tokens_[static_cast<std::size_t>(id)];
}

void bpe_model::tokenize(std::string_view word, std::vector<int>& ids) const {
  if (word.empty())
    return;
  if (options_.ignore_merges)
    if (int whole = token_to_id(word); whole >= 0) {
      ids.push_back(whole);
      return;
    }
  const bool cacheable = word.size() < cache_max_word_bytes;
  if (cacheable) {
    std::shared_lock guard{cache_->lock};
    if (auto hit = cache_->words.find(word); hit != cache_->words.end()) {
      ids.insert(ids.end(), hit->second.begin(), hit->second.end());
      return;
    }
  }
  const auto first = ids.size();
  merge_word(word, ids);
  if (cacheable) {
    std::unique_lock guard{cache_->lock};
    if (cache_->words.size() < cache_capacity)
      cache_->words.emplace(std::string{word},
                            std::vector<int>(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end()));
  }
}

// HF's BPE::merge_word and Word::merge_all: symbols in a linked list, candidate merges in a min-heap on
// (rank, position); a popped merge that no longer matches its symbols is stale and skipped.
void bpe_model::merge_word(std::string_view word, std::vector<int>& ids) const {
  struct symbol {
    int id;
    int prev, next;
    std::size_t length; // 0 once merged into its left neighbour
  };
  std::vector<symbol> symbols;
  symbols.reserve(word.size());
  const auto add = [&](int id, std::size_t length) {
    const int index = static_cast<int>(symbols.size());
    if (!symbols.empty())
      symbols.back().next = index;
    symbols.push_back({id, index - 1, -1, length});
  };
  // An unknown character waits here so that the next one can fuse with it (fuse_unk).
  std::size_t unk_bytes = 0;
  const auto flush_unk = [&] {
    if (unk_bytes > 0)
      add(unk_id_, unk_bytes);
    unk_bytes = 0;
  };
  for (std::size_t at = 0, length = 0; at < word.size(); at += length) {
    length = utf8_length(static_cast<unsigned char>(word[at]));
    if (int id = token_to_id(word.substr(at, length)); id >= 0) {
      flush_unk();
      add(id, length);
      continue;
    }
    if (options_.byte_fallback) {
      bool all_bytes = true;
      for (std::size_t i = 0; i < length; ++i)
        all_bytes = all_bytes && cache_->byte_fallback_ids[static_cast<unsigned char>(word[at + i])] >= 0;
      if (all_bytes) {
        for (std::size_t i = 0; i < length; ++i)
          add(cache_->byte_fallback_ids[static_cast<unsigned char>(word[at + i])], 1);
        continue;
      }
    }
    if (unk_id_ < 0)
      continue; // HF drops a character it has no token for when there is no unk token
    if (!options_.fuse_unk)
      flush_unk();
    unk_bytes += length;
  }
  flush_unk();

  struct candidate {
    int rank;
    int position;
    int merged_id;
    bool operator>(const candidate& other) const {
      return rank != other.rank ? rank > other.rank : position > other.position;
    }
  };
  std::priority_queue<candidate, std::vector<candidate>, std::greater<>> queue;
  const auto merge_of = [&](int left, int right) -> const std::pair<int, int>* {
    auto found = merges_.find(pair_key(left, right));
    return found == merges_.end() ? nullptr : &found->second;
  };
  for (std::size_t i = 0; i + 1 < symbols.size(); ++i)
    if (const auto* m = merge_of(symbols[i].id, symbols[i + 1].id))
      queue.push({m->first, static_cast<int>(i), m->second});
  while (!queue.empty()) {
    const auto top = queue.top();
    queue.pop();
    auto& current = symbols[static_cast<std::size_t>(top.position)];
    if (current.length == 0 || current.next == -1)
      continue;
    const auto right = symbols[static_cast<std::size_t>(current.next)];
    const auto* m = merge_of(current.id, right.id);
    if (m == nullptr || m->second != top.merged_id)
      continue;
    current.id = top.merged_id;
    current.length += right.length;
    symbols[static_cast<std::size_t>(current.next)].length = 0;
    current.next = right.next;
    if (right.next >= 0)
      symbols[static_cast<std::size_t>(right.next)].prev = top.position;
    if (current.prev >= 0)
      if (const auto* left = merge_of(symbols[static_cast<std::size_t>(current.prev)].id, current.id))
        queue.push({left->first, current.prev, left->second});
    if (current.next >= 0)
      if (const auto* next = merge_of(current.id, symbols[static_cast<std::size_t>(current.next)].id))
        queue.push({next->first, top.position, next->second});
  }
  for (const auto& s : symbols)
    if (s.length != 0)
      ids.push_back(s.id);
}

} // namespace tailor::tokenizers
