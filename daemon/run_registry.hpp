// The daemon's runs: submits, lists, cancels and watches them, several at once, and on start resumes every
// unfinished run it finds in the data dir. How a run is launched is injected (the real loop, or a fake).
#pragma once

#include "actors/run.hpp"
#include "sharing/device_scheduler.hpp"
#include "io/common/result.hpp"
#include "io/store/run_store.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

namespace tailor {

using submit_atom = caf::atom_constant<caf::atom("submit")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using prom_atom = caf::atom_constant<caf::atom("prom")>; // Prometheus text
using compares_atom = caf::atom_constant<caf::atom("compares")>;

// spawn_run's shape (actors/run.hpp): starts a run that reports to `listener` and honours stop_atom.
using run_launcher = std::function<caf::actor(caf::actor_system&, run_spec, caf::actor listener)>;
// Turns a submitted config into a run_config, or says what is wrong and where ("teacher.concurrency: ...").
// Relative paths in the config are resolved against `base_dir`.
using run_config_parser =
    std::function<result<run_config>(const nlohmann::json& config, const std::filesystem::path& base_dir)>;

struct run_registry_options {
  std::filesystem::path data_dir;
  run_launcher launch;
  run_config_parser parse;
  caf::actor hub;             // gets every event of every run
  std::size_t max_active = 0; // runs going at once; the others wait in `queued` (0: no limit)
  // Given to every run it launches (run_spec), and shown in /metrics; either may be null.
  std::shared_ptr<device_scheduler> devices;
  std::shared_ptr<fifo_semaphore> teacher_gate;
};

// Messages, each answered with (std::uint16_t http_status, std::string json_body) unless said otherwise:
//   (submit_atom, std::string config_json, std::string requested_id, std::string base_dir,
//    std::string labels_json)                     201 / 400 / 409 (labels: a JSON object of strings, or "")
//   (list_atom)                                   200 {"runs": [...]}
//   (caf::get_atom, std::string id)               200 the run / 404
//   (cancel_atom, std::string id)                 202 / 404 / 409
//   (prom_atom) -> std::string                    Prometheus text about the runs
//   (compares_atom)                               200 {"compares": [...]} (daemon/compare_views.hpp)
//   (compares_atom, std::string name)             200 the compare's runs by arm and seed / 404
//   (progress_atom, progress_event)               from the runs; recorded, then forwarded to the hub
// Fails to start (returns a problem) when the data dir cannot be used.
result<caf::actor> spawn_run_registry(caf::actor_system& system, run_registry_options options);

} // namespace tailor
