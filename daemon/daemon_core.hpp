// tailord's core, wired: a progress hub, a run registry (with the injected launcher and config parser) and
// the HTTP/websocket server, which reaches the actors through io/api/api_backend.hpp.
#pragma once

#include "daemon/run_registry.hpp"
#include "io/api/api_server.hpp"
#include "io/common/result.hpp"

#include <caf/actor_system.hpp>
#include <filesystem>
#include <memory>

namespace tailor {

struct daemon_options {
  std::filesystem::path data_dir;
  api_server_options server;
  run_launcher launch;     // spawn_run in tailord; a simulated or fake run in tests
  run_config_parser parse; // run_config_from_json in tailord
  std::size_t max_active_runs = 0;
  // Runs' training steps and exam chunks on a device at once (0: no turns). Two, so that one run's trainer and
  // exam still overlap as continuous mode means them to, while several runs take turns.
  std::size_t device_slots = 2;
  int gpus = 0; // GPUs the device scheduler places runs on (tailord: those LibTorch sees)
  std::size_t teacher_concurrency = 0; // HTTP teacher requests in flight over all runs (0: no shared limit)
  std::size_t history_points = 500;
};

class daemon_core {
public:
  // Opens the data dir, resumes its unfinished runs and starts serving. The actor system must outlive the
  // core and have the message types registered (register_message_types).
  static result<std::unique_ptr<daemon_core>> start(caf::actor_system& system, daemon_options options);
  virtual ~daemon_core() = default;

  virtual std::uint16_t port() const = 0;
  virtual api_server_stats server_stats() const = 0;
  // Stops serving, then stops the actors; runs still going are left unfinished on disk, to be resumed at
  // the next start. Idempotent; also done by the destructor.
  virtual void stop() = 0;
};

} // namespace tailor
