// `tailor teacher-serve`: the built-in teacher behind an OpenAI-compatible endpoint (chat completions and the
// Batch API), for tests, demos and offline use.
#include "apps/tailor/teacher_serve_command.hpp"

#include "io/data/arith.hpp"
#include "io/teacher/builtin_teacher.hpp"
#include "io/common/jsonl.hpp"
#include "io/teacher/teacher_prompts.hpp"
#include "io/teacher/teacher_server.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <pthread.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <string>
#include <vector>

namespace tailor::cli {
namespace {

// Exit statuses as the other commands use them: 1 the command failed, 2 the command line is wrong.
constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

struct serve_settings {
  teacher_server_options server; // the command line's options land here directly; the key comes later
  std::string api_key_env;
  std::vector<std::filesystem::path> data;
  bool verbose = false;
  bool example_request = false;
};

// The chain-of-thought request a run would send for the first problem of the data, as JSON to POST: lets a
// demo or a test talk to the server without copying the prompt templates.
int print_example_request(const builtin_teacher& teacher, const std::vector<std::filesystem::path>& data) {
  std::optional<arith_problem> first;
  // The teacher loaded the file already, so its records are known to be good.
  (void)for_each_jsonl_record(data.front(), [&](result<jsonl_record> record) {
    if (!first && record)
      if (auto problem = parse_arith_record(record->object))
        first = std::move(problem.value());
  });
  const arith_problem* known = first ? teacher.find_problem(first->question) : nullptr;
  if (known == nullptr) {
    std::cerr << "tailor teacher-serve: " << data.front().string() << " holds no arith problem\n";
    return exit_failed;
  }
  teacher_request_options options;
  options.model = teacher_server_options{}.model;
  std::cout << to_json(cot_request(to_example(*known), options)).dump() << "\n";
  return exit_ok;
}

std::string url_of(const std::string& host, std::uint16_t port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/v1";
}

int serve(const serve_settings& settings) {
  teacher_server_options options = settings.server;
  if (!settings.api_key_env.empty()) {
    const char* key = std::getenv(settings.api_key_env.c_str());
    if (key == nullptr || *key == '\0') {
      std::cerr << "tailor teacher-serve: --api-key-env names " << settings.api_key_env
                << ", which is not set or empty; export the key there first\n";
      return exit_usage;
    }
    options.required_api_key = key;
  }
  if (settings.example_request && settings.data.empty()) {
    std::cerr << "tailor teacher-serve: --example-request needs --data\n";
    return exit_usage;
  }

  // Every thread started from here on inherits this mask, so the signals reach only the sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto teacher = settings.data.empty() ? builtin_teacher::create({}) : builtin_teacher::load(settings.data);
  if (!teacher) {
    std::cerr << "tailor teacher-serve: " << teacher.error().message << "\n";
    return exit_failed;
  }
  if (settings.example_request)
    return print_example_request(**teacher, settings.data);
  if (settings.data.empty())
    std::cerr << "tailor teacher-serve: no --data given; every question will be answered with an error\n";

  // Logs go to stderr: stdout carries only the URL, for scripts to read.
  auto logger = spdlog::stderr_color_mt("teacher-serve");
  logger->set_level(settings.verbose ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_default_logger(logger);

  auto server = teacher_server::start(**teacher, options);
  if (!server) {
    std::cerr << "tailor teacher-serve: " << server.error().message << "\n";
    return exit_failed;
  }
  std::cout << url_of(options.host, server.value()->port()) << std::endl;
  std::cerr << "tailor teacher-serve: the built-in teacher for " << (*teacher)->problem_count()
            << " arith problems" << (options.required_api_key.empty() ? "" : ", API key required")
            << "; stop with Ctrl-C\n";

  int received = 0;
  sigwait(&stop_signals, &received);
  server.value()->stop();
  const teacher_server_stats stats = server.value()->stats();
  std::cerr << "tailor teacher-serve: stopped by " << (received == SIGINT ? "SIGINT" : "SIGTERM") << " after "
            << stats.requests << " requests (" << stats.completions << " completions, " << stats.faults
            << " injected faults, " << stats.unauthorized << " refused for their key) and "
            << stats.batch_requests << " batch API requests (" << stats.files_uploaded << " files uploaded, "
            << stats.batches_created << " batches)\n";
  return exit_ok;
}

} // namespace

void add_teacher_serve_command(CLI::App& app) {
  auto settings = std::make_shared<serve_settings>();
  CLI::App* command = app.add_subcommand(
      "teacher-serve", "Serve the built-in teacher on an OpenAI-compatible endpoint until SIGINT or SIGTERM");
  command
      ->add_option("--port", settings->server.port,
                   "TCP port; 0 picks a free one (the printed URL says which)")
      ->required();
  command->add_option("--host", settings->server.host, "Address to bind")->capture_default_str();
  command
      ->add_option("--data", settings->data, "arith JSONL files (tailor data generate arith) to answer for")
      ->check(CLI::ExistingFile);
  command->add_option("--latency-ms", settings->server.latency_ms, "Mean latency added before each answer")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option("--latency-jitter-ms", settings->server.latency_jitter_ms,
                   "Uniform jitter around the mean")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option("--fault-rate", settings->server.fault_rate,
                   "Probability of a random fault per request (429, 500, timeout or malformed body)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  command
      ->add_option("--stall-ms", settings->server.fault_stall_ms,
                   "How long a timeout fault holds its request")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option("--api-key-env", settings->api_key_env,
                   "Require `Authorization: Bearer <key>`, the key read from this environment variable")
      ->check([](const std::string& name) { return name.empty() ? std::string("is empty") : std::string(); });
  command
      ->add_option("--batch-delay-ms", settings->server.batch_delay_ms,
                   "How long after its creation a batch (POST /v1/batches) is completed at the earliest")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option("--max-body-bytes", settings->server.max_body_bytes,
                   "Largest request body accepted; batch input files (POST /v1/files) are bodies too")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--seed", settings->server.seed, "Seed of latency jitter and random faults")
      ->capture_default_str();
  command->add_option("--threads", settings->server.threads, "I/O threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  command->add_flag("-v,--verbose", settings->verbose, "Log one line per request to stderr");
  command->add_flag("--example-request", settings->example_request,
                    "Print the chain-of-thought request for the first problem of --data, as JSON, and exit");
  command->callback([settings] {
    int status = exit_failed;
    try {
      status = serve(*settings);
    } catch (const std::exception& error) {
      std::cerr << "tailor teacher-serve: " << error.what() << "\n";
    }
    if (status != exit_ok)
      throw CLI::RuntimeError(status);
  });
}

} // namespace tailor::cli
