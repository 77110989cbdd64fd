// The positive and negative pools of the self-reflection loss, and the training items drawn from them.
#pragma once

#include "io/common/result.hpp"
#include "messages/example.hpp"
#include "messages/training.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace tailor {

struct reflection_pool_options {
  std::size_t max_positives = 10; // teacher rationales kept per question (METHOD.md)
  std::size_t max_negatives = 4;  // student wrong rationales kept per question
  bool triplets = true;           // false: plain distillation, items carry no triplet (the ablation)
  std::string demos;              // the student's few-shot demos; empty: the task's defaults
};

// Per question: the teacher's correct rationales (positives) and the student's wrong ones (negatives), each
// deduplicated by their text with whitespace collapsed. Items are drawn from here by the reflection builder.
class reflection_pools {
public:
  explicit reflection_pools(reflection_pool_options options = {});

  // A correct teacher rationale for `problem`. Returns false when the pool already holds it or is full.
  // A fresh one (the answer to a recent mistake) also enters the queue of fresh corrections.
  bool add_positive(const example& problem, const std::string& reasoning, bool fresh,
                    std::uint64_t weights_version = 0);
  // One of the student's wrong rationales. Returns false when it repeats one or the pool is full.
  bool add_negative(const example& problem, const std::string& reasoning);

  // The training item of positive `index` of the question `example_id`: the prefix and target of METHOD.md,
  // and (with triplets on) a triplet whose positive is another of the question's positives and whose
  // negative is one of its negatives, both drawn from `rng`; incomplete when either is missing.
  training_item item(const std::string& example_id, std::size_t index, std::mt19937_64& rng) const;

  // One item per positive of every question, in a stable order (questions as first seen).
  std::vector<training_item> all_items(std::mt19937_64& rng) const;

  // A batch of at most `size` items of distinct questions: first fresh corrections not yet trained on (at
  // most `fresh_share` of the batch), then positives drawn at random from all questions. Empty only when the
  // pools are empty.
  std::vector<training_item> draw_batch(std::size_t size, double fresh_share, std::mt19937_64& rng);

  // The pools as JSON (saved with a checkpoint), and back: `problems` finds each question by id; a question
  // it does not know is an error naming it.
  nlohmann::json to_json() const;
  static result<reflection_pools> from_json(const nlohmann::json& saved,
                                            const std::unordered_map<std::string, example>& problems,
                                            reflection_pool_options options);

  std::size_t questions() const { return order_.size(); }
  std::size_t positives() const { return positive_count_; }
  std::size_t negatives() const { return negative_count_; }
  std::size_t fresh_waiting() const { return fresh_.size(); }
  std::size_t positives_of(const std::string& example_id) const;
  std::size_t negatives_of(const std::string& example_id) const;

private:
  struct entry {
    example problem;
    std::vector<std::string> positives;
    std::vector<std::string> negatives;
    std::vector<std::uint64_t> positive_versions;
  };
  struct fresh_item {
    std::string example_id;
    std::size_t index;
  };

  entry& entry_of(const example& problem);

  reflection_pool_options options_;
  std::unordered_map<std::string, entry> entries_;
  std::vector<std::string> order_;          // every question, as first seen
  std::vector<std::string> with_positives_; // questions with at least one positive, as they got it
  std::deque<fresh_item> fresh_;
  std::size_t positive_count_ = 0;
  std::size_t negative_count_ = 0;
};

// Whitespace runs collapsed to one space and the ends trimmed: two rationales that differ only in spacing
// are the same rationale.
std::string collapse_whitespace(std::string_view text);

} // namespace tailor
