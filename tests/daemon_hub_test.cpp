// The progress hub alone: per-run state for late subscribers, bounded chart history, fan-out filters.
#include "daemon/progress_hub.hpp"
#include "daemon_test_support.hpp"
#include "messages/atoms.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

using namespace tailor;
using json = nlohmann::json;

namespace {

progress_event training_step(const std::string& run, std::uint32_t round, std::uint64_t step) {
  progress_event e;
  e.run_id = run;
  e.phase = run_phase::training;
  e.round = round;
  e.step = step;
  e.lm_loss = 1.0 / static_cast<double>(step);
  e.teacher_tokens = step * 10;
  e.timestamp_ms = static_cast<std::int64_t>(step);
  return e;
}

} // namespace

TEST_CASE("the hub keeps a bounded history and the state of each run", "[daemon][hub]") {
  caf::actor_system_config config;
  caf::actor_system system{testing::configured(config)};
  auto hub = spawn_progress_hub(system, {50});
  for (std::uint64_t step = 1; step <= 2000; ++step)
    caf::anon_send(hub, progress_atom::value, training_step("a", 1, step));
  progress_event evaluated = training_step("a", 1, 2000);
  evaluated.phase = run_phase::evaluating;
  evaluated.accuracy = 0.25;
  caf::anon_send(hub, progress_atom::value, evaluated);

  caf::scoped_actor self{system};
  json state;
  self->request(hub, caf::infinite, caf::get_atom::value, std::string("a"))
      .receive([&](const std::string& text) { state = json::parse(text); },
               [](caf::error&) { FAIL("no answer"); });
  CHECK(state["type"] == "state");
  CHECK(state["event"]["phase"] == "evaluating");
  const json& loss = state["history"]["loss"];
  CHECK(loss.size() <= 50);
  CHECK(loss.size() >= 25);
  CHECK(loss.front()[2] == 1);   // the shape keeps its start ...
  CHECK(loss.back()[2] == 2000); // ... and its latest point
  CHECK(state["history"]["spend"].size() <= 50);
  CHECK(state["history"]["accuracy"] == json::array({json::array({1, 0.25})}));

  self->request(hub, caf::infinite, caf::get_atom::value, std::string("unknown"))
      .receive([&](const std::string& text) { CHECK(text == "null"); },
               [](caf::error&) { FAIL("no answer"); });
  caf::anon_send_exit(hub, caf::exit_reason::user_shutdown);
}

TEST_CASE("a subscriber to one run gets its state first and only its events", "[daemon][hub]") {
  caf::actor_system_config config;
  caf::actor_system system{testing::configured(config)};
  auto hub = spawn_progress_hub(system);
  caf::anon_send(hub, progress_atom::value, training_step("a", 1, 1));
  auto queue = std::make_shared<event_queue>(100);
  caf::anon_send(hub, subscribe_atom::value, std::string("a"), queue);
  caf::anon_send(hub, progress_atom::value, training_step("b", 1, 1));
  caf::anon_send(hub, progress_atom::value, training_step("a", 1, 2));
  // A get after the sends is answered after them: the hub has handled them all by then.
  caf::scoped_actor self{system};
  self->request(hub, caf::infinite, caf::get_atom::value, std::string("a"))
      .receive([](const std::string&) {}, [](caf::error&) {});
  std::vector<json> got;
  while (auto message = queue->pop())
    got.push_back(json::parse(*message));
  REQUIRE(got.size() == 2);
  CHECK(got[0]["type"] == "state");
  CHECK(got[0]["event"]["step"] == 1);
  CHECK(got[1]["type"] == "progress");
  CHECK(got[1]["run_id"] == "a");
  CHECK(got[1]["step"] == 2);

  queue->close(); // a closed queue is forgotten and gets nothing more
  caf::anon_send(hub, progress_atom::value, training_step("a", 1, 3));
  CHECK(queue->pop() == nullptr);
  caf::anon_send_exit(hub, caf::exit_reason::user_shutdown);
}
