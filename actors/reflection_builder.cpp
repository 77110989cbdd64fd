#include "actors/reflection_builder.hpp"

#include "io/atomic_file.hpp"
#include "io/first_pass.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace tailor {
namespace {

struct builder_state {
  example_index problems;
  reflection_builder_options options;
  reflection_pools pools;
  first_pass first;
  std::mt19937_64 rng;
};

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
        if (s.first.expects(reply.example_id)) {
          std::vector<std::string> texts;
          for (const auto& r : reply.rationales)
            texts.push_back(r.text);
          return s.first.hold(found->second, std::move(texts));
        }
        // Every rationale but round 1's answers this round's need (a mistake, or in the ablation a random
        // question), so the round's batches oversample it.
        for (const auto& r : reply.rationales)
          s.pools.add_positive(found->second, r.text, true);
      },
      [self](first_pass_atom, const std::vector<std::string>& ids) { self->state.first.expect(ids); },
      [self](negative_atom, const std::string& id, const std::string& reasoning) {
        if (auto found = self->state.problems->find(id); found != self->state.problems->end())
          self->state.pools.add_negative(found->second, reasoning);
      },
      [self](credit_atom, std::uint32_t n) -> std::vector<training_item> {
        auto& s = self->state;
        if (s.first.active())
          return s.first.next_batch(n, s.pools, s.rng);
        return s.pools.draw_batch(n, s.options.fresh_share, s.rng);
      },
      [self](checkpoint_atom, const std::string& dir) -> bool {
        auto written = write_file_atomically(std::filesystem::path{dir} / pools_file_name,
                                             self->state.pools.to_json().dump());
        return written.ok();
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
