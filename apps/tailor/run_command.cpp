// `tailor run [CONFIG]`: a tailored-learning job in this process, with live progress and a results table.
// With no config: the embedded default (arith, built-in teacher, tiny student on the CPU).
#include "apps/tailor/run_command.hpp"

#include "actors/run.hpp"
#include "apps/tailor/plan_command.hpp"
#include "io/common/atomic_file.hpp"
#include "io/config/config_differences.hpp"
#include "io/config/embedded_default.hpp"
#include "io/config/run_config_json.hpp"
#include "io/store/run_records.hpp"
#include "messages/atoms.hpp"
#include "messages/registry.hpp"

#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace tailor::cli {
namespace {

struct run_options {
  std::string config_file; // empty: the embedded default
  std::string out;         // the run directory; default runs/default (or runs/ablation)
  std::uint64_t seed = 1;
  bool ablation = false;
  std::string mode;        // round | continuous: overrides the config's
  std::uint32_t rounds = 0; // 0: the config's
  std::string device;       // cpu | cuda | cuda:N | auto: overrides the config's
  std::uint32_t nproc = 0;  // data-parallel trainer ranks; 0: the config's
  bool quiet = false;
  bool over_budget_ok = false; // start even when the teacher's cost bound passes teacher.budget_usd
};

// One line per notable event; frequent ones (steps, exam chunks, teacher answers) rewrite one status line on
// a terminal and are left out elsewhere.
class progress_printer {
public:
  explicit progress_printer(bool quiet) : quiet_(quiet), terminal_(::isatty(STDERR_FILENO) != 0) {}

  void print(const progress_event& e) {
    if (quiet_ && !is_final(e.phase))
      return;
    const bool frequent = e.total_steps > 0 || e.message.rfind("exam:", 0) == 0 ||
                          e.message.rfind("teacher answered", 0) == 0;
    if (frequent) {
      if (!terminal_)
        return;
      char line[200];
      if (e.total_steps > 0) {
        const int width = 24;
        const int filled = static_cast<int>(width * std::min<double>(1.0, double(e.step) / double(e.total_steps)));
        std::snprintf(line, sizeof line, "\r  round %u [%-*s] %llu/%llu steps, loss %.3f, teacher %llu answers ",
                      e.round, width, std::string(filled, '#').c_str(), static_cast<unsigned long long>(e.step),
                      static_cast<unsigned long long>(e.total_steps), e.lm_loss + 0.0,
                      static_cast<unsigned long long>(e.teacher_done));
      } else {
        std::snprintf(line, sizeof line, "\r  %-70s", e.message.c_str());
      }
      std::cerr << line << std::flush;
      pending_ = true;
      return;
    }
    if (pending_)
      std::cerr << "\n";
    pending_ = false;
    std::cerr << "tailor run: " << e.message << "\n";
  }

private:
  bool quiet_, terminal_, pending_ = false;
};

result<run_config> config_of(const run_options& options) {
  run_config config;
  if (options.config_file.empty()) {
    config = embedded_default_config(options.seed,
                                     options.out.empty() ? (options.ablation ? "runs/ablation" : "runs/default")
                                                         : options.out);
  } else {
    auto loaded = load_run_config(options.config_file);
    if (!loaded)
      return loaded.error();
    config = std::move(loaded.value());
    if (!options.out.empty())
      config.output_dir = options.out;
    if (config.output_dir.empty())
      config.output_dir = "runs/" + std::filesystem::path{options.config_file}.stem().string();
  }
  config.output_dir = std::filesystem::absolute(config.output_dir).string();
  if (options.ablation)
    config = ablation_of(std::move(config));
  if (options.mode == "round")
    config.mode = loop_mode::round;
  else if (options.mode == "continuous")
    config.mode = loop_mode::continuous;
  if (options.rounds > 0)
    config.rounds = options.rounds;
  if (!options.device.empty())
    config.device = options.device;
  if (options.nproc > 0)
    config.nproc = options.nproc;
  return config;
}

// How the teacher is reached and how much it may cost change neither its answers (the cache keys on model,
// prompt and sampling) nor what the run trains on: a run stopped by a failing endpoint or a spent budget
// resumes with them changed.
constexpr std::string_view resumable_teacher_keys[] = {
    "base_url",         "api_key_env",    "concurrency", "request_timeout_ms", "max_retries", "failed_request_retry_ms",
    "max_failed_share", "failure_window", "budget_usd",  "budget_tokens"};

// A run directory resumes the run it holds. Another config there (another seed, say) would mix two runs in
// one; only `rounds` (more rounds extend a finished run), `nproc` (N ranks take the one-process step) and the
// teacher's connection and budget may differ.
// `here` is the new run's config as config.json would record it.
status check_resumable(const std::filesystem::path& dir, nlohmann::json here) {
  std::ifstream in{dir / "config.json"};
  if (!std::filesystem::exists(dir / "journal.jsonl") || !in)
    return ok_status();
  auto there = nlohmann::json::parse(in, nullptr, false);
  if (there.is_discarded())
    return problem{(dir / "config.json").string() + " is not valid JSON; give --out a new directory"};
  for (auto* config : {&there, &here}) {
    config->erase("rounds");
    config->erase("nproc");
    if (auto teacher = config->find("teacher"); teacher != config->end() && teacher->is_object())
      for (const auto key : resumable_teacher_keys)
        teacher->erase(std::string{key});
  }
  const auto differences = config_differences(there, here);
  if (differences.empty())
    return ok_status();
  std::string listed;
  for (const auto& line : differences)
    listed += "\n  " + line;
  return problem{dir.string() + " holds a run of another config, which this one would resume:" + listed +
                 "\nrun it with its own config to resume it, or give --out a new directory"};
}

int run_job(const run_options& options) {
  auto config = config_of(options);
  if (!config) {
    std::cerr << "tailor run: " << config.error().message << "\n";
    return 2;
  }
  const auto config_json = to_json(*config);
  if (auto resumable = check_resumable(config->output_dir, config_json); !resumable) {
    std::cerr << "tailor run: " << resumable.error().message << "\n";
    return 2;
  }
  // Before anything is written or sent: the budget would only stop the teacher part way through the run.
  if (!options.over_budget_ok)
    if (auto affordable = check_planned_cost(*config); !affordable) {
      std::cerr << "tailor run: " << affordable.error().message << "\n";
      return 2;
    }
  std::error_code error;
  std::filesystem::create_directories(config->output_dir, error);
  if (error) {
    std::cerr << "tailor run: cannot create " << config->output_dir << ": " << error.message() << "\n";
    return 1;
  }
  // The run directory records exactly what ran.
  if (auto written = write_file_atomically(std::filesystem::path{config->output_dir} / "config.json",
                                           config_json.dump(2) + "\n");
      !written) {
    std::cerr << "tailor run: " << written.error().message << "\n";
    return 1;
  }

  caf::actor_system_config system_config;
  register_message_types(system_config);
  // Workers that block on one queue instead of polling: the loop's actors see a few messages a step, and the
  // polling workers of the default (work stealing) took ~25 % of a core beside the trainer and the exam.
  system_config.set("scheduler.policy", caf::atom("sharing"));
  caf::actor_system system{system_config};
  progress_printer printer{options.quiet};
  run_phase last = run_phase::queued;
  std::string last_message;
  {
    caf::scoped_actor self{system};
    auto run = spawn_run(system, {.run_id = std::filesystem::path{config->output_dir}.filename().string(),
                                  .config = *config},
                         self);
    bool running = true;
    self->receive_while([&] { return running; })([&](progress_atom, const progress_event& e) {
      printer.print(e);
      last = e.phase;
      last_message = e.message;
      running = !is_final(e.phase);
    });
  }
  const auto results_file = std::filesystem::path{config->output_dir} / "results.json";
  std::vector<round_record> rounds;
  if (std::ifstream in{results_file}) {
    auto json = nlohmann::json::parse(in, nullptr, false);
    if (!json.is_discarded())
      for (const auto& r : json.value("rounds", nlohmann::json::array()))
        if (auto record = round_record_from_json(r))
          rounds.push_back(record.value());
  }
  if (!rounds.empty())
    std::cout << "\n" << results_table(rounds) << "\nresults: " << results_file.string() << "\n";
  if (last == run_phase::failed) {
    std::cerr << "tailor run: failed: " << last_message << "\n";
    return 1;
  }
  return last == run_phase::finished ? 0 : 1;
}

} // namespace

void add_run_command(CLI::App& app) {
  auto options = std::make_shared<run_options>();
  auto* run = app.add_subcommand("run", "run a tailored-learning job (no config: the embedded default)");
  run->add_option("config", options->config_file, "run config JSON (docs/config.md); none: the embedded default");
  run->add_option("--out", options->out, "run directory (default: runs/default, or runs/<config name>)");
  run->add_option("--seed", options->seed, "seed of the embedded default")->capture_default_str();
  run->add_flag("--ablation", options->ablation,
                "spend the same teacher requests on random questions, plain distillation (no tailored "
                "feedback, no self-reflection loss)");
  run->add_option("--mode", options->mode, "round | continuous (overrides the config)")
      ->check(CLI::IsMember({"round", "continuous"}));
  run->add_option("--rounds", options->rounds, "rounds (overrides the config)");
  run->add_option("--device", options->device,
                  "cpu, cuda, cuda:N or auto (overrides the config; the embedded default runs on the CPU)");
  run->add_option("--nproc", options->nproc,
                  "data-parallel trainer ranks on this machine (overrides the config's nproc; with --device "
                  "cuda, one GPU per rank)")
      ->check(CLI::Range(1, 64));
  run->add_flag("--quiet", options->quiet, "print only the outcome and the results table");
  run->add_flag("--over-budget-ok", options->over_budget_ok,
                "start even when the teacher may cost more than teacher.budget_usd (`tailor plan`); the budget "
                "still stops the teacher once it is spent");
  run->callback([options] {
    if (int status = run_job(*options); status != 0)
      throw CLI::RuntimeError{status};
  });
}

} // namespace tailor::cli
