// tailord: parses its command line, opens the data dir, resumes unfinished runs and serves the API until it
// is told to stop.
#include "apps/tailord/tailord_main.hpp"

#include "daemon/daemon_core.hpp"
#include "io/api/api_client.hpp"
#include "io/config/run_config_json.hpp"
#include "messages/registry.hpp"

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <pthread.h>

#ifndef TAILOR_WEB_ROOT
#define TAILOR_WEB_ROOT "web"
#endif

namespace tailor {
namespace {

constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

result<std::string> read_token(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in)
    return problem{"cannot read the token file " + file.string()};
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' '))
    token.pop_back();
  if (token.size() < 16)
    return problem{"the token in " + file.string() +
                   " is shorter than 16 characters; use e.g. `openssl rand -hex 32`"};
  return token;
}

} // namespace

int tailord_main(int argc, char** argv, run_launch_setup launch) {
  CLI::App app{"tailord: the tailor daemon. Runs training jobs, serves their progress over HTTP and "
               "websockets, and resumes unfinished runs after a restart"};
  daemon_options options;
  options.server.web_root = TAILOR_WEB_ROOT;
  std::string listen = "127.0.0.1:8470";
  std::filesystem::path token_file;
  app.add_option("--data-dir", options.data_dir, "where runs live: <data-dir>/runs/<id>/")->required();
  app.add_option("--listen", listen,
                 "HOST:PORT to serve on (port 0: any free port); binding a non-loopback "
                 "address needs --token-file")
      ->capture_default_str();
  app.add_option("--token-file", token_file,
                 "a file whose first line is the bearer token every request must carry");
  app.add_option("--max-active", options.max_active_runs,
                 "runs going at once, the others wait queued (0: no limit)")
      ->capture_default_str();
  app.add_option("--device-slots", options.device_slots,
                 "training steps and exam chunks of the runs on one device at once; the runs take turns "
                 "(0: no turns, every run uses the device whenever it likes)")
      ->capture_default_str();
  int gpus = -1;
  app.add_option("--gpus", gpus,
                 "GPUs to place runs on: a run with device cuda or auto gets nproc of them, those the fewest "
                 "runs are on (default: every GPU visible)");
  app.add_option("--teacher-concurrency", options.teacher_concurrency,
                 "HTTP teacher requests in flight at once over all runs, on top of each run's "
                 "teacher.concurrency (0: no shared limit)")
      ->capture_default_str();
  app.add_option("--web-root", options.server.web_root, "the dashboard's files")->capture_default_str();
  app.add_option("--chart-js", options.server.chart_js, "Chart.js (Debian's libjs-chart.js)")
      ->capture_default_str();
  app.add_option("--threads", options.server.threads, "HTTP I/O threads")->capture_default_str();
  app.add_option("--client-queue", options.server.client_queue,
                 "events buffered per websocket client before the oldest are dropped")
      ->capture_default_str();
  if (launch.add_options)
    launch.add_options(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : exit_usage;
  }
  auto endpoint = parse_api_endpoint(listen, true);
  if (!endpoint) {
    std::cerr << "tailord: --listen: " << endpoint.error().message << '\n';
    return exit_usage;
  }
  options.server.host = endpoint->host;
  options.server.port = endpoint->port;
  if (!token_file.empty()) {
    auto token = read_token(token_file);
    if (!token) {
      std::cerr << "tailord: " << token.error().message << '\n';
      return exit_usage;
    }
    options.server.token = token.value();
  }
  options.gpus = gpus >= 0 ? gpus : (launch.visible_gpus ? launch.visible_gpus() : 0);
  options.launch = launch.launcher();
  options.parse = run_config_from_json;

  // Every thread started from here on inherits this mask, so the signals reach only the sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  caf::actor_system_config config;
  register_message_types(config);
  // Workers that block on one queue instead of polling (as `tailor run`): runs are a few messages a step.
  config.set("scheduler.policy", caf::atom("sharing"));
  caf::actor_system system{config};
  auto core = daemon_core::start(system, std::move(options));
  if (!core) {
    std::cerr << "tailord: " << core.error().message << '\n';
    return exit_failed;
  }
  const bool ipv6 = endpoint->host.find(':') != std::string::npos;
  std::cout << "tailord: listening on http://" << (ipv6 ? "[" + endpoint->host + "]" : endpoint->host) << ":"
            << core.value()->port() << launch.banner << std::endl;
  int received = 0;
  sigwait(&stop_signals, &received);
  std::cerr << "tailord: stopping; unfinished runs resume at the next start\n";
  core.value()->stop();
  return 0;
}

} // namespace tailor
