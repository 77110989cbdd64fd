// A daemon for tests: its own actor system, a temporary data dir, simulated runs and a free port.
#pragma once

#include "tests/support/simulated_run.hpp"
#include "daemon/daemon_core.hpp"
#include "io/api/api_client.hpp"
#include "io/config/run_config_json.hpp"
#include "messages/registry.hpp"
#include "tests/eventually.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>

namespace tailor::testing {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    path = std::filesystem::temp_directory_path() /
           ("tailor-daemon-test-" + std::to_string(std::random_device{}()) + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

inline caf::actor_system_config& configured(caf::actor_system_config& config) {
  register_message_types(config);
  return config;
}

// Simulated runs at `step` per training step; `options` may be adjusted before start().
class test_daemon {
public:
  explicit test_daemon(std::filesystem::path data_dir,
                       std::chrono::microseconds step = std::chrono::milliseconds(2))
      : system_(configured(config_)) {
    options.data_dir = std::move(data_dir);
    options.server.port = 0;
    options.server.web_root = std::filesystem::path(TAILOR_SOURCE_DIR) / "web";
    simulated_run_options sim;
    sim.step_interval = step;
    options.launch = [sim](caf::actor_system& system, run_spec spec, caf::actor listener) {
      return spawn_simulated_run(system, std::move(spec), std::move(listener), sim);
    };
    options.parse = run_config_from_json;
  }

  void start() {
    auto started = daemon_core::start(system_, options);
    if (!started)
      throw std::runtime_error(started.error().message);
    core_ = std::move(started.value());
    endpoint.port = core_->port();
    endpoint.token = options.server.token;
  }

  ~test_daemon() {
    if (core_)
      core_->stop();
  }

  void stop() { core_->stop(); }
  daemon_core& core() { return *core_; }
  caf::actor_system& system() { return system_; }

  api_response call(const std::string& method, const std::string& target, const std::string& body = {}) {
    auto response = api_call(endpoint, method, target, body, std::chrono::seconds(10));
    if (!response)
      throw std::runtime_error(response.error().message);
    return response.value();
  }

  // Submits and returns the new run's id (throws unless 201).
  std::string submit(const nlohmann::json& config, const std::string& query = {}) {
    const auto response = call("POST", "/v1/runs" + query, config.dump());
    if (response.status != 201)
      throw std::runtime_error("submit: " + std::to_string(response.status) + " " + response.body);
    return response.json()["id"].get<std::string>();
  }

  nlohmann::json run(const std::string& id) { return call("GET", "/v1/runs/" + id).json(); }

  std::string phase(const std::string& id) { return run(id)["phase"].get<std::string>(); }

  daemon_options options;
  api_endpoint endpoint;

private:
  caf::actor_system_config config_;
  caf::actor_system system_;
  std::unique_ptr<daemon_core> core_;
};

} // namespace tailor::testing
