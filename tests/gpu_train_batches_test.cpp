// Training batches: one item per question per batch, micro-batches, text items tokenized for the trainer.
#include "gpu/train_batches.hpp"
#include "gpu/train_step.hpp"
#include "tests/gpu_train_support.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace tailor;
using namespace tailor::gpu;
using namespace tailor::train_test;

TEST_CASE("batches never hold two items of one question and use the fewest batches", "[gpu][train]") {
  std::mt19937 sizes(3);
  std::vector<std::string> question_of_item;
  std::size_t most = 0;
  for (int q = 0; q < 40; ++q) {
    const std::size_t n = 1 + sizes() % 5;
    most = std::max(most, n);
    for (std::size_t k = 0; k < n; ++k)
      question_of_item.push_back("question-" + std::to_string(q));
  }
  question_of_item.insert(question_of_item.end(), 12, "crowded"); // more items than there are batches of 16
  const std::size_t batch_size = 16;

  std::mt19937_64 rng(9);
  auto batches = distinct_question_batches(question_of_item, batch_size, rng);
  std::vector<int> seen(question_of_item.size(), 0);
  std::size_t not_full = 0;
  for (const auto& batch : batches) {
    REQUIRE(!batch.empty());
    CHECK(batch.size() <= batch_size);
    not_full += batch.size() < batch_size;
    std::set<std::string> questions;
    for (auto i : batch) {
      ++seen[i];
      CHECK(questions.insert(question_of_item[i]).second);
    }
  }
  CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
  const std::size_t lower_bound = std::max<std::size_t>(
      (question_of_item.size() + batch_size - 1) / batch_size, std::max<std::size_t>(most, 12));
  CHECK(batches.size() == lower_bound);

  std::mt19937_64 same(9), other(10);
  CHECK(distinct_question_batches(question_of_item, batch_size, same) == batches);
  CHECK(distinct_question_batches(question_of_item, batch_size, other) != batches);

  SECTION("micro-batches split a batch into contiguous parts of near-equal size") {
    auto examples = random_examples(5, false);
    auto parts = split_micro_batches(examples, 2);
    REQUIRE(parts.size() == 2);
    CHECK(parts[0].size() == 3);
    CHECK(parts[1].size() == 2);
    CHECK(parts[1].data() == examples.data() + 3);
    CHECK(split_micro_batches(examples, 9).size() == 5);
  }
}

TEST_CASE("text training items become token batches the trainer steps on", "[gpu][train]") {
  std::vector<std::string> corpus;
  for (int i = 0; i < 200; ++i)
    corpus.push_back("Question: Tom has " + std::to_string(i % 17) + " apples and buys " +
                     std::to_string(i % 5) + " more. Reasoning: " + std::to_string(i % 17) + " + " +
                     std::to_string(i % 5) + " = " + std::to_string(i % 17 + i % 5) +
                     ". Answer: " + std::to_string(i % 17 + i % 5));
  auto tokens = train_tokenizer(corpus, {.vocab_size = 64});
  REQUIRE(tokens.ok());

  std::vector<training_item> items(2);
  items[0].example_id = "a";
  items[0].prefix = "Question: Tom has 3 apples and buys 2 more.\nReasoning: ";
  items[0].target = "3 + 2 = 5.\nAnswer: 5";
  items[0].contrast = {.anchor = "3 + 2 = 5.", .positive = "Tom has 3 + 2 = 5.", .negative = "3 + 2 = 6."};
  items[1] = items[0];
  items[1].example_id = "b";
  items[1].contrast.positive = items[1].contrast.anchor; // not a *different* positive: masked

  auto examples = tokenize_items(*tokens, items);
  REQUIRE(examples.size() == 2);
  CHECK(examples[0].prefix.front() == tokens->bos_id());
  CHECK(examples[0].target.back() == tokens->eos_id());
  CHECK(std::count(examples[0].target.begin(), examples[0].target.end(), tokens->bos_id()) == 0);
  CHECK(tokens->decode(examples[0].target).find("= 5") != std::string::npos);
  CHECK(!examples[0].negative.empty());
  CHECK(examples[1].anchor.empty()); // an incomplete triplet brings no rationale tokens at all

  auto config = tiny_config();
  config.vocab_size = tokens->vocab_size();
  torch::manual_seed(1);
  auto t = make_trainer(llama_for_causal_lm(config), options_with(1e-3, 0, lr_schedule::constant, 0));
  auto stats = t.step(examples);
  REQUIRE(stats.ok());
  CHECK(stats->examples == 2);
  CHECK(stats->triplet_examples == 1);
  CHECK(stats->tokens == examples[0].prefix.size() + examples[0].target.size() + examples[1].prefix.size() +
                             examples[1].target.size());
  auto metrics = to_training_metrics(*stats);
  CHECK(metrics.step == 1);
  CHECK(metrics.triplet_examples == 1);
  CHECK(metrics.examples_per_second > 0);
}
