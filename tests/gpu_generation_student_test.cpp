// Generation with the student: its KV cache against a full forward, early stops, seeds, text and the GPU.
#include "gpu/generation.hpp"
#include "tests/gpu_generation_support.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace tailor::gpu;
using namespace tailor::generation_test;

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
