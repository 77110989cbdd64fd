// The messages in use between typed actors: a detached trainer-like actor, a collector-like actor that turns
// graded answers into mistakes and teacher replies into training items, and a teacher stub.
#include "messages/atoms.hpp"
#include "messages/example.hpp"
#include "messages/grading.hpp"
#include "messages/registry.hpp"
#include "messages/teacher.hpp"
#include "messages/training.hpp"
#include "messages/weights.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace tailor;

namespace {

// -- a trainer-like actor: detached, as the real one blocks in LibTorch -----------------------------------

using trainer_actor =
    caf::typed_actor<caf::replies_to<train_atom, std::vector<training_item>>::with<training_metrics>,
                     caf::replies_to<checkpoint_atom>::with<weights_snapshot>>;

struct trainer_state {
  std::uint64_t step = 0;
  std::uint64_t version = 0;
};

// Metrics are a pure function of the items, so the test can tell that every item arrived whole.
std::uint64_t text_size(const training_item& item) {
  return item.prefix.size() + item.target.size();
}

trainer_actor::behavior_type trainer(trainer_actor::stateful_pointer<trainer_state> self,
                                     std::string checkpoint_root) {
  return {
      [=](train_atom, const std::vector<training_item>& items) {
        auto& st = self->state;
        training_metrics m;
        m.step = ++st.step;
        m.examples = static_cast<std::uint32_t>(items.size());
        for (const auto& item : items) {
          m.tokens += text_size(item);
          if (item.has_triplet())
            ++m.triplet_examples;
        }
        m.lm_loss = 2.0 / static_cast<double>(m.step);
        m.triplet_loss = m.triplet_examples > 0 ? 0.5 : 0.0;
        m.total_loss = m.lm_loss + 0.5 * m.triplet_loss;
        m.weights_version = st.version + 1;
        return m;
      },
      [=](checkpoint_atom) {
        auto& st = self->state;
        ++st.version;
        return weights_snapshot{st.version, checkpoint_root + "/step-" + std::to_string(st.step)};
      },
  };
}

// -- a teacher stub: corrects a mistake, or writes `samples` chain-of-thought rationales --------------------

using teacher_actor = caf::typed_actor<caf::replies_to<teach_atom, teacher_request>::with<teacher_reply>>;

teacher_actor::behavior_type teacher() {
  return {
      [](teach_atom, const teacher_request& request) {
        teacher_reply reply;
        reply.example_id = request.problem.id;
        reply.kind = request.kind;
        bool tailored = request.kind == teacher_request_kind::tailored_feedback;
        for (std::uint32_t i = 0; i < request.samples; ++i) {
          std::string text =
              (tailored ? "Not \"" + request.student_mistake.wrong_rationale.text + "\": " : "") + "way " +
              std::to_string(i + 1) + " gives " + request.problem.answer + ".";
          reply.rationales.push_back(
              {text, tailored ? rationale_source::teacher_tailored : rationale_source::teacher, 0});
        }
        reply.usage = {request.problem.question.size(), 10 * request.samples, 0.001 * request.samples};
        return reply;
      },
  };
}

// -- a collector-like actor: mistakes out of graded answers, training items out of teacher replies ---------

using collector_actor =
    caf::typed_actor<caf::replies_to<graded_atom, std::vector<graded_answer>>::with<std::vector<mistake>>,
                     caf::replies_to<positive_atom, teacher_reply>::with<training_metrics>>;

struct collector_state {
  std::map<std::string, example> dataset;
  std::set<std::pair<std::string, std::string>> seen; // (example id, wrong rationale): dedup
  std::map<std::string, std::vector<mistake>> negatives;
  std::map<std::string, std::vector<std::string>> positives;
};

std::string prefix_of(const example& x) {
  return "Question: " + x.question + "\nReasoning: ";
}

collector_actor::behavior_type collector(collector_actor::stateful_pointer<collector_state> self,
                                         std::vector<example> dataset, trainer_actor trainer) {
  for (auto& x : dataset)
    self->state.dataset.emplace(x.id, std::move(x));
  return {
      [=](graded_atom, const std::vector<graded_answer>& answers) {
        auto& st = self->state;
        std::vector<mistake> found;
        for (const auto& answer : answers) {
          if (answer.correct || !st.seen.emplace(answer.example_id, answer.reasoning.text).second)
            continue;
          const auto& x = st.dataset.at(answer.example_id);
          mistake m{
              x.id, x.question, x.answer, answer.reasoning, answer.extracted_answer, answer.weights_version};
          st.negatives[x.id].push_back(m);
          found.push_back(std::move(m));
        }
        return found;
      },
      [=](positive_atom, const teacher_reply& reply) {
        auto& st = self->state;
        const auto& x = st.dataset.at(reply.example_id);
        auto& pool = st.positives[x.id];
        for (const auto& r : reply.rationales)
          pool.push_back(r.text);
        const auto& negatives = st.negatives[x.id];
        std::vector<training_item> items;
        for (const auto& r : reply.rationales) {
          training_item item{x.id,
                             prefix_of(x),
                             r.text + "\nAnswer: " + x.answer + " ",
                             {r.text, "", ""},
                             0,
                             reply.kind == teacher_request_kind::tailored_feedback};
          for (const auto& other : pool)
            if (other != r.text) {
              item.contrast.positive = other;
              break;
            }
          if (!negatives.empty()) {
            item.contrast.negative = negatives.back().wrong_rationale.text;
            item.weights_version = negatives.back().weights_version;
          }
          items.push_back(std::move(item));
        }
        return self->delegate(trainer, train_atom::value, std::move(items));
      },
  };
}

// One actor system per test case, with the messages registered as in the real daemon.
struct actor_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;

  static caf::actor_system_config& registered(caf::actor_system_config& c) {
    register_message_types(c);
    return c;
  }
  actor_fixture() : sys{registered(cfg)} {}

  template <class Handle, class... Ts>
  auto ask(caf::scoped_actor& self, const Handle& dest, Ts&&... xs) {
    using reply_t =
        typename caf::response_type<typename Handle::signatures, caf::detail::decay_t<Ts>...>::tuple_type;
    std::tuple_element_t<0, reply_t> result{};
    self->request(dest, caf::infinite, std::forward<Ts>(xs)...)
        .receive([&](std::tuple_element_t<0, reply_t>& r) { result = std::move(r); },
                 [&](caf::error& err) { FAIL("request failed: " << sys.render(err)); });
    return result;
  }
};

example make_example(std::string id, std::string question, std::string answer) {
  return {std::move(id), task_kind::arith, std::move(question), std::move(answer), ""};
}

graded_answer make_answer(std::string id, std::string text, std::string extracted, bool correct,
                          std::uint64_t version) {
  return {
      std::move(id), {std::move(text), rationale_source::student, 7}, std::move(extracted), correct, version};
}

} // namespace

TEST_CASE("a detached trainer answers training items with metrics and checkpoints with snapshots",
          "[messages][actors]") {
  actor_fixture f;
  caf::scoped_actor self{f.sys};
  auto t = f.sys.spawn<caf::detached>(trainer, std::string{"/runs/r1/checkpoints"});

  std::vector<training_item> items{
      {"q1",
       "Question: 2+3?\nReasoning: ",
       "2 + 3 = 5.\nAnswer: 5 ",
       {"2 + 3 = 5.", "3 + 2 = 5.", "2 + 3 = 6."},
       0,
       true},
      {"q2", "Question: 4*2?\nReasoning: ", "4 * 2 = 8.\nAnswer: 8 ", {}, 0, false}, // masked: no triplet
  };
  auto first = f.ask(self, t, train_atom::value, items);
  CHECK(first.step == 1);
  CHECK(first.examples == 2);
  CHECK(first.triplet_examples == 1);
  CHECK(first.tokens == text_size(items[0]) + text_size(items[1]));
  CHECK(first.total_loss == Approx(first.lm_loss + 0.5 * first.triplet_loss));
  CHECK(first.weights_version == 1);

  auto snapshot = f.ask(self, t, checkpoint_atom::value);
  CHECK(snapshot == weights_snapshot{1, "/runs/r1/checkpoints/step-1"});

  auto second = f.ask(self, t, train_atom::value, std::vector<training_item>{items[1]});
  CHECK(second.step == 2);
  CHECK(second.triplet_examples == 0);
  CHECK(second.triplet_loss == 0.0);
  CHECK(second.weights_version == 2);

  caf::anon_send_exit(t, caf::exit_reason::user_shutdown);
}

TEST_CASE("graded answers become mistakes, and teacher replies reach the detached trainer as items",
          "[messages][actors]") {
  actor_fixture f;
  caf::scoped_actor self{f.sys};
  std::vector<example> dataset{make_example("q1", "Ann has 3 bags of 4 apples. How many?", "12"),
                               make_example("q2", "Bo has 5 pens and loses 2. How many?", "3"),
                               make_example("q3", "7 + 8?", "15")};
  auto t = f.sys.spawn<caf::detached>(trainer, std::string{"/ckpt"});
  auto teach = f.sys.spawn(teacher);
  auto c = f.sys.spawn(collector, dataset, t);

  // The exam of weights version 3: q1 right once and wrong twice the same way, q2 wrong, q3 right.
  std::vector<graded_answer> answers{
      make_answer("q1", "3 * 4 = 12.", "12", true, 3), make_answer("q1", "3 + 4 = 7.", "7", false, 3),
      make_answer("q1", "3 + 4 = 7.", "7", false, 3), make_answer("q2", "5 + 2 = 7.", "7", false, 3),
      make_answer("q3", "7 + 8 = 15.", "15", true, 3)};
  auto mistakes = f.ask(self, c, graded_atom::value, answers);
  REQUIRE(mistakes.size() == 2); // the duplicate wrong answer to q1 counts once
  CHECK(mistakes[0] == mistake{"q1", dataset[0].question, "12", answers[1].reasoning, "7", 3});
  CHECK(mistakes[1] == mistake{"q2", dataset[1].question, "3", answers[3].reasoning, "7", 3});

  SECTION("tailored feedback on a mistake trains with triplets") {
    teacher_request request{
        dataset[0], teacher_request_kind::tailored_feedback, mistakes[0], 2, {0.7, 1.0, 256}};
    auto reply = f.ask(self, teach, teach_atom::value, request);
    REQUIRE(reply.ok());
    CHECK(reply.example_id == "q1");
    CHECK(reply.kind == teacher_request_kind::tailored_feedback);
    REQUIRE(reply.rationales.size() == 2);
    CHECK(reply.rationales[0].source == rationale_source::teacher_tailored);
    CHECK(reply.rationales[0].text == "Not \"3 + 4 = 7.\": way 1 gives 12.");
    CHECK(reply.usage == token_usage{dataset[0].question.size(), 20, 0.002});

    // Each rationale is the other's positive and the student's wrong rationale their negative.
    auto metrics = f.ask(self, c, positive_atom::value, reply);
    CHECK(metrics.step == 1);
    CHECK(metrics.examples == 2);
    CHECK(metrics.triplet_examples == 2);
    std::uint64_t expected_tokens = 0;
    for (const auto& r : reply.rationales)
      expected_tokens += prefix_of(dataset[0]).size() + (r.text + "\nAnswer: 12 ").size();
    CHECK(metrics.tokens == expected_tokens);
  }

  SECTION("a chain-of-thought reply for a question without mistakes trains masked") {
    teacher_request request{dataset[2], teacher_request_kind::chain_of_thought, {}, 1, {}};
    auto reply = f.ask(self, teach, teach_atom::value, request);
    REQUIRE(reply.rationales.size() == 1);
    CHECK(reply.rationales[0] == rationale{"way 1 gives 15.", rationale_source::teacher, 0});
    auto metrics = f.ask(self, c, positive_atom::value, reply);
    CHECK(metrics.examples == 1);
    CHECK(metrics.triplet_examples == 0); // no different positive, no negative
    CHECK(metrics.triplet_loss == 0.0);
  }

  for (const caf::actor_addr& a : {c.address(), teach.address(), t.address()})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}
