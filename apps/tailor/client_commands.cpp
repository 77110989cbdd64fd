// The daemon's CLI client: each command is one or two API calls (io/api/api_client.hpp) and a printout.
#include "apps/tailor/client_commands.hpp"

#include "apps/tailor/daemon_endpoint.hpp"

#include "io/api/api_client.hpp"
#include "io/store/progress_json.hpp"
#include "io/store/run_records.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <unistd.h>

namespace tailor::cli {
namespace {

using json = nlohmann::json;

// Exit statuses as the other commands use them: 1 the command failed, 2 the command line is wrong.
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

struct client_options {
  std::string server; // empty: TAILOR_SERVER, else the daemon's default address
  std::string token_file;
};

[[noreturn]] void fail(const std::string& command, const std::string& message, int status = exit_failed) {
  std::cerr << "tailor " << command << ": " << message << "\n";
  throw CLI::RuntimeError(status);
}

api_endpoint endpoint_of(const std::string& command, const client_options& options) {
  auto endpoint = daemon_endpoint(options.server, options.token_file);
  if (!endpoint)
    fail(command, endpoint.error().message, exit_usage);
  return endpoint.value();
}

// One call; a failure to reach the daemon or an error status ends the command with the daemon's message.
json call(const std::string& command, const api_endpoint& endpoint, const std::string& method,
          const std::string& target, const std::string& body = {}) {
  auto response = api_call(endpoint, method, target, body);
  if (!response)
    fail(command, response.error().message);
  if (response->status >= 300)
    fail(command, response->error_message());
  return response->json();
}

std::string accuracy_text(const json& progress) {
  if (!progress.is_object() || !progress["accuracy"].is_number())
    return "-";
  char text[16];
  std::snprintf(text, sizeof text, "%.1f%%", 100.0 * progress["accuracy"].get<double>());
  return text;
}

// -- submit ---------------------------------------------------------------------------------------------

int watch(const client_options& options, const std::string& id);

int submit(const client_options& options, const std::string& file, const std::string& id, bool then_watch) {
  std::ifstream in(file);
  if (!in)
    fail("submit", "cannot read " + file, exit_usage);
  json config;
  try {
    config = json::parse(in);
  } catch (const json::parse_error& error) {
    fail("submit", file + " is not valid JSON: " + error.what(), exit_usage);
  }
  const api_endpoint endpoint = endpoint_of("submit", options);
  // Relative paths in the config are relative to the config file, as with `tailor run CONFIG`.
  const std::string base_dir = std::filesystem::absolute(file).parent_path().string();
  std::string target = "/v1/runs?base_dir=" + percent_encode(base_dir);
  if (!id.empty())
    target += "&id=" + percent_encode(id);
  const json run = call("submit", endpoint, "POST", target, config.dump());
  const std::string run_id = run["id"].get<std::string>();
  std::cout << run_id << std::endl;
  return then_watch ? watch(options, run_id) : 0;
}

// -- ls -------------------------------------------------------------------------------------------------

int list(const client_options& options, bool as_json) {
  const json runs = call("ls", endpoint_of("ls", options), "GET", "/v1/runs")["runs"];
  if (as_json) {
    std::cout << runs.dump(2) << "\n";
    return 0;
  }
  if (runs.empty()) {
    std::cout << "no runs\n";
    return 0;
  }
  std::printf("%-28s %-18s %5s %9s %9s %10s\n", "ID", "PHASE", "ROUND", "STEP", "ACCURACY", "TEACHER $");
  for (const json& run : runs) {
    const json& p = run["progress"];
    const bool known = p.is_object();
    char step[32] = "-";
    if (known && p["total_steps"].get<std::uint64_t>() > 0)
      std::snprintf(step, sizeof step, "%llu/%llu", p["step"].get<unsigned long long>(),
                    p["total_steps"].get<unsigned long long>());
    else if (known)
      std::snprintf(step, sizeof step, "%llu", p["step"].get<unsigned long long>());
    std::printf("%-28s %-18s %5s %9s %9s %10.4f\n", run["id"].get<std::string>().c_str(),
                run["phase"].get<std::string>().c_str(),
                known ? std::to_string(p["round"].get<unsigned>()).c_str() : "-", step,
                accuracy_text(p).c_str(), known ? p["teacher_cost_usd"].get<double>() : 0.0);
  }
  return 0;
}

// -- watch ----------------------------------------------------------------------------------------------

// On a terminal, one status line redrawn in place with a progress bar; elsewhere, one line per phase.
class watch_printer {
public:
  watch_printer() : terminal_(::isatty(STDOUT_FILENO) != 0) {}

  void show(const progress_event& e) {
    if (e.phase != phase_start_.phase || e.round != phase_start_.round)
      phase_start_ = e;
    if (e.phase != shown_phase_ || is_final(e.phase)) {
      if (pending_)
        std::cout << "\n";
      pending_ = false;
      std::cout << e.run_id << ": " << to_string(e.phase)
                << (e.round > 0 ? " (round " + std::to_string(e.round) + ")" : "")
                << (e.message.empty() ? "" : ": " + e.message) << std::endl;
      shown_phase_ = e.phase;
    }
    if (!terminal_ || is_final(e.phase))
      return;
    char line[240];
    const int width = 24;
    const double fraction = e.total_steps > 0 ? std::min(1.0, double(e.step) / double(e.total_steps)) : 0.0;
    const int filled = static_cast<int>(width * fraction);
    std::snprintf(
        line, sizeof line,
        "\r  round %u [%-*s] %llu/%llu %s loss %.3f  acc %s  teacher %llu done, %u in flight, $%.4f   ",
        e.round, width, std::string(filled, '#').c_str(), static_cast<unsigned long long>(e.step),
        static_cast<unsigned long long>(e.total_steps), eta(e).c_str(), e.lm_loss, accuracy(e).c_str(),
        static_cast<unsigned long long>(e.teacher_done), e.teacher_in_flight, e.teacher_cost_usd);
    std::cout << line << std::flush;
    pending_ = true;
  }

private:
  // The phase's time left at the pace of its steps so far: "ETA 3m12s", or "" before there is a pace.
  std::string eta(const progress_event& e) const {
    const auto done = e.step - std::min(e.step, phase_start_.step);
    const auto elapsed_ms = e.timestamp_ms - phase_start_.timestamp_ms;
    if (e.total_steps == 0 || done == 0 || elapsed_ms <= 0 || e.step >= e.total_steps)
      return "";
    const auto left_s =
        static_cast<long long>(double(elapsed_ms) / double(done) * double(e.total_steps - e.step) / 1000);
    char text[32];
    std::snprintf(text, sizeof text, " ETA %lldm%02llds ", left_s / 60, left_s % 60);
    return text;
  }

  static std::string accuracy(const progress_event& e) {
    if (e.accuracy < 0)
      return "-";
    char text[16];
    std::snprintf(text, sizeof text, "%.1f%%", 100 * e.accuracy);
    return text;
  }
  bool terminal_;
  bool pending_ = false;
  std::optional<run_phase> shown_phase_;
  progress_event phase_start_; // the first event of the current phase and round
};

int watch(const client_options& options, const std::string& id) {
  const api_endpoint endpoint = endpoint_of("watch", options);
  watch_printer printer;
  std::optional<progress_event> last;
  const auto watched = api_watch(endpoint, "/v1/runs/" + id + "/events", [&](const std::string& text) {
    const json message = json::parse(text, nullptr, false);
    if (!message.is_object())
      return true;
    const std::string type = message.value("type", "");
    auto event = progress_event_from_json(type == "state" ? message["event"] : message);
    if ((type != "state" && type != "progress") || !event)
      return true; // a drop marker: the next event says where the run is
    printer.show(event.value());
    last = event.value();
    return !is_final(event->phase);
  });
  if (!watched)
    fail("watch", watched.error().message);
  if (!last || !is_final(last->phase))
    fail("watch", "the daemon closed the connection before the run ended");
  if (last->phase == run_phase::finished) {
    const json run = call("watch", endpoint, "GET", "/v1/runs/" + id);
    std::cout << "accuracy " << accuracy_text(run["progress"]) << "; `tailor results " << id
              << "` for the table\n";
    return 0;
  }
  return exit_failed;
}

// -- cancel, results ------------------------------------------------------------------------------------

int cancel(const client_options& options, const std::string& id) {
  call("cancel", endpoint_of("cancel", options), "DELETE", "/v1/runs/" + id);
  std::cout << "cancelling " << id << "\n";
  return 0;
}

int results(const client_options& options, const std::string& id, bool as_json) {
  const json run = call("results", endpoint_of("results", options), "GET", "/v1/runs/" + id);
  const json& results = run["results"];
  if (!results.is_object())
    fail("results", "run " + id + " has no results yet (it is " + run["phase"].get<std::string>() + ")");
  if (as_json) {
    std::cout << results.dump(2) << "\n";
    return 0;
  }
  std::vector<round_record> rounds;
  for (const json& r : results.value("rounds", json::array()))
    if (auto record = round_record_from_json(r))
      rounds.push_back(record.value());
  std::cout << "run " << id << ": " << run["phase"].get<std::string>() << ", " << rounds.size()
            << " round(s)\n\n"
            << results_table(rounds);
  return 0;
}

void run_command(const std::function<int()>& body) {
  if (const int status = body(); status != 0)
    throw CLI::RuntimeError(status);
}

} // namespace

void add_client_commands(CLI::App& app) {
  auto options = std::make_shared<client_options>();
  const auto add_common = [&](CLI::App* command) {
    command->add_option("--server", options->server,
                        "the daemon, http://HOST:PORT (default: $TAILOR_SERVER, else http://127.0.0.1:8470)");
    command->add_option("--token-file", options->token_file,
                        "the daemon's bearer token (default: $TAILOR_TOKEN)");
  };

  auto* submit_command =
      app.add_subcommand("submit", "submit a run config to the daemon; prints the run's id");
  auto file = std::make_shared<std::string>();
  auto id = std::make_shared<std::string>();
  auto then_watch = std::make_shared<bool>(false);
  submit_command->add_option("config", *file, "run config JSON (docs/config.md)")->required();
  submit_command->add_option("--id", *id, "the run's id (default: the daemon picks one)");
  submit_command->add_flag("--watch", *then_watch, "then watch it until it ends");
  add_common(submit_command);
  submit_command->callback([=] { run_command([&] { return submit(*options, *file, *id, *then_watch); }); });

  auto* ls_command = app.add_subcommand("ls", "list the daemon's runs");
  auto ls_json = std::make_shared<bool>(false);
  ls_command->add_flag("--json", *ls_json, "print the API's JSON");
  add_common(ls_command);
  ls_command->callback([=] { run_command([&] { return list(*options, *ls_json); }); });

  auto* watch_command = app.add_subcommand("watch", "follow a run's progress live until it ends");
  auto watch_id = std::make_shared<std::string>();
  watch_command->add_option("id", *watch_id, "run id")->required();
  add_common(watch_command);
  watch_command->callback([=] { run_command([&] { return watch(*options, *watch_id); }); });

  auto* cancel_command = app.add_subcommand("cancel", "stop a run cleanly (it keeps what it has written)");
  auto cancel_id = std::make_shared<std::string>();
  cancel_command->add_option("id", *cancel_id, "run id")->required();
  add_common(cancel_command);
  cancel_command->callback([=] { run_command([&] { return cancel(*options, *cancel_id); }); });

  auto* results_command = app.add_subcommand("results", "a run's results table, per round");
  auto results_id = std::make_shared<std::string>();
  auto results_json = std::make_shared<bool>(false);
  results_command->add_option("id", *results_id, "run id")->required();
  results_command->add_flag("--json", *results_json, "print results.json as the run wrote it");
  add_common(results_command);
  results_command->callback(
      [=] { run_command([&] { return results(*options, *results_id, *results_json); }); });
}

} // namespace tailor::cli
