// `tailor compare [CONFIG] --seeds 1-5 --arms tailored,random`: each arm of a run config at each seed, as
// `tailor run` child processes (each resumable, so a killed compare restarts only what is unfinished) or, with
// --server, as runs on tailord; then the paired statistics of io/compare over their per-question evaluations.
#include "apps/tailor/compare_command.hpp"

#include "apps/tailor/compare_on_server.hpp"
#include "apps/tailor/daemon_endpoint.hpp"

#include "io/common/atomic_file.hpp"
#include "io/compare/compare_report.hpp"
#include "io/config/embedded_default.hpp"
#include "io/config/run_config_json.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tailor::cli {
namespace {

namespace fs = std::filesystem;

struct compare_options {
  std::string config_file; // empty: the embedded default
  std::string seeds = "1-5";
  std::string arms = "tailored,random";
  std::string baseline; // empty: `random` when it is an arm, else the last arm
  std::string out = "runs/compare";
  std::uint32_t rounds = 0; // 0: the config's
  int jobs = 1;             // runs at a time
  int resamples = 2000;
  std::string server;     // empty: runs in this process's children; else tailord's URL
  std::string name;       // the compare's name on the daemon; empty: the basename of --out
  std::string token_file; // the daemon's token (else TAILOR_TOKEN)
};

// "1-5", "1,3,8" or "1-3,7" -> the seeds, in order, each once.
result<std::vector<std::uint64_t>> parse_seeds(const std::string& text) {
  std::vector<std::uint64_t> seeds;
  std::size_t at = 0;
  while (at <= text.size()) {
    const auto comma = std::min(text.find(',', at), text.size());
    const auto part = text.substr(at, comma - at);
    try {
      std::size_t used = 0;
      const auto dash = part.find('-');
      const auto first = std::stoull(part.substr(0, dash), &used);
      if (used != (dash == std::string::npos ? part.size() : dash))
        throw std::invalid_argument(part);
      auto last = first;
      if (dash != std::string::npos) {
        last = std::stoull(part.substr(dash + 1), &used);
        if (used != part.size() - dash - 1 || last < first || last - first > 1000)
          throw std::invalid_argument(part);
      }
      for (auto seed = first; seed <= last; ++seed)
        if (std::find(seeds.begin(), seeds.end(), seed) == seeds.end())
          seeds.push_back(seed);
    } catch (const std::exception&) {
      return problem{"--seeds: `" + part + "` is not a seed or a range like 1-5"};
    }
    at = comma + 1;
  }
  return seeds;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    const auto comma = std::min(text.find(',', at), text.size());
    if (comma > at)
      out.push_back(text.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

constexpr const char* known_arms = "tailored (the config as it is), random (the ablation: the same teacher "
                                   "requests on random questions, no self-reflection), reflection (tailored "
                                   "with METHOD.md's self-reflection loss, lambda 0.5)";

result<run_config> arm_config(const compare_options& options, const std::string& arm, std::uint64_t seed,
                              const fs::path& dir) {
  run_config config;
  if (options.config_file.empty()) {
    config = embedded_default_config(seed, dir.string());
  } else {
    auto loaded = load_run_config(options.config_file);
    if (!loaded)
      return loaded.error();
    config = std::move(loaded.value());
    config.seed = seed;
  }
  config.output_dir = dir.string();
  if (options.rounds > 0)
    config.rounds = options.rounds;
  if (arm == "random")
    return ablation_of(std::move(config));
  config.strategy = teacher_strategy::tailored;
  if (arm == "reflection")
    config.loss.lambda = 0.5;
  else if (arm != "tailored")
    return problem{"--arms: unknown arm `" + arm + "`; arms: " + known_arms};
  return config;
}

// A run is done when its results say finished with the rounds its config asks for.
bool finished(const fs::path& dir, std::uint32_t rounds) {
  std::ifstream in{dir / "results.json"};
  auto results = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return !results.is_discarded() && results.is_object() && results.value("finished", false) &&
         results.contains("rounds") && results["rounds"].is_array() && results["rounds"].size() == rounds;
}

struct planned_run {
  compare::run_ref ref;
  fs::path config_file, log_file;
  std::uint32_t rounds = 0;
  nlohmann::json config;
};

// `tailor run CONFIG --quiet` in a child that dies with this process (a killed compare leaves no orphan
// writing to a run directory that the restarted compare resumes).
pid_t start_run(const planned_run& run) {
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child != 0)
    return child;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent)
    ::_exit(127);
  const int log = ::open(run.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log >= 0) {
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
  }
  const std::string config = run.config_file.string();
  const char* argv[] = {"tailor", "run", config.c_str(), "--quiet", nullptr};
  ::execv("/proc/self/exe", const_cast<char* const*>(argv));
  ::_exit(127);
}

// The runs as `tailor run` children, up to `jobs` at a time, then their directories.
result<std::vector<compare::run_data>> run_here(const compare_options& options, const std::vector<planned_run>& runs) {
  // Up to `jobs` runs at a time; each prints one line when it starts and one when it ends.
  std::map<pid_t, std::pair<std::size_t, std::chrono::steady_clock::time_point>> running;
  std::size_t next = 0, failed = 0;
  auto wait_one = [&] {
    int status = 0;
    const pid_t done = ::waitpid(-1, &status, 0);
    auto found = running.find(done);
    if (found == running.end())
      return;
    const auto& run = runs[found->second.first];
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - found->second.second).count();
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && finished(run.ref.dir, run.rounds);
    std::cerr << "tailor compare: " << run.ref.arm << " seed " << run.ref.seed << (ok ? ": done in " : ": FAILED after ")
              << static_cast<long>(seconds) << " s" << (ok ? "" : " (log: " + run.log_file.string() + ")") << "\n";
    failed += ok ? 0 : 1;
    running.erase(found);
  };
  for (; next < runs.size(); ++next) {
    const auto& run = runs[next];
    if (finished(run.ref.dir, run.rounds)) {
      std::cerr << "tailor compare: " << run.ref.arm << " seed " << run.ref.seed << ": finished before\n";
      continue;
    }
    while (static_cast<int>(running.size()) >= std::max(1, options.jobs))
      wait_one();
    std::cerr << "tailor compare: " << run.ref.arm << " seed " << run.ref.seed << ": running (" << next + 1 << "/"
              << runs.size() << ", log " << run.log_file.string() << ")\n";
    const pid_t child = start_run(run);
    if (child < 0)
      return problem{std::string("cannot start a run: ") + std::strerror(errno)};
    running.emplace(child, std::make_pair(next, std::chrono::steady_clock::now()));
  }
  while (!running.empty())
    wait_one();
  if (failed > 0)
    return problem{std::to_string(failed) + " run(s) failed; run the same command again to resume them"};
  std::vector<compare::run_data> read;
  for (const auto& run : runs) {
    auto data = compare::read_run_dir(run.ref);
    if (!data)
      return data.error();
    read.push_back(std::move(data.value()));
  }
  return read;

  std::vector<compare::run_ref> refs;
  for (const auto& run : runs)
    refs.push_back(run.ref);
}

// The runs on tailord, named after the compare, then read back over its API.
result<std::vector<compare::run_data>> run_on_daemon(const compare_options& options,
                                                     const std::vector<planned_run>& runs, const fs::path& out) {
  auto endpoint = daemon_endpoint(options.server, options.token_file);
  if (!endpoint)
    return endpoint.error();
  const std::string name = options.name.empty() ? out.filename().string() : options.name;
  std::vector<server_run> submitted;
  for (const auto& run : runs)
    submitted.push_back({run.ref.arm, run.ref.seed, run.config});
  // Relative paths of a config file are relative to it, as with `tailor run CONFIG`.
  const auto base_dir =
      options.config_file.empty() ? fs::current_path() : fs::absolute(options.config_file).parent_path();
  return compare_on_server(*endpoint, name, submitted, base_dir.string());
}

int compare(const compare_options& options) {
  auto seeds = parse_seeds(options.seeds);
  if (!seeds) {
    std::cerr << "tailor compare: " << seeds.error().message << "\n";
    return 2;
  }
  const auto arms = split_list(options.arms);
  if (arms.size() < 2) {
    std::cerr << "tailor compare: --arms needs at least two arms; arms: " << known_arms << "\n";
    return 2;
  }
  std::string baseline = options.baseline;
  if (baseline.empty())
    baseline = std::find(arms.begin(), arms.end(), "random") != arms.end() ? "random" : arms.back();
  if (std::find(arms.begin(), arms.end(), baseline) == arms.end()) {
    std::cerr << "tailor compare: --baseline " << baseline << " is not one of --arms\n";
    return 2;
  }
  const fs::path out = fs::absolute(options.out);
  std::error_code error;
  for (const char* sub : {"configs", "logs", "runs"})
    fs::create_directories(out / sub, error);
  if (error) {
    std::cerr << "tailor compare: cannot create " << out.string() << ": " << error.message() << "\n";
    return 1;
  }

  std::vector<planned_run> runs;
  for (auto seed : *seeds)
    for (const auto& arm : arms) {
      const auto name = arm + "-seed" + std::to_string(seed);
      planned_run run{{arm, seed, out / "runs" / name}, out / "configs" / (name + ".json"),
                      out / "logs" / (name + ".log"), 0, {}};
      auto config = arm_config(options, arm, seed, run.ref.dir);
      if (!config) {
        std::cerr << "tailor compare: " << config.error().message << "\n";
        return 2;
      }
      run.rounds = config->rounds;
      run.config = to_json(*config);
      if (auto written = write_file_atomically(run.config_file, run.config.dump(2) + "\n"); !written) {
        std::cerr << "tailor compare: " << written.error().message << "\n";
        return 1;
      }
      runs.push_back(std::move(run));
    }

  auto read = options.server.empty() ? run_here(options, runs) : run_on_daemon(options, runs, out);
  if (!read) {
    std::cerr << "tailor compare: " << read.error().message << "\n";
    return 1;
  }
  compare::bootstrap_options bootstrap;
  bootstrap.resamples = options.resamples;
  auto report = compare::build_report(*read, baseline, bootstrap);
  if (!report) {
    std::cerr << "tailor compare: " << report.error().message << "\n";
    return 1;
  }
  (*report)["config"] = options.config_file.empty() ? "embedded default" : options.config_file;
  if (auto written = write_file_atomically(out / "compare.json", report->dump(2) + "\n"); !written) {
    std::cerr << "tailor compare: " << written.error().message << "\n";
    return 1;
  }
  std::cout << compare::report_table(*report) << "report: " << (out / "compare.json").string() << "\n";
  return 0;
}

} // namespace

void add_compare_command(CLI::App& app) {
  auto options = std::make_shared<compare_options>();
  auto* command = app.add_subcommand(
      "compare", "each arm of a run config over several seeds, paired by seed and question, with intervals");
  command->add_option("config", options->config_file, "run config JSON; none: the embedded default");
  command->add_option("--seeds", options->seeds, "seeds: 1-5, 1,3,8 or 1-3,7")->capture_default_str();
  command->add_option("--arms", options->arms, std::string{"arms, comma-separated: "} + known_arms)
      ->capture_default_str();
  command->add_option("--baseline", options->baseline, "the arm the others are compared with (default: random)");
  command->add_option("--out", options->out, "compare directory (runs, logs, compare.json)")->capture_default_str();
  command->add_option("--rounds", options->rounds, "rounds of every run (overrides the config)");
  command->add_option("--jobs", options->jobs, "runs at a time (each uses the config's threads)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  command->add_option("--resamples", options->resamples, "bootstrap resamples")
      ->check(CLI::Range(100, 1000000))
      ->capture_default_str();
  command->add_option("--server", options->server,
                      "run the arms on tailord at this URL (http://HOST:PORT) instead of in this process");
  command->add_option("--name", options->name, "the compare's name on the daemon (default: the basename of --out)");
  command->add_option("--token-file", options->token_file, "the daemon's token (default: TAILOR_TOKEN)");
  command->callback([options] {
    if (int status = compare(*options); status != 0)
      throw CLI::RuntimeError{status};
  });
}

} // namespace tailor::cli
