// tailord's core (daemon/daemon_core.hpp) and the bridge from the server's threads to the actors.
#include "daemon/daemon_core.hpp"

#include "daemon/progress_hub.hpp"
#include "io/store/evaluation_records.hpp"
#include "io/store/mistake_review.hpp"
#include "io/store/progress_json.hpp"
#include "messages/atoms.hpp"

#include <caf/all.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>

namespace tailor {
namespace {

using json = nlohmann::json;
constexpr auto ask_timeout = std::chrono::seconds(20);

// Asks `target` from a non-actor thread without blocking it: a one-shot actor makes the request and hands
// the answer, (status, JSON text), to `done`. (`target` is a spawn argument rather than a capture because
// CAF 0.17 dereferences a null pointer, harmlessly but visibly to UBSan, for argument-less function actors.)
template <class... Ts>
void ask(caf::actor_system& system, const caf::actor& target, api_reply_handler done, Ts... xs) {
  system.spawn(
      [=](caf::event_based_actor* self, const caf::actor& to) {
        self->request(to, ask_timeout, xs...)
            .then(
                [=](std::uint16_t status, const std::string& body) {
                  json value = json::parse(body, nullptr, false);
                  done(api_reply{status, value.is_discarded() ? json(body) : std::move(value)});
                },
                [=](caf::error& error) {
                  done(api_error(503, "the daemon could not answer: " + self->system().render(error)));
                });
      },
      target);
}

class core_impl final : public daemon_core, public api_backend {
public:
  core_impl(caf::actor_system& system, caf::actor hub, caf::actor registry)
      : system_(system), hub_(std::move(hub)), registry_(std::move(registry)) {}

  ~core_impl() override { stop(); }

  status serve(api_server_options options) {
    auto server = api_server::start(*this, std::move(options));
    if (!server)
      return server.error();
    server_ = std::move(server.value());
    return ok_status();
  }

  std::uint16_t port() const override { return server_ ? server_->port() : 0; }
  api_server_stats server_stats() const override { return server_ ? server_->stats() : api_server_stats{}; }

  void stop() override {
    if (stopped_)
      return;
    stopped_ = true;
    if (server_)
      server_->stop();
    caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(hub_, caf::exit_reason::user_shutdown);
  }

  // -- api_backend: each call becomes one message to the registry or the hub --

  void submit(json config, std::string requested_id, std::string base_dir, std::map<std::string, std::string> labels,
              api_reply_handler done) override {
    ask(system_, registry_, std::move(done), submit_atom::value, config.dump(), std::move(requested_id),
        std::move(base_dir), json(labels).dump());
  }
  void list_runs(api_reply_handler done) override {
    ask(system_, registry_, std::move(done), list_atom::value);
  }
  void get_run(std::string id, api_reply_handler done) override {
    ask(system_, registry_, std::move(done), caf::get_atom::value, std::move(id));
  }
  void get_mistakes(std::string id, std::uint32_t round, api_reply_handler done) override {
    read_in_run_dir(std::move(id), std::move(done), [round](const std::filesystem::path& dir) {
      return reply_of(review_mistakes(dir, round > 0 ? std::optional<std::uint32_t>(round) : std::nullopt));
    });
  }
  void get_evaluations(std::string id, std::uint32_t round, api_reply_handler done) override {
    read_in_run_dir(std::move(id), std::move(done), [round](const std::filesystem::path& dir) {
      return reply_of(evaluations_json(dir, round > 0 ? std::optional<std::uint32_t>(round) : std::nullopt));
    });
  }
  void list_compares(api_reply_handler done) override {
    ask(system_, registry_, std::move(done), compares_atom::value);
  }
  void get_compare(std::string name, api_reply_handler done) override {
    ask(system_, registry_, std::move(done), compares_atom::value, std::move(name));
  }
  void cancel_run(std::string id, api_reply_handler done) override {
    ask(system_, registry_, std::move(done), cancel_atom::value, std::move(id));
  }
  void metrics(std::function<void(std::string)> done) override {
    system_.spawn(
        [done = std::move(done)](caf::event_based_actor* self, const caf::actor& registry) {
          self->request(registry, ask_timeout, prom_atom::value)
              .then([=](const std::string& text) { done(text); },
                    [=](caf::error& error) {
                      done("# the daemon could not answer: " + self->system().render(error) + "\n");
                    });
        },
        registry_);
  }
  void subscribe(std::string run_id, std::shared_ptr<event_queue> queue) override {
    caf::anon_send(hub_, subscribe_atom::value, std::move(run_id), std::move(queue));
  }

private:
  static api_reply reply_of(const result<json>& read) {
    return read ? api_reply{200, read.value()} : api_error(500, read.error().message);
  }

  // Asks the registry for the run (404 when there is none), then reads its files on a thread of their own:
  // files of hundreds of rationales must not hold up the registry or the server.
  void read_in_run_dir(std::string id, api_reply_handler done,
                       std::function<api_reply(const std::filesystem::path&)> read) {
    caf::actor_system& system = system_;
    ask(
        system_, registry_,
        [&system, done, read](api_reply run) {
          if (run.status != 200)
            return done(std::move(run));
          system.spawn<caf::detached>(
              [done, read](const std::string& dir) { done(read(dir)); }, run.body.value("dir", std::string{}));
        },
        caf::get_atom::value, std::move(id));
  }

  caf::actor_system& system_;
  caf::actor hub_;
  caf::actor registry_;
  std::unique_ptr<api_server> server_;
  bool stopped_ = false;
};

} // namespace

result<std::unique_ptr<daemon_core>> daemon_core::start(caf::actor_system& system, daemon_options options) {
  auto hub = spawn_progress_hub(system, {options.history_points});
  run_registry_options registry_options{options.data_dir, std::move(options.launch), std::move(options.parse),
                                        hub, options.max_active_runs};
  if (options.device_slots > 0)
    registry_options.devices = std::make_shared<device_scheduler>(options.device_slots, options.gpus);
  if (options.teacher_concurrency > 0)
    registry_options.teacher_gate = fifo_semaphore::create(options.teacher_concurrency);
  auto registry = spawn_run_registry(system, std::move(registry_options));
  if (!registry) {
    caf::anon_send_exit(hub, caf::exit_reason::user_shutdown);
    return registry.error();
  }
  auto core = std::make_unique<core_impl>(system, hub, registry.value());
  if (auto serving = core->serve(std::move(options.server)); !serving)
    return serving.error();
  return std::unique_ptr<daemon_core>(std::move(core));
}

} // namespace tailor
