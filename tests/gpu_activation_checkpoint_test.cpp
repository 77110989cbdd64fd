// Activation checkpointing: the same losses and gradients as the plain forward, dropout replayed, caches
// restored, and the cases it must leave alone.
#include "gpu/activation_checkpoint.hpp"
#include "gpu/losses.hpp"
#include "gpu/train_batches.hpp"
#include "gpu_train_support.hpp"

#include <catch2/catch.hpp>

using namespace tailor;
using namespace tailor::gpu;
using tailor::train_test::random_examples;
using tailor::train_test::tiny_config;

namespace {

namespace F = torch::nn::functional;

// Largest |a - b| / max(|b|, tiny) over all elements.
double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

llama_for_causal_lm seeded_model(const llama_config& config) {
  torch::manual_seed(11);
  return llama_for_causal_lm(config);
}

// Gradients of both losses (L_lm + λ·L_cl, the triplet rows through the prefix cache) by parameter name.
std::map<std::string, torch::Tensor> loss_gradients(llama_for_causal_lm& model, const tailored_batch& batch,
                                                    double* loss_value) {
  model->zero_grad();
  auto loss = tailored_learning_loss(model, batch, {.triplet_weight = 0.5});
  auto total = loss.lm + 0.5 * loss.triplet;
  total.backward();
  *loss_value = total.item<double>();
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : model->named_parameters())
    out[item.key()] = item.value().grad().clone();
  return out;
}

} // namespace

TEST_CASE("checkpointed layers give the plain losses and gradients", "[gpu][checkpointing]") {
  auto config = tiny_config();
  config.num_hidden_layers = 3;
  SECTION("full attention") {}
  SECTION("a sliding window shorter than the rows") {
    config.sliding_window = 5;
    config.model_type = "mistral";
  }
  auto examples = random_examples(6, /*triplets=*/true);
  auto batch = collate_tailored_batch(examples, /*pad_id=*/0, /*max_rationale_tokens=*/16);
  REQUIRE(batch.triplet_rows.sum().item<int64_t>() > 0);

  auto plain = seeded_model(config);
  plain->train();
  double plain_loss = 0;
  auto expected = loss_gradients(plain, batch, &plain_loss);

  auto checkpointed_model = seeded_model(config);
  checkpointed_model->train();
  checkpointed_model->model->set_activation_checkpointing(true);
  double checkpointed_loss = 0;
  auto got = loss_gradients(checkpointed_model, batch, &checkpointed_loss);

  CHECK(checkpointed_loss == Approx(plain_loss).epsilon(1e-6));
  REQUIRE(got.size() == expected.size());
  for (const auto& [name, gradient] : expected) {
    INFO(name);
    REQUIRE(got[name].defined());
    CHECK(relative_difference(got[name], gradient) < 1e-6);
  }
}

TEST_CASE("a trainer with activation checkpointing takes the plain trainer's steps", "[gpu][checkpointing]") {
  auto examples = random_examples(8, /*triplets=*/true);
  auto options = train_test::options_with(3e-3, 0, lr_schedule::constant, 5);
  options.loss.lambda = 0.5;
  options.optimizer.grad_accumulation = 2;
  auto plain = train_test::make_trainer(seeded_model(tiny_config()), options);
  options.optimizer.activation_checkpointing = true;
  auto checkpointed_trainer = train_test::make_trainer(seeded_model(tiny_config()), options);
  REQUIRE(checkpointed_trainer.model()->model->activation_checkpointing());
  for (int step = 0; step < 5; ++step) {
    auto a = plain.step(examples);
    auto b = checkpointed_trainer.step(examples);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(b->total_loss == Approx(a->total_loss).epsilon(1e-5));
    CHECK(b->grad_norm == Approx(a->grad_norm).epsilon(1e-5));
  }
  auto a_params = plain.model()->named_parameters();
  auto b_params = checkpointed_trainer.model()->named_parameters();
  // Gradients agree to rounding (the test above); AdamW divides by the root of tiny second moments, which
  // lets rounding grow over steps, hence the looser bound on the weights.
  for (const auto& item : a_params)
    CHECK(relative_difference(b_params[item.key()], item.value()) < 1e-4);
}

TEST_CASE("checkpointing replays a block's dropout and leaves the random stream as a plain call does",
          "[gpu][checkpointing]") {
  torch::manual_seed(3);
  auto weight = torch::randn({8, 8}).requires_grad_(true);
  const auto x = torch::randn({4, 8}).requires_grad_(true);
  block_function block = [&](const torch::Tensor& in, kv_cache*) {
    return F::dropout(F::linear(in, weight), F::DropoutFuncOptions().p(0.5).training(true)).tanh();
  };

  torch::manual_seed(7);
  auto plain_out = block(x, nullptr);
  plain_out.pow(2).sum().backward();
  auto plain_weight_grad = weight.grad().clone(), plain_x_grad = x.grad().clone();
  const auto plain_next = torch::rand({1}).item<double>();

  weight.mutable_grad().reset();
  x.mutable_grad().reset();
  torch::manual_seed(7);
  auto out = checkpointed(block, x, nullptr);
  const auto next = torch::rand({1}).item<double>(); // drawn between the forward and the backward
  out.pow(2).sum().backward();
  CHECK(torch::equal(out, plain_out));
  CHECK(relative_difference(weight.grad(), plain_weight_grad) < 1e-6);
  CHECK(relative_difference(x.grad(), plain_x_grad) < 1e-6);
  CHECK(next == plain_next);
}

TEST_CASE("a checkpointed block fed by a frozen input still trains its own parameters",
          "[gpu][checkpointing]") {
  torch::manual_seed(4);
  auto weight = torch::randn({6, 6}).requires_grad_(true);
  const auto frozen_input = torch::randn({3, 6}); // e.g. a frozen embedding's output under LoRA
  block_function block = [&](const torch::Tensor& in, kv_cache*) { return F::linear(in, weight).sin(); };
  auto out = checkpointed(block, frozen_input, nullptr);
  REQUIRE(out.requires_grad());
  out.sum().backward();
  auto expected = torch::autograd::grad({F::linear(frozen_input, weight).sin().sum()}, {weight})[0];
  CHECK(relative_difference(weight.grad(), expected) < 1e-6);
}

TEST_CASE("checkpointing replays a block against the cache as it was before the block appended",
          "[gpu][checkpointing]") {
  torch::manual_seed(5);
  auto projection = torch::randn({4, 4}).requires_grad_(true);
  kv_cache cache;
  cache.append(0, torch::randn({1, 1, 3, 4}), torch::randn({1, 1, 3, 4})); // a past of 3 positions
  // Attends (crudely) over the cache after appending its own keys: the replay must see 3 past positions,
  // not the 4 that the forward left behind.
  block_function block = [&](const torch::Tensor& in, kv_cache* c) {
    auto key = F::linear(in, projection).view({1, 1, 1, 4});
    auto [keys, values] = c->append(0, key, key);
    return (keys.sum(2).view({1, 4}) * in).sum(-1, true) + values.sum();
  };
  const auto x = torch::randn({1, 4}).requires_grad_(true);
  kv_cache plain_cache = cache;
  auto plain_out = block(x, &plain_cache);
  auto expected = torch::autograd::grad({plain_out.sum()}, {projection, x});

  auto out = checkpointed(block, x, &cache);
  CHECK(cache.length() == 4); // the forward appended, as a plain call does
  CHECK(torch::allclose(out, plain_out));
  out.sum().backward();
  CHECK(relative_difference(projection.grad(), expected[0]) < 1e-6);
  CHECK(relative_difference(x.grad(), expected[1]) < 1e-6);
}

TEST_CASE("checkpointing refuses caches that write in place, and the model then runs its layers plainly",
          "[gpu][checkpointing]") {
  kv_cache reserved;
  reserved.reserve(32);
  CHECK_FALSE(checkpointable(&reserved));
  CHECK(checkpointable(nullptr));
  block_function identity = [](const torch::Tensor& in, kv_cache*) { return in * 2; };
  CHECK_THROWS_WITH(checkpointed(identity, torch::ones({2}).requires_grad_(), &reserved),
                    Catch::Contains("writes in place"));

  // The model falls back to plain layers with such a cache, and in eval mode: identical hidden states.
  auto model = seeded_model(tiny_config());
  model->model->set_activation_checkpointing(true);
  auto ids = torch::randint(3, 60, {2, 5}, torch::kLong);
  auto reference = seeded_model(tiny_config());
  reference->eval();
  model->eval();
  CHECK(torch::equal(model->forward(ids).logits, reference->forward(ids).logits));
  model->train();
  reference->train();
  kv_cache a, b;
  a.reserve(16);
  b.reserve(16);
  auto positions = torch::arange(5).unsqueeze(0).expand({2, 5});
  CHECK(torch::allclose(model->forward(ids, positions, {}, &a).logits,
                        reference->forward(ids, positions, {}, &b).logits));
}
