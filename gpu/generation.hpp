// Batched text generation with a KV cache: greedy or sampled, several samples per prompt, per-row stops.
#pragma once

#include "gpu/llama_model.hpp"
#include "gpu/tokenizer.hpp"
#include "io/common/result.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <torch/torch.h>
#include <vector>

namespace tailor::gpu {

enum class stop_reason : std::uint8_t { eos, blank_line, max_tokens };
std::string_view to_string(stop_reason reason);

// How the next token is chosen from the logits. Greedy ignores the rest; a temperature of 0 is greedy too.
struct sampling_options {
  bool greedy = false;
  double temperature = 1.0;
  int top_k = 0;      // keep the k most likely tokens; 0 keeps all
  double top_p = 1.0; // keep the smallest set whose probability reaches p; 1 keeps all
};

struct generation_options {
  sampling_options sampling;
  int max_new_tokens = 128;
  int samples_per_prompt = 1;
  std::uint64_t seed = 0;         // the same seed, prompts and model give the same samples on one device
  bool stop_at_blank_line = true; // "\n\n", or a newline, whitespace only, and another newline
};

struct completion {
  std::string text;           // cut before the blank line that stopped it; never holds the EOS
  std::vector<int> token_ids; // every token generated, the EOS excepted
  int token_count = 0; // decoding steps spent on this row: token_ids plus the EOS when it stopped there
  stop_reason stop = stop_reason::max_tokens;
};

// The n completions of each prompt, in prompt order.
using prompt_completions = std::vector<completion>;

// A model as the decoding loop sees it, so that the stop and sampling logic runs (and is tested) without a
// trained network. Rows are the live sequences of the batch, in the order the loop keeps them.
class next_token_model {
public:
  virtual ~next_token_model() = default;
  // Reads the prompts (none empty) -> logits of each prompt's next token, float [P, V].
  virtual torch::Tensor start(const std::vector<std::vector<int>>& prompts) = 0;
  // Keeps rows `rows` (long [B'], repeats allowed) of the current batch, in that order.
  virtual void select_rows(const torch::Tensor& rows) = 0;
  // Appends one token per row (long [B]) -> logits of the token after it, float [B, V].
  virtual torch::Tensor step(const torch::Tensor& tokens) = 0;
  // A hint before start(): at most `new_tokens` steps follow, so state can be sized for the whole run.
  virtual void reserve(int new_tokens) { (void)new_tokens; }
};

// Turns token ids back into text: the stop check reads single tokens, the completions whole sequences.
struct token_decoder {
  std::function<std::string(std::span<const int>)> decode;
  int eos_id = -1;
  std::vector<int> stop_ids; // further ids that end a row as EOS does (Llama-3's <|eot_id|>, <|eom_id|>)
  // Logit columns from here on are never chosen: embedding rows that the tokenizer cannot decode (Qwen2.5
  // pads its embedding past its vocabulary). 0 lets every column be chosen.
  int decodable_vocab = 0;
  bool stops(int token) const;
};
token_decoder decoder_of(const tokenizer& tokens);

// The decoding loop: prefill once, repeat each prompt's state `samples_per_prompt` times, then one token
// per step for the rows still running; finished rows leave the batch so that late steps are cheaper.
// Errors (bad options, an empty prompt, a token outside the vocabulary, a failing forward) are problems.
result<std::vector<prompt_completions>> generate(next_token_model& model, const token_decoder& decoder,
                                                 const std::vector<std::vector<int>>& prompts,
                                                 const generation_options& options);

// The same with the student: prompts are token ids (BOS included when wanted), run on the model's device.
result<std::vector<prompt_completions>> generate(llama_for_causal_lm& model, const tokenizer& tokens,
                                                 const std::vector<std::vector<int>>& prompts,
                                                 const generation_options& options);

// Texts in, completions out: each prompt is encoded with BOS.
result<std::vector<prompt_completions>> generate_text(llama_for_causal_lm& model, const tokenizer& tokens,
                                                      const std::vector<std::string>& prompts,
                                                      const generation_options& options);

// The student behind next_token_model: left-padded prompts with explicit positions and masks, a KV cache.
// Runs on the device of the model's parameters.
class llama_next_token_model : public next_token_model {
public:
  llama_next_token_model(llama_for_causal_lm model, int pad_id);
  torch::Tensor start(const std::vector<std::vector<int>>& prompts) override;
  void select_rows(const torch::Tensor& rows) override;
  torch::Tensor step(const torch::Tensor& tokens) override;
  void reserve(int new_tokens) override;

private:
  llama_for_causal_lm model_;
  int pad_id_;
  int new_tokens_ = 0;          // room to keep after the prompts (grows by doubling when overrun)
  kv_cache cache_;              // reserved: each step writes its keys and values in place
  torch::Tensor valid_;         // bool [B, capacity]: false on left padding; the first length_ are in use
  int64_t length_ = 0;          // columns filled so far, pads included
  torch::Tensor next_position_; // long [B]: the position of each row's next token
  std::vector<int64_t> pads_;   // leading pad columns of each row, on the host
  bool padded_ = false;         // some row has pads, so attention needs an explicit mask
};

// Logits [B, V] after temperature, top-k and top-p: removed tokens are -inf. Greedy options return them as
// is.
torch::Tensor filter_logits(const torch::Tensor& logits, const sampling_options& options);

// The next token of each row, long [B] on the logits' device; `generator` must live on that device.
torch::Tensor choose_tokens(const torch::Tensor& logits, const sampling_options& options,
                            torch::Generator& generator);

// Where a blank line starts in `text` (the newline before it), or npos.
std::size_t blank_line_start(std::string_view text);

} // namespace tailor::gpu
