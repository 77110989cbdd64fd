// The student's side of the student benchmark: training and sampling throughput of a tiny LLaMA in LibTorch.
// Run by bench/student_bench.py, which runs the PyTorch baselines the same way and prints the comparison.
// Prints one JSON object: the measurement, the thread count and the process's peak RSS.
#include "gpu/autocast.hpp"
#include "gpu/generation.hpp"
#include "gpu/llama_model.hpp"
#include "gpu/losses.hpp"
#include "gpu/runtime.hpp"
#include "gpu/train_step.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <time.h>
#include <vector>

using namespace tailor;
using namespace tailor::gpu;
using clock_type = std::chrono::steady_clock;

namespace {

// The benchmark's shape; bench/student_bench.py passes the same numbers to the baselines.
struct settings {
  std::string mode = "train"; // train | profile | generate | generate-profile
  std::string device = "cpu"; // cpu | cuda (bf16 autocast there, as tailor trains and samples on a GPU)
  int threads = 1;
  int dim = 256, layers = 4, heads = 4, intermediate = 688, vocab = 384;
  int batch = 16, seq = 256, prefix = 64;
  int steps = 5, warmup = 2;
  int prompt = 64, new_tokens = 128, top_k = 50, repeats = 3;
};

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view key = argv[i];
    const std::string value = argv[i + 1];
    if (key == "--mode")
      s.mode = value;
    else if (key == "--device")
      s.device = value;
    else {
      int* fields[] = {&s.threads, &s.dim,    &s.layers,     &s.heads,  &s.intermediate,
                       &s.vocab,   &s.batch,  &s.seq,        &s.prefix, &s.steps,
                       &s.warmup,  &s.prompt, &s.new_tokens, &s.top_k,  &s.repeats};
      const char* names[] = {"--threads", "--dim",    "--layers",     "--heads",  "--intermediate",
                             "--vocab",   "--batch",  "--seq",        "--prefix", "--steps",
                             "--warmup",  "--prompt", "--new-tokens", "--top-k",  "--repeats"};
      bool known = false;
      for (std::size_t f = 0; f < std::size(names); ++f)
        if (key == names[f]) {
          *fields[f] = std::stoi(value);
          known = true;
        }
      if (!known)
        throw std::invalid_argument("unknown option " + std::string{key});
    }
  }
  return s;
}

llama_config bench_config(const settings& s) {
  llama_config c;
  c.hidden_size = s.dim;
  c.num_hidden_layers = s.layers;
  c.num_attention_heads = s.heads;
  c.num_key_value_heads = s.heads;
  c.head_dim = s.dim / s.heads;
  c.intermediate_size = s.intermediate;
  c.vocab_size = s.vocab;
  c.max_position_embeddings = std::max(512, s.seq);
  return c;
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss; // kilobytes on Linux
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const auto n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Waits for the GPU's queued work, so that a host clock read after it counts that work.
void synchronize(bool on_gpu) {
  if (on_gpu)
    torch::cuda::synchronize();
}

// CPU time of the whole process: on a shared machine it counts the work, not the waiting for a core.
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Random tokens (ids 3.. so that BOS/EOS only appear where placed): BOS + prefix, target + EOS.
std::vector<tailored_example> bench_batch(const settings& s) {
  std::mt19937 rng(0);
  std::uniform_int_distribution<int> token(3, s.vocab - 1);
  std::vector<tailored_example> out(s.batch);
  for (auto& e : out) {
    e.prefix.push_back(1);
    for (int i = 1; i < s.prefix; ++i)
      e.prefix.push_back(token(rng));
    for (int i = s.prefix; i < s.seq - 1; ++i)
      e.target.push_back(token(rng));
    e.target.push_back(2);
  }
  return out;
}

trainer_options bench_trainer_options(const settings& s) {
  trainer_options o;
  o.optimizer.learning_rate = 1e-3;
  o.optimizer.warmup_steps = 0;
  o.optimizer.schedule = lr_schedule::constant;
  o.optimizer.grad_clip = 1.0;
  o.device = s.device;
  return o;
}

nlohmann::json run_train(const settings& s) {
  torch::manual_seed(0);
  auto made = trainer::create(llama_for_causal_lm(bench_config(s)), bench_trainer_options(s));
  if (!made)
    throw std::runtime_error(made.error().message);
  auto& t = made.value();
  const auto examples = bench_batch(s);
  std::vector<double> times, cpu_times;
  double first_loss = 0, last_loss = 0;
  for (int i = 0; i < s.warmup + s.steps; ++i) {
    const auto start = clock_type::now();
    const double cpu_start = process_cpu_seconds();
    auto stats = t.step(examples);
    if (!stats)
      throw std::runtime_error(stats.error().message);
    if (i >= s.warmup) {
      times.push_back(seconds_since(start));
      cpu_times.push_back(process_cpu_seconds() - cpu_start);
    }
    (i == 0 ? first_loss : last_loss) = stats->lm_loss;
  }
  const double step_s = median(times), step_cpu_s = median(cpu_times);
  return {{"step_seconds", step_s},
          {"step_cpu_seconds", step_cpu_s},
          {"tokens_per_second", s.batch * s.seq / step_s},
          {"tokens_per_cpu_second", s.batch * s.seq / step_cpu_s},
          {"first_loss", first_loss},
          {"last_loss", last_loss}};
}

// The step's phases timed one by one (the trainer runs them fused): where does the time go?
nlohmann::json run_profile(const settings& s) {
  torch::manual_seed(0);
  auto made = trainer::create(llama_for_causal_lm(bench_config(s)), bench_trainer_options(s));
  if (!made)
    throw std::runtime_error(made.error().message);
  auto model = made->model();
  auto& optimizer = made->optimizer();
  auto batch = collate_tailored_batch(bench_batch(s), 2).to(torch::Device{s.device});
  const bool on_gpu = s.device != "cpu";
  std::vector<double> forward, backward, update;
  for (int i = 0; i < s.warmup + s.steps; ++i) {
    optimizer.zero_grad();
    auto t0 = clock_type::now();
    tailored_loss loss;
    {
      cuda_autocast_scope autocast(on_gpu);
      loss = tailored_learning_loss(model, batch);
    }
    synchronize(on_gpu);
    auto t1 = clock_type::now();
    loss.total.backward();
    synchronize(on_gpu);
    auto t2 = clock_type::now();
    torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
    optimizer.step();
    synchronize(on_gpu);
    auto t3 = clock_type::now();
    if (i < s.warmup)
      continue;
    forward.push_back(std::chrono::duration<double>(t1 - t0).count());
    backward.push_back(std::chrono::duration<double>(t2 - t1).count());
    update.push_back(std::chrono::duration<double>(t3 - t2).count());
  }
  return {{"forward_seconds", median(forward)},
          {"backward_seconds", median(backward)},
          {"optimizer_seconds", median(update)}};
}

// Adds the wall time from its construction to its end to `total`.
struct stopwatch {
  double& total;
  clock_type::time_point start = clock_type::now();
  ~stopwatch() { total += seconds_since(start); }
};

// The student as the decoding loop sees it, with the time spent in each of its calls: what is left of a run
// is the loop's own work (sampling, stop checks).
class timed_model : public next_token_model {
public:
  explicit timed_model(next_token_model& inner) : inner_(inner) {}
  torch::Tensor start(const std::vector<std::vector<int>>& prompts) override {
    stopwatch watch{prefill_seconds};
    return inner_.start(prompts);
  }
  void select_rows(const torch::Tensor& rows) override {
    stopwatch watch{step_seconds};
    inner_.select_rows(rows);
  }
  torch::Tensor step(const torch::Tensor& tokens) override {
    stopwatch watch{step_seconds};
    return inner_.step(tokens);
  }
  void reserve(int new_tokens) override { inner_.reserve(new_tokens); }
  double prefill_seconds = 0, step_seconds = 0;

private:
  next_token_model& inner_;
};

// --mode generate: tokens per second of the whole run. --mode generate-profile: the same runs, split into
// prefill, decoding steps and the loop's own work (sampling, stop checks), in seconds per run.
nlohmann::json run_generate(const settings& s) {
  torch::manual_seed(0);
  llama_for_causal_lm model(bench_config(s));
  model->to(torch::Device{s.device});
  model->eval();
  cuda_autocast_scope autocast(s.device != "cpu");
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> token(3, s.vocab - 1);
  std::vector<std::vector<int>> prompts(s.batch);
  for (auto& p : prompts) {
    p.push_back(1);
    for (int i = 1; i < s.prompt; ++i)
      p.push_back(token(rng));
  }
  // No EOS and no blank-line stop: every row runs all new tokens, as the baseline does with eos unset.
  token_decoder decoder;
  decoder.decode = [](std::span<const int>) { return std::string{}; };
  generation_options options;
  options.sampling = {.greedy = false, .temperature = 1.0, .top_k = s.top_k};
  options.max_new_tokens = s.new_tokens;
  options.stop_at_blank_line = false;
  const bool profile = s.mode == "generate-profile";
  std::vector<double> times, cpu_times, prefill, steps, loop;
  std::int64_t generated = 0;
  for (int r = 0; r < s.repeats + 1; ++r) { // the first run warms up
    torch::NoGradGuard no_grad;
    llama_next_token_model student(model, 2);
    timed_model timed(student);
    next_token_model& run_model = profile ? static_cast<next_token_model&>(timed) : student;
    options.seed = static_cast<std::uint64_t>(r);
    const auto start = clock_type::now();
    const double cpu_start = process_cpu_seconds();
    auto out = generate(run_model, decoder, prompts, options);
    const double took = seconds_since(start), cpu_took = process_cpu_seconds() - cpu_start;
    if (!out)
      throw std::runtime_error(out.error().message);
    if (r == 0)
      continue;
    times.push_back(took);
    cpu_times.push_back(cpu_took);
    prefill.push_back(timed.prefill_seconds);
    steps.push_back(timed.step_seconds);
    loop.push_back(took - timed.prefill_seconds - timed.step_seconds);
    generated = 0;
    for (const auto& per_prompt : *out)
      for (const auto& c : per_prompt)
        generated += c.token_count;
  }
  const double run_s = median(times), run_cpu_s = median(cpu_times);
  nlohmann::json out = {{"run_seconds", run_s},
                        {"run_cpu_seconds", run_cpu_s},
                        {"tokens", generated},
                        {"tokens_per_second", generated / run_s},
                        {"tokens_per_cpu_second", generated / run_cpu_s}};
  if (profile) {
    out["prefill_seconds"] = median(prefill);
    out["decode_steps_seconds"] = median(steps);
    out["sampling_loop_seconds"] = median(loop);
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  try {
    const auto s = parse(argc, argv);
    const int threads = set_torch_threads(s.threads);
    nlohmann::json out;
    if (s.mode == "train")
      out = run_train(s);
    else if (s.mode == "profile")
      out = run_profile(s);
    else if (s.mode == "generate" || s.mode == "generate-profile")
      out = run_generate(s);
    else
      throw std::invalid_argument("unknown mode " + s.mode + " (train, profile, generate, generate-profile)");
    out["mode"] = s.mode;
    out["threads"] = threads;
    out["peak_rss_mb"] = peak_rss_kb() / 1024.0;
    std::cout << out.dump() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "student_bench: " << e.what() << "\n";
    return 1;
  }
}
