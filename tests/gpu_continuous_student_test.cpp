// Continuous batching with the student: refilled slots against decoding alone, stale caches, shared
// prefixes, seeds, and the exam graded before and after.
#include "gpu/continuous_sampler.hpp"
#include "gpu/student_exam.hpp"
#include "io/data/answer_extraction.hpp"
#include "io/data/arith.hpp"
#include "io/data/prompts.hpp"
#include "tests/gpu_continuous_support.hpp"
#include "tests/gpu_generation_support.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

using namespace tailor;
using namespace tailor::gpu;
using namespace tailor::generation_test;
using namespace tailor::continuous_test;

namespace {

llama_for_causal_lm tiny_student() {
  llama_config config;
  config.vocab_size = 64;
  config.num_key_value_heads = 2; // grouped-query attention through the slots too
  config.initializer_range = 0.5; // peaked logits: greedy choices far from ties that rounding could flip
  torch::manual_seed(11);
  return llama_for_causal_lm{config};
}

// Every token reads as "x" (no blank lines); `stops` end a row.
token_decoder plain_decoder(int eos, std::vector<int> stops = {}) {
  return {.decode = [](std::span<const int> ids) { return std::string(ids.size(), 'x'); },
          .eos_id = eos,
          .stop_ids = std::move(stops),
          .decodable_vocab = 0};
}

const std::vector<std::vector<int>> ragged_prompts = {{1, 5, 9},
                                                      {1, 7, 3, 3, 8, 20, 4, 11, 12, 13, 14},
                                                      {1},
                                                      {1, 40, 41, 42, 2},
                                                      {1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9},
                                                      {1, 30},
                                                      {1, 17, 18, 19, 20, 21, 22},
                                                      {1, 60, 61},
                                                      {1, 33, 34, 35, 36, 37, 38, 39, 40}};

std::vector<prompt_completions> student_alone(llama_for_causal_lm& model, const token_decoder& decoder,
                                              const std::vector<int>& prompt,
                                              const generation_options& options) {
  llama_next_token_model alone{model, 0};
  return run(alone, {prompt}, options, decoder);
}

float max_relative_gap(const torch::Tensor& got, const torch::Tensor& expected) {
  const float scale = std::max(1.0f, expected.abs().max().item<float>());
  return (got - expected).abs().max().item<float>() / scale;
}

} // namespace

TEST_CASE("the student decoded continuously gives each prompt's greedy tokens alone, ragged stops included",
          "[continuous][student]") {
  auto model = tiny_student();
  auto options = greedy(14);
  // Free-running tokens decide the stops: the EOS one prompt meets early, a stop id another meets late.
  const auto free_running = student_alone(model, plain_decoder(-1), ragged_prompts[0], options);
  const auto other = student_alone(model, plain_decoder(-1), ragged_prompts[4], options);
  const auto decoder = plain_decoder(free_running[0][0].token_ids[3], {other[0][0].token_ids[9]});
  for (int slots : {1, 3, 4}) {
    INFO(slots << " slots");
    llama_slot_model student{model, 0};
    auto out = run_continuous(student, decoder, ragged_prompts, options, in_slots(slots));
    std::set<int> lengths;
    std::set<stop_reason> reasons;
    for (std::size_t p = 0; p < ragged_prompts.size(); ++p) {
      INFO("prompt " << p);
      auto alone = student_alone(model, decoder, ragged_prompts[p], options);
      check_same(out[p][0], alone[0][0]);
      lengths.insert(out[p][0].token_count);
      reasons.insert(out[p][0].stop);
    }
    CHECK(lengths.size() >= 3);
    CHECK(reasons.size() == 2); // EOS or a stop id, and the limit
  }
}

TEST_CASE("a refilled slot never attends to what its longer previous occupant left",
          "[continuous][student]") {
  auto model = tiny_student();
  torch::InferenceMode inference;
  const std::vector<int> long_a = {1, 7, 3, 3, 8, 20, 4, 11, 12, 13};
  const std::vector<int> long_b = {1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  const std::vector<int> short_c = {1, 40, 41};
  llama_slot_model slots{model, 0};
  slots.reserve(2, 40);
  auto logits = slots.prefill({long_a, long_b});
  slots.load({0, 1}, {0, 1});
  for (int step = 0; step < 6; ++step)
    logits = slots.step(logits.argmax(-1));
  // Slot 1 (b: 20 positions written) takes c (3): its columns 3..19 still hold b's keys and values, and a
  // (16 positions) keeps the step's window wider than c for the steps below.
  auto c_logits = slots.prefill({short_c});
  slots.load({1}, {0});

  llama_slot_model alone_a{model, 0}, alone_c{model, 0};
  alone_a.reserve(1, 40);
  alone_c.reserve(1, 40);
  auto a_logits = alone_a.prefill({long_a});
  alone_a.load({0}, {0});
  for (int step = 0; step < 6; ++step)
    a_logits = alone_a.step(a_logits.argmax(-1));
  auto alone_c_logits = alone_c.prefill({short_c});
  alone_c.load({0}, {0});
  CHECK(max_relative_gap(c_logits, alone_c_logits) < 1e-5f);

  auto both = torch::cat({a_logits, c_logits});
  for (int step = 0; step < 5; ++step) {
    INFO("step " << step);
    auto next = both.argmax(-1);
    both = slots.step(next);
    a_logits = alone_a.step(next.narrow(0, 0, 1));
    alone_c_logits = alone_c.step(next.narrow(0, 1, 1));
    // 16 + step columns before this step against c's 3 + step: the stale keys lay inside the window.
    CHECK(max_relative_gap(both.narrow(0, 1, 1), alone_c_logits) < 1e-5f);
    CHECK(max_relative_gap(both.narrow(0, 0, 1), a_logits) < 1e-5f);
  }
}

TEST_CASE("one prefill copied into n slots gives the logits of n separate prefills",
          "[continuous][student]") {
  auto model = tiny_student();
  torch::InferenceMode inference;
  const std::vector<int> prompt = {1, 7, 3, 3, 8, 20, 4};
  llama_slot_model shared{model, 0}, separate{model, 0};
  shared.reserve(3, 32);
  separate.reserve(3, 32);
  auto shared_logits = shared.prefill({prompt}).repeat({3, 1});
  shared.load({0, 1, 2}, {0, 0, 0});
  std::vector<torch::Tensor> rows;
  for (int slot = 0; slot < 3; ++slot) {
    rows.push_back(separate.prefill({prompt}));
    separate.load({slot}, {0});
  }
  auto separate_logits = torch::cat(rows);
  // The prefill against generate()'s left-padded one: the same next-token logits.
  llama_next_token_model left_padded{model, 0};
  left_padded.reserve(4);
  CHECK(max_relative_gap(shared_logits.narrow(0, 0, 1), left_padded.start({prompt})) < 1e-5f);
  for (int step = 0; step < 6; ++step) {
    INFO("step " << step);
    CHECK(max_relative_gap(shared_logits, separate_logits) < 1e-5f);
    // Each sample its own continuation, so that the slots part ways.
    auto next = torch::tensor({int64_t{5 + step}, int64_t{30 - step}, int64_t{2 * step}});
    shared_logits = shared.step(next);
    separate_logits = separate.step(next);
  }
  CHECK(max_relative_gap(shared_logits, separate_logits) < 1e-5f);
  CHECK(max_relative_gap(shared_logits.narrow(0, 0, 1), shared_logits.narrow(0, 1, 1)) > 1e-3f);
}

TEST_CASE("the student's sampled completions do not depend on the slot count", "[continuous][student]") {
  auto model = tiny_student();
  generation_options options;
  options.max_new_tokens = 10;
  options.samples_per_prompt = 3;
  options.seed = 5;
  options.sampling.top_k = 20;
  const auto decoder = plain_decoder(7);
  auto sample = [&](int slots, std::uint64_t seed) {
    llama_slot_model student{model, 0};
    options.seed = seed;
    return run_continuous(student, decoder, ragged_prompts, options, in_slots(slots));
  };
  const auto one = sample(1, 5);
  int differing = 0;
  for (const auto& other : {sample(4, 5), sample(11, 5)})
    for (std::size_t p = 0; p < ragged_prompts.size(); ++p)
      for (std::size_t s = 0; s < 3; ++s) {
        INFO("prompt " << p << " sample " << s);
        check_same(other[p][s], one[p][s]);
      }
  const auto reseeded = sample(4, 6);
  for (std::size_t p = 0; p < ragged_prompts.size(); ++p)
    for (std::size_t s = 0; s < 3; ++s)
      differing += reseeded[p][s].token_ids != one[p][s].token_ids;
  CHECK(differing >= 15);
}

namespace {

struct exam_fixture {
  std::vector<example> questions;
  tokenizer tokens;
  llama_for_causal_lm model{nullptr};
};

exam_fixture exam_setup() {
  std::vector<example> questions;
  std::vector<std::string> corpus;
  for (const auto& problem : generate_arith(9, 3, arith_split::train)) {
    questions.push_back(to_example(problem));
    corpus.push_back(student_prefix(task_kind::arith, questions.back().question, "none") +
                     arith_rationale(problem) + "\nAnswer: 7\n\n");
  }
  auto trained = train_tokenizer(corpus, {.vocab_size = 96});
  REQUIRE(trained.ok());
  llama_config config;
  config.vocab_size = trained->vocab_size();
  config.initializer_range = 0.5;
  torch::manual_seed(3);
  return {std::move(questions), std::move(trained).value(), llama_for_causal_lm{config}};
}

} // namespace

TEST_CASE("the greedy exam grades what decoding each question alone gives; progress can stop it",
          "[continuous][student][exam]") {
  auto fixture = exam_setup();
  exam_options options;
  options.greedy = true;
  options.samples = 1;
  options.max_new_tokens = 12;
  options.batch_size = 3;
  options.demos = "none";
  std::vector<std::size_t> reported;
  auto graded = sit_exam(fixture.model, fixture.tokens, fixture.questions, options, 4,
                         [&](std::size_t done, std::size_t total) {
                           CHECK(total == fixture.questions.size());
                           reported.push_back(done);
                           return true;
                         });
  REQUIRE(graded.ok());
  REQUIRE(graded->size() == fixture.questions.size());
  CHECK(reported == std::vector<std::size_t>{3, 6, 9});
  // Before continuous batching the exam was generate() over chunks of prompts, which gives each prompt
  // the tokens it gets alone (gpu_generation_student_test): grade those the same way.
  generation_options alone = greedy(12);
  for (std::size_t q = 0; q < fixture.questions.size(); ++q) {
    const auto& item = fixture.questions[q];
    const auto prompt = fixture.tokens.encode(student_prefix(item.task, item.question, "none"), true);
    auto out = generate(fixture.model, fixture.tokens, {prompt}, alone);
    REQUIRE(out.ok());
    const auto& answer = (*out)[0][0];
    const auto& got = (*graded)[q];
    INFO("question " << q << ": " << answer.text);
    CHECK(got.example_id == item.id);
    CHECK(got.reasoning.text == reasoning_of(answer.text));
    CHECK(got.reasoning.tokens == static_cast<std::uint32_t>(answer.token_count));
    CHECK(got.extracted_answer == extract_answer(answer.text, item.task));
    CHECK(got.correct == answer_matches(got.extracted_answer, item.answer));
    CHECK(got.weights_version == 4);
  }

  auto stopped = sit_exam(fixture.model, fixture.tokens, fixture.questions, options, 4,
                          [](std::size_t done, std::size_t) { return done < 3; });
  REQUIRE(stopped.ok());
  CHECK(stopped->size() >= 3);
  CHECK(stopped->size() < fixture.questions.size());
  for (const auto& answer : *stopped) {
    auto same = std::find_if(graded->begin(), graded->end(),
                             [&](const auto& g) { return g.example_id == answer.example_id; });
    REQUIRE(same != graded->end());
    CHECK((*same == answer)); // graded_answer has no printer: compare as a bool
  }
}

TEST_CASE("the sampled exam's answers do not depend on its batch size", "[continuous][student][exam]") {
  auto fixture = exam_setup();
  exam_options options;
  options.samples = 3;
  options.max_new_tokens = 10;
  options.seed = 9;
  options.demos = "none";
  auto sit = [&](int batch) {
    options.batch_size = batch;
    auto graded = sit_exam(fixture.model, fixture.tokens, fixture.questions, options, 1);
    REQUIRE(graded.ok());
    return std::move(graded).value();
  };
  const auto small = sit(1), large = sit(4);
  REQUIRE(small.size() == fixture.questions.size() * 3);
  CHECK((small == large));
  for (std::size_t i = 0; i < small.size(); ++i)
    CHECK(small[i].example_id == fixture.questions[i / 3].id); // in question order, samples together
}
