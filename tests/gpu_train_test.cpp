// The training step on a tiny model: learning, schedule, clipping, accumulation, seeds, triplets, GPU.
#include "gpu/lr_schedule.hpp"
#include "gpu/train_step.hpp"
#include "tests/gpu_train_support.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

using namespace tailor;
using namespace tailor::gpu;
using namespace tailor::train_test;

namespace {

llama_for_causal_lm tiny_model(std::uint64_t seed = 1) {
  torch::manual_seed(seed);
  return llama_for_causal_lm(tiny_config());
}

double global_grad_norm(llama_for_causal_lm& model) {
  double squares = 0;
  for (const auto& p : model->parameters())
    if (p.grad().defined())
      squares += p.grad().pow(2).sum().item<double>();
  return std::sqrt(squares);
}

double max_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  return worst;
}

// The first step's L_lm and the last one's, after `steps` steps on the same examples.
std::pair<double, double> train_on(trainer& t, const std::vector<tailored_example>& examples, int steps) {
  auto first = t.step(examples);
  REQUIRE(first.ok());
  double last = first->lm_loss;
  for (int i = 1; i < steps; ++i) {
    auto stats = t.step(examples);
    REQUIRE(stats.ok());
    REQUIRE(std::isfinite(stats->total_loss));
    last = stats->lm_loss;
  }
  return {first->lm_loss, last};
}

std::vector<torch::Tensor> gradients(llama_for_causal_lm& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters())
    out.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return out;
}

} // namespace

TEST_CASE("the loss of a tiny model on a fixed batch falls more than tenfold", "[gpu][train]") {
  torch::set_num_threads(1);
  auto examples = random_examples(4, /*triplets=*/false);
  auto t = make_trainer(tiny_model(), options_with(1e-2, 10, lr_schedule::constant, 0));
  auto [first, last] = train_on(t, examples, 250);
  INFO("first loss " << first << ", last " << last);
  // Untrained: ln(64) ≈ 4.2 per target token, a tenth of that per prefix token, over all of them.
  CHECK(first > 2.5);
  CHECK(last < first / 10);
  CHECK(t.steps() == 250);
}

TEST_CASE("the learning rate warms up linearly, then stays or decays along a cosine to its floor",
          "[gpu][train]") {
  lr_schedule_params s{
      .peak = 1e-3, .warmup_steps = 10, .kind = lr_schedule::cosine, .min_ratio = 0.1, .total_steps = 110};
  CHECK(learning_rate_at(s, 0) == Approx(1e-4));
  CHECK(learning_rate_at(s, 4) == Approx(5e-4));
  CHECK(learning_rate_at(s, 9) == Approx(1e-3));
  CHECK(learning_rate_at(s, 10) == Approx(1e-3));
  CHECK(learning_rate_at(s, 60) == Approx(1e-4 + 0.5 * 9e-4)); // halfway through the decay
  CHECK(learning_rate_at(s, 110) == Approx(1e-4));
  CHECK(learning_rate_at(s, 5000) == Approx(1e-4));
  s.kind = lr_schedule::constant;
  CHECK(learning_rate_at(s, 4) == Approx(5e-4));
  CHECK(learning_rate_at(s, 60) == Approx(1e-3));
  CHECK(learning_rate_at(s, 5000) == Approx(1e-3));

  SECTION("the trainer sets the scheduled rate on every step and restarts it on demand") {
    auto examples = random_examples(2, false);
    auto t = make_trainer(tiny_model(), options_with(1e-3, 2, lr_schedule::cosine, 6));
    std::vector<double> rates;
    for (int i = 0; i < 7; ++i) {
      auto stats = t.step(examples);
      REQUIRE(stats.ok());
      rates.push_back(stats->learning_rate);
      for (auto& group : t.optimizer().param_groups())
        CHECK(group.options().get_lr() == Approx(stats->learning_rate));
    }
    CHECK(rates[0] == Approx(5e-4));
    CHECK(rates[1] == Approx(1e-3));
    CHECK(rates[4] < rates[2]);
    CHECK(rates[6] == Approx(1e-4));
    t.restart_schedule({.peak = 3e-4, .warmup_steps = 0, .kind = lr_schedule::constant});
    CHECK(t.learning_rate() == Approx(3e-4));
    auto after = t.step(examples);
    REQUIRE(after.ok());
    CHECK(after->learning_rate == Approx(3e-4));
    CHECK(after->step == 8);
  }
}

TEST_CASE("gradient clipping caps the global norm", "[gpu][train]") {
  auto examples = random_examples(3, true);
  auto options = options_with(1e-3, 0, lr_schedule::constant, 0);
  options.optimizer.grad_clip = 0.05;
  auto t = make_trainer(tiny_model(), options);
  auto stats = t.step(examples);
  REQUIRE(stats.ok());
  CHECK(stats->grad_norm > 0.05); // the norm before clipping, as reported
  CHECK(global_grad_norm(t.model()) == Approx(0.05).epsilon(1e-4));

  options.optimizer.grad_clip = 0; // off: the gradient is left as it is
  auto unclipped = make_trainer(tiny_model(), options);
  auto plain = unclipped.step(examples);
  REQUIRE(plain.ok());
  CHECK(plain->grad_norm == Approx(stats->grad_norm));
  CHECK(global_grad_norm(unclipped.model()) == Approx(plain->grad_norm).epsilon(1e-5));
}

TEST_CASE("two accumulated micro-batches make the same update as one batch of both", "[gpu][train]") {
  torch::set_num_threads(1);
  auto examples = random_examples(5, /*triplets=*/true); // uneven: micro-batches of 3 and 2
  auto options = options_with(1e-3, 0, lr_schedule::constant, 0);
  options.optimizer.grad_clip = 0;
  auto whole = make_trainer(tiny_model(), options);
  options.optimizer.grad_accumulation = 2;
  auto split = make_trainer(tiny_model(), options);

  for (int i = 0; i < 3; ++i) {
    auto a = whole.step(examples);
    auto b = split.step(examples);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->tokens == b->tokens);
    CHECK(a->triplet_examples == 3);
    CHECK(b->triplet_examples == 3);
    CHECK(b->lm_loss == Approx(a->lm_loss).epsilon(1e-6));
    CHECK(b->triplet_loss == Approx(a->triplet_loss).epsilon(1e-6));
    CHECK(b->grad_norm == Approx(a->grad_norm).epsilon(1e-6));
    CHECK(max_difference(gradients(whole.model()), gradients(split.model())) < 1e-6);
    CHECK(max_difference(whole.model()->parameters(), split.model()->parameters()) < 1e-6);
  }
}

TEST_CASE("the same seed gives identical parameters after several steps", "[gpu][train]") {
  auto examples = random_examples(12, true);
  std::vector<training_item> items(examples.size());
  for (std::size_t i = 0; i < items.size(); ++i)
    items[i].example_id = "q" + std::to_string(i % 7);

  auto run = [&](std::uint64_t seed) {
    auto options = options_with(3e-3, 2, lr_schedule::cosine, 6);
    options.seed = seed;
    options.optimizer.batch_size = 4;
    auto t = make_trainer(tiny_model(seed), options);
    for (const auto& batch : t.plan_epoch(items)) {
      std::vector<tailored_example> chosen;
      for (auto i : batch)
        chosen.push_back(examples[i]);
      REQUIRE(t.step(chosen).ok());
    }
    return t.model()->parameters();
  };
  auto first = run(11), again = run(11), other = run(12);
  REQUIRE(first.size() == again.size());
  for (std::size_t i = 0; i < first.size(); ++i)
    CHECK(torch::equal(first[i], again[i]));
  CHECK(max_difference(first, other) > 1e-3);
}

TEST_CASE("the triplet term counts when triplets exist and adds nothing when all are masked",
          "[gpu][train]") {
  auto options = options_with(1e-3, 0, lr_schedule::constant, 0);
  auto with = make_trainer(tiny_model(), options);
  auto stats = with.step(random_examples(4, /*triplets=*/true));
  REQUIRE(stats.ok());
  CHECK(stats->triplet_examples == 2);
  CHECK(stats->triplet_loss > 0.1); // untrained: cosines near each other, the margin is mostly unmet
  CHECK(stats->total_loss == Approx(stats->lm_loss + 0.5 * stats->triplet_loss));

  auto masked_examples = random_examples(4, true);
  for (auto& e : masked_examples)
    e.positive.clear(); // no different positive: every row is masked out
  auto masked = make_trainer(tiny_model(), options);
  auto plain = make_trainer(tiny_model(), options);
  auto plain_examples = masked_examples;
  for (auto& e : plain_examples) {
    e.anchor.clear();
    e.negative.clear();
  }
  auto m = masked.step(masked_examples);
  auto p = plain.step(plain_examples);
  REQUIRE(m.ok());
  REQUIRE(p.ok());
  CHECK(m->triplet_examples == 0);
  CHECK(m->triplet_loss == 0);
  CHECK(m->total_loss == m->lm_loss);
  // Same tokens, same model: the masked triplets leave the update exactly that of plain L_lm.
  CHECK(m->lm_loss == p->lm_loss);
  CHECK(max_difference(masked.model()->parameters(), plain.model()->parameters()) == 0);
}

TEST_CASE("bad settings and empty batches are errors, not exceptions", "[gpu][train]") {
  auto options = options_with(-1, 0, lr_schedule::constant, 0);
  auto bad = trainer::create(tiny_model(), options);
  REQUIRE(!bad.ok());
  CHECK(bad.error().message.find("learning_rate") != std::string::npos);

  options = options_with(1e-3, 0, lr_schedule::constant, 0);
  options.device = "tpu";
  CHECK(!trainer::create(tiny_model(), options).ok());

  auto t = make_trainer(tiny_model(), options_with(1e-3, 0, lr_schedule::constant, 0));
  CHECK(!t.step(std::span<const tailored_example>{}).ok());
  auto out_of_vocab = random_examples(2, false);
  out_of_vocab[0].target[0] = 1000; // beyond the embedding table
  auto failed = t.step(out_of_vocab);
  REQUIRE(!failed.ok());
  CHECK(failed.error().message.find("training step 1") != std::string::npos);
  CHECK(failed.error().message.find("vocabulary of 64") != std::string::npos);
  CHECK(t.steps() == 0);
}

namespace {

trainer_options on_gpu(trainer_options options, bool bf16) {
  options.device = "cuda";
  options.bf16 = bf16;
  return options;
}

} // namespace

TEST_CASE("on a GPU one step gives the CPU's losses and gradient norm, closely in fp32, roughly in bf16",
          "[gpu][train][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  const auto examples = random_examples(4, /*triplets=*/true);
  const auto options = options_with(1e-3, 0, lr_schedule::constant, 0);
  auto reference = make_trainer(tiny_model(), options).step(examples);
  REQUIRE(reference.ok());
  REQUIRE(reference->triplet_examples == 2);
  for (bool bf16 : {false, true}) {
    INFO((bf16 ? "bf16 autocast" : "fp32"));
    const bool tf32 = at::globalContext().allowTF32CuBLAS();
    at::globalContext().setAllowTF32CuBLAS(false);
    auto t = make_trainer(tiny_model(), on_gpu(options, bf16));
    auto stats = t.step(examples);
    at::globalContext().setAllowTF32CuBLAS(tf32);
    REQUIRE(stats.ok());
    CHECK(t.model()->parameters().front().device().is_cuda());
    const double tolerance = bf16 ? 3e-2 : 1e-4; // relative
    CHECK(stats->lm_loss == Approx(reference->lm_loss).epsilon(tolerance));
    CHECK(stats->triplet_loss == Approx(reference->triplet_loss).epsilon(bf16 ? 0.1 : tolerance));
    CHECK(stats->grad_norm == Approx(reference->grad_norm).epsilon(bf16 ? 0.1 : 1e-3));
    CHECK(stats->tokens == reference->tokens);
    CHECK(stats->triplet_examples == reference->triplet_examples);
  }
}

TEST_CASE("on a GPU under bf16 autocast the loss on a fixed batch falls more than tenfold",
          "[gpu][train][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  auto examples = random_examples(4, /*triplets=*/true);
  auto t = make_trainer(tiny_model(), on_gpu(options_with(1e-2, 10, lr_schedule::constant, 0), true));
  auto [first, last] = train_on(t, examples, 250);
  INFO("first loss " << first << ", last " << last);
  CHECK(last < first / 10);
  for (const auto& p : t.model()->parameters()) // autocast computes in bf16; the weights stay fp32
    CHECK(p.scalar_type() == torch::kFloat);
}
