// Registers every message type with CAF under a portable name "tailor::<type>".
#include "messages/registry.hpp"

#include "messages/example.hpp"
#include "messages/grading.hpp"
#include "messages/progress.hpp"
#include "messages/rationale.hpp"
#include "messages/run_config.hpp"
#include "messages/teacher.hpp"
#include "messages/training.hpp"
#include "messages/weights.hpp"

#include <caf/actor_system_config.hpp>

namespace tailor {

void register_message_types(caf::actor_system_config& cfg) {
  // CAF 0.17's add_message_type<T>(name) also registers std::vector<T> as "std::vector<name>" (and
  // stream<T>), which covers the batches the loop sends: std::vector<example>, std::vector<graded_answer>,
  // std::vector<mistake>, std::vector<training_item>, ... Registering a vector itself would add vectors of
  // vectors that no message carries.
  cfg.add_message_type<example>("tailor::example")
      .add_message_type<rationale>("tailor::rationale")
      .add_message_type<graded_answer>("tailor::graded_answer")
      .add_message_type<mistake>("tailor::mistake")
      .add_message_type<sampling_params>("tailor::sampling_params")
      .add_message_type<teacher_request>("tailor::teacher_request")
      .add_message_type<token_usage>("tailor::token_usage")
      .add_message_type<teacher_reply>("tailor::teacher_reply")
      .add_message_type<triplet>("tailor::triplet")
      .add_message_type<training_item>("tailor::training_item")
      .add_message_type<training_metrics>("tailor::training_metrics")
      .add_message_type<weights_snapshot>("tailor::weights_snapshot")
      .add_message_type<run_config>("tailor::run_config")
      .add_message_type<progress_event>("tailor::progress_event");
}

} // namespace tailor
