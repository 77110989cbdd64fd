// The real mistake_collector between a recording teacher client and a builder that takes everything: when an
// exam pass's requests reach the teacher (as each batch is graded, or all at the pass's end in round mode),
// and that both ways ask the same questions in the same order.
#include "actors/mistake_collector.hpp"
#include "messages/registry.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include <string>
#include <tuple>
#include <vector>

using namespace tailor;

namespace {

// A teacher client that keeps what it is asked; (get_atom) answers "id kind round" of each request so far.
caf::behavior recording_teacher(caf::stateful_actor<std::vector<std::string>>* self) {
  return {
      [self](teach_atom, const teacher_request& r) {
        const char* kind = r.kind == teacher_request_kind::tailored_feedback ? "feedback" : "rationales";
        self->state.push_back(r.problem.id + " " + kind + " " + std::to_string(r.round));
      },
      [](answered_atom, const teacher_request&, const teacher_reply&) {},
      [self](caf::get_atom) { return self->state; },
  };
}

reflection_builder_actor::behavior_type accepting_builder() {
  return {
      [](positive_atom, const teacher_reply&) {},
      [](first_pass_atom, const std::vector<std::string>&, std::uint32_t) {},
      [](negative_atom, const std::string&, const std::string&, std::uint32_t) {},
      [](credit_atom, std::uint32_t, std::uint32_t) { return std::vector<training_item>{}; },
      [](checkpoint_atom, const std::string&) { return true; },
      [](resume_atom, const std::string&) { return true; },
  };
}

// Every mistaken question of a pass may be asked about (no quota), in the default order (misses first).
mistake_collector_options options(bool tailored, bool ask_after_pass) {
  mistake_collector_options o;
  o.tailored = tailored;
  o.requests_per_pass = 0;
  o.ask_after_pass = ask_after_pass;
  return o;
}

graded_answer answer(std::string id, std::string text, bool correct) {
  return {std::move(id), {std::move(text), rationale_source::student, 0}, correct ? "1" : "2", correct, 4};
}

struct collector_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor coordinator;
  caf::actor teacher;
  mistake_collector_actor collector;

  static caf::actor_system_config& registered(caf::actor_system_config& c) {
    register_message_types(c);
    return c;
  }

  explicit collector_fixture(mistake_collector_options options)
      : sys{registered(cfg)}, coordinator{sys}, teacher{sys.spawn(recording_teacher)} {
    auto problems = std::make_shared<std::unordered_map<std::string, example>>();
    for (const auto* id : {"q1", "q2", "q3", "q4"})
      problems->emplace(id, example{id, task_kind::arith, std::string{"question "} + id, "1", ""});
    collector = spawn_mistake_collector(sys, problems, options, sys.spawn(accepting_builder),
                                        caf::actor_cast<teacher_client_actor>(teacher), coordinator);
  }
  ~collector_fixture() {
    for (const caf::actor_addr& a : {collector.address(), teacher.address()})
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }

  // Grades one batch; returns the requests its notice to the coordinator counts and what the teacher was
  // asked by then (the collector asks before it notifies, so the teacher's mailbox already holds it).
  std::tuple<std::uint64_t, std::vector<std::string>> grade(std::vector<graded_answer> batch, std::uint32_t pass,
                                                             bool last) {
    caf::anon_send(collector, graded_atom::value, std::move(batch), pass, last);
    std::uint64_t requests = 0;
    coordinator->receive([&](graded_atom, std::uint32_t, std::uint64_t, std::uint64_t, std::uint64_t,
                             std::uint64_t sent) { requests = sent; });
    std::vector<std::string> asked;
    coordinator->request(teacher, caf::infinite, caf::get_atom::value)
        .receive([&](std::vector<std::string>& all) { asked = std::move(all); },
                 [&](caf::error& error) { FAIL(sys.render(error)); });
    return {requests, asked};
  }
};

// Two batches of one pass: q1 and q2 missed in every sample, q3 a near miss, q4 right.
std::vector<graded_answer> first_batch() {
  return {answer("q1", "a", false), answer("q1", "b", false), answer("q2", "c", false), answer("q4", "d", true)};
}
std::vector<graded_answer> last_batch() {
  return {answer("q3", "e", false), answer("q3", "f", true)};
}

} // namespace

TEST_CASE("continuous mode: mistakes go to the teacher as their batch is graded", "[actors][collector]") {
  collector_fixture f{options(true, false)};
  auto [requests, asked] = f.grade(first_batch(), 2, false);
  CHECK(requests == 2);
  CHECK(asked == std::vector<std::string>{"q1 feedback 2", "q2 feedback 2"});
  std::tie(requests, asked) = f.grade(last_batch(), 2, true);
  CHECK(requests == 1); // the near miss, at the end of the pass
  CHECK(asked == std::vector<std::string>{"q1 feedback 2", "q2 feedback 2", "q3 feedback 2"});
}

TEST_CASE("round mode: a pass's requests wait for its end, then go in the same order", "[actors][collector]") {
  collector_fixture f{options(true, true)};
  auto [requests, asked] = f.grade(first_batch(), 2, false);
  CHECK(requests == 0);
  CHECK(asked.empty());
  std::tie(requests, asked) = f.grade(last_batch(), 2, true);
  CHECK(requests == 3);
  CHECK(asked == std::vector<std::string>{"q1 feedback 2", "q2 feedback 2", "q3 feedback 2"});

  SECTION("the next pass starts with nothing held") {
    std::tie(requests, asked) = f.grade({answer("q4", "g", false)}, 3, true);
    CHECK(requests == 1);
    CHECK(asked.back() == "q4 feedback 3");
  }
}

TEST_CASE("round mode, the ablation: its random questions too wait for the pass's end", "[actors][collector]") {
  collector_fixture f{options(false, true)};
  const std::vector<example> stand_ins{{"q4", task_kind::arith, "question q4", "1", ""},
                                       {"q3", task_kind::arith, "question q3", "1", ""},
                                       {"q2", task_kind::arith, "question q2", "1", ""}};
  caf::anon_send(f.collector, stand_in_atom::value, std::uint32_t{2}, stand_ins);
  auto [requests, asked] = f.grade(first_batch(), 2, false);
  CHECK(requests == 0);
  CHECK(asked.empty());
  std::tie(requests, asked) = f.grade(last_batch(), 2, true);
  CHECK(requests == 3); // one stand-in wherever the method would ask about a mistake
  CHECK(asked == std::vector<std::string>{"q4 rationales 2", "q3 rationales 2", "q2 rationales 2"});
}
