// The exam benchmark: tailor's continuous sampler against its static batches and transformers' generate.
// Scenarios: the embedded default's trained student on its own questions (its own stops), and random models
// of its size and of Qwen2.5-0.5B's whose rows stop at lengths drawn from that student's. Prints
// `name value baseline ratio` lines, then `exam_continuous_vs_static R` and `exam_vs_transformers R`, and
// writes bench/results/exam_bench.json. bench/exam_bench.py runs the transformers side.
#include "bench/exam_forced_stops.hpp"
#include "bench/python_child.hpp"
#include "bench/exam_scenarios.hpp"
#include "gpu/autocast.hpp"
#include "gpu/checkpoint.hpp"
#include "gpu/continuous_sampler.hpp"
#include "gpu/runtime.hpp"
#include "io/data/arith.hpp"
#include "io/data/prompts.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <time.h>
#include <unistd.h>

using namespace tailor;
using namespace tailor::gpu;
using namespace tailor::bench;
namespace fs = std::filesystem;

namespace {

struct settings {
  bool quick = false;
  std::string device = "cpu"; // cuda: both sides on the GPU under bf16 autocast, as the exam runs there
  int threads = 1, repeats = 3;
  fs::path checkpoint = fs::path(TAILOR_SOURCE_DIR) / "runs" / "default" / "checkpoints" / "round-3";
  std::vector<std::string> scenarios = {"student", "student-size", "qwen0.5b-size"};
  std::string python = TAILOR_PYTHON;
  bool with_python = true;
  bool measure_stops = false;
  fs::path results = fs::path(TAILOR_SOURCE_DIR) / "bench" / "results";
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const auto n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

generation_options exam_generation(const scenario& s, std::uint64_t seed) {
  generation_options options;
  options.sampling = {.greedy = false, .temperature = 1.0, .top_k = s.top_k, .top_p = 1.0};
  options.max_new_tokens = s.max_new_tokens;
  options.samples_per_prompt = s.samples;
  options.seed = seed;
  return options;
}

struct exam_run {
  double seconds = 0, cpu_seconds = 0;
  std::int64_t tokens = 0;
  std::vector<std::vector<int>> lengths; // per prompt, per sample: token_count
  bench::call_times times;               // where the seconds went: the rest is sampling and stop checks
};

// Seconds of one run in prefill (with the slots' loads), decoding steps and the loop's own work.
nlohmann::json split_of(const exam_run& run) {
  const auto& t = run.times;
  return {{"prefill", t.prefill_seconds},
          {"steps", t.step_seconds},
          {"loop", run.seconds - t.prefill_seconds - t.step_seconds},
          {"decoding_steps", t.steps},
          {"row_steps", t.row_steps}};
}

void count(exam_run& run, std::size_t prompt, const prompt_completions& answers) {
  run.lengths[prompt].clear();
  for (const auto& answer : answers) {
    run.tokens += answer.token_count;
    run.lengths[prompt].push_back(answer.token_count);
  }
}

// Today's continuous exam: every prompt through slots of batch x samples rows.
exam_run run_continuous(scenario& s, std::uint64_t seed) {
  exam_run run;
  run.lengths.resize(s.prompts.size());
  continuous_options continuous;
  continuous.slots = s.batch * s.samples;
  continuous.order = longest_first(s.prompts);
  llama_slot_model student{s.model, 0};
  std::optional<bench::forced_slot_model> forced;
  if (s.stops)
    forced.emplace(student, *s.stops);
  bench::timed_slot_model timed{forced ? static_cast<slot_model&>(*forced) : student, run.times};
  slot_model& model = timed;
  const auto start = std::chrono::steady_clock::now();
  const double cpu = process_cpu_seconds();
  auto out = generate_continuous(model, s.decoder, s.prompts, exam_generation(s, seed), continuous);
  run.seconds = seconds_since(start);
  run.cpu_seconds = process_cpu_seconds() - cpu;
  if (!out)
    throw std::runtime_error(out.error().message);
  for (std::size_t p = 0; p < out->size(); ++p)
    count(run, p, (*out)[p]);
  return run;
}

// The exam before continuous batching: chunks of `batch` prompts, each decoded by generate() until its
// slowest row stops.
exam_run run_static(scenario& s, std::uint64_t seed) {
  exam_run run;
  run.lengths.resize(s.prompts.size());
  const auto order = longest_first(s.prompts);
  const auto start = std::chrono::steady_clock::now();
  const double cpu = process_cpu_seconds();
  for (std::size_t first = 0; first < order.size(); first += static_cast<std::size_t>(s.batch)) {
    const auto last = std::min(order.size(), first + static_cast<std::size_t>(s.batch));
    std::vector<std::vector<int>> chunk;
    for (std::size_t i = first; i < last; ++i)
      chunk.push_back(s.prompts[order[i]]);
    llama_next_token_model student{s.model, 0};
    std::optional<bench::forced_next_token_model> forced;
    if (s.stops)
      forced.emplace(student, *s.stops);
    bench::timed_next_token_model timed{forced ? static_cast<next_token_model&>(*forced) : student,
                                        run.times};
    next_token_model& model = timed;
    auto out = generate(model, s.decoder, chunk, exam_generation(s, seed + first));
    if (!out)
      throw std::runtime_error(out.error().message);
    for (std::size_t i = first; i < last; ++i)
      count(run, order[i], (*out)[i - first]);
  }
  run.seconds = seconds_since(start);
  run.cpu_seconds = process_cpu_seconds() - cpu;
  return run;
}

// transformers' generate over the same chunks, each row forced to end where tailor's continuous row ended.
nlohmann::json run_transformers(const settings& chosen, const scenario& s,
                                const std::vector<std::vector<int>>& lengths) {
  const auto job = fs::temp_directory_path() / ("exam_bench_job_" + std::to_string(::getpid()) + ".json");
  nlohmann::json spec = {
      {"model", s.model_for_python},        {"prompts", s.prompts},     {"targets", lengths},
      {"order", longest_first(s.prompts)},      {"samples", s.samples},     {"batch", s.batch},
      {"max_new_tokens", s.max_new_tokens}, {"top_k", s.top_k},         {"eos", 2},
      {"threads", chosen.threads}, {"device", chosen.device},          {"repeats", chosen.repeats}};
  std::ofstream(job) << spec.dump();
  const auto script = fs::path(TAILOR_SOURCE_DIR) / "bench" / "exam_bench.py";
  const std::string command = "OMP_NUM_THREADS=" + std::to_string(chosen.threads) +
                              " MKL_NUM_THREADS=" + std::to_string(chosen.threads) + " " + chosen.python +
                              " " + script.string() + " --job " + job.string();
  auto parsed = bench::json_of_command(command);
  fs::remove(job);
  if (parsed.empty()) {
    std::cerr << "exam_bench: the transformers baseline failed (" << command << ")\n";
    return nlohmann::json::object();
  }
  return parsed;
}

struct line {
  std::string name;
  double value, baseline;
};

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc)
        throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--quick") {
      s.quick = true;
      s.repeats = 2;
      s.scenarios = {"student-size"};
    } else if (a == "--threads")
      s.threads = std::stoi(next());
    else if (a == "--repeats")
      s.repeats = std::stoi(next());
    else if (a == "--checkpoint")
      s.checkpoint = next();
    else if (a == "--device")
      s.device = next();
    else if (a == "--scenarios") {
      s.scenarios.clear();
      std::stringstream list(next());
      for (std::string item; std::getline(list, item, ',');)
        s.scenarios.push_back(item);
    } else if (a == "--python")
      s.python = next();
    else if (a == "--no-python")
      s.with_python = false;
    else if (a == "--measure-stops")
      s.measure_stops = true;
    else if (a == "--results")
      s.results = next();
    else
      throw std::invalid_argument(
          "usage: exam_bench [--quick] [--scenarios student,student-size,qwen0.5b-size] "
          "[--checkpoint DIR] [--device cpu|cuda] [--threads N] [--repeats N] [--no-python] "
          "[--python PATH] [--results DIR] [--measure-stops]");
  }
  return s;
}

} // namespace

int main(int argc, char** argv) {
  try {
    const auto chosen = parse(argc, argv);
    const int threads = set_torch_threads(chosen.threads);
    torch::InferenceMode inference;
    const bool on_gpu = chosen.device != "cpu";
    cuda_autocast_scope autocast(on_gpu); // and so bf16 keys and values in the slots
    std::optional<loaded_checkpoint> student;
    if (chosen.measure_stops) {
      auto s = make_scenario("student", false, chosen.checkpoint, student);
      if (!s)
        return 1;
      std::map<int, int> histogram;
      for (const auto& lengths : run_continuous(*s, 1).lengths)
        for (int length : lengths)
          ++histogram[length];
      for (const auto& [length, answers] : histogram)
        std::cout << "{" << length << ", " << answers << "}, ";
      std::cout << "\n";
      return 0;
    }
    std::vector<line> lines;
    nlohmann::json report = {{"benchmark", "exam"},
                             {"threads", threads},
                             {"repeats", chosen.repeats},
                             {"quick", chosen.quick},
                             {"scenarios", nlohmann::json::array()}};
    double headline_static = 0, headline_transformers = 0;
    for (const auto& name : chosen.scenarios) {
      auto s = make_scenario(name, chosen.quick, chosen.checkpoint, student);
      if (!s)
        continue;
      s->model->to(torch::Device{chosen.device});
      run_continuous(*s, 99); // warm-up: allocator, kernels, the checkpoint's pages
      std::vector<double> continuous_s, static_s;
      exam_run continuous, fixed;
      for (int r = 0; r < chosen.repeats; ++r) { // alternating, so that a noisy neighbour hurts both alike
        continuous = run_continuous(*s, static_cast<std::uint64_t>(r));
        fixed = run_static(*s, static_cast<std::uint64_t>(r));
        continuous_s.push_back(continuous.seconds);
        static_s.push_back(fixed.seconds);
      }
      const double questions = static_cast<double>(s->prompts.size());
      const double c_qps = questions / median(continuous_s), s_qps = questions / median(static_s);
      const double c_tps = continuous.tokens / median(continuous_s), s_tps = fixed.tokens / median(static_s);
      const std::string tag = "[" + name + "]";
      lines.push_back({"exam_continuous_questions_per_s" + tag, c_qps, s_qps});
      lines.push_back({"exam_continuous_tokens_per_s" + tag, c_tps, s_tps});
      // Where a step costs the same whatever its rows (a launch-bound GPU), time goes as the steps: the
      // static batches' steps over the continuous ones is then the speed-up.
      lines.push_back({"exam_static_over_continuous_steps" + tag, static_cast<double>(fixed.times.steps),
                       static_cast<double>(continuous.times.steps)});
      nlohmann::json entry = {{"name", name},
                              {"questions", s->prompts.size()},
                              {"samples", s->samples},
                              {"batch", s->batch},
                              {"continuous_seconds", continuous_s},
                              {"static_seconds", static_s},
                              {"continuous_tokens", continuous.tokens},
                              {"static_tokens", fixed.tokens},
                              {"continuous_split", split_of(continuous)},
                              {"static_split", split_of(fixed)}};
      std::printf("# %s, last run: continuous %s; static %s\n", name.c_str(),
                  split_of(continuous).dump().c_str(), split_of(fixed).dump().c_str());
      double t_qps = 0;
      if (chosen.with_python) {
        auto hf = run_transformers(chosen, *s, continuous.lengths);
        if (hf.contains("seconds")) {
          const double t_s = median(hf["seconds"].get<std::vector<double>>());
          t_qps = questions / t_s;
          lines.push_back({"exam_vs_transformers_questions_per_s" + tag, c_qps, t_qps});
          lines.push_back(
              {"exam_vs_transformers_tokens_per_s" + tag, c_tps, hf["tokens"].get<double>() / t_s});
          lines.push_back({"exam_static_vs_transformers_questions_per_s" + tag, s_qps, t_qps});
          entry["transformers"] = hf;
        }
      }
      report["scenarios"].push_back(entry);
      if (headline_static == 0) { // the first scenario that ran: the student's own exam when it could
        headline_static = c_qps / s_qps;
        headline_transformers = t_qps > 0 ? c_qps / t_qps : 0;
      }
    }
    std::printf("# exam benchmark: %d thread(s), median of %d alternating runs, questions/s and tokens/s\n",
                threads, chosen.repeats);
    std::printf("%-52s %12s %12s %8s\n", "name", "value", "baseline", "ratio");
    report["results"] = nlohmann::json::array();
    for (const auto& l : lines) {
      std::printf("%-52s %12.2f %12.2f %8.3f\n", l.name.c_str(), l.value, l.baseline, l.value / l.baseline);
      report["results"].push_back(
          {{"name", l.name}, {"value", l.value}, {"baseline", l.baseline}, {"ratio", l.value / l.baseline}});
    }
    std::printf("exam_continuous_vs_static %.3f\n", headline_static);
    std::printf("exam_vs_transformers %.3f\n", headline_transformers);
    std::error_code error;
    fs::create_directories(chosen.results, error);
    const auto file = chosen.results / (chosen.quick ? "exam_bench_quick.json" : "exam_bench.json");
    std::ofstream(file) << report.dump(2) << "\n";
    std::cout << "# written " << file.string() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "exam_bench: " << e.what() << "\n";
    return 1;
  }
}
