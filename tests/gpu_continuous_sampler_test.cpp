// Continuous batching's loop on a scripted model: refilled slots against decoding alone, every kind of stop,
// per-sample streams, inverse-transform draws, stopping early and bad options.
#include "gpu/continuous_sampler.hpp"
#include "tests/gpu_continuous_support.hpp"
#include "tests/gpu_generation_support.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <optional>
#include <set>

using namespace tailor::gpu;
using namespace tailor::generation_test;
using namespace tailor::continuous_test;

namespace {

// ---- a scripted model, seen through both interfaces ------------------------------------------------------

// Token texts of the scripted vocabulary; id 2 is the EOS, and newlines make blank lines.
const std::vector<std::string> script_vocab = {"a", "b", "<eos>", "\n", " ", "\n\n", "c", " \n"};
constexpr int script_eos = 2;

token_decoder script_decoder() {
  return {.decode =
              [](std::span<const int> ids) {
                std::string text;
                for (int id : ids)
                  text += script_vocab.at(static_cast<std::size_t>(id));
                return text;
              },
          .eos_id = script_eos,
          .stop_ids = {},
          .decodable_vocab = 0};
}

// Logits that are a hash of the whole history: every row goes its own way and stops (EOS, blank line, the
// limit) after a length of its own. `soft` keeps them close, for sampling.
std::vector<float> scripted_logits(const std::vector<int>& history, bool soft) {
  std::uint64_t h = 1469598103934665603ULL;
  for (int id : history)
    h = (h ^ static_cast<std::uint64_t>(id + 1)) * 1099511628211ULL;
  std::vector<float> logits(script_vocab.size());
  for (std::size_t i = 0; i < logits.size(); ++i) {
    h = (h ^ (i + 7)) * 1099511628211ULL;
    logits[i] = static_cast<float>((h >> 40) % 1000) / (soft ? 400.0f : 40.0f);
  }
  return logits;
}

torch::Tensor stacked(const std::vector<std::vector<int>>& histories, bool soft) {
  std::vector<torch::Tensor> rows;
  for (const auto& history : histories)
    rows.push_back(torch::tensor(scripted_logits(history, soft)));
  return torch::stack(rows);
}

// The script as generate() sees it.
class scripted_next_token_model : public next_token_model {
public:
  explicit scripted_next_token_model(bool soft) : soft_(soft) {}
  torch::Tensor start(const std::vector<std::vector<int>>& prompts) override {
    histories_ = prompts;
    return stacked(histories_, soft_);
  }
  void select_rows(const torch::Tensor& rows) override {
    std::vector<std::vector<int>> kept;
    for (int64_t i = 0; i < rows.size(0); ++i)
      kept.push_back(histories_.at(static_cast<std::size_t>(rows[i].item<int64_t>())));
    histories_ = std::move(kept);
  }
  torch::Tensor step(const torch::Tensor& tokens) override {
    for (std::size_t row = 0; row < histories_.size(); ++row)
      histories_[row].push_back(static_cast<int>(tokens[static_cast<int64_t>(row)].item<int64_t>()));
    return stacked(histories_, soft_);
  }

private:
  bool soft_;
  std::vector<std::vector<int>> histories_;
};

// The script as the continuous loop sees it; it checks the loop's promise that a step over B rows finds
// slots 0..B-1 occupied (slots after them are free from then on), and counts what the loop asked of it.
class scripted_slot_model : public slot_model {
public:
  explicit scripted_slot_model(bool soft) : soft_(soft) {}
  void reserve(int slots, int64_t) override { slots_.assign(static_cast<std::size_t>(slots), std::nullopt); }
  torch::Tensor prefill(const std::vector<std::vector<int>>& prompts) override {
    ++prefills;
    prefixes_ = prompts;
    return stacked(prompts, soft_);
  }
  void load(const std::vector<int>& slots, const std::vector<int>& prefixes) override {
    for (std::size_t i = 0; i < slots.size(); ++i)
      slots_.at(static_cast<std::size_t>(slots[i])) = prefixes_.at(static_cast<std::size_t>(prefixes[i]));
    loads += static_cast<int>(slots.size());
  }
  void move(int from, int to) override {
    REQUIRE(slots_.at(static_cast<std::size_t>(from)).has_value());
    slots_.at(static_cast<std::size_t>(to)) = std::move(slots_[static_cast<std::size_t>(from)]);
    slots_[static_cast<std::size_t>(from)].reset();
    ++moves;
  }
  torch::Tensor step(const torch::Tensor& tokens) override {
    const auto batch = static_cast<std::size_t>(tokens.size(0));
    std::vector<std::vector<int>> histories;
    for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
      INFO("slot " << slot << " of a step over " << batch);
      if (slot < batch)
        REQUIRE(slots_[slot].has_value()); // loaded, or moved there
      else
        slots_[slot].reset(); // a step over fewer rows frees the slots after them
    }
    for (std::size_t slot = 0; slot < batch; ++slot) {
      slots_[slot]->push_back(static_cast<int>(tokens[static_cast<int64_t>(slot)].item<int64_t>()));
      histories.push_back(*slots_[slot]);
    }
    widest = std::max(widest, batch);
    return stacked(histories, soft_);
  }

  int prefills = 0, loads = 0, moves = 0;
  std::size_t widest = 0;

private:
  bool soft_;
  std::vector<std::vector<int>> prefixes_;
  std::vector<std::optional<std::vector<int>>> slots_; // each occupied slot's history
};

std::vector<std::vector<int>> scripted_prompts(int count) {
  std::vector<std::vector<int>> prompts;
  for (int p = 0; p < count; ++p) {
    std::vector<int> prompt;
    for (int t = 0; t <= p % 5; ++t)
      prompt.push_back((p * 3 + t) % 2 == 0 ? 0 : (t % 3 == 2 ? 6 : 1));
    prompt.push_back(p % 2 ? 4 : 0);
    prompt.push_back(p % 7 == 0 ? 6 : 1);
    prompts.push_back(prompt);
  }
  return prompts;
}

} // namespace

TEST_CASE("continuous greedy decoding with refilled slots equals each prompt alone, stops of every kind",
          "[continuous]") {
  const auto prompts = scripted_prompts(14);
  auto options = greedy(9);
  for (int slots : {1, 3, 5}) {
    INFO(slots << " slots");
    scripted_slot_model model{/*soft=*/false};
    auto out = run_continuous(model, script_decoder(), prompts, options, in_slots(slots));
    REQUIRE(out.size() == prompts.size());
    std::set<stop_reason> reasons;
    std::set<int> lengths;
    for (std::size_t p = 0; p < prompts.size(); ++p) {
      INFO("prompt " << p);
      scripted_next_token_model alone{false};
      auto expected = run(alone, {prompts[p]}, options, script_decoder());
      REQUIRE(out[p].size() == 1);
      check_same(out[p][0], expected[0][0]);
      reasons.insert(out[p][0].stop);
      lengths.insert(out[p][0].token_count);
    }
    CHECK(reasons.size() == 3); // EOS, blank line and the limit all end some row
    CHECK(lengths.size() >= 4);
    CHECK(model.widest == static_cast<std::size_t>(slots));
    CHECK(model.loads == static_cast<int>(prompts.size()));
    if (slots > 1)
      CHECK(model.moves > 0); // rows finishing out of order were packed back into the first slots
  }
}

TEST_CASE("sampled rows draw from their own streams: the slot count and admission order change nothing",
          "[continuous]") {
  const auto prompts = scripted_prompts(9);
  generation_options options;
  options.max_new_tokens = 8;
  options.samples_per_prompt = 3;
  options.seed = 21;
  auto sample = [&](int slots, std::vector<std::size_t> order, std::uint64_t seed) {
    scripted_slot_model model{/*soft=*/true};
    options.seed = seed;
    auto out = run_continuous(model, script_decoder(), prompts, options, in_slots(slots, order));
    if (slots >= 3)
      CHECK(model.prefills < static_cast<int>(prompts.size())); // prompts prefilled together
    return out;
  };
  const auto reference = sample(1, {}, 21);
  std::vector<std::size_t> shuffled = {4, 0, 8, 2, 7, 1, 3, 6, 5};
  int differing_samples = 0, differing_seed = 0;
  for (const auto& other : {sample(4, {}, 21), sample(7, shuffled, 21), sample(27, shuffled, 21)})
    for (std::size_t p = 0; p < prompts.size(); ++p)
      for (std::size_t s = 0; s < 3; ++s)
        check_same(other[p][s], reference[p][s]);
  const auto reseeded = sample(4, {}, 22);
  for (std::size_t p = 0; p < prompts.size(); ++p) {
    differing_samples += reference[p][0].token_ids != reference[p][1].token_ids;
    for (std::size_t s = 0; s < 3; ++s)
      differing_seed += reseeded[p][s].token_ids != reference[p][s].token_ids;
  }
  CHECK(differing_samples >= 5); // a prompt's samples are drawn independently
  CHECK(differing_seed >= 15);

  // Prompts 3.. with the seed moved by 3 draw what the whole call drew for them: the exam's chunks agree.
  const std::vector<std::vector<int>> tail(prompts.begin() + 3, prompts.end());
  scripted_slot_model model{true};
  options.seed = 24;
  auto later = run_continuous(model, script_decoder(), tail, options, in_slots(5));
  for (std::size_t p = 0; p < tail.size(); ++p)
    for (std::size_t s = 0; s < 3; ++s)
      check_same(later[p][s], reference[p + 3][s]);
}

TEST_CASE("inverse-transform draws follow the filtered distribution", "[continuous]") {
  auto logits = torch::tensor({2.0f, 1.0f, 0.5f, -1.0f, 0.0f, 1.5f}).unsqueeze(0);
  sampling_options options{.greedy = false, .temperature = 0.7, .top_k = 4, .top_p = 0.9};
  const auto expected = filter_logits(logits, options).softmax(-1)[0];
  constexpr int draws = 20000;
  std::vector<int> counts(6, 0);
  for (int i = 0; i < draws; ++i) {
    auto token = choose_tokens_by_uniforms(logits, options, {sample_uniform(5, 0, i + 1)});
    ++counts.at(static_cast<std::size_t>(token[0].item<int64_t>()));
  }
  for (std::size_t t = 0; t < 6; ++t) {
    const double p = expected[static_cast<int64_t>(t)].item<double>();
    INFO("token " << t << ": probability " << p << ", drawn " << counts[t]);
    if (p == 0.0)
      CHECK(counts[t] == 0); // cut by top-k or top-p: never drawn
    else
      CHECK(std::abs(counts[t] / static_cast<double>(draws) - p) <
            4.0 * std::sqrt(p * (1 - p) / draws) + 1e-3);
  }
  CHECK(std::count(counts.begin(), counts.end(), 0) == 3); // top-k 4 and then top-p cut three tokens
  sampling_options greedy_options{.greedy = true};
  CHECK(choose_tokens_by_uniforms(logits, greedy_options, {})[0].item<int64_t>() == 0);
}

TEST_CASE("a stop from the callback returns the prompts finished so far; bad options are problems",
          "[continuous]") {
  const auto prompts = scripted_prompts(10);
  scripted_slot_model model{false};
  std::vector<std::size_t> finished;
  auto continuous = in_slots(3);
  continuous.on_prompt_done = [&](std::size_t p, const prompt_completions& done) {
    CHECK(done.size() == 2);
    finished.push_back(p);
    return finished.size() < 4;
  };
  auto options = greedy(9);
  options.samples_per_prompt = 2;
  auto out = run_continuous(model, script_decoder(), prompts, options, continuous);
  REQUIRE(finished.size() == 4);
  for (std::size_t p = 0; p < prompts.size(); ++p) {
    const bool reported = std::find(finished.begin(), finished.end(), p) != finished.end();
    CHECK(out[p].size() == (reported ? 2u : 0u));
  }

  auto bad = [&](const std::vector<std::vector<int>>& these, generation_options o, continuous_options c) {
    scripted_slot_model fresh{false};
    auto result = generate_continuous(fresh, script_decoder(), these, o, c);
    REQUIRE_FALSE(result.ok());
    return result.error().message;
  };
  CHECK_THAT(bad(prompts, greedy(4), in_slots(0)), Catch::Contains("slots"));
  CHECK_THAT(bad(prompts, greedy(4), in_slots(2, {0, 1, 1})), Catch::Contains("order"));
  CHECK_THAT(bad({{1}, {}}, greedy(4), {}), Catch::Contains("prompt 1 has no tokens"));
  auto hot = greedy(4);
  hot.sampling.top_p = 0.0;
  CHECK_THAT(bad(prompts, hot, {}), Catch::Contains("top-p"));
}
