// The conversation with the trainer: training items in (credit-based), metrics of each optimizer step out.
#pragma once

#include <caf/meta/type_name.hpp>
#include <cstdint>
#include <string>

namespace tailor {

// Texts of the self-reflection loss (METHOD.md, loss 2). Each is a rationale alone, encoded after the
// item's question prefix.
struct triplet {
  std::string anchor;   // the teacher rationale the item trains on
  std::string positive; // a different teacher rationale for the same question
  std::string negative; // one of the student's own wrong rationales for that question

  // An item without a different positive or without a negative is masked out of L_cl.
  bool complete() const { return !negative.empty() && !positive.empty() && positive != anchor; }

  friend bool operator==(const triplet&, const triplet&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, triplet& x) {
  return f(caf::meta::type_name("triplet"), x.anchor, x.positive, x.negative);
}

struct training_item {
  std::string example_id;
  std::string prefix; // student_prefix(): demos + question, weighted by the prefix weight in L_lm
  std::string target; // student_target(): reasoning + "\nAnswer: " + gold; the tokenizer appends EOS
  // Optional in meaning: CAF 0.17 cannot serialize std::optional, so "no triplet" is an incomplete one
  // (empty texts). Deriving the mask from the texts means a flag can never disagree with them.
  triplet contrast;
  std::uint64_t weights_version = 0; // of the exam whose mistake led to this item (0: round-1 teacher data)
  bool fresh_correction = false;     // a tailored answer to a recent mistake: the builder oversamples these

  bool has_triplet() const { return contrast.complete(); }

  friend bool operator==(const training_item&, const training_item&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, training_item& x) {
  return f(caf::meta::type_name("training_item"), x.example_id, x.prefix, x.target, x.contrast,
           x.weights_version, x.fresh_correction);
}

// One optimizer step, as the trainer reports it.
struct training_metrics {
  std::uint64_t step = 0;  // optimizer steps since the start of the run
  std::uint32_t round = 0; // exam passes over the training set so far
  double lm_loss = 0;
  double triplet_loss = 0; // mean over unmasked items; 0 when all were masked
  double total_loss = 0;   // lm_loss + lambda * triplet_loss
  double learning_rate = 0;
  std::uint64_t tokens = 0; // non-pad tokens the step trained on
  std::uint32_t examples = 0;
  std::uint32_t triplet_examples = 0; // items of the step that were not masked out of L_cl
  double examples_per_second = 0;
  std::uint64_t weights_version = 0; // the version these weights become at the next checkpoint

  friend bool operator==(const training_metrics&, const training_metrics&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, training_metrics& x) {
  return f(caf::meta::type_name("training_metrics"), x.step, x.round, x.lm_loss, x.triplet_loss, x.total_loss,
           x.learning_rate, x.tokens, x.examples, x.triplet_examples, x.examples_per_second,
           x.weights_version);
}

} // namespace tailor
