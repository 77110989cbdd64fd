// The student at a real size, tailor's side: load a checkpoint directory, one training step, greedy decoding.
// Run by bench/real_size_bench.py, which writes the checkpoints (published config.json values, random
// weights) and measures transformers the same way in another process. Prints one JSON object.
//   real_size_bench --checkpoint DIR [--threads N] [--batch B] [--seq T] [--new-tokens N] [--no-train]
//                   [--no-optimizer]
#include "gpu/checkpoint.hpp"
#include "gpu/generation.hpp"
#include "gpu/runtime.hpp"
#include "gpu/train_step.hpp"

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <vector>

using namespace tailor;
using namespace tailor::gpu;
using clock_type = std::chrono::steady_clock;

namespace {

struct settings {
  std::string checkpoint;
  int threads = 2, batch = 1, seq = 256, prompt = 64, new_tokens = 32;
  bool train = true;
  bool optimizer = true; // false: forward and backward only, when AdamW's states do not fit in memory
};

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view key = argv[i];
    auto value = [&] {
      if (i + 1 >= argc)
        throw std::invalid_argument(std::string{key} + " needs a value");
      return std::string{argv[++i]};
    };
    if (key == "--checkpoint")
      s.checkpoint = value();
    else if (key == "--threads")
      s.threads = std::stoi(value());
    else if (key == "--batch")
      s.batch = std::stoi(value());
    else if (key == "--seq")
      s.seq = std::stoi(value());
    else if (key == "--prompt")
      s.prompt = std::stoi(value());
    else if (key == "--new-tokens")
      s.new_tokens = std::stoi(value());
    else if (key == "--no-train")
      s.train = false;
    else if (key == "--no-optimizer")
      s.optimizer = false;
    else
      throw std::invalid_argument("unknown option " + std::string{key});
  }
  if (s.checkpoint.empty())
    throw std::invalid_argument("--checkpoint DIR is required");
  return s;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0; // ru_maxrss is in kilobytes on Linux
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Token ids the tokenizer can decode, drawn from a fixed stream: the same ones the baseline draws.
std::vector<int> random_ids(int count, int vocab, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> token(0, vocab - 1);
  std::vector<int> ids(static_cast<std::size_t>(count));
  for (auto& id : ids)
    id = token(rng);
  return ids;
}

} // namespace

int main(int argc, char** argv) try {
  const auto s = parse(argc, argv);
  set_torch_threads(s.threads);
  nlohmann::json out;

  auto start = clock_type::now();
  auto loaded = load_checkpoint(s.checkpoint);
  if (!loaded)
    throw std::runtime_error(loaded.error().message);
  out["load_seconds"] = seconds_since(start);
  out["rss_after_load_mb"] = peak_rss_mb();
  auto model = loaded->model;
  std::int64_t parameters = 0;
  for (const auto& p : model->parameters())
    parameters += p.numel();
  out["parameters"] = parameters;
  const int vocab = loaded->tokenizer.vocab_size();

  // Greedy decoding of one prompt: the evaluation's shape.
  {
    torch::NoGradGuard no_grad;
    model->eval();
    token_decoder decoder;
    decoder.decode = [](std::span<const int>) { return std::string{}; };
    decoder.decodable_vocab = vocab;
    generation_options options;
    options.sampling.greedy = true;
    options.max_new_tokens = s.new_tokens;
    options.stop_at_blank_line = false;
    llama_next_token_model student(model, 0);
    std::vector<std::vector<int>> prompts{random_ids(s.prompt, vocab, 7)};
    start = clock_type::now();
    auto generated = generate(student, decoder, prompts, options);
    const double took = seconds_since(start);
    if (!generated)
      throw std::runtime_error(generated.error().message);
    out["greedy_tokens"] = (*generated)[0][0].token_count;
    out["greedy_tokens_per_second"] = (*generated)[0][0].token_count / took;
  }

  if (s.train) {
    model->train();
    std::vector<tailored_example> examples(static_cast<std::size_t>(s.batch));
    for (std::size_t i = 0; i < examples.size(); ++i) {
      examples[i].prefix = random_ids(s.seq / 4, vocab, 100 + static_cast<std::uint32_t>(i));
      examples[i].target = random_ids(s.seq - s.seq / 4, vocab, 200 + static_cast<std::uint32_t>(i));
    }
    if (s.optimizer) {
      trainer_options options;
      options.total_steps = 10;
      auto made = trainer::create(model, options);
      if (!made)
        throw std::runtime_error(made.error().message);
      std::vector<double> steps;
      for (int i = 0; i < 2; ++i) { // the first step allocates AdamW's moments
        start = clock_type::now();
        auto stats = made->step(examples);
        if (!stats)
          throw std::runtime_error(stats.error().message);
        steps.push_back(seconds_since(start));
      }
      out["train_step_seconds"] = steps.back();
      out["first_train_step_seconds"] = steps.front();
    } else {
      auto batch = collate_tailored_batch(examples, 0, s.seq);
      start = clock_type::now();
      auto logits = model->forward(batch.input_ids).logits;
      auto loss = torch::nn::functional::cross_entropy(
          logits.flatten(0, 1), batch.input_ids.flatten(), torch::nn::functional::CrossEntropyFuncOptions());
      loss.backward();
      out["forward_backward_seconds"] = seconds_since(start);
    }
    out["rss_after_train_mb"] = peak_rss_mb();
  }
  out["threads"] = s.threads;
  std::cout << out.dump() << "\n";
  return 0;
} catch (const std::exception& error) {
  std::cerr << "real_size_bench: " << error.what() << "\n";
  return 1;
}
