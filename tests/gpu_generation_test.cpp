// Batched generation: stops, sampling filters and seeds on a scripted model, then the cache against the
// student.
#include "gpu/generation.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <functional>
#include <iostream>
#include <map>
#include <set>

using namespace tailor::gpu;

namespace {

// Token texts of the scripted vocabulary; id 2 is the EOS.
const std::vector<std::string> script_vocab = {"a", "b", "<eos>", "\n", " ", "\n\n", "c", " \n"};
constexpr int script_eos = 2;

token_decoder script_decoder() {
  return {[](std::span<const int> ids) {
            std::string text;
            for (int id : ids)
              text += script_vocab.at(id);
            return text;
          },
          script_eos};
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
                                    const generation_options& options, const token_decoder& decoder) {
  auto out = generate(model, decoder, prompts, options);
  INFO((out.ok() ? "" : out.error().message));
  REQUIRE(out.ok());
  return std::move(out).value();
}

std::vector<prompt_completions> run(next_token_model& model, const std::vector<std::vector<int>>& prompts,
                                    const generation_options& options) {
  return run(model, prompts, options, script_decoder());
}

generation_options greedy(int max_new_tokens) {
  generation_options options;
  options.sampling.greedy = true;
  options.max_new_tokens = max_new_tokens;
  return options;
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

// ---- the student with its KV cache
// -------------------------------------------------------------------------

namespace {

llama_for_causal_lm tiny_student(torch::Device device = torch::kCPU) {
  llama_config config;
  config.vocab_size = 64;
  config.num_key_value_heads = 2; // grouped-query attention goes through the cache too
  config.initializer_range = 0.5; // peaked logits: greedy choices far from ties that rounding could flip
  torch::manual_seed(11);
  llama_for_causal_lm model{config};
  model->to(device);
  return model;
}

// Every token reads as "x": no blank line ever; `eos` (-1: none) ends a row.
token_decoder plain_decoder(int eos = -1) {
  return {[](std::span<const int> ids) { return std::string(ids.size(), 'x'); }, eos};
}

const std::vector<std::vector<int>> ragged_prompts = {
    {1, 5, 9}, {1, 7, 3, 3, 8, 20, 4}, {1}, {1, 40, 41, 42, 2}};

std::vector<prompt_completions> run_student(llama_for_causal_lm& model,
                                            const std::vector<std::vector<int>>& prompts,
                                            const generation_options& options, int eos = -1) {
  llama_next_token_model student{model, 0};
  return run(student, prompts, options, plain_decoder(eos));
}

// Greedy decoding the slow way: the whole sequence through the model at each step, no cache, no padding.
std::vector<int> naive_greedy(llama_for_causal_lm& model, std::vector<int> ids, int max_new_tokens) {
  torch::NoGradGuard no_grad;
  const std::size_t prompt_length = ids.size();
  for (int step = 0; step < max_new_tokens; ++step) {
    auto input = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0);
    auto logits = model->forward(input.to(model->model->embed_tokens->weight.device())).logits;
    ids.push_back(static_cast<int>(logits[0][-1].argmax().item<int64_t>()));
  }
  return {ids.begin() + static_cast<std::ptrdiff_t>(prompt_length), ids.end()};
}

void check_batched_equals_alone(torch::Device device) {
  auto model = tiny_student(device);
  auto batched = run_student(model, ragged_prompts, greedy(16));
  for (std::size_t p = 0; p < ragged_prompts.size(); ++p) {
    auto alone = run_student(model, {ragged_prompts[p]}, greedy(16));
    INFO("prompt " << p);
    CHECK(batched[p][0].token_ids == alone[0][0].token_ids);
    CHECK(batched[p][0].token_ids == naive_greedy(model, ragged_prompts[p], 16));
  }
}

} // namespace

TEST_CASE("greedy with ragged prompts in one batch equals each prompt alone and a loop without cache",
          "[generation][student]") {
  check_batched_equals_alone(torch::kCPU);
}

TEST_CASE("the in-place cache gives each row the logits and greedy tokens of a full forward without cache",
          "[generation][student]") {
  auto model = tiny_student();
  torch::InferenceMode inference;
  // The logits of each row's next token, each row alone through the whole model: [rows, V].
  auto uncached = [&](const std::vector<std::vector<int>>& rows) {
    std::vector<torch::Tensor> last;
    for (const auto& row : rows) {
      auto input = torch::tensor(std::vector<int64_t>(row.begin(), row.end())).unsqueeze(0);
      last.push_back(model->forward(input).logits[0][-1]);
    }
    return torch::stack(last);
  };
  for (int room : {12, 3}) { // room for every step, and too little: cache and mask grow on the way
    INFO("room for " << room << " new tokens");
    llama_next_token_model student{model, 0};
    student.reserve(room);
    auto rows = ragged_prompts; // each row's tokens so far
    auto logits = student.start(rows);
    for (int step = 0; step < 12; ++step) {
      INFO("step " << step);
      auto expected = uncached(rows);
      // Within 1e-5 relative to the logits' scale (up to ~15 here): a few float32 roundings, as the fused
      // kernels sum in another order over one query than over the whole sequence.
      const float scale = std::max(1.0f, expected.abs().max().item<float>());
      CHECK((logits - expected).abs().max().item<float>() < 1e-5f * scale);
      auto next = logits.argmax(-1);
      CHECK(torch::equal(next, expected.argmax(-1)));
      for (std::size_t r = 0; r < rows.size(); ++r)
        rows[r].push_back(static_cast<int>(next[static_cast<int64_t>(r)].item<int64_t>()));
      if (step == 4) {
        // The longest prompt leaves (two columns are padding in every row left and go), another row is
        // repeated and the order changes.
        const std::vector<int64_t> kept = {3, 0, 2, 0};
        std::vector<std::vector<int>> still;
        for (auto r : kept)
          still.push_back(rows[static_cast<std::size_t>(r)]);
        rows = std::move(still);
        auto picked = torch::tensor(kept);
        student.select_rows(picked);
        next = next.index_select(0, picked);
      }
      logits = student.step(next);
    }
  }
}

TEST_CASE("rows that stop early leave the others' greedy tokens unchanged", "[generation][student]") {
  auto model = tiny_student();
  auto free_running = run_student(model, ragged_prompts, greedy(16));
  // An EOS that the first prompt produces at its fifth step: rows that meet it stop, the rest go on after
  // the batch has shrunk (and its left padding been trimmed).
  const int eos = free_running[0][0].token_ids[4];
  auto stopped = run_student(model, ragged_prompts, greedy(16), eos);
  int finished_early = 0;
  for (std::size_t p = 0; p < ragged_prompts.size(); ++p) {
    const auto& full = free_running[p][0].token_ids;
    const auto first_eos = std::find(full.begin(), full.end(), eos);
    const std::vector<int> expected(full.begin(), first_eos);
    INFO("prompt " << p);
    CHECK(stopped[p][0].token_ids == expected);
    CHECK(stopped[p][0].stop == (first_eos == full.end() ? stop_reason::max_tokens : stop_reason::eos));
    finished_early += first_eos != full.end();
  }
  CHECK(finished_early >= 1);
  CHECK(finished_early < 4); // otherwise no row would run on in a smaller batch; pick another step then
}

TEST_CASE("the student's samples follow the seed, and top-k 1 is greedy", "[generation][student]") {
  auto model = tiny_student();
  generation_options options;
  options.max_new_tokens = 10;
  options.samples_per_prompt = 3;
  options.seed = 5;
  auto first = run_student(model, ragged_prompts, options);
  auto second = run_student(model, ragged_prompts, options);
  options.seed = 6;
  auto other = run_student(model, ragged_prompts, options);
  int differing = 0;
  for (std::size_t p = 0; p < ragged_prompts.size(); ++p) {
    REQUIRE(first[p].size() == 3);
    for (std::size_t s = 0; s < 3; ++s) {
      CHECK(first[p][s].token_ids == second[p][s].token_ids);
      differing += first[p][s].token_ids != other[p][s].token_ids;
    }
    CHECK(first[p][0].token_ids != first[p][1].token_ids); // samples of one prompt are drawn independently
  }
  CHECK(differing >= 10);

  options.sampling.top_k = 1;
  auto top1 = run_student(model, ragged_prompts, options);
  auto argmax = run_student(model, ragged_prompts, greedy(10));
  for (std::size_t p = 0; p < ragged_prompts.size(); ++p)
    for (const auto& sample : top1[p])
      CHECK(sample.token_ids == argmax[p][0].token_ids);
}

TEST_CASE("text in, text out with a SentencePiece tokenizer", "[generation][student]") {
  std::vector<std::string> corpus;
  for (int i = 0; i < 40; ++i)
    corpus.push_back("Question: Tom has " + std::to_string(i) + " apples and buys " + std::to_string(i + 3) +
                     " more. How many apples does he have now?");
  tokenizer_training_options training;
  training.vocab_size = 60;
  auto tokens = train_tokenizer(corpus, training);
  REQUIRE(tokens.ok());
  llama_config config;
  config.vocab_size = tokens->vocab_size();
  llama_for_causal_lm model{config};
  generation_options options;
  options.max_new_tokens = 8;
  options.samples_per_prompt = 2;
  auto out = generate_text(model, *tokens, {"Question: Tom has", "How many apples"}, options);
  REQUIRE(out.ok());
  REQUIRE(out->size() == 2);
  for (const auto& samples : *out)
    for (const auto& sample : samples) {
      CHECK(sample.text == tokens->decode(sample.token_ids).substr(0, sample.text.size()));
      CHECK(sample.token_count >= static_cast<int>(sample.token_ids.size()));
      CHECK(sample.token_count <= 8);
    }
  auto outside = generate(model, *tokens, {{1, 5000}}, greedy(4));
  REQUIRE_FALSE(outside.ok());
  CHECK_THAT(outside.error().message, Catch::Contains("outside the model's vocabulary"));
}

TEST_CASE("generation runs on a GPU when there is one", "[generation][student][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  check_batched_equals_alone(torch::Device{torch::kCUDA, 0});
}
