// `tailor generate` and `tailor eval`: load a checkpoint, decode with it, grade it as METHOD.md's evaluation;
// `tailor model merge`: fold a checkpoint's LoRA adapters into its base.
#include "apps/tailor/model_commands.hpp"

#include "apps/tailor/command_guard.hpp"
#include "gpu/adapter_checkpoint.hpp"
#include "gpu/checkpoint.hpp"
#include "gpu/generation.hpp"
#include "gpu/lora.hpp"
#include "gpu/runtime.hpp"
#include "gpu/student_exam.hpp"
#include "io/common/atomic_file.hpp"
#include "io/data/answer_extraction.hpp"
#include "io/data/datasets.hpp"
#include "io/data/prompts.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unistd.h>
#include <unordered_set>

namespace tailor::cli {
namespace {

// Exit statuses, as the data commands use them: 1 when the work failed, 2 when the command line is wrong.
constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

int fail(const char* name, const std::string& message, int status = exit_failed) {
  std::cerr << "tailor " << name << ": " << message << "\n";
  return status;
}

// What both commands need to put a checkpoint on a device.
struct model_settings {
  std::filesystem::path checkpoint;
  std::string device = "auto";
  int threads = 0;
  std::string demos; // as a run config's prompts.demos: "" the task's, "none" no demos, else the demos
};

void add_model_options(CLI::App& command, model_settings& settings) {
  command
      .add_option("--checkpoint", settings.checkpoint,
                  "Checkpoint directory (config.json, weights, tokenizer.model)")
      ->required();
  // Only the spelling is checked here (a usage error); a GPU that is not there is a failure of the run.
  const CLI::Validator device_spelling{
      [](std::string& value) -> std::string {
        if (value == "cpu" || value == "cuda" || value == "auto")
          return {};
        const bool numbered = value.starts_with("cuda:") && value.size() > 5 &&
                              value.find_first_not_of("0123456789", 5) == std::string::npos;
        return numbered ? "" : "use cpu, cuda, cuda:N or auto, not `" + value + "`";
      },
      "cpu|cuda|cuda:N|auto"};
  command
      .add_option("--device", settings.device,
                  "Where to run: cpu, cuda, cuda:N or auto (a GPU when there is one)")
      ->capture_default_str()
      ->check(device_spelling);
  command.add_option("--threads", settings.threads, "LibTorch CPU threads; 0 keeps its default")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  // A student answers well only after the prefix it was trained with: a run's config.json has it.
  command.add_option("--demos", settings.demos,
                     "The few-shot demos before each question, as the student was trained (a run's "
                     "prompts.demos): `none` for none (the embedded default), the demos text, or empty for "
                     "the task's own");
}

result<gpu::loaded_checkpoint> open_checkpoint(const model_settings& settings) {
  auto device = gpu::resolve_device(settings.device);
  if (!device)
    return device.error();
  gpu::set_torch_threads(settings.threads);
  std::error_code error;
  if (!std::filesystem::is_directory(settings.checkpoint, error))
    return problem{
        "checkpoint directory " + settings.checkpoint.string() +
        (std::filesystem::exists(settings.checkpoint, error) ? " is not a directory" : " does not exist")};
  return gpu::load_checkpoint(settings.checkpoint, torch::Device{*device});
}

// ---- generate ------------------------------------------------------------------------------------------

struct generate_settings : model_settings {
  std::string prompt;
  std::string task; // when set, the prompt is a question wrapped in the student's prefix for this task
  bool greedy = false;
  int max_new_tokens = 128;
  double temperature = 1.0;
  int top_k = 0;
  double top_p = 1.0;
  int samples = 1;
  std::uint64_t seed = 0;
};

int generate_command(const generate_settings& settings) {
  std::string prompt = settings.prompt;
  if (!settings.task.empty()) {
    const auto task = parse_task_kind(settings.task);
    if (!task)
      return fail("generate",
                  "unknown task `" + settings.task + "`; valid tasks: " + std::string{task_kind_names()},
                  exit_usage);
    prompt = student_prefix(*task, settings.prompt, settings.demos);
  }
  auto loaded = open_checkpoint(settings);
  if (!loaded)
    return fail("generate", loaded.error().message);

  gpu::generation_options options;
  options.sampling = {settings.greedy, settings.temperature, settings.top_k, settings.top_p};
  options.max_new_tokens = settings.max_new_tokens;
  options.samples_per_prompt = settings.samples;
  options.seed = settings.seed;
  auto out = gpu::generate_text(loaded->model, loaded->tokenizer, {prompt}, options);
  if (!out)
    return fail("generate", out.error().message);
  const auto& samples = out->front();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    std::cout << "=== sample " << i + 1 << "/" << samples.size() << ": " << samples[i].token_count
              << " tokens, stopped at " << gpu::to_string(samples[i].stop) << " ===\n"
              << samples[i].text << "\n";
  }
  return exit_ok;
}

void add_generate(CLI::App& app) {
  auto settings = std::make_shared<generate_settings>();
  CLI::App* command = app.add_subcommand("generate", "Print a checkpoint's completions of a prompt");
  add_model_options(*command, *settings);
  command->add_option("--prompt", settings->prompt, "The text to continue (BOS is added)")->required();
  command->add_option("--task", settings->task,
                      "Treat the prompt as a question of this task and wrap it in the student's prefix");
  command->add_flag("--greedy", settings->greedy,
                    "Take the most likely token (the sampling options are ignored)");
  command->add_option("--max-new-tokens", settings->max_new_tokens, "Most tokens per completion")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--temperature", settings->temperature, "Sampling temperature; 0 is greedy")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--top-k", settings->top_k, "Sample among the k most likely tokens; 0: all")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option("--top-p", settings->top_p, "Sample among the fewest tokens whose probability reaches p")
      ->capture_default_str()
      ->check(CLI::Validator{[](std::string& value) -> std::string {
                               const double p = std::strtod(value.c_str(), nullptr);
                               return p > 0.0 && p <= 1.0 ? "" : "must be in (0, 1], not " + value;
                             },
                             "(0, 1]"});
  command->add_option("-n,--n", settings->samples, "Completions of the prompt")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--seed", settings->seed, "Sampling seed; the same seed gives the same completions")
      ->capture_default_str();
  command->callback([settings] { run_guarded("generate", [&] { return generate_command(*settings); }); });
}

// ---- eval ----------------------------------------------------------------------------------------------

struct eval_settings : model_settings {
  std::filesystem::path data;
  std::string task;
  int max_new_tokens = 0; // 0: the task's default
  int batch_size = 32;
  std::filesystem::path out;
};

int eval_command(const eval_settings& settings) {
  const auto task = parse_task_kind(settings.task);
  if (!task)
    return fail("eval",
                "unknown task `" + settings.task + "`; valid tasks: " + std::string{task_kind_names()},
                exit_usage);
  auto examples = load_dataset(settings.data, *task);
  if (!examples)
    return fail("eval", examples.error().message);
  // Accuracy is per unique question: a question that appears twice is asked and counted once.
  std::vector<example> questions;
  std::unordered_set<std::string> seen;
  for (auto& item : *examples)
    if (seen.insert(item.question).second)
      questions.push_back(std::move(item));
  if (questions.empty())
    return fail("eval", settings.data.string() + " holds no questions");
  // A predictions file that cannot be written is found before the model runs, not after.
  std::error_code error;
  if (const auto folder = settings.out.parent_path();
      !settings.out.empty() && !folder.empty() && !std::filesystem::is_directory(folder, error))
    return fail("eval", "cannot write " + settings.out.string() + ": no directory " + folder.string());
  auto loaded = open_checkpoint(settings);
  if (!loaded)
    return fail("eval", loaded.error().message);

  gpu::generation_options options;
  options.sampling.greedy = true;
  options.max_new_tokens =
      settings.max_new_tokens > 0 ? settings.max_new_tokens : gpu::default_max_new_tokens(*task);
  std::vector<std::vector<int>> prompts;
  for (const auto& item : questions)
    prompts.push_back(
        loaded->tokenizer.encode(student_prefix(*task, item.question, settings.demos), /*add_bos=*/true));
  // Longest prompts first: batches of similar lengths waste little on padding, and a batch too large for
  // the device fails at once rather than at the end.
  std::vector<std::size_t> order(questions.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return prompts[a].size() > prompts[b].size(); });

  std::vector<gpu::completion> answers(questions.size());
  std::size_t answered = 0, correct = 0, tokens = 0;
  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  const auto started = std::chrono::steady_clock::now();
  for (std::size_t first = 0; first < order.size(); first += settings.batch_size) {
    const std::size_t last = std::min(order.size(), first + settings.batch_size);
    std::vector<std::vector<int>> batch;
    for (std::size_t i = first; i < last; ++i)
      batch.push_back(prompts[order[i]]);
    auto out = gpu::generate(loaded->model, loaded->tokenizer, batch, options);
    if (!out)
      return fail("eval", out.error().message);
    for (std::size_t i = first; i < last; ++i) {
      auto& answer = answers[order[i]] = std::move((*out)[i - first].front());
      tokens += answer.token_count;
      correct += answer_matches(extract_answer(answer.text, *task), questions[order[i]].answer);
    }
    answered = last;
    std::cerr << (terminal ? "\r" : "") << "eval: " << answered << "/" << questions.size() << " questions, "
              << correct << " correct" << (terminal && answered < questions.size() ? "" : "\n") << std::flush;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double accuracy = static_cast<double>(correct) / static_cast<double>(questions.size());

  if (!settings.out.empty()) {
    auto predictions = nlohmann::json::array();
    for (std::size_t i = 0; i < questions.size(); ++i) {
      const auto predicted = extract_answer(answers[i].text, *task);
      predictions.push_back({{"id", questions[i].id},
                             {"question", questions[i].question},
                             {"gold", questions[i].answer},
                             {"generated", answers[i].text},
                             {"predicted", predicted},
                             {"correct", answer_matches(predicted, questions[i].answer)},
                             {"stop", gpu::to_string(answers[i].stop)}});
    }
    const nlohmann::json report{{"accuracy", accuracy},
                                {"correct", correct},
                                {"total", questions.size()},
                                {"task", to_string(*task)},
                                {"data", settings.data.string()},
                                {"checkpoint", settings.checkpoint.string()},
                                {"max_new_tokens", options.max_new_tokens},
                                {"predictions", std::move(predictions)}};
    // Invalid UTF-8 in generated text is replaced rather than aborting the dump after all that work.
    if (auto written = write_file_atomically(
            settings.out, report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
        !written)
      return fail("eval", written.error().message);
  }
  std::cout << "accuracy " << std::fixed << std::setprecision(4) << accuracy << " (" << correct << "/"
            << questions.size() << " questions) on " << settings.data.string() << ", task "
            << to_string(*task) << ", greedy, at most " << options.max_new_tokens << " new tokens; " << tokens
            << " tokens in " << std::setprecision(1) << seconds << " s\n";
  if (!settings.out.empty())
    std::cout << "predictions written to " << settings.out.string() << "\n";
  return exit_ok;
}

void add_eval(CLI::App& app) {
  auto settings = std::make_shared<eval_settings>();
  CLI::App* command = app.add_subcommand(
      "eval", "Greedy answers to a dataset's questions, graded: accuracy per unique question");
  add_model_options(*command, *settings);
  command->add_option("--data", settings->data, "The JSONL dataset to answer")->required();
  command->add_option("--task", settings->task, "One of: " + std::string(task_kind_names()))->required();
  command
      ->add_option("--max-new-tokens", settings->max_new_tokens,
                   "Most tokens per answer; 0: the task's (gsm8k 256, svamp/multiarith 192, csqa 96, "
                   "strategyqa 128, arith 128)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--batch-size", settings->batch_size, "Questions decoded together")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--out", settings->out, "Write accuracy and every prediction to this JSON file");
  command->callback([settings] { run_guarded("eval", [&] { return eval_command(*settings); }); });
}

// ---- model merge ---------------------------------------------------------------------------------------

struct merge_settings {
  std::filesystem::path adapter;
  std::filesystem::path out;
};

// The model with its adapters: a tailor checkpoint holds the base and the adapter in one directory; an
// adapter directory alone (as PEFT saves one) names its base in base_model_name_or_path, which must be a
// local checkpoint.
result<gpu::loaded_checkpoint> open_adapted(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(dir, error))
    return problem{"adapter directory " + dir.string() +
                   (fs::exists(dir, error) ? " is not a directory" : " does not exist")};
  const auto config_file = dir / "adapter_config.json";
  if (!fs::exists(config_file, error))
    return problem{dir.string() +
                   ": no adapter_config.json, so no LoRA adapter to merge (a checkpoint of a run "
                   "with student.lora has one)"};
  if (fs::exists(dir / "config.json", error))
    return gpu::load_checkpoint(dir, torch::kCPU);

  std::ifstream in{config_file};
  const auto config = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object())
    return problem{config_file.string() + ": not a JSON object"};
  const auto base = config.value("base_model_name_or_path", nlohmann::json{});
  if (!base.is_string() || !fs::is_directory(base.get<std::string>(), error))
    return problem{
        config_file.string() + ": `base_model_name_or_path` " +
        (base.is_string() ? "`" + base.get<std::string>() + "` is not a local directory" : "is missing") +
        ", and " + dir.string() + " holds no config.json of its own: tailor merges onto a local base"};
  auto loaded = gpu::load_checkpoint(base.get<std::string>(), torch::kCPU);
  if (!loaded)
    return loaded.error();
  if (gpu::has_lora(loaded->model))
    return problem{base.get<std::string>() + ": the base has LoRA adapters of its own; merge those first"};
  if (auto adapted = gpu::load_adapter(dir, loaded->model); !adapted)
    return adapted.error();
  return loaded;
}

int merge_command(const merge_settings& settings) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::exists(settings.out, error) &&
      fs::weakly_canonical(settings.out, error) == fs::weakly_canonical(settings.adapter, error))
    return fail("model merge",
                "--out must be another directory than ADAPTER_DIR: saving there would replace the adapter",
                exit_usage);
  auto loaded = open_adapted(settings.adapter);
  if (!loaded)
    return fail("model merge", loaded.error().message);
  const auto lora = gpu::lora_of(loaded->model);
  auto merged = gpu::merged_model(loaded->model);
  if (!merged)
    return fail("model merge", merged.error().message);
  if (auto saved = gpu::save_checkpoint(settings.out, *merged, loaded->tokenizer); !saved)
    return fail("model merge", saved.error().message);
  std::string targets;
  for (const auto& target : lora.targets)
    targets += (targets.empty() ? "" : ", ") + target;
  std::cout << "merged the rank-" << lora.rank << " adapters (alpha " << lora.alpha << ") on " << targets
            << " of " << settings.adapter.string() << " into " << settings.out.string()
            << " (float32 weights, no adapters)\n";
  return exit_ok;
}

} // namespace

void add_model_commands(CLI::App& app) {
  add_generate(app);
  add_eval(app);
}

void add_model_merge(CLI::App& model_group) {
  auto settings = std::make_shared<merge_settings>();
  CLI::App* command = model_group.add_subcommand(
      "merge",
      "Fold a checkpoint's LoRA adapters into its base: a plain checkpoint computing base + adapter");
  command
      ->add_option(
          "adapter_dir", settings->adapter,
          "A checkpoint with adapter_config.json (tailor's, or base + PEFT adapter), or a PEFT adapter "
          "directory whose base_model_name_or_path is a local checkpoint")
      ->required();
  command
      ->add_option("--out", settings->out, "Where to write the merged checkpoint (with the same tokenizer)")
      ->required();
  command->callback([settings] { run_guarded("model merge", [&] { return merge_command(*settings); }); });
}

} // namespace tailor::cli
