// tailord's event path under load, in one process over loopback with simulated runs: the delay from a run's
// event to its delivery at 100 websocket clients, event throughput of 8 runs at once against one alone, and
// the daemon's memory over a soak of long runs with websocket clients coming and going.
#include "tests/support/simulated_run.hpp"
#include "daemon/daemon_core.hpp"
#include "io/api/api_client.hpp"
#include "io/config/run_config_json.hpp"
#include "messages/registry.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using json = nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

struct settings {
  int clients = 100;
  int delivery_steps = 400;
  int delivery_step_ms = 10;
  int throughput_steps = 20000;
  int soak_seconds = 30;
  std::filesystem::path results = std::filesystem::path(TAILOR_SOURCE_DIR) / "bench" / "results";
};

// A daemon in this process on a free port, with simulated runs that stamp their events' send time.
class bench_daemon {
public:
  bench_daemon(std::filesystem::path data_dir, std::chrono::microseconds step) : system_(configured()) {
    tailor::daemon_options options;
    options.data_dir = std::move(data_dir);
    options.server.port = 0;
    options.server.client_queue = 1024;
    options.device_slots = 0; // the event path alone: runs do not take turns on a device
    tailor::simulated_run_options sim;
    sim.step_interval = step;
    sim.stamp_send_time = true;
    options.launch = [sim](caf::actor_system& system, tailor::run_spec spec, caf::actor listener) {
      return tailor::spawn_simulated_run(system, std::move(spec), std::move(listener), sim);
    };
    options.parse = tailor::run_config_from_json;
    auto started = tailor::daemon_core::start(system_, std::move(options));
    if (!started)
      throw std::runtime_error(started.error().message);
    core_ = std::move(started.value());
    endpoint.port = core_->port();
  }
  ~bench_daemon() { core_->stop(); }

  std::string submit(const json& config) {
    auto response = tailor::api_call(endpoint, "POST", "/v1/runs", config.dump());
    if (!response || response->status != 201)
      throw std::runtime_error("cannot submit a run");
    return response->json()["id"];
  }
  std::string phase(const std::string& id) {
    auto response = tailor::api_call(endpoint, "GET", "/v1/runs/" + id);
    return response ? response->json().value("phase", "") : "";
  }
  void wait_finished(const std::string& id) {
    while (phase(id) != "finished")
      std::this_thread::sleep_for(5ms);
  }
  tailor::daemon_core& core() { return *core_; }

  tailor::api_endpoint endpoint;

private:
  caf::actor_system_config& configured() {
    tailor::register_message_types(config_);
    return config_;
  }
  caf::actor_system_config config_;
  caf::actor_system system_;
  std::unique_ptr<tailor::daemon_core> core_;
};

// A websocket client on /v1/events that records, for each progress event, the delay since the run sent it.
class bench_client : public std::enable_shared_from_this<bench_client> {
public:
  bench_client(net::io_context& io, std::uint16_t port) : ws_(io), port_(port) {}

  void start() {
    beast::get_lowest_layer(ws_).async_connect(
        net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port_),
        [self = shared_from_this()](beast::error_code ec) {
          if (ec)
            return self->finish();
          self->ws_.async_handshake("127.0.0.1", "/v1/events", [self](beast::error_code handshake_ec) {
            if (handshake_ec)
              return self->finish();
            self->connected = true;
            self->read();
          });
        });
  }
  // Hangs up, giving the close handshake 2 s: a client whose connection never came up, or a server that does
  // not answer the close, ends with a timeout instead of keeping the io_context running.
  void stop() {
    if (done)
      return;
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(2));
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) { self->finish(); });
  }

  std::vector<double> delays_ms;
  std::uint64_t dropped = 0;
  std::uint64_t finished_runs = 0;
  bool connected = false;
  std::atomic<bool> done{false}; // read by the main thread while the io thread runs

private:
  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec)
        return self->finish();
      const auto now = steady::now().time_since_epoch().count();
      const json message = json::parse(beast::buffers_to_string(self->buffer_.data()), nullptr, false);
      self->buffer_.clear();
      const std::string type = message.is_object() ? message.value("type", "") : "";
      if (type == "progress") {
        const std::string stamp = message.value("message", "");
        if (!stamp.empty() && std::isdigit(static_cast<unsigned char>(stamp[0])))
          self->delays_ms.push_back(static_cast<double>(now - std::stoll(stamp)) / 1e6);
        if (message.value("phase", "") == "finished")
          ++self->finished_runs;
      } else if (type == "dropped") {
        self->dropped += message.value("count", 0ull);
      }
      self->read();
    });
  }
  void finish() { done = true; }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::uint16_t port_;
};

// Asks every client to hang up and joins the io thread. Each close has its own deadline; after 5 s the
// io_context is stopped as well, so that nothing left pending keeps the benchmark from going on.
void hang_up(net::io_context& io, const std::vector<std::shared_ptr<bench_client>>& clients, std::thread& reader) {
  net::post(io, [&] {
    for (const auto& c : clients)
      c->stop();
  });
  auto all_done = [&] {
    return std::all_of(clients.begin(), clients.end(), [](const auto& c) { return c->done.load(); });
  };
  const auto closing = steady::now() + 5s;
  while (steady::now() < closing && !all_done())
    std::this_thread::sleep_for(5ms);
  io.stop();
  reader.join();
}

double percentile(std::vector<double> values, double p) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

double rss_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

struct line {
  std::string name;
  double value;
  double baseline;
  std::string unit;
  bool lower_is_better;
};

// 100 clients on /v1/events, one run sending an event every `delivery_step_ms`.
std::vector<line> delivery(const settings& chosen, const std::filesystem::path& dir, json& report) {
  bench_daemon daemon(dir / "delivery", std::chrono::milliseconds(chosen.delivery_step_ms));
  net::io_context io;
  std::vector<std::shared_ptr<bench_client>> clients;
  for (int i = 0; i < chosen.clients; ++i) {
    clients.push_back(std::make_shared<bench_client>(io, daemon.endpoint.port));
    clients.back()->start();
  }
  std::thread reader([&] { io.run(); });
  while (daemon.core().server_stats().websockets < static_cast<std::uint64_t>(chosen.clients))
    std::this_thread::sleep_for(5ms);
  const std::string id = daemon.submit({{"rounds", 1}, {"steps_per_round", chosen.delivery_steps}});
  daemon.wait_finished(id);
  // The last event reaches every client soon after; then they hang up.
  const auto deadline = steady::now() + 10s;
  while (steady::now() < deadline &&
         !std::all_of(clients.begin(), clients.end(), [](const auto& c) { return c->finished_runs > 0; }))
    std::this_thread::sleep_for(5ms);
  hang_up(io, clients, reader);

  std::vector<double> all;
  std::uint64_t dropped = 0, complete = 0;
  for (const auto& c : clients) {
    all.insert(all.end(), c->delays_ms.begin(), c->delays_ms.end());
    dropped += c->dropped;
    complete += c->finished_runs > 0 ? 1 : 0;
  }
  report["delivery"] = {{"clients", chosen.clients},
                        {"events_per_client", chosen.delivery_steps + 4},
                        {"step_ms", chosen.delivery_step_ms},
                        {"deliveries", all.size()},
                        {"dropped", dropped},
                        {"clients_that_saw_the_end", complete}};
  return {{"ws100_p50_delay_ms", percentile(all, 0.50), 20, "ms", true},
          {"ws100_p99_delay_ms", percentile(all, 0.99), 20, "ms", true},
          {"ws100_max_delay_ms", percentile(all, 1.0), 20, "ms", true},
          {"ws100_dropped_events", static_cast<double>(dropped), 0, "events", true}};
}

// Events per second through registry, hub and one websocket client: one run alone, then 8 at once.
double events_per_second(const settings& chosen, const std::filesystem::path& dir, int runs) {
  bench_daemon daemon(dir, 0us);
  const auto start = steady::now();
  std::vector<std::string> ids;
  for (int i = 0; i < runs; ++i)
    ids.push_back(daemon.submit({{"rounds", 1}, {"steps_per_round", chosen.throughput_steps}}));
  for (const auto& id : ids)
    daemon.wait_finished(id);
  const double seconds = std::chrono::duration<double>(steady::now() - start).count();
  return runs * (chosen.throughput_steps + 4) / seconds;
}

// Long runs, websocket clients churning, the REST API polled; RSS sampled every second.
std::vector<line> soak(const settings& chosen, const std::filesystem::path& dir, json& report) {
  bench_daemon daemon(dir / "soak", 5ms);
  for (int i = 0; i < 4; ++i)
    daemon.submit({{"rounds", 1000}, {"steps_per_round", 1000}});
  std::vector<double> samples;
  const auto start = steady::now();
  std::uint64_t connections = 0;
  while (steady::now() - start < std::chrono::seconds(chosen.soak_seconds)) {
    net::io_context io;
    std::vector<std::shared_ptr<bench_client>> clients;
    for (int i = 0; i < 20; ++i) {
      clients.push_back(std::make_shared<bench_client>(io, daemon.endpoint.port));
      clients.back()->start();
    }
    connections += clients.size();
    std::thread reader([&] { io.run(); });
    for (int i = 0; i < 10; ++i) {
      (void)tailor::api_call(daemon.endpoint, "GET", "/v1/runs");
      std::this_thread::sleep_for(100ms);
    }
    hang_up(io, clients, reader);
    samples.push_back(rss_mb());
  }
  // The first fifth warms up (allocator pools, buffers); after it, RSS should stay where it is.
  const std::size_t warm = std::max<std::size_t>(1, samples.size() / 5);
  const double settled = samples[warm - 1];
  const double peak_after = *std::max_element(samples.begin() + static_cast<long>(warm) - 1, samples.end());
  report["soak"] = {{"seconds", chosen.soak_seconds},
                    {"rss_mb_per_second", samples},
                    {"websocket_connections", connections}};
  return {{"soak_rss_after_warmup_mb", settled, settled, "MB", true},
          {"soak_rss_end_mb", samples.back(), settled, "MB", true},
          {"soak_rss_peak_after_warmup_mb", peak_after, settled, "MB", true}};
}

} // namespace

int main(int argc, char** argv) {
  settings chosen;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      chosen.delivery_steps = 150;
      chosen.throughput_steps = 5000;
      chosen.soak_seconds = 10;
    } else if (arg == "--soak-seconds" && i + 1 < argc) {
      chosen.soak_seconds = std::stoi(argv[++i]);
    } else if (arg == "--results" && i + 1 < argc) {
      chosen.results = argv[++i];
    } else {
      std::cerr << "usage: daemon_bench [--quick] [--soak-seconds N] [--results DIR]\n";
      return 2;
    }
  }
  const auto dir =
      std::filesystem::temp_directory_path() / ("tailor-daemon-bench-" + std::to_string(::getpid()));
  json report = {{"benchmark", "daemon"}, {"hardware_threads", std::thread::hardware_concurrency()}};
  std::vector<line> lines = delivery(chosen, dir, report);
  const double one = events_per_second(chosen, dir / "one", 1);
  const double eight = events_per_second(chosen, dir / "eight", 8);
  lines.push_back({"events_per_s_one_run", one, one, "events/s", false});
  lines.push_back({"events_per_s_eight_runs", eight, one, "events/s", false});
  for (auto& l : soak(chosen, dir, report))
    lines.push_back(l);
  std::filesystem::remove_all(dir);

  report["results"] = json::array();
  std::printf("%-32s %12s %12s %8s\n", "name", "value", "baseline", "ratio");
  for (const auto& l : lines) {
    const double ratio = l.baseline != 0 ? l.value / l.baseline : 0;
    std::printf("%-32s %12.2f %12.2f %8.3f\n", l.name.c_str(), l.value, l.baseline, ratio);
    report["results"].push_back({{"name", l.name},
                                 {"value", l.value},
                                 {"baseline", l.baseline},
                                 {"ratio", ratio},
                                 {"unit", l.unit},
                                 {"lower_is_better", l.lower_is_better}});
  }
  std::filesystem::create_directories(chosen.results);
  std::ofstream(chosen.results / "daemon_bench.json") << report.dump(2) << "\n";
  return 0;
}
