// Benchmark of the teacher HTTP client against the loopback teacher server: per-request overhead with no
// latency, throughput under 200 ms of latency, and the same loads through the `openai` Python client.
#include "bench/python_child.hpp"
#include "io/teacher/openai_client.hpp"
#include "io/teacher/teacher_server.hpp"
#include "tests/echo_teacher.hpp"

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

using namespace tailor;
using clock_type = std::chrono::steady_clock;

namespace {

struct settings {
  int sequential = 2000;
  int concurrent = 5000;
  int slow = 640;
  int concurrency = 32;
  double latency_ms = 200;
  std::string python = TAILOR_PYTHON;
  std::filesystem::path results = std::filesystem::path(TAILOR_SOURCE_DIR) / "bench" / "results";
  bool with_python = true;
};

chat_request bench_request(int index) {
  chat_request request;
  request.model = "echo-model";
  request.messages = {{"system", "Explain step by step."},
                      {"user", "What is " + std::to_string(index) + " + 1?"}};
  request.max_tokens = 64;
  return request;
}

// Sends `count` requests, at most `window` outstanding, refilling from the callbacks; seconds taken.
double run_load(openai_client& client, int count, int window, int& failures) {
  std::mutex mutex;
  std::condition_variable finished;
  int sent = 0;
  int done = 0;
  failures = 0;
  std::function<void()> send_next;
  send_next = [&] {
    const int index = sent++;
    client.complete(bench_request(index), [&](result<chat_response> answer) {
      bool more = false;
      {
        std::lock_guard lock(mutex);
        failures += answer ? 0 : 1;
        ++done;
        more = sent < count;
        if (more)
          send_next(); // under the lock: `sent` is shared with the starting loop below
      }
      finished.notify_all();
    });
  };
  const auto start = clock_type::now();
  {
    std::lock_guard lock(mutex);
    for (int i = 0; i < window && sent < count; ++i)
      send_next();
  }
  std::unique_lock lock(mutex);
  finished.wait(lock, [&] { return done == count; });
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

std::unique_ptr<teacher_server> serve(teacher_backend& backend, double latency_ms) {
  teacher_server_options options;
  options.latency_ms = latency_ms;
  auto server = teacher_server::start(backend, options);
  if (!server) {
    std::cerr << "teacher_client_bench: cannot start the teacher server: " << server.error().message << "\n";
    std::exit(1);
  }
  return std::move(server).value();
}

std::unique_ptr<openai_client> connect(const teacher_server& server, std::size_t concurrency) {
  openai_client_options options;
  options.base_url = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1";
  options.api_key_env.clear();
  options.concurrency = concurrency;
  options.max_tries = 1; // a failure must show, not hide in a retry
  auto client = openai_client::create(options);
  if (!client) {
    std::cerr << "teacher_client_bench: " << client.error().message << "\n";
    std::exit(1);
  }
  return std::move(client).value();
}

struct line {
  std::string name;
  double value;
  double baseline;
  std::string unit;
  bool lower_is_better;
};

nlohmann::json run_python(const settings& chosen, const teacher_server& fast, const teacher_server& slow) {
  const auto script = std::filesystem::path(TAILOR_SOURCE_DIR) / "bench" / "openai_client_bench.py";
  const std::string command =
      chosen.python + " " + script.string() + " --fast-url http://127.0.0.1:" + std::to_string(fast.port()) +
      "/v1 --slow-url http://127.0.0.1:" + std::to_string(slow.port()) + "/v1 --sequential " +
      std::to_string(chosen.sequential) + " --concurrent " + std::to_string(chosen.concurrent) + " --slow " +
      std::to_string(chosen.slow) + " --concurrency " + std::to_string(chosen.concurrency);
  auto parsed = bench::json_of_command(command);
  if (parsed.empty()) {
    std::cerr << "teacher_client_bench: the Python client benchmark failed (" << command << ")\n";
    return nlohmann::json::object();
  }
  return parsed;
}

} // namespace

int main(int argc, char** argv) {
  settings chosen;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--quick") {
      chosen.sequential = 300;
      chosen.concurrent = 1000;
      chosen.slow = 320;
    } else if (argument == "--no-python") {
      chosen.with_python = false;
    } else if (argument == "--python" && i + 1 < argc) {
      chosen.python = argv[++i];
    } else if (argument == "--results" && i + 1 < argc) {
      chosen.results = argv[++i];
    } else {
      std::cerr << "usage: teacher_client_bench [--quick] [--no-python] [--python PATH] [--results DIR]\n";
      return 2;
    }
  }

  testing::echo_teacher teacher;
  auto fast = serve(teacher, 0);
  auto slow = serve(teacher, chosen.latency_ms);
  auto sequential_client = connect(*fast, 1);
  auto concurrent_client = connect(*fast, static_cast<std::size_t>(chosen.concurrency));
  auto slow_client = connect(*slow, static_cast<std::size_t>(chosen.concurrency));

  int failures = 0;
  int total_failures = 0;
  // Warm-up: every client opens its connections before the clock runs.
  run_load(*sequential_client, 20, 1, failures);
  run_load(*concurrent_client, 200, chosen.concurrency, failures);
  run_load(*slow_client, chosen.concurrency, chosen.concurrency, failures);
  const double sequential_s = run_load(*sequential_client, chosen.sequential, 1, failures);
  total_failures += failures;
  const double concurrent_s = run_load(*concurrent_client, chosen.concurrent, chosen.concurrency, failures);
  total_failures += failures;
  const double slow_s = run_load(*slow_client, chosen.slow, chosen.concurrency, failures);
  total_failures += failures;
  // One request at a time against the slow server: what the server's timer and the OS scheduler add to
  // the 200 ms on this machine, which no client can win back.
  constexpr int single_count = 10;
  const double single_s = run_load(*slow_client, single_count, 1, failures);
  total_failures += failures;

  const double ideal_rps = chosen.concurrency / (chosen.latency_ms / 1000.0);
  const double cpp_slow_rps = chosen.slow / slow_s;
  std::vector<line> lines = {
      {"cpp_sequential_us_per_request", 1e6 * sequential_s / chosen.sequential, 200, "us", true},
      {"cpp_c32_us_per_request", 1e6 * concurrent_s / chosen.concurrent, 200, "us", true},
      {"cpp_c32_latency200_rps", cpp_slow_rps, ideal_rps, "req/s", false},
      {"cpp_latency200_single_ms", 1e3 * single_s / single_count, chosen.latency_ms, "ms", true},
  };

  nlohmann::json python = nlohmann::json::object();
  if (chosen.with_python) {
    python = run_python(chosen, *fast, *slow);
    if (python.contains("sequential_s")) {
      lines.push_back({"python_sequential_us_per_request",
                       1e6 * python["sequential_s"].get<double>() / chosen.sequential, 200, "us", true});
      lines.push_back({"python_c32_us_per_request",
                       1e6 * python["concurrent_s"].get<double>() / chosen.concurrent, 200, "us", true});
      const double python_slow_rps = chosen.slow / python["slow_s"].get<double>();
      lines.push_back({"python_c32_latency200_rps", python_slow_rps, ideal_rps, "req/s", false});
      lines.push_back({"cpp_vs_python_c32_latency200_rps", cpp_slow_rps, python_slow_rps, "req/s", false});
      lines.push_back({"cpp_vs_python_c32_us_per_request", 1e6 * concurrent_s / chosen.concurrent,
                       1e6 * python["concurrent_s"].get<double>() / chosen.concurrent, "us", true});
      total_failures += python.value("failures", 0);
    }
  }

  nlohmann::json report = {
      {"benchmark", "teacher_client"},
      {"time_unix", static_cast<std::int64_t>(std::time(nullptr))},
      {"hardware_threads", std::thread::hardware_concurrency()},
      {"requests",
       {{"sequential", chosen.sequential}, {"concurrent", chosen.concurrent}, {"latency200", chosen.slow}}},
      {"concurrency", chosen.concurrency},
      {"failures", total_failures},
      {"results", nlohmann::json::array()}};
  std::printf("%-36s %12s %12s %8s\n", "name", "value", "baseline", "ratio");
  for (const auto& item : lines) {
    const double ratio = item.value / item.baseline;
    std::printf("%-36s %12.1f %12.1f %8.3f\n", item.name.c_str(), item.value, item.baseline, ratio);
    report["results"].push_back({{"name", item.name},
                                 {"value", item.value},
                                 {"baseline", item.baseline},
                                 {"ratio", ratio},
                                 {"unit", item.unit},
                                 {"lower_is_better", item.lower_is_better}});
  }
  std::printf("failures %d, hardware threads %u\n", total_failures, std::thread::hardware_concurrency());

  std::error_code error;
  std::filesystem::create_directories(chosen.results, error);
  const auto file = chosen.results / "teacher_client.json";
  std::ofstream(file) << report.dump(2) << "\n";
  std::cout << "wrote " << file.string() << "\n";
  return total_failures == 0 ? 0 : 1;
}
