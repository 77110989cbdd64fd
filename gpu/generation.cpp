// Batched decoding: the loop over an abstract next-token model, sampling filters, and the student's adapter.
#include "gpu/generation.hpp"

#include "gpu/decoding_support.hpp"

#include <algorithm>
#include <limits>
#include <mutex>
#include <tuple>

namespace tailor::gpu {
namespace {

using decoding::blank_line_watch;
using decoding::is_blank_char;
using decoding::is_greedy;
using decoding::piece_texts;

// A generator of the logits' device seeded with `seed`, independent of the global one.
torch::Generator seeded_generator(torch::Device device, std::uint64_t seed) {
  torch::Generator global = at::globalContext().defaultGenerator(device); // shares the global state
  torch::Generator generator;
  {
    std::lock_guard<std::mutex> lock(global.mutex());
    generator = global.clone();
  }
  generator.set_current_seed(seed);
  return generator;
}

completion finish(const token_decoder& decoder, std::vector<int> ids, int steps, stop_reason stop) {
  completion done;
  done.text = decoder.decode(ids);
  if (auto cut = blank_line_start(done.text); cut != std::string::npos)
    done.text.resize(cut);
  done.token_ids = std::move(ids);
  done.token_count = steps;
  done.stop = stop;
  return done;
}

torch::Tensor long_tensor(const std::vector<int64_t>& values, torch::Device device) {
  return torch::tensor(values, torch::TensorOptions().dtype(torch::kLong)).to(device);
}

} // namespace

std::string_view to_string(stop_reason reason) {
  switch (reason) {
  case stop_reason::eos:
    return "eos";
  case stop_reason::blank_line:
    return "blank_line";
  case stop_reason::max_tokens:
    return "max_tokens";
  }
  return "unknown";
}

std::size_t blank_line_start(std::string_view text) {
  std::size_t open = std::string_view::npos; // the newline that only whitespace has followed so far
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      if (open != std::string_view::npos)
        return open;
      open = i;
    } else if (!is_blank_char(text[i])) {
      open = std::string_view::npos;
    }
  }
  return std::string_view::npos;
}

bool token_decoder::stops(int token) const {
  return token == eos_id || std::find(stop_ids.begin(), stop_ids.end(), token) != stop_ids.end();
}

token_decoder decoder_of(const tokenizer& tokens) {
  return {.decode = [&tokens](std::span<const int> ids) { return tokens.decode(ids); },
          .eos_id = tokens.eos_id(),
          .stop_ids = tokens.stop_ids(),
          .decodable_vocab = tokens.vocab_size()};
}

namespace {

// The tokens each row may still draw and their scores (logits over the temperature), both [B, K], most
// likely first; `ids` is undefined when no cut applies and the scores are then the whole vocabulary's.
// Top-k first, so that the rest (top-p, temperature, softmax, the draw) runs on k values, not the vocabulary.
struct sampling_candidates {
  torch::Tensor scores, ids;
};

sampling_candidates candidates_of(const torch::Tensor& logits, const sampling_options& options) {
  sampling_candidates out{logits.to(torch::kFloat), {}};
  const int64_t vocab = out.scores.size(-1);
  if (options.top_k > 0 && options.top_k < vocab)
    std::tie(out.scores, out.ids) = out.scores.topk(options.top_k, -1); // the order survives the division
  else if (options.top_p < 1.0)
    std::tie(out.scores, out.ids) = out.scores.sort(-1, /*descending=*/true);
  if (options.temperature != 1.0)
    out.scores = out.scores / options.temperature;
  if (options.top_p < 1.0) {
    auto probs = out.scores.softmax(-1);
    // A token goes when the more likely tokens before it already reach p; the most likely one always stays.
    auto mass_before = probs.cumsum(-1) - probs;
    out.scores =
        out.scores.masked_fill(mass_before >= options.top_p, -std::numeric_limits<double>::infinity());
  }
  return out;
}

} // namespace

torch::Tensor filter_logits(const torch::Tensor& logits, const sampling_options& options) {
  if (is_greedy(options))
    return logits;
  auto kept = candidates_of(logits, options);
  if (!kept.ids.defined())
    return kept.scores;
  return torch::full(logits.sizes(), -std::numeric_limits<double>::infinity(), kept.scores.options())
      .scatter_(-1, kept.ids, kept.scores);
}

torch::Tensor choose_tokens(const torch::Tensor& logits, const sampling_options& options,
                            torch::Generator& generator) {
  if (is_greedy(options))
    return logits.argmax(-1);
  auto kept = candidates_of(logits, options);
  // One draw for the whole batch, as torch::multinomial draws one sample (argmax of p / q, q ~ Exp(1)) but
  // without its checks of the probabilities: -> each row's token among its candidates, [B, 1].
  auto probs = kept.scores.softmax(-1);
  auto drawn = (probs / torch::empty_like(probs).exponential_(1.0, generator)).argmax(-1, /*keepdim=*/true);
  return (kept.ids.defined() ? kept.ids.gather(-1, drawn) : drawn).squeeze(1);
}

result<std::vector<prompt_completions>> generate(next_token_model& model, const token_decoder& decoder,
                                                 const std::vector<std::vector<int>>& prompts,
                                                 const generation_options& options) {
  if (auto bad = decoding::check_generation_request(options, prompts); !bad.message.empty())
    return bad;
  const int n = options.samples_per_prompt;
  const std::size_t sequences = prompts.size() * n;
  std::vector<std::vector<int>> ids(sequences);
  std::vector<completion> done(sequences);
  if (prompts.empty() || options.max_new_tokens == 0) {
    for (auto& row : done)
      row = finish(decoder, {}, 0, stop_reason::max_tokens);
  } else {
    try {
      torch::InferenceMode inference;
      model.reserve(options.max_new_tokens);
      auto logits = model.start(prompts); // [P, V]
      const auto device = logits.device();
      if (n > 1) {
        // Each prompt's state is repeated, not recomputed: row p*n + s is sample s of prompt p.
        auto rows = torch::arange(static_cast<int64_t>(prompts.size()), torch::kLong).repeat_interleave(n);
        model.select_rows(rows.to(device));
        logits = logits.index_select(0, rows.to(device));
      }
      auto generator = seeded_generator(device, options.seed);
      piece_texts pieces{decoder};
      std::vector<blank_line_watch> watches(sequences);
      std::vector<int64_t> live(sequences); // batch row -> sequence
      for (std::size_t s = 0; s < sequences; ++s)
        live[s] = static_cast<int64_t>(s);

      for (int step = 1; !live.empty(); ++step) {
        if (decoder.decodable_vocab > 0 && logits.size(-1) > decoder.decodable_vocab)
          logits = logits.narrow(-1, 0, decoder.decodable_vocab); // chosen ids stay column indices
        auto next = choose_tokens(logits, options.sampling, generator); // [B]
        auto next_host = next.to(torch::kCPU, torch::kLong);
        const auto* chosen = next_host.data_ptr<int64_t>();
        std::vector<int64_t> keep; // batch rows that go on
        for (std::size_t row = 0; row < live.size(); ++row) {
          const auto seq = live[row];
          const int token = static_cast<int>(chosen[row]);
          if (decoder.stops(token)) {
            done[seq] = finish(decoder, std::move(ids[seq]), step, stop_reason::eos);
            continue;
          }
          ids[seq].push_back(token);
          if (options.stop_at_blank_line && watches[seq].feed(pieces(token)))
            done[seq] = finish(decoder, std::move(ids[seq]), step, stop_reason::blank_line);
          else if (step == options.max_new_tokens)
            done[seq] = finish(decoder, std::move(ids[seq]), step, stop_reason::max_tokens);
          else
            keep.push_back(static_cast<int64_t>(row));
        }
        if (keep.empty())
          break;
        if (keep.size() < live.size()) {
          auto rows = long_tensor(keep, device);
          model.select_rows(rows);
          next = next.index_select(0, rows);
          std::vector<int64_t> still(keep.size());
          for (std::size_t i = 0; i < keep.size(); ++i)
            still[i] = live[keep[i]];
          live = std::move(still);
        }
        logits = model.step(next);
      }
    } catch (const std::exception& error) {
      const std::string what = error.what();
      return problem{"generation failed: " + what.substr(0, what.find('\n'))};
    }
  }
  std::vector<prompt_completions> out(prompts.size());
  for (std::size_t seq = 0; seq < sequences; ++seq)
    out[seq / n].push_back(std::move(done[seq]));
  return out;
}

// ---- the student as a next-token model -------------------------------------------------------------------
// Prompts are left-padded: every row's newest token then sits in the last column, so the prefill's logits are
// one slice, each step appends one column for all rows, and the cache stays a rectangle that select_rows can
// cut. Positions come from the real tokens only and pad keys are masked, so a padded row computes what it
// would alone. (Right padding would put each row's next token in a different column, leaving holes in the
// cache or a scatter per step.) The cache and the valid-key mask have room for the whole run from the start:
// a step writes one column in place and attends over the filled ones.

llama_next_token_model::llama_next_token_model(llama_for_causal_lm model, int pad_id)
    : model_(std::move(model)), pad_id_(std::max(pad_id, 0)) {} // pads are masked: any real id will do

void llama_next_token_model::reserve(int new_tokens) {
  new_tokens_ = std::max(new_tokens, 0);
}

torch::Tensor llama_next_token_model::start(const std::vector<std::vector<int>>& prompts) {
  const auto device = model_->model->embed_tokens->weight.device();
  const int64_t vocab = model_->config().vocab_size;
  const auto batch = static_cast<int64_t>(prompts.size());
  const int64_t width = decoding::longest(prompts);
  const int64_t capacity = width + std::max<int64_t>(new_tokens_, 1);
  auto ids = torch::full({batch, width}, pad_id_, torch::kLong);
  auto valid = torch::ones({batch, capacity}, torch::kBool); // every column after the pads holds a real token
  auto ids_at = ids.accessor<int64_t, 2>();
  auto valid_at = valid.accessor<bool, 2>();
  pads_.assign(prompts.size(), 0);
  for (int64_t b = 0; b < batch; ++b) {
    const auto& prompt = prompts[b];
    const int64_t offset = width - static_cast<int64_t>(prompt.size());
    for (int64_t t = 0; t < offset; ++t)
      valid_at[b][t] = false;
    for (std::size_t t = 0; t < prompt.size(); ++t) {
      TORCH_CHECK(prompt[t] < vocab, "token id ", prompt[t], " is outside the model's vocabulary of ", vocab);
      ids_at[b][offset + t] = prompt[t];
    }
    pads_[b] = offset;
  }
  padded_ = !pads_.empty() && *std::max_element(pads_.begin(), pads_.end()) > 0;
  ids = ids.to(device);
  valid_ = valid.to(device);
  length_ = width;
  auto prompt_valid = valid_.narrow(1, 0, width);
  next_position_ = prompt_valid.sum(1);
  cache_ = kv_cache{};
  cache_.reserve(capacity);
  auto mask = padded_ ? causal_padding_mask(prompt_valid, width) : torch::Tensor{};
  auto out = model_->forward(ids, positions_from_valid(prompt_valid), mask, &cache_, /*want_logits=*/false);
  // Only the last position's logits are needed: [P, 1, D] -> [P, V].
  return model_->project_to_vocab(out.hidden.narrow(1, width - 1, 1)).squeeze(1).to(torch::kFloat);
}

void llama_next_token_model::select_rows(const torch::Tensor& rows) {
  const auto on_device = rows.to(valid_.device());
  cache_ = cache_.select_rows(on_device);
  valid_ = valid_.index_select(0, on_device);
  next_position_ = next_position_.index_select(0, on_device);
  // The pad counts are kept on the host, so that trimming needs no read back from the device.
  const auto host_rows = rows.to(torch::kCPU, torch::kLong).contiguous();
  const auto* row = host_rows.data_ptr<int64_t>();
  std::vector<int64_t> pads(static_cast<std::size_t>(host_rows.size(0)));
  for (std::size_t i = 0; i < pads.size(); ++i)
    pads[i] = pads_.at(static_cast<std::size_t>(row[i]));
  // Columns that are padding in every remaining row are dropped: the rest of the run attends over less.
  const int64_t first = pads.empty() ? 0 : *std::min_element(pads.begin(), pads.end());
  if (first > 0) {
    valid_ = valid_.narrow(1, first, valid_.size(1) - first);
    cache_.drop_front(first);
    length_ -= first;
    for (auto& p : pads)
      p -= first;
  }
  pads_ = std::move(pads);
  padded_ = !pads_.empty() && *std::max_element(pads_.begin(), pads_.end()) > 0;
}

torch::Tensor llama_next_token_model::step(const torch::Tensor& tokens) {
  const int64_t batch = tokens.size(0);
  if (++length_ > valid_.size(1)) // more steps than reserved: double the room
    valid_ = torch::cat({valid_, torch::ones({batch, valid_.size(1)}, valid_.options())}, 1);
  // One query per row, the newest position: its causal mask is just which keys are real. [B, 1, T_total]
  auto mask = padded_ ? valid_.narrow(1, 0, length_).unsqueeze(1) : torch::Tensor{};
  auto out = model_->forward(tokens.unsqueeze(1), next_position_.unsqueeze(1), mask, &cache_,
                             /*want_logits=*/false);
  next_position_ = next_position_ + 1;
  return model_->project_to_vocab(out.hidden).squeeze(1).to(torch::kFloat); // [B, V]
}

result<std::vector<prompt_completions>> generate(llama_for_causal_lm& model, const tokenizer& tokens,
                                                 const std::vector<std::vector<int>>& prompts,
                                                 const generation_options& options) {
  llama_next_token_model student{model, tokens.pad_id()};
  return generate(student, decoder_of(tokens), prompts, options);
}

result<std::vector<prompt_completions>> generate_text(llama_for_causal_lm& model, const tokenizer& tokens,
                                                      const std::vector<std::string>& prompts,
                                                      const generation_options& options) {
  std::vector<std::vector<int>> ids;
  ids.reserve(prompts.size());
  for (const auto& prompt : prompts)
    ids.push_back(tokens.encode(prompt, /*add_bos=*/true));
  return generate(model, tokens, ids, options);
}

} // namespace tailor::gpu
