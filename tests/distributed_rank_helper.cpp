// One rank of the data-parallel tests: trains the tiny model on a fixed batch and writes its losses and final
// weights, so the test can compare two Gloo ranks with one process. Rendezvous from the environment.
#include "gpu/distributed.hpp"
#include "gpu_train_support.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <string>
#include <unistd.h>

using namespace tailor;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: distributed_rank_helper OUT STEPS [DIE_AFTER_STEP]\n");
    return 2;
  }
  const std::string out_path = argv[1];
  const int steps = std::atoi(argv[2]);
  const int die_after = argc > 3 ? std::atoi(argv[3]) : -1;
  torch::set_num_threads(1);

  auto where = gpu::rendezvous_from_environment();
  if (!where) {
    std::fprintf(stderr, "%s\n", where.error().message.c_str());
    return 3;
  }
  auto rendezvous = where.value();
  rendezvous.timeout = std::chrono::milliseconds(10'000);
  // Followers start from other weights: the trainer must make them rank 0's.
  torch::manual_seed(1 + 1000 * static_cast<std::uint64_t>(rendezvous.rank));
  gpu::llama_for_causal_lm model(train_test::tiny_config());
  auto options = train_test::options_with(3e-3, 2, lr_schedule::cosine, steps);
  options.optimizer.grad_accumulation = 2;
  options.optimizer.weight_decay = 0.01;
  auto made = gpu::trainer::create(model, options);
  if (!made) {
    std::fprintf(stderr, "%s\n", made.error().message.c_str());
    return 4;
  }
  auto trainer = std::move(made).value();
  if (rendezvous.world_size > 1) {
    auto group = gpu::process_group::create(rendezvous);
    if (!group) {
      std::fprintf(stderr, "%s\n", group.error().message.c_str());
      return 5;
    }
    if (auto joined = trainer.use_process_group(group.value()); !joined) {
      std::fprintf(stderr, "%s\n", joined.error().message.c_str());
      return 6;
    }
  }

  const auto examples = train_test::random_examples(6, true);
  std::ofstream out(out_path);
  for (int i = 0; i < steps; ++i) {
    if (i == die_after)
      _exit(9); // a rank that dies mid-run, without saying goodbye
    auto stats = trainer.step(std::span<const gpu::tailored_example>(examples));
    if (!stats) {
      std::fprintf(stderr, "%s\n", stats.error().message.c_str());
      return 7;
    }
    out << "loss " << std::setprecision(9) << stats.value().total_loss << ' ' << stats.value().grad_norm
        << '\n';
  }
  for (const auto& p : trainer.model()->parameters()) {
    auto flat = p.detach().reshape({-1}).contiguous();
    const float* values = flat.data_ptr<float>();
    for (int64_t j = 0; j < flat.numel(); ++j)
      out << "w " << std::setprecision(9) << values[j] << '\n';
  }
  return 0;
}
