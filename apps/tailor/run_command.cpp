// `tailor run`: prepares the embedded default's data, prompts and tokenizer and checks them end to end.
// The student model and the tailored-learning loop build on this; until they exist, `run` stops after
// the preparation and says so.
#include "apps/tailor/run_command.hpp"

#include "gpu/runtime.hpp"
#include "gpu/tokenizer.hpp"
#include "io/answer_extraction.hpp"
#include "io/arith.hpp"
#include "io/datasets.hpp"
#include "io/prompts.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace tailor::cli {
namespace {

struct run_options {
  std::filesystem::path out = "runs/default";
  std::uint64_t seed = 1;
  std::size_t train_questions = 2000;
  std::size_t test_questions = 300;
};

// Writes `problems` as JSONL through a temporary file, so a crash never leaves half a dataset.
bool write_jsonl(const std::filesystem::path& file, const std::vector<arith_problem>& problems) {
  auto partial = file;
  partial += ".partial";
  {
    std::ofstream out{partial, std::ios::trunc};
    for (const auto& problem : problems)
      out << to_jsonl_record(problem).dump() << '\n';
    if (!out.flush())
      return false;
  }
  std::error_code ec;
  std::filesystem::rename(partial, file, ec);
  return !ec;
}

int fail(const std::string& message) {
  std::cerr << "tailor run: " << message << '\n';
  return 1;
}

int run_embedded_default(const run_options& options) {
  using clock = std::chrono::steady_clock;
  const auto started = clock::now();
  std::filesystem::create_directories(options.out);

  // 1. Data: disjoint train and test splits of the arith task, written as GSM8K-style JSONL.
  const auto train_file = options.out / "train.jsonl";
  const auto test_file = options.out / "test.jsonl";
  if (!write_jsonl(train_file, generate_arith(options.train_questions, options.seed, arith_split::train)) ||
      !write_jsonl(test_file, generate_arith(options.test_questions, options.seed, arith_split::test)))
    return fail("cannot write the datasets under " + options.out.string());

  // 2. Read them back the way any user dataset is read.
  auto train = load_dataset(train_file, task_kind::arith);
  auto test = load_dataset(test_file, task_kind::arith);
  if (!train)
    return fail(train.error().message);
  if (!test)
    return fail(test.error().message);

  // 3. The student's view: prompt prefixes and targets, and the grader agrees with every gold target.
  std::vector<std::string> corpus;
  std::size_t graded_correct = 0;
  for (const auto& example : train.value()) {
    auto prefix = student_prefix(example.task, example.question);
    auto target = student_target(example.task, example.gold_rationale, example.answer);
    graded_correct += answer_matches(extract_answer(target, example.task), example.answer) ? 1 : 0;
    corpus.push_back("Question: " + example.question + "\nReasoning: " + target);
  }
  const std::string demos{default_demos(task_kind::arith)};
  corpus.push_back(demos);

  // 4. A tokenizer for the student, trained on that text.
  auto tokenizer = gpu::train_tokenizer(corpus);
  if (!tokenizer)
    return fail(tokenizer.error().message);
  if (auto saved = tokenizer->save(options.out / "tokenizer.model"); !saved)
    return fail(saved.error().message);
  std::size_t tokens = 0;
  for (std::size_t i = 0; i + 1 < corpus.size(); ++i)
    tokens += tokenizer->encode(corpus[i], true, true).size();

  const auto runtime = gpu::describe_runtime();
  const auto device = gpu::resolve_device("auto");
  const double seconds = std::chrono::duration<double>(clock::now() - started).count();

  std::printf("tailor run: embedded default (task arith, built-in teacher, tiny student)\n\n");
  std::printf("  %-28s %zu train / %zu test (disjoint), %s\n", "questions", train->size(), test->size(),
              options.out.c_str());
  std::printf("  %-28s %zu / %zu\n", "gold targets graded correct", graded_correct, train->size());
  std::printf("  %-28s vocab %d, %.1f tokens per question + rationale\n", "tokenizer",
              tokenizer->vocab_size(), static_cast<double>(tokens) / static_cast<double>(train->size()));
  std::printf("  %-28s LibTorch %s on %s, %d thread(s)%s\n", "student device", runtime.torch_version.c_str(),
              device ? device->c_str() : "?", runtime.threads, runtime.cuda_built ? ", CUDA build" : "");
  std::printf("  %-28s %.1f s\n\n", "wall time", seconds);
  std::printf("The student model and the tailored-learning loop are not built yet: this run stops after\n"
              "preparing and checking the data, prompts and tokenizer.\n");
  return graded_correct == train->size() ? 0 : 1;
}

} // namespace

void add_run_command(CLI::App& app) {
  auto options = std::make_shared<run_options>();
  auto* run = app.add_subcommand("run", "run a tailored-learning job (no config: the embedded default)");
  run->add_option("--out", options->out, "run directory")->capture_default_str();
  run->add_option("--seed", options->seed, "seed of the generated data")->capture_default_str();
  run->add_option("--train-questions", options->train_questions, "size of the training pool")
      ->capture_default_str();
  run->add_option("--test-questions", options->test_questions, "size of the held-out set")->capture_default_str();
  run->callback([options] {
    if (int status = run_embedded_default(*options); status != 0)
      throw CLI::RuntimeError{status};
  });
}

} // namespace tailor::cli
