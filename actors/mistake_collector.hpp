// mistake_collector: from graded answers to the pools and the teacher. Wrong answers are deduplicated per
// question (at most max_negatives kept), become negatives, and the first mistake of each question in an
// exam pass goes to the teacher for tailored feedback, up to the pass's quota of requests, in the order of
// io/loop/feedback_picker.hpp. The ablation asks instead about one of the pass's random questions (stand-ins)
// wherever the method would ask about a mistake, so that its answers arrive when the method's would.
#pragma once

#include "actors/interfaces.hpp"
#include "actors/reflection_builder.hpp"
#include "messages/run_config.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

namespace tailor {

struct mistake_collector_options {
  std::uint32_t max_negatives = 4;
  bool tailored = true; // false: the ablation, chain of thought on a stand-in instead of feedback on a mistake
  std::uint32_t requests_per_pass = 0; // 0: every mistaken question of a pass
  std::uint32_t feedback_samples = 1;  // n of each tailored-feedback request
  feedback_order order = feedback_order::misses_first;
  sampling_params sampling;
  // Round mode, the paper's barrier between the exam and the teacher: a pass's requests go out together once
  // the pass is over, in the order they would have gone one by one. Continuous mode asks at once, so that
  // the teacher works while the exam goes on.
  bool ask_after_pass = false;
  // The run directory, for each exam's per-question outcome (which tells whether a mistake was fixed) and,
  // in the ablation, the mistakes it did not send (io/store/mistake_records.hpp); empty: neither.
  std::string output_dir;
};

// After each graded batch the coordinator gets (graded_atom, pass, answered, wrong, new mistakes, requests
// sent): counts of that batch, so it can sum them per pass (with ask_after_pass, a pass's requests all count in
// its last batch).
mistake_collector_actor spawn_mistake_collector(caf::actor_system& system, example_index problems,
                                                mistake_collector_options options,
                                                reflection_builder_actor builder,
                                                teacher_client_actor teacher, caf::actor coordinator);

} // namespace tailor
