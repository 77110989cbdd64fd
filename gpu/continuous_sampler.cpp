// The continuous decoding loop: slots refilled as rows stop, per-sample random streams, stops as generate's.
#include "gpu/continuous_sampler.hpp"

#include "gpu/decoding_support.hpp"

#include <algorithm>
#include <deque>
#include <numeric>
#include <string>

namespace tailor::gpu {
namespace {

using decoding::is_greedy;
using decoding::piece_texts;

problem check_continuous_options(const generation_options& options, const continuous_options& continuous,
                                 const std::vector<std::vector<int>>& prompts) {
  if (auto bad = decoding::check_generation_request(options, prompts); !bad.message.empty())
    return bad;
  if (continuous.slots < 1)
    return {"decoding slots must be at least 1, not " + std::to_string(continuous.slots)};
  if (continuous.prefill_prompts < 1)
    return {"prompts per prefill must be at least 1, not " + std::to_string(continuous.prefill_prompts)};
  if (!continuous.order.empty()) {
    auto sorted = continuous.order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::size_t> all(prompts.size());
    std::iota(all.begin(), all.end(), 0);
    if (sorted != all)
      return {"the admission order must name each of the " + std::to_string(prompts.size()) + " prompts once"};
  }
  return {};
}

// splitmix64's finalizer: a bijection of 64 bits whose outputs look independent for neighbouring inputs.
std::uint64_t mix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// One sequence in a slot: which prompt and sample it is, what it has generated.
struct live_row {
  std::size_t prompt = 0;
  int sample = 0;
  std::vector<int> ids;
  int steps = 0;          // tokens chosen so far, a stopping EOS included
  decoding::blank_line_watch blank_line; // the blank-line stop's state
};

completion finished(const token_decoder& decoder, live_row& row, stop_reason stop) {
  completion done;
  done.text = decoder.decode(row.ids);
  if (auto cut = blank_line_start(done.text); cut != std::string::npos)
    done.text.resize(cut);
  done.token_ids = std::move(row.ids);
  done.token_count = row.steps;
  done.stop = stop;
  return done;
}

// A prompt's sample that waits for a slot, with its row in the last prefill.
struct waiting_sample {
  int prefix = 0;
  std::size_t prompt = 0;
  int sample = 0;
};

// The slots and what waits for them: fills free slots from the last prefill, prefills more when it is used
// up.
class slot_filler {
public:
  slot_filler(slot_model& model, const std::vector<std::vector<int>>& prompts, std::vector<std::size_t> order,
              int samples, int slots, int group)
      : model_(model), prompts_(prompts), order_(std::move(order)), samples_(samples), slots_(slots),
        group_(static_cast<std::size_t>(std::max(group, 1))) {}

  // Puts waiting samples (prefilling prompts as needed) into the slots after `rows`; `logits` gets their
  // next-token logits after the rows already there.
  void fill(std::vector<live_row>& rows, torch::Tensor& logits) {
    std::vector<int> targets, prefixes;
    auto flush = [&] {
      if (targets.empty())
        return;
      model_.load(targets, prefixes);
      auto index = torch::tensor(std::vector<int64_t>(prefixes.begin(), prefixes.end()), torch::kLong);
      auto fresh = prefill_logits_.index_select(0, index.to(prefill_logits_.device()));
      logits = logits.defined() && logits.size(0) > 0 ? torch::cat({logits, fresh}) : fresh;
      targets.clear();
      prefixes.clear();
    };
    while (static_cast<int>(rows.size()) < slots_) {
      if (waiting_.empty()) {
        if (admitted_ == order_.size())
          break;
        flush(); // the prefill below replaces the prefixes these loads read
        // Enough prompts for the free slots (all of them at the start), and at least a group of them.
        const auto free = static_cast<std::size_t>(slots_) - rows.size();
        const auto per_prompt = static_cast<std::size_t>(samples_);
        const auto wanted = std::max((free + per_prompt - 1) / per_prompt, group_);
        const auto count = std::min(order_.size() - admitted_, wanted);
        std::vector<std::vector<int>> batch;
        for (std::size_t j = 0; j < count; ++j) {
          batch.push_back(prompts_[order_[admitted_ + j]]);
          for (int s = 0; s < samples_; ++s)
            waiting_.push_back({.prefix = static_cast<int>(j), .prompt = order_[admitted_ + j], .sample = s});
        }
        admitted_ += count;
        prefill_logits_ = model_.prefill(batch);
      }
      const auto next = waiting_.front();
      waiting_.pop_front();
      targets.push_back(static_cast<int>(rows.size()));
      prefixes.push_back(next.prefix);
      live_row row;
      row.prompt = next.prompt;
      row.sample = next.sample;
      rows.push_back(std::move(row));
    }
    flush();
  }

private:
  slot_model& model_;
  const std::vector<std::vector<int>>& prompts_;
  std::vector<std::size_t> order_;
  int samples_;
  int slots_;
  std::size_t group_;        // prompts a prefill takes at least
  std::size_t admitted_ = 0; // prompts of `order_` prefilled so far
  std::deque<waiting_sample> waiting_;
  torch::Tensor prefill_logits_;
};

// Moves the rows that go on into slots 0..k-1 (the last rows into the finished rows' slots) -> k.
std::size_t close_gaps(slot_model& model, std::vector<live_row>& rows, std::vector<int64_t>& tokens,
                       std::vector<bool>& finished) {
  std::size_t active = rows.size();
  for (std::size_t hole = 0; hole < active; ++hole) {
    if (!finished[hole])
      continue;
    while (active > hole + 1 && finished[active - 1])
      --active;
    if (active == hole + 1) {
      --active;
      break;
    }
    model.move(static_cast<int>(active - 1), static_cast<int>(hole));
    rows[hole] = std::move(rows[active - 1]);
    tokens[hole] = tokens[active - 1];
    finished[hole] = false;
    --active;
  }
  rows.resize(active);
  tokens.resize(active);
  return active;
}

} // namespace

std::vector<std::size_t> longest_first(const std::vector<std::vector<int>>& prompts) {
  std::vector<std::size_t> order(prompts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return prompts[a].size() > prompts[b].size(); });
  return order;
}

double sample_uniform(std::uint64_t stream, int sample, int step) {
  std::uint64_t h = mix(stream);
  h = mix(h ^ (static_cast<std::uint64_t>(sample) + 1) * 0xd1b54a32d192ed03ULL);
  h = mix(h ^ static_cast<std::uint64_t>(step));
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

torch::Tensor choose_tokens_by_uniforms(const torch::Tensor& logits, const sampling_options& options,
                                        const std::vector<double>& uniforms) {
  if (is_greedy(options))
    return logits.argmax(-1);
  TORCH_CHECK(static_cast<int64_t>(uniforms.size()) == logits.size(0), "one uniform number per row");
  auto scores = logits.to(torch::kFloat);
  torch::Tensor ids; // candidates' token ids, [B, K], when top-k cuts the vocabulary
  if (options.top_k > 0 && options.top_k < scores.size(-1))
    std::tie(scores, ids) = scores.topk(options.top_k, -1);
  sampling_options rest = options; // temperature and top-p over the candidates only
  rest.top_k = 0;
  scores = filter_logits(scores, rest);
  // Inverse transform sampling: the first candidate whose cumulative probability passes u. In double, so
  // that a long vocabulary's running sum loses nothing; a candidate of probability 0 is never taken.
  auto cumulative = scores.softmax(-1).to(torch::kDouble).cumsum(-1); // [B, K]
  const int64_t candidates = cumulative.size(-1);
  auto u = torch::tensor(uniforms, torch::kDouble).to(cumulative.device()).unsqueeze(1);
  u = u * cumulative.narrow(-1, candidates - 1, 1);
  auto pick = cumulative.le(u).sum(-1).clamp_max(candidates - 1).to(torch::kLong); // [B]
  return ids.defined() ? ids.gather(-1, pick.unsqueeze(1)).squeeze(1) : pick;
}

result<std::vector<prompt_completions>> generate_continuous(slot_model& model, const token_decoder& decoder,
                                                            const std::vector<std::vector<int>>& prompts,
                                                            const generation_options& options,
                                                            const continuous_options& continuous) {
  if (auto bad = check_continuous_options(options, continuous, prompts); !bad.message.empty())
    return bad;
  const int n = options.samples_per_prompt;
  std::vector<prompt_completions> out(prompts.size());
  std::vector<prompt_completions> partial(prompts.size(), prompt_completions(static_cast<std::size_t>(n)));
  std::vector<int> unfinished(prompts.size(), n);
  bool stopped = false;
  // Records a finished sample; hands its prompt over once all its samples are done.
  auto finish = [&](std::size_t prompt, int sample, completion done) {
    if (stopped)
      return; // what finishes in the step that stopped the run is not handed over
    partial[prompt][static_cast<std::size_t>(sample)] = std::move(done);
    if (--unfinished[prompt] > 0)
      return;
    out[prompt] = std::move(partial[prompt]);
    if (continuous.on_prompt_done && !continuous.on_prompt_done(prompt, out[prompt]))
      stopped = true;
  };
  std::vector<std::size_t> order = continuous.order;
  if (order.empty()) {
    order.resize(prompts.size());
    std::iota(order.begin(), order.end(), 0);
  }
  if (options.max_new_tokens == 0) {
    for (std::size_t i = 0; i < order.size() && !stopped; ++i)
      for (int s = 0; s < n; ++s) {
        live_row empty;
        finish(order[i], s, finished(decoder, empty, stop_reason::max_tokens));
      }
    return out;
  }
  try {
    torch::InferenceMode inference;
    const auto sequences = static_cast<int64_t>(prompts.size()) * n;
    const int slots = static_cast<int>(std::min<int64_t>(continuous.slots, sequences));
    model.reserve(slots, decoding::longest(prompts) + options.max_new_tokens);
    slot_filler filler{model, prompts, std::move(order), n, slots, continuous.prefill_prompts};
    piece_texts pieces{decoder};
    const bool greedy = is_greedy(options.sampling);

    std::vector<live_row> rows; // rows[i] is the sequence in slot i
    torch::Tensor logits;       // [rows, V]: each row's next-token logits
    filler.fill(rows, logits);
    while (!rows.empty() && !stopped) {
      if (decoder.decodable_vocab > 0 && logits.size(-1) > decoder.decodable_vocab)
        logits = logits.narrow(-1, 0, decoder.decodable_vocab); // chosen ids stay column indices
      std::vector<double> uniforms;
      if (!greedy)
        for (const auto& row : rows)
          uniforms.push_back(sample_uniform(options.seed + row.prompt, row.sample, row.steps + 1));
      auto chosen =
          choose_tokens_by_uniforms(logits, options.sampling, uniforms).to(torch::kCPU, torch::kLong);
      std::vector<int64_t> tokens(chosen.data_ptr<int64_t>(), chosen.data_ptr<int64_t>() + chosen.size(0));
      std::vector<bool> done(rows.size(), false);
      for (std::size_t r = 0; r < rows.size(); ++r) {
        auto& row = rows[r];
        const int token = static_cast<int>(tokens[r]);
        ++row.steps;
        done[r] = true;
        if (decoder.stops(token)) {
          finish(row.prompt, row.sample, finished(decoder, row, stop_reason::eos));
          continue;
        }
        row.ids.push_back(token);
        if (options.stop_at_blank_line && row.blank_line.feed(pieces(token)))
          finish(row.prompt, row.sample, finished(decoder, row, stop_reason::blank_line));
        else if (row.steps == options.max_new_tokens)
          finish(row.prompt, row.sample, finished(decoder, row, stop_reason::max_tokens));
        else
          done[r] = false;
      }
      if (stopped)
        break;
      const auto device = logits.device();
      if (close_gaps(model, rows, tokens, done) > 0)
        logits = model.step(torch::tensor(tokens, torch::kLong).to(device));
      else
        logits = torch::Tensor{};
      filler.fill(rows, logits);
    }
  } catch (const std::exception& error) {
    const std::string what = error.what();
    return problem{"continuous generation failed: " + what.substr(0, what.find('\n'))};
  }
  return out;
}

result<std::vector<prompt_completions>> generate_continuous(llama_for_causal_lm& model,
                                                            const tokenizer& tokens,
                                                            const std::vector<std::vector<int>>& prompts,
                                                            const generation_options& options,
                                                            const continuous_options& continuous) {
  llama_slot_model student{model, tokens.pad_id()};
  return generate_continuous(student, decoder_of(tokens), prompts, options, continuous);
}

} // namespace tailor::gpu
