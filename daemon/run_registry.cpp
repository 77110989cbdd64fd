// The run registry (daemon/run_registry.hpp): one record per run, persisted at each phase change; runs are
// launched through the injected launcher and watched, and unfinished ones are resumed at start.
#include "daemon/run_registry.hpp"

#include "daemon/compare_views.hpp"
#include "daemon/run_metrics.hpp"

#include "io/api/api_backend.hpp"
#include "io/store/progress_json.hpp"
#include "messages/atoms.hpp"

#include <caf/all.hpp>
#include <deque>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

namespace tailor {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// State files are rewritten at every phase change, and between phase changes at most this often, so that
// a crash loses little of the last event and many runs do not keep the disk busy.
constexpr std::int64_t save_interval_ms = 2000;

caf::message answer(std::uint16_t status, const json& body) {
  return caf::make_message(status, dump_json(body));
}

caf::message refuse(std::uint16_t status, std::string message) {
  return answer(status, api_error(status, std::move(message)).body);
}

// 400 for a config, with each of the parser's lines ("exam.samples: expected ...") also as {path, message}.
caf::message refuse_config(const problem& why) {
  api_reply reply = api_error(400, "invalid run config: " + why.message);
  json problems = json::array();
  std::istringstream lines(why.message);
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(": ");
    const bool has_path = colon != std::string::npos && line.find(' ') > colon;
    problems.push_back({{"path", has_path ? json(line.substr(0, colon)) : json(nullptr)},
                        {"message", has_path ? line.substr(colon + 2) : line}});
  }
  reply.body["error"]["problems"] = std::move(problems);
  return answer(400, reply.body);
}

struct tracked_run {
  run_record record;
  caf::actor actor; // while it runs
  device_placement placement; // the GPUs the scheduler gave it, while it runs
  std::int64_t saved_ms = 0;
};

struct registry_state {
  run_registry_options options;
  std::optional<run_store> store;
  std::map<std::string, tracked_run> runs;
  std::deque<std::string> waiting; // ids of queued runs, in submission order
  std::size_t active = 0;
  caf::actor writer; // state_writer
  static inline const char* name = "run_registry";
};

using registry_actor = caf::stateful_actor<registry_state>;
using persist_atom = caf::atom_constant<caf::atom("persist")>;

// Durable now: for what must be on disk before anything else happens (a cancel, before the run hears of it).
void save(registry_state& st, tracked_run& run) {
  run.saved_ms = unix_time_ms();
  if (auto saved = st.store->save(run.record); !saved)
    std::cerr << "tailord: " << saved.error().message << '\n';
}

// Durable soon: the state writer (a thread of its own) does the fsyncs, so that a slow disk never delays
// events on their way to the hub. Its mailbox keeps each run's states in order.
void save_soon(registry_state& st, tracked_run& run) {
  run.saved_ms = unix_time_ms();
  caf::anon_send(st.writer, persist_atom::value, run.record.id, dump_json(to_json(run.record)));
}

caf::behavior state_writer(caf::event_based_actor* self, run_store store) {
  return {
      [=](persist_atom, const std::string& id, const std::string& state) {
        if (auto saved = write_file_atomically(store.run_dir(id) / "state.json", state); !saved)
          std::cerr << "tailord: " << saved.error().message << '\n';
      },
      [=](stop_atom) { self->quit(); },
  };
}

json summary(const registry_state& st, const tracked_run& run) {
  json value = to_json(run.record);
  value["dir"] = st.store->run_dir(run.record.id).string();
  value["progress"] = std::move(value["last_event"]);
  value.erase("last_event");
  return value;
}

void record_event(registry_actor* self, tracked_run& run, const progress_event& event);

progress_event event_for(const tracked_run& run, run_phase phase, std::string message) {
  progress_event e = run.record.last_event.value_or(progress_event{});
  e.run_id = run.record.id;
  e.phase = phase;
  e.teacher_in_flight = 0;
  e.message = std::move(message);
  e.timestamp_ms = unix_time_ms();
  return e;
}

void start_waiting(registry_actor* self);

void launch(registry_actor* self, tracked_run& run, const json& config) {
  auto& st = self->state;
  const std::string& id = run.record.id;
  const std::filesystem::path base =
      run.record.base_dir.empty() ? st.options.data_dir : std::filesystem::path(run.record.base_dir);
  auto parsed = st.options.parse(config, base);
  if (!parsed)
    return record_event(self, run,
                        event_for(run, run_phase::failed, "invalid run config: " + parsed.error().message));
  run_spec spec{id, std::move(parsed.value()), st.options.devices, st.options.teacher_gate};
  spec.config.output_dir = st.store->run_dir(id).string();
  // A run that asks for any GPU ("cuda", "auto") gets the block of GPUs, one per rank, that the fewest
  // runs are on; its ranks still take turns there with whoever else was placed on them.
  if (st.options.devices) {
    run.placement = st.options.devices->place(spec.config.device, spec.config.nproc);
    spec.config.device = run.placement.device();
  }
  caf::actor actor;
  try {
    actor = st.options.launch(self->system(), std::move(spec), caf::actor_cast<caf::actor>(self));
  } catch (const std::exception& error) {
    return record_event(self, run,
                        event_for(run, run_phase::failed, std::string("cannot start: ") + error.what()));
  }
  if (!actor)
    return record_event(self, run, event_for(run, run_phase::failed, "the run could not be started"));
  run.actor = actor;
  ++st.active;
  self->monitor(actor);
}

// Starts the run now, or queues it while `max_active` runs are going.
void admit(registry_actor* self, tracked_run& run) {
  auto& st = self->state;
  if (st.options.max_active > 0 && st.active >= st.options.max_active) {
    st.waiting.push_back(run.record.id);
    return;
  }
  // Read back from the run's directory: what runs is what was stored.
  auto config = st.store->load_config(run.record.id);
  if (!config)
    return record_event(self, run,
                        event_for(run, run_phase::failed, "cannot start: " + config.error().message));
  launch(self, run, config.value());
}

void start_waiting(registry_actor* self) {
  auto& st = self->state;
  while (!st.waiting.empty() && (st.options.max_active == 0 || st.active < st.options.max_active)) {
    const std::string id = st.waiting.front();
    st.waiting.pop_front();
    if (auto found = st.runs.find(id); found != st.runs.end() && !is_final(found->second.record.phase))
      admit(self, found->second);
  }
}

void record_event(registry_actor* self, tracked_run& run, const progress_event& event) {
  auto& st = self->state;
  if (is_final(run.record.phase))
    return; // a run says its last word once; anything after (e.g. its down message) changes nothing
  const bool phase_changed = event.phase != run.record.phase;
  run.record.phase = event.phase;
  run.record.last_event = event;
  run.record.updated_ms = unix_time_ms();
  self->send(st.options.hub, progress_atom::value, event);
  if (phase_changed || run.record.updated_ms - run.saved_ms >= save_interval_ms)
    save_soon(st, run);
  if (is_final(event.phase)) {
    if (run.actor) {
      run.actor = nullptr;
      --st.active;
    }
    run.placement = {};
    std::erase(st.waiting, run.record.id);
    start_waiting(self);
  }
}

std::string unique_id(const registry_state& st) {
  for (;;) {
    std::string id = make_run_id();
    if (!st.runs.contains(id) && !st.store->exists(id))
      return id;
  }
}

caf::message submit(registry_actor* self, const std::string& config_text, const std::string& requested_id,
                    const std::string& base_dir, const std::string& labels_text) {
  auto& st = self->state;
  const json config = json::parse(config_text, nullptr, false);
  if (config.is_discarded() || !config.is_object())
    return refuse(400, "a run config must be a JSON object");
  const std::filesystem::path base = base_dir.empty() ? st.options.data_dir : std::filesystem::path(base_dir);
  if (!base.is_absolute())
    return refuse(400, "base_dir must be an absolute path, not `" + base_dir + "`");
  if (auto parsed = st.options.parse(config, base); !parsed)
    return refuse_config(parsed.error());
  if (!requested_id.empty() && !is_valid_run_id(requested_id))
    return refuse(400, "invalid run id `" + requested_id + "`: " + run_id_rules());
  if (!requested_id.empty() && (st.runs.contains(requested_id) || st.store->exists(requested_id)))
    return refuse(409,
                  "a run with id `" + requested_id + "` already exists; pick another id or leave it out");
  const std::string id = requested_id.empty() ? unique_id(st) : requested_id;

  tracked_run run;
  run.record.id = id;
  run.record.created_ms = run.record.updated_ms = unix_time_ms();
  run.record.base_dir = base.string();
  const json labels = json::parse(labels_text, nullptr, false);
  if (labels.is_object())
    for (const auto& [key, value] : labels.items())
      if (value.is_string())
        run.record.labels[key] = value.get<std::string>();
  if (auto created = st.store->create(run.record, config); !created)
    return refuse(st.store->exists(id) ? 409 : 500, created.error().message);
  run.saved_ms = run.record.created_ms;
  auto& tracked = st.runs.emplace(id, std::move(run)).first->second;
  // The queued event announces the run to /v1/events watchers before it reports anything itself.
  self->send(st.options.hub, progress_atom::value, event_for(tracked, run_phase::queued, "submitted"));
  admit(self, tracked);
  return answer(201, summary(st, tracked));
}

caf::message cancel(registry_actor* self, const std::string& id) {
  auto& st = self->state;
  const auto found = st.runs.find(id);
  if (found == st.runs.end())
    return refuse(404, "no run with id `" + id + "`");
  tracked_run& run = found->second;
  if (is_final(run.record.phase))
    return refuse(409, "run `" + id + "` has already ended (" + std::string(to_string(run.record.phase)) +
                           "); there is nothing to cancel");
  if (!run.record.cancel_requested) {
    // Recorded before the run hears of it: a crash in between must not resume a cancelled run.
    run.record.cancel_requested = true;
    save(st, run);
    if (run.actor)
      self->send(run.actor, stop_atom::value);
    else
      record_event(self, run, event_for(run, run_phase::cancelled, "cancelled before it started"));
  }
  return answer(202, summary(st, run));
}

caf::message get_run(registry_actor* self, const std::string& id) {
  auto& st = self->state;
  const auto found = st.runs.find(id);
  if (found == st.runs.end())
    return refuse(404, "no run with id `" + id + "`");
  json value = summary(st, found->second);
  const auto results = st.store->load_results(id);
  value["results"] = results ? *results : json(nullptr);
  return answer(200, value);
}

caf::message list_runs(registry_actor* self) {
  auto& st = self->state;
  std::vector<const tracked_run*> ordered;
  for (const auto& [id, run] : st.runs)
    ordered.push_back(&run);
  std::stable_sort(ordered.begin(), ordered.end(), [](const tracked_run* a, const tracked_run* b) {
    return a->record.created_ms < b->record.created_ms;
  });
  json runs = json::array();
  for (const tracked_run* run : ordered)
    runs.push_back(summary(st, *run));
  return answer(200, {{"runs", std::move(runs)}});
}

std::vector<const run_record*> records_of(const registry_state& st) {
  std::vector<const run_record*> records;
  for (const auto& [id, run] : st.runs)
    records.push_back(&run.record);
  return records;
}

caf::message get_compare(registry_actor* self, const std::string& name) {
  auto& st = self->state;
  auto detail = compare_detail(name, records_of(st), *st.store);
  if (!detail)
    return refuse(404, "no compare named `" + name + "`; `tailor compare --server` names one after its --out");
  return answer(200, *detail);
}

// Every run the data dir holds: ended ones are listed, unfinished ones are started again (resuming is the
// launcher's job), and cancelled ones that had not ended are marked so.
void restore(registry_actor* self) {
  auto& st = self->state;
  for (const std::string& id : st.store->list_ids()) {
    auto record = st.store->load(id);
    if (!record) {
      if (!st.store->load_config(id)) {
        std::cerr << "tailord: skipping " << st.store->run_dir(id).string() << ": " << record.error().message
                  << '\n';
        continue;
      }
      // Submitted, but the daemon died before the first state was written.
      run_record fresh;
      fresh.id = id;
      fresh.created_ms = fresh.updated_ms = unix_time_ms();
      record = fresh;
    }
    tracked_run run;
    run.record = std::move(record.value());
    auto& tracked = st.runs.emplace(id, std::move(run)).first->second;
    if (is_final(tracked.record.phase)) {
      if (tracked.record.last_event)
        self->send(st.options.hub, progress_atom::value, *tracked.record.last_event);
      continue;
    }
    if (tracked.record.cancel_requested) {
      record_event(self, tracked,
                   event_for(tracked, run_phase::cancelled, "cancelled while the daemon was down"));
      continue;
    }
    ++tracked.record.resumed;
    record_event(self, tracked, event_for(tracked, run_phase::queued, "resuming after a daemon restart"));
    admit(self, tracked);
  }
}

caf::behavior run_registry(registry_actor* self, run_registry_options options, run_store store) {
  self->state.options = std::move(options);
  self->state.store.emplace(store);
  self->state.writer = self->system().spawn<caf::detached>(state_writer, std::move(store));
  self->set_down_handler([=](caf::down_msg& down) {
    for (auto& [id, run] : self->state.runs)
      if (run.actor && run.actor.address() == down.source) {
        record_event(self, run,
                     event_for(run, run_phase::failed,
                               "the run stopped without reporting an end (" + to_string(down.reason) + ")"));
        return;
      }
  });
  // The daemon is going down: its runs go down with it, unfinished, to be resumed at the next start.
  self->set_exit_handler([=](caf::exit_msg& exit) {
    for (auto& [id, run] : self->state.runs)
      if (run.actor)
        self->send_exit(run.actor, exit.reason);
    self->send(self->state.writer, stop_atom::value); // after the states it has yet to write
    self->quit(exit.reason);
  });
  restore(self);
  return {
      [=](submit_atom, const std::string& config, const std::string& id, const std::string& base_dir,
          const std::string& labels) { return submit(self, config, id, base_dir, labels); },
      [=](list_atom) { return list_runs(self); },
      [=](caf::get_atom, const std::string& id) { return get_run(self, id); },
      [=](cancel_atom, const std::string& id) { return cancel(self, id); },
      [=](prom_atom) {
        return runs_prometheus_text(records_of(self->state), self->state.active,
                                    self->state.options.devices.get(), self->state.options.teacher_gate.get());
      },
      [=](compares_atom) { return answer(200, list_compares(records_of(self->state))); },
      [=](compares_atom, const std::string& name) { return get_compare(self, name); },
      [=](progress_atom, const progress_event& event) {
        auto found = self->state.runs.find(event.run_id);
        if (found != self->state.runs.end())
          record_event(self, found->second, event);
      },
  };
}

} // namespace

result<caf::actor> spawn_run_registry(caf::actor_system& system, run_registry_options options) {
  if (!options.launch || !options.parse || !options.hub)
    return problem{"the run registry needs a launcher, a config parser and a progress hub"};
  auto store = run_store::open(options.data_dir);
  if (!store)
    return store.error();
  options.data_dir = store->data_dir();
  return system.spawn(run_registry, std::move(options), std::move(store.value()));
}

} // namespace tailor
