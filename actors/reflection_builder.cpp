#include "actors/reflection_builder.hpp"

#include "io/common/atomic_file.hpp"
#include "io/loop/first_pass.hpp"
#include "io/loop/round_gate.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <variant>

namespace tailor {
namespace {

// A student's wrong rationale for a question: a negative of the self-reflection triplets.
struct wrong_rationale {
  std::string example_id;
  std::string reasoning;
};

struct builder_state {
  example_index problems;
  reflection_builder_options options;
  reflection_pools pools;
  first_pass first;
  // The next round's corrections and wrong rationales, while this one finishes (continuous mode).
  round_gate<std::variant<teacher_reply, wrong_rationale>> gate;
  std::mt19937_64 rng;
};

// Every rationale but round 1's answers its round's need (a mistake, or in the ablation a random question), so
// the round's batches oversample it.
void add(builder_state& s, const teacher_reply& reply) {
  const auto& problem = s.problems->at(reply.example_id);
  for (const auto& r : reply.rationales)
    s.pools.add_positive(problem, r.text, true, reply.weights_version);
}
void add(builder_state& s, const wrong_rationale& wrong) {
  s.pools.add_negative(s.problems->at(wrong.example_id), wrong.reasoning);
}

reflection_builder_actor::behavior_type
reflection_builder(reflection_builder_actor::stateful_pointer<builder_state> self, example_index problems,
                   reflection_builder_options options) {
  auto& s = self->state;
  s.problems = std::move(problems);
  s.options = options;
  s.pools = reflection_pools{options.pools};
  s.rng.seed(options.seed);
  return {
      [self](positive_atom, const teacher_reply& reply) {
        auto& s = self->state;
        auto found = s.problems->find(reply.example_id);
        if (found == s.problems->end())
          return;
        if (reply.round == 1 && s.first.expects(reply.example_id)) {
          std::vector<std::string> texts;
          for (const auto& r : reply.rationales)
            texts.push_back(r.text);
          return s.first.hold(found->second, std::move(texts));
        }
        if (s.gate.admit(reply.round, reply))
          add(s, reply);
      },
      [self](first_pass_atom, const std::vector<std::string>& ids, std::uint32_t every) {
        self->state.first.expect(ids, every);
      },
      [self](negative_atom, const std::string& id, const std::string& reasoning, std::uint32_t round) {
        auto& s = self->state;
        if (!s.problems->contains(id))
          return;
        wrong_rationale wrong{id, reasoning};
        if (s.gate.admit(round, wrong))
          add(s, wrong);
      },
      [self](credit_atom, std::uint32_t n, std::uint32_t round) -> std::vector<training_item> {
        auto& s = self->state;
        for (const auto& arrival : s.gate.open(round))
          std::visit([&s](const auto& a) { add(s, a); }, arrival);
        if (s.first.active())
          return s.first.next_batch(n, s.pools, s.rng);
        return s.pools.draw_batch(n, s.options.fresh_share, s.rng);
      },
      [self](checkpoint_atom, const std::string& dir) -> bool {
        auto& s = self->state;
        auto saved = s.pools.to_json();
        // Where the batch draws stand, so that a run resumed from this checkpoint draws the batches the
        // uninterrupted one went on to draw (round mode then resumes bit for bit).
        std::ostringstream draws;
        draws << s.rng;
        saved["draws"] = draws.str();
        return write_file_atomically(std::filesystem::path{dir} / pools_file_name, saved.dump()).ok();
      },
      [self](resume_atom, const std::string& dir) -> bool {
        std::ifstream in{std::filesystem::path{dir} / pools_file_name};
        if (!in)
          return false;
        std::stringstream text;
        text << in.rdbuf();
        auto saved = nlohmann::json::parse(text.str(), nullptr, false);
        if (saved.is_discarded())
          return false;
        auto& s = self->state;
        auto restored = reflection_pools::from_json(saved, *s.problems, s.options.pools);
        if (!restored)
          return false;
        s.pools = std::move(restored.value());
        if (saved.contains("draws")) { // pools saved without it (older runs) keep the seed's draws
          if (!saved["draws"].is_string())
            return false;
          std::istringstream draws{saved["draws"].get<std::string>()};
          if (!(draws >> s.rng))
            return false;
        }
        return true;
      },
  };
}

} // namespace

reflection_builder_actor spawn_reflection_builder(caf::actor_system& system, example_index problems,
                                                  reflection_builder_options options) {
  return system.spawn(reflection_builder, std::move(problems), std::move(options));
}

} // namespace tailor
