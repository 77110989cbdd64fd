// Continuous batching: a fixed number of decoding slots, each refilled with the next prompt as its row stops.
#pragma once

#include "gpu/generation.hpp"
#include "gpu/llama_model.hpp"
#include "gpu/slot_cache.hpp"
#include "gpu/tokenizer.hpp"
#include "io/common/result.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <torch/torch.h>
#include <vector>

namespace tailor::gpu {

// A model as the continuous loop sees it: slots that each hold one sequence's state. The loop keeps the
// occupied slots at 0..B-1, so that a step is one batch without gathering.
class slot_model {
public:
  virtual ~slot_model() = default;
  // Before anything else: `slots` slots, each with room for `positions` tokens (prompt and new ones).
  virtual void reserve(int slots, int64_t positions) = 0;
  // Reads the prompts (none empty) -> the logits of each one's next token, float [P, V]. Their states wait
  // as prefixes 0..P-1 until the next prefill.
  virtual torch::Tensor prefill(const std::vector<std::vector<int>>& prompts) = 0;
  // Slot slots[i] gets prefix prefixes[i] of the last prefill, replacing what it held; a prefix may go to
  // several slots (a prompt's samples).
  virtual void load(const std::vector<int>& slots, const std::vector<int>& prefixes) = 0;
  // Slot `to` gets slot `from`'s sequence; `from` is free afterwards.
  virtual void move(int from, int to) = 0;
  // Appends one token to each of slots 0..B-1 (long [B]) -> logits of the token after it, float [B, V].
  virtual torch::Tensor step(const torch::Tensor& tokens) = 0;
};

struct continuous_options {
  int slots = 32; // sequences decoded together
  // Once the first slots are filled, prompts are prefilled this many at a time (their samples then wait for
  // free slots): a prefill of one prompt would read every weight for a few dozen tokens.
  int prefill_prompts = 8;
  // The order in which prompts take free slots (a permutation of the prompt indices); empty: prompt order.
  // Results do not depend on it, only the time does.
  std::vector<std::size_t> order;
  // Called once per prompt as soon as all its samples are done, in the order they finish; returning false
  // stops the run, and the prompts not finished by then are returned without completions.
  std::function<bool(std::size_t prompt, const prompt_completions&)> on_prompt_done;
};

// The prompts' indices, longest first (ties in prompt order): the exam's admission order, so that prefills
// group similar lengths and the short prompts fill the last slots.
std::vector<std::size_t> longest_first(const std::vector<std::vector<int>>& prompts);

// The decoding loop of `generate`, with the same options, stops (decoder.stops(), a blank line, the token
// limit) and completions in prompt order, but a fixed number of slots: when a row stops, its slot takes the
// next waiting sequence. A prompt is prefilled once and its state copied into the slots of its samples.
// Greedy rows get the tokens of decoding their prompt alone. A sampled row draws from its own stream: sample
// s of prompt p uses the stream of (options.seed + p, s), whatever the slot count and order (so a call on
// prompts [k, ...) with seed + k draws what a call on all of them would draw for those).
result<std::vector<prompt_completions>> generate_continuous(slot_model& model, const token_decoder& decoder,
                                                            const std::vector<std::vector<int>>& prompts,
                                                            const generation_options& options,
                                                            const continuous_options& continuous);

// The same with the student on its parameters' device: prompts are token ids (BOS included when wanted).
result<std::vector<prompt_completions>> generate_continuous(llama_for_causal_lm& model,
                                                            const tokenizer& tokens,
                                                            const std::vector<std::vector<int>>& prompts,
                                                            const generation_options& options,
                                                            const continuous_options& continuous);

// The student behind slot_model: prompts are prefilled together right-padded (each row's real tokens start
// at column 0, as in the slots, and causal attention never reaches the pads after them), then copied into
// a slot_cache.
class llama_slot_model : public slot_model {
public:
  llama_slot_model(llama_for_causal_lm model, int pad_id);
  void reserve(int slots, int64_t positions) override;
  torch::Tensor prefill(const std::vector<std::vector<int>>& prompts) override;
  void load(const std::vector<int>& slots, const std::vector<int>& prefixes) override;
  void move(int from, int to) override;
  torch::Tensor step(const torch::Tensor& tokens) override;

private:
  llama_for_causal_lm model_;
  int pad_id_;
  slot_cache slots_;
  kv_cache prefixes_;                   // the last prefill's keys and values, [P, kv_heads, width, hd]
  std::vector<int64_t> prefix_lengths_; // its prompts' lengths
};

// The uniform number in [0, 1) that step `step` (1 for the first new token) of sample `sample` of the
// prompt whose stream is `stream` draws with: a counter-based hash, so that draws need no state per row.
double sample_uniform(std::uint64_t stream, int sample, int step);

// The next token of each row given each row's uniform number (double [B] on the host), long [B] on the
// logits' device: greedy options take the argmax; otherwise top-k, temperature and top-p as in
// choose_tokens(), then the token at which the candidates' cumulative probability passes the number.
torch::Tensor choose_tokens_by_uniforms(const torch::Tensor& logits, const sampling_options& options,
                                        const std::vector<double>& uniforms);

} // namespace tailor::gpu
