// The exam benchmark's model wrappers: rows of a random model that end at given lengths, and timers.
#pragma once

#include "gpu/continuous_sampler.hpp"
#include "gpu/generation.hpp"

#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <vector>

namespace tailor::bench {

// Each sequence's length: targets[p][s] tokens for sample s of prompt p, the last of them the EOS (so >= 2:
// the first token comes from the prefill's logits, which are per prompt, not per sample). Prompts are found
// by their tokens, so they must be distinct.
struct forced_stops {
  std::map<std::vector<int>, std::size_t> prompt_index;
  std::vector<std::vector<int>> targets;
  int eos = 2;

  // EOS nowhere but in rows whose countdown reaches 0 now, and only EOS there. logits [B, V], in place.
  void apply(torch::Tensor& logits, const std::vector<int>& countdown) const {
    const float never = -std::numeric_limits<float>::infinity();
    logits.select(1, eos).fill_(never);
    std::vector<int64_t> forced;
    for (std::size_t r = 0; r < countdown.size(); ++r)
      if (countdown[r] == 0)
        forced.push_back(static_cast<int64_t>(r));
    if (forced.empty())
      return;
    auto rows = torch::tensor(forced, torch::kLong).to(logits.device());
    logits.index_fill_(0, rows, never);
    logits.index_put_({rows, torch::full_like(rows, eos)}, 0.0f);
  }
};

// generate()'s view: rows are prompts until the loop repeats them into samples (or steps with one each).
class forced_next_token_model : public gpu::next_token_model {
public:
  forced_next_token_model(gpu::next_token_model& inner, const forced_stops& stops)
      : inner_(inner), stops_(stops) {}
  void reserve(int new_tokens) override { inner_.reserve(new_tokens); }
  torch::Tensor start(const std::vector<std::vector<int>>& prompts) override {
    rows_.clear();
    samples_taken_.clear();
    for (const auto& prompt : prompts)
      rows_.push_back({stops_.prompt_index.at(prompt), -1, 0});
    auto logits = inner_.start(prompts);
    stops_.apply(logits, std::vector<int>(rows_.size(), -1));
    return logits;
  }
  void select_rows(const torch::Tensor& rows) override {
    auto host = rows.to(torch::kCPU, torch::kLong);
    std::vector<row> kept;
    for (int64_t i = 0; i < host.size(0); ++i)
      kept.push_back(started(rows_.at(static_cast<std::size_t>(host[i].item<int64_t>()))));
    rows_ = std::move(kept);
    inner_.select_rows(rows);
  }
  torch::Tensor step(const torch::Tensor& tokens) override {
    auto logits = inner_.step(tokens);
    std::vector<int> countdown;
    for (auto& r : rows_) {
      r = started(r);
      countdown.push_back(--r.remaining);
    }
    stops_.apply(logits, countdown);
    return logits;
  }

private:
  struct row {
    std::size_t prompt;
    int sample; // -1 until the row is one sample
    int remaining;
  };
  row started(row r) {
    if (r.sample < 0) {
      r.sample = samples_taken_[r.prompt]++;
      r.remaining = stops_.targets.at(r.prompt).at(static_cast<std::size_t>(r.sample)) - 1;
    }
    return r;
  }
  gpu::next_token_model& inner_;
  const forced_stops& stops_;
  std::vector<row> rows_;
  std::map<std::size_t, int> samples_taken_;
};

// The continuous loop's view: a prompt's k-th load is its sample k (the loop places samples in order).
class forced_slot_model : public gpu::slot_model {
public:
  forced_slot_model(gpu::slot_model& inner, const forced_stops& stops) : inner_(inner), stops_(stops) {}
  void reserve(int slots, int64_t positions) override {
    remaining_.assign(static_cast<std::size_t>(slots), 0);
    samples_taken_.clear();
    inner_.reserve(slots, positions);
  }
  torch::Tensor prefill(const std::vector<std::vector<int>>& prompts) override {
    prefix_prompt_.clear();
    for (const auto& prompt : prompts)
      prefix_prompt_.push_back(stops_.prompt_index.at(prompt));
    auto logits = inner_.prefill(prompts);
    stops_.apply(logits, std::vector<int>(prompts.size(), -1));
    return logits;
  }
  void load(const std::vector<int>& slots, const std::vector<int>& prefixes) override {
    for (std::size_t i = 0; i < slots.size(); ++i) {
      const auto prompt = prefix_prompt_.at(static_cast<std::size_t>(prefixes[i]));
      const int sample = samples_taken_[prompt]++;
      remaining_.at(static_cast<std::size_t>(slots[i])) =
          stops_.targets.at(prompt).at(static_cast<std::size_t>(sample)) - 1;
    }
    inner_.load(slots, prefixes);
  }
  void move(int from, int to) override {
    remaining_.at(static_cast<std::size_t>(to)) = remaining_.at(static_cast<std::size_t>(from));
    inner_.move(from, to);
  }
  torch::Tensor step(const torch::Tensor& tokens) override {
    auto logits = inner_.step(tokens);
    std::vector<int> countdown;
    for (int64_t r = 0; r < tokens.size(0); ++r)
      countdown.push_back(--remaining_[static_cast<std::size_t>(r)]);
    stops_.apply(logits, countdown);
    return logits;
  }

private:
  gpu::slot_model& inner_;
  const forced_stops& stops_;
  std::vector<int> remaining_; // per slot: steps until the one whose logits must give the EOS
  std::vector<std::size_t> prefix_prompt_;
  std::map<std::size_t, int> samples_taken_;
};

// Wall time spent in a model's calls: prefill (start) and steps (with loads, moves and row selections).
struct call_times {
  double prefill_seconds = 0, step_seconds = 0;
  std::int64_t steps = 0, row_steps = 0; // decoding steps, and rows summed over them
};

struct stopwatch {
  double& total;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  ~stopwatch() { total += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); }
};

// One decoding step over tokens' rows, timed and counted.
template <class Step>
torch::Tensor timed_step(call_times& times, const torch::Tensor& tokens, Step&& step) {
  stopwatch watch{times.step_seconds};
  ++times.steps;
  times.row_steps += tokens.size(0);
  return step();
}

class timed_next_token_model : public gpu::next_token_model {
public:
  timed_next_token_model(gpu::next_token_model& inner, call_times& times) : inner_(inner), times_(times) {}
  void reserve(int new_tokens) override { inner_.reserve(new_tokens); }
  torch::Tensor start(const std::vector<std::vector<int>>& prompts) override {
    stopwatch watch{times_.prefill_seconds};
    return inner_.start(prompts);
  }
  void select_rows(const torch::Tensor& rows) override {
    stopwatch watch{times_.step_seconds};
    inner_.select_rows(rows);
  }
  torch::Tensor step(const torch::Tensor& tokens) override {
    return timed_step(times_, tokens, [&] { return inner_.step(tokens); });
  }

private:
  gpu::next_token_model& inner_;
  call_times& times_;
};

class timed_slot_model : public gpu::slot_model {
public:
  timed_slot_model(gpu::slot_model& inner, call_times& times) : inner_(inner), times_(times) {}
  void reserve(int slots, int64_t positions) override { inner_.reserve(slots, positions); }
  torch::Tensor prefill(const std::vector<std::vector<int>>& prompts) override {
    stopwatch watch{times_.prefill_seconds};
    return inner_.prefill(prompts);
  }
  void load(const std::vector<int>& slots, const std::vector<int>& prefixes) override {
    stopwatch watch{times_.prefill_seconds};
    inner_.load(slots, prefixes);
  }
  void move(int from, int to) override {
    stopwatch watch{times_.step_seconds};
    inner_.move(from, to);
  }
  torch::Tensor step(const torch::Tensor& tokens) override {
    return timed_step(times_, tokens, [&] { return inner_.step(tokens); });
  }

private:
  gpu::slot_model& inner_;
  call_times& times_;
};

} // namespace tailor::bench
