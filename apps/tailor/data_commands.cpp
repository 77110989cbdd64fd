// `tailor data generate|check`: make datasets and check them before a run spends money on them.
#include "apps/tailor/data_commands.hpp"

#include "io/data/arith.hpp"
#include "io/data/datasets.hpp"
#include "io/common/jsonl.hpp"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

namespace tailor::cli {
namespace {

// Exit statuses, so that a script can tell a bad dataset (1) from a bad command line (2).
constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

struct generate_settings {
  std::string task;
  std::size_t count = 2000;
  std::uint64_t seed = 1;
  std::filesystem::path out;
  std::string split = "train";
  arith_options options;
};

struct check_settings {
  std::filesystem::path file;
  std::string task;
  std::size_t max_problems = 10;
};

// Runs a command's body inside CLI11's callback: whatever goes wrong ends as a message on stderr and an
// exit status (CLI::RuntimeError is how CLI11 lets a callback choose main's return value), never as an
// exception out of main.
template <class Body>
void run_guarded(const char* name, Body body) {
  int status = exit_failed;
  try {
    status = body();
  } catch (const std::exception& error) {
    std::cerr << "tailor data " << name << ": " << error.what() << "\n";
  }
  if (status != exit_ok)
    throw CLI::RuntimeError(status);
}

// Writes next to `out` and renames over it, so that a crash or a full disk never leaves half a dataset
// where a run would read it.
status write_jsonl_atomically(const std::filesystem::path& out, const std::vector<arith_problem>& problems) {
  auto temporary = out;
  temporary += ".tmp-" + std::to_string(::getpid());
  const auto failed = [&](const std::string& what) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    return problem{what};
  };
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (!file)
      return failed("cannot write " + out.string() + ": " + std::strerror(errno));
    for (const arith_problem& item : problems)
      file << to_jsonl_record(item).dump() << '\n';
    file.flush();
    if (!file)
      return failed("cannot write " + temporary.string() + " (for " + out.string() +
                    "): " + std::strerror(errno));
  }
  std::error_code error;
  std::filesystem::rename(temporary, out, error);
  if (error)
    return failed("cannot rename " + temporary.string() + " to " + out.string() + ": " + error.message());
  return ok_status();
}

int generate(const generate_settings& settings) {
  if (settings.task != "arith") {
    std::cerr << "tailor data generate: cannot generate task `" << settings.task
              << "`; the only generated task is arith (the others are datasets to download)\n";
    return exit_usage;
  }
  if (const status checked = check_arith_options(settings.options); !checked) {
    std::cerr << "tailor data generate: " << checked.error().message << "\n";
    return exit_usage;
  }
  const arith_split split = settings.split == "test" ? arith_split::test : arith_split::train;
  const auto problems = generate_arith(settings.count, settings.seed, split, settings.options);
  if (problems.size() < settings.count) {
    std::cerr << "tailor data generate: these options give only " << problems.size() << " distinct "
              << settings.split << " problems, not " << settings.count
              << "; raise --max-operand, --max-factor or --max-operations, or ask for fewer\n";
    return exit_failed;
  }
  if (const status written = write_jsonl_atomically(settings.out, problems); !written) {
    std::cerr << "tailor data generate: " << written.error().message << "\n";
    return exit_failed;
  }
  std::map<std::size_t, std::size_t> by_operations;
  for (const arith_problem& item : problems)
    ++by_operations[item.steps.size()];
  std::cout << "wrote " << problems.size() << " " << settings.split << " problems to "
            << settings.out.string() << " (seed " << settings.seed << ")\noperations:";
  for (const auto& [operations, count] : by_operations)
    std::cout << " " << operations << ": " << count;
  std::cout << "\n";
  return exit_ok;
}

// The gsm8k-form check cannot see arith's solution steps; the built-in teacher relies on them, so a clean
// arith file is read once more for steps that are exact and agree with the answer.
void check_arith_steps(const std::filesystem::path& file, dataset_report& report, std::size_t max_problems) {
  const status read = for_each_jsonl_record(file, [&](result<jsonl_record> record) {
    if (!record)
      return; // already reported by check_dataset
    if (auto parsed = parse_arith_record(record->object); !parsed) {
      if (report.problems.size() < max_problems)
        report.problems.push_back(file.string() + ":" + std::to_string(record->line) + ": " +
                                  parsed.error().message);
      ++report.problem_count;
      --report.examples;
    }
  });
  if (!read) {
    report.problems.push_back(read.error().message);
    ++report.problem_count;
  }
}

int check(const check_settings& settings) {
  const auto task = parse_task_kind(settings.task);
  if (!task) {
    std::cerr << "tailor data check: unknown task `" << settings.task
              << "`; valid tasks: " << task_kind_names() << "\n";
    return exit_usage;
  }
  std::error_code error;
  if (!std::filesystem::is_regular_file(settings.file, error)) {
    std::cerr << "tailor data check: " << settings.file.string() << " is not a readable file\n";
    return exit_usage;
  }
  dataset_report report = check_dataset(settings.file, *task, settings.max_problems);
  if (*task == task_kind::arith && report.problem_count == 0)
    check_arith_steps(settings.file, report, settings.max_problems);

  std::cout << settings.file.string() << ": " << report.lines << " lines, " << report.examples
            << " examples, " << report.problem_count << (report.problem_count == 1 ? " problem" : " problems")
            << "\n";
  for (const std::string& problem : report.problems)
    std::cout << "  " << problem << "\n";
  if (report.problem_count > report.problems.size())
    std::cout << "  ... and " << report.problem_count - report.problems.size() << " more\n";
  return report.problem_count == 0 ? exit_ok : exit_failed;
}

void add_generate(CLI::App& data) {
  auto settings = std::make_shared<generate_settings>();
  CLI::App* command = data.add_subcommand("generate", "Write a generated dataset as GSM8K-style JSONL");
  command->add_option("task", settings->task, "What to generate: arith")->required();
  command->add_option("-n,--n", settings->count, "How many distinct problems")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--seed", settings->seed, "Random seed; the same seed writes the same file")
      ->capture_default_str();
  command
      ->add_option("-o,--out", settings->out, "The JSONL file to write (replaced whole, never half-written)")
      ->required();
  command
      ->add_option("--split", settings->split,
                   "train or test; the two never share a problem, whatever their seeds")
      ->capture_default_str()
      ->check(CLI::IsMember({"train", "test"}));
  command
      ->add_option("--min-operations", settings->options.min_operations,
                   "Fewest operations in a problem (each problem draws its count uniformly)")
      ->capture_default_str();
  command
      ->add_option("--max-operations", settings->options.max_operations,
                   "Most operations in a problem (<= 8)")
      ->capture_default_str();
  command
      ->add_option("--max-operand", settings->options.max_operand,
                   "Largest starting quantity and operand of + and -")
      ->capture_default_str();
  command->add_option("--max-factor", settings->options.max_factor, "Largest multiplier and divisor (>= 2)")
      ->capture_default_str();
  command->callback([settings] { run_guarded("generate", [&] { return generate(*settings); }); });
}

void add_check(CLI::App& data) {
  auto settings = std::make_shared<check_settings>();
  CLI::App* command = data.add_subcommand(
      "check", "Read a dataset as a task and list its problems (exit 0: clean, 1: problems, 2: usage)");
  command->add_option("file", settings->file, "The JSONL file to check")->required();
  command->add_option("--task", settings->task, "One of: " + std::string(task_kind_names()))->required();
  command->add_option("--max-problems", settings->max_problems, "How many problems to list")
      ->capture_default_str();
  command->callback([settings] { run_guarded("check", [&] { return check(*settings); }); });
}

} // namespace

void add_data_commands(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Generate and check datasets");
  data->require_subcommand(1);
  add_generate(*data);
  add_check(*data);
}

} // namespace tailor::cli
