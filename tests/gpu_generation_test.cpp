// Batched generation on a scripted model: stops, sampling filters, seeds and bad options.
#include "gpu/generation.hpp"
#include "tests/gpu_generation_support.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <functional>
#include <iostream>
#include <map>
#include <set>

using namespace tailor::gpu;

using namespace tailor::generation_test;

namespace {

// Token texts of the scripted vocabulary; id 2 is the EOS.
const std::vector<std::string> script_vocab = {"a", "b", "<eos>", "\n", " ", "\n\n", "c", " \n"};
constexpr int script_eos = 2;

token_decoder script_decoder() {
  token_decoder decoder;
  decoder.decode = [](std::span<const int> ids) {
    std::string text;
    for (int id : ids)
      text += script_vocab.at(id);
    return text;
  };
  decoder.eos_id = script_eos;
  return decoder;
}

// A next-token model whose logits are a function of each row's tokens so far (prompt and generated); it
// records what the loop asked of it.
class scripted_model : public next_token_model {
public:
  using script = std::function<std::vector<float>(const std::vector<int>& history)>;
  explicit scripted_model(script next) : next_(std::move(next)) {}

  torch::Tensor start(const std::vector<std::vector<int>>& prompts) override {
    ++starts;
    histories_ = prompts;
    return logits();
  }
  void select_rows(const torch::Tensor& rows) override {
    std::vector<std::vector<int>> kept;
    for (int64_t i = 0; i < rows.size(0); ++i)
      kept.push_back(histories_.at(rows[i].item<int64_t>()));
    histories_ = std::move(kept);
  }
  torch::Tensor step(const torch::Tensor& tokens) override {
    for (std::size_t row = 0; row < histories_.size(); ++row)
      histories_[row].push_back(static_cast<int>(tokens[row].item<int64_t>()));
    return logits();
  }

  int starts = 0;
  std::vector<int64_t> batch_sizes; // rows asked for at each prefill and step

private:
  torch::Tensor logits() {
    batch_sizes.push_back(static_cast<int64_t>(histories_.size()));
    std::vector<torch::Tensor> rows;
    for (const auto& history : histories_)
      rows.push_back(torch::tensor(next_(history)));
    return torch::stack(rows);
  }
  script next_;
  std::vector<std::vector<int>> histories_;
};

// Logits that make `id` certain.
std::vector<float> certain(int id) {
  std::vector<float> logits(script_vocab.size(), -20.0f);
  logits[id] = 20.0f;
  return logits;
}

// Plays `tokens` after the prompt (one list per first prompt token), then `a` forever.
scripted_model::script play(std::map<int, std::vector<int>> tokens_by_prompt) {
  return [tokens_by_prompt](const std::vector<int>& history) {
    const auto& tokens = tokens_by_prompt.at(history.front());
    const std::size_t generated = history.size() - 1; // prompts are one token long
    return certain(generated < tokens.size() ? tokens[generated] : 0);
  };
}

// Logits with no token outside {a, b, c}: sampling explores without stopping early.
std::vector<float> uniform_letters(const std::vector<int>&) {
  return {0.0f, 0.0f, -1e9f, -1e9f, -1e9f, -1e9f, 0.0f, -1e9f};
}

std::vector<prompt_completions> run(next_token_model& model, const std::vector<std::vector<int>>& prompts,
                                    const generation_options& options) {
  return tailor::generation_test::run(model, prompts, options, script_decoder());
}

} // namespace

TEST_CASE("each row stops at its EOS, blank line or token limit, and leaves the batch", "[generation]") {
  scripted_model model{play({{0, {0, 1, script_eos}},    // "ab" then EOS
                             {1, {0, 3, 4, 3, 1}},       // "a\n \n": a blank line made of three tokens
                             {6, {1, 5}},                // "b\n\n": a blank line in one token
                             {4, {0, 3, 1, 3, 6, 7}}})}; // "a\nb\nc \n": newlines, no blank line
  auto out = run(model, {{0}, {1}, {6}, {4}}, greedy(5));
  REQUIRE(out.size() == 4);
  CHECK(out[0][0].text == "ab");
  CHECK(out[0][0].token_ids == std::vector<int>{0, 1});
  CHECK(out[0][0].token_count == 3);
  CHECK(out[0][0].stop == stop_reason::eos);
  CHECK(out[1][0].text == "a");
  CHECK(out[1][0].token_ids == std::vector<int>{0, 3, 4, 3});
  CHECK(out[1][0].stop == stop_reason::blank_line);
  CHECK(out[2][0].text == "b");
  CHECK(out[2][0].token_count == 2);
  CHECK(out[2][0].stop == stop_reason::blank_line);
  CHECK(out[3][0].text == "a\nb\nc");
  CHECK(out[3][0].token_count == 5);
  CHECK(out[3][0].stop == stop_reason::max_tokens);
  // Finished rows are dropped: the prefill and steps 1..4 ask for fewer rows as rows finish.
  CHECK(model.batch_sizes == std::vector<int64_t>{4, 4, 3, 2, 1});
  CHECK(to_string(stop_reason::blank_line) == "blank_line");
}

TEST_CASE("the blank-line stop can be turned off, and no tokens asked gives empty completions",
          "[generation]") {
  scripted_model model{play({{0, {0, 5, 1}}})};
  auto options = greedy(3);
  options.stop_at_blank_line = false;
  auto out = run(model, {{0}}, options);
  CHECK(out[0][0].token_ids == std::vector<int>{0, 5, 1});
  CHECK(out[0][0].text == "a"); // the text is still cut at its blank line
  CHECK(out[0][0].stop == stop_reason::max_tokens);

  scripted_model unused{play({})};
  auto empty = run(unused, {{0}, {1}}, greedy(0));
  REQUIRE(empty.size() == 2);
  CHECK(empty[1][0].token_count == 0);
  CHECK(empty[1][0].stop == stop_reason::max_tokens);
  CHECK(unused.starts == 0);
}

TEST_CASE("blank lines are found in text as the evaluation defines them", "[generation]") {
  CHECK(blank_line_start("a\n\nb") == 1);
  CHECK(blank_line_start("a\n \t\nb") == 1);
  CHECK(blank_line_start("a\nb\n c\n") == std::string::npos);
  CHECK(blank_line_start("a\nb\n\r\n") == 3);
  CHECK(blank_line_start("") == std::string::npos);
}

TEST_CASE("n samples per prompt share one prefill and follow the seed", "[generation]") {
  generation_options options;
  options.max_new_tokens = 12;
  options.samples_per_prompt = 4;
  options.seed = 7;
  scripted_model model{uniform_letters};
  auto first = run(model, {{0}, {1}, {6}}, options);
  CHECK(model.starts == 1);
  CHECK(model.batch_sizes.front() == 3); // the prefill saw each prompt once
  REQUIRE(first.size() == 3);
  std::set<std::string> texts;
  for (const auto& samples : first) {
    REQUIRE(samples.size() == 4);
    for (const auto& sample : samples) {
      CHECK(sample.token_count == 12);
      texts.insert(sample.text);
    }
  }
  CHECK(texts.size() == 12); // 3^12 strings: twelve samples all differ unless the seed is ignored

  scripted_model again{uniform_letters};
  auto second = run(again, {{0}, {1}, {6}}, options);
  options.seed = 8;
  scripted_model other{uniform_letters};
  auto third = run(other, {{0}, {1}, {6}}, options);
  for (std::size_t p = 0; p < 3; ++p)
    for (std::size_t s = 0; s < 4; ++s) {
      CHECK(second[p][s].token_ids == first[p][s].token_ids);
      CHECK(third[p][s].token_ids != first[p][s].token_ids);
    }
}

TEST_CASE("top-p keeps the smallest set that reaches p, top-k the k most likely", "[generation]") {
  // Probabilities 1/8, 1/2, 1/8, 1/4 in a shuffled order, exact in binary.
  auto logits =
      torch::tensor({std::log(0.125f), std::log(0.5f), std::log(0.125f), std::log(0.25f)}).unsqueeze(0);
  auto kept = [&](sampling_options options) {
    auto filtered = filter_logits(logits, options)[0];
    std::set<int> ids;
    for (int i = 0; i < 4; ++i)
      if (std::isfinite(filtered[i].item<float>()))
        ids.insert(i);
    return ids;
  };
  sampling_options options;
  options.top_p = 0.5;
  CHECK(kept(options) == std::set<int>{1});
  options.top_p = 0.6;
  CHECK(kept(options) == std::set<int>{1, 3});
  options.top_p = 0.75;
  CHECK(kept(options) == std::set<int>{1, 3});
  options.top_p = 0.8;
  CHECK(kept(options).size() == 3); // {1, 3} and one of the two tied 1/8 tokens
  options.top_p = 1.0;
  CHECK(kept(options).size() == 4);
  options.top_p = 0.01;
  CHECK(kept(options) == std::set<int>{1}); // the most likely token always stays

  options.top_p = 1.0;
  options.top_k = 2;
  CHECK(kept(options) == std::set<int>{1, 3});
  options.top_k = 1;
  CHECK(kept(options) == std::set<int>{1});
  options.top_k = 10; // more than the vocabulary: no cut
  CHECK(kept(options).size() == 4);
}

TEST_CASE("top-k 1 and a temperature near 0 choose what greedy chooses", "[generation]") {
  torch::manual_seed(3);
  auto logits = torch::randn({64, 100}) * 3;
  auto generator = at::globalContext().defaultGenerator(torch::kCPU).clone();
  sampling_options greedy_choice;
  greedy_choice.greedy = true;
  auto expected = choose_tokens(logits, greedy_choice, generator);
  sampling_options top1;
  top1.top_k = 1;
  CHECK(torch::equal(choose_tokens(logits, top1, generator), expected));
  sampling_options cold;
  cold.temperature = 1e-4;
  CHECK(torch::equal(choose_tokens(logits, cold, generator), expected));
  cold.temperature = 0.0;
  CHECK(torch::equal(choose_tokens(logits, cold, generator), expected));
  sampling_options warm; // sanity: real sampling does differ from greedy somewhere
  CHECK_FALSE(torch::equal(choose_tokens(logits, warm, generator), expected));
}

TEST_CASE("bad options and bad prompts are problems, not exceptions", "[generation]") {
  scripted_model model{uniform_letters};
  auto options = greedy(4);
  options.samples_per_prompt = 0;
  CHECK_FALSE(generate(model, script_decoder(), {{0}}, options).ok());
  options = greedy(4);
  options.sampling.greedy = false;
  options.sampling.top_p = 0.0;
  CHECK_FALSE(generate(model, script_decoder(), {{0}}, options).ok());
  options.sampling.top_p = 1.0;
  options.sampling.temperature = -1.0;
  CHECK_FALSE(generate(model, script_decoder(), {{0}}, options).ok());
  auto empty = generate(model, script_decoder(), {{0}, {}}, greedy(4));
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().message == "prompt 1 has no tokens");
  // The model throws on an id outside its vocabulary; the loop reports it.
  scripted_model throwing{
      [](const std::vector<int>&) -> std::vector<float> { throw std::out_of_range("boom"); }};
  auto failed = generate(throwing, script_decoder(), {{0}}, greedy(4));
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message == "generation failed: boom");
}

TEST_CASE("further stop ids end a row as EOS does; columns past the decodable vocabulary are never chosen",
          "[generation]") {
  // Llama-3 stops on <|eot_id|> as well as its EOS: here `c` (6) is such a stop.
  scripted_model stops{play({{0, {0, 6, 1}}, {1, {1, script_eos}}})};
  auto decoder = script_decoder();
  decoder.stop_ids = {6};
  auto out = tailor::generation_test::run(stops, {{0}, {1}}, greedy(5), decoder);
  CHECK(out[0][0].token_ids == std::vector<int>{0});
  CHECK(out[0][0].stop == stop_reason::eos);
  CHECK(out[1][0].token_ids == std::vector<int>{1});
  CHECK(out[1][0].stop == stop_reason::eos);

  // An embedding row past the tokenizer (7 here) scores highest, yet neither greedy nor sampling picks it.
  auto beyond = [](const std::vector<int>&) {
    return std::vector<float>{0.0f, 1.0f, -1e9f, -1e9f, -1e9f, -1e9f, -1e9f, 30.0f};
  };
  decoder = script_decoder();
  decoder.decodable_vocab = 7;
  scripted_model greedy_model{beyond};
  auto chosen = tailor::generation_test::run(greedy_model, {{0}}, greedy(4), decoder);
  CHECK(chosen[0][0].token_ids == std::vector<int>{1, 1, 1, 1});
  generation_options sampled;
  sampled.max_new_tokens = 50;
  sampled.stop_at_blank_line = false;
  scripted_model sampled_model{beyond};
  auto drawn = tailor::generation_test::run(sampled_model, {{0}}, sampled, decoder);
  CHECK(std::count(drawn[0][0].token_ids.begin(), drawn[0][0].token_ids.end(), 7) == 0);
  CHECK(drawn[0][0].token_ids.size() == 50);
  // Without the limit the same logits choose row 7: the test can tell the two apart.
  scripted_model unlimited{beyond};
  CHECK(run(unlimited, {{0}}, greedy(2))[0][0].token_ids == std::vector<int>{7, 7});
}
