#include "actors/student_inference.hpp"

#include "gpu/checkpoint.hpp"
#include "gpu/runtime.hpp"
#include "gpu/student_exam.hpp"
#include "io/store/evaluation_records.hpp"
#include "sharing/device_scheduler.hpp"

#include <caf/all.hpp>

#include <deque>
#include <optional>

namespace tailor {
namespace {

struct exam_in_hand {
  std::vector<example> questions;
  std::uint64_t seed = 0;
  std::uint32_t pass = 0;
  std::size_t next = 0; // first question of the next chunk
};

struct inference_state {
  run_config config;
  mistake_collector_actor collector;
  caf::actor coordinator;
  std::shared_ptr<device_scheduler> devices; // null for a run alone
  std::string device;
  weights_snapshot newest;                      // the newest snapshot announced
  weights_snapshot loaded;                      // the one in `checkpoint`
  std::optional<gpu::loaded_checkpoint> checkpoint;
  std::deque<exam_in_hand> exams;
};

// Loads `snapshot` unless it is the one in hand; an error message when it cannot.
std::optional<std::string> ensure_loaded(inference_state& s, const weights_snapshot& snapshot) {
  if (s.checkpoint && s.loaded.version == snapshot.version && s.loaded.checkpoint_dir == snapshot.checkpoint_dir)
    return std::nullopt;
  auto loaded = gpu::load_checkpoint(snapshot.checkpoint_dir, torch::Device{s.device});
  if (!loaded)
    return "student_inference: cannot load weights v" + std::to_string(snapshot.version) + ": " +
           loaded.error().message;
  s.checkpoint.emplace(std::move(loaded.value()));
  s.checkpoint->model->eval();
  s.loaded = snapshot;
  return std::nullopt;
}

student_inference_actor::behavior_type
student_inference(student_inference_actor::stateful_pointer<inference_state> self, run_config config,
                  mistake_collector_actor collector, caf::actor coordinator,
                  std::shared_ptr<device_scheduler> devices) {
  auto& s = self->state;
  s.config = std::move(config);
  s.collector = std::move(collector);
  s.coordinator = std::move(coordinator);
  s.devices = std::move(devices);
  auto device = gpu::resolve_device(s.config.device);
  s.device = device ? device.value() : "cpu";
  auto fail = [self](const std::string& message) { self->quit(caf::make_error(caf::sec::runtime_error, message)); };
  return {
      [self](exam_atom, std::vector<example> questions, std::uint64_t seed, std::uint32_t pass) {
        self->state.exams.push_back({std::move(questions), seed, pass, 0});
        if (self->state.exams.size() == 1)
          self->send(self, next_atom::value);
      },
      [self](snapshot_atom, const weights_snapshot& snapshot) {
        if (snapshot.version >= self->state.newest.version)
          self->state.newest = snapshot;
      },
      [self, fail](next_atom) {
        auto& s = self->state;
        if (s.exams.empty())
          return;
        auto& exam = s.exams.front();
        gpu::set_torch_threads(static_cast<int>(s.config.threads)); // this actor's own thread (gpu/runtime.hpp)
        auto turn = take_device_turn(s.devices.get(), s.device);
        if (auto error = ensure_loaded(s, s.newest))
          return fail(*error);
        const std::size_t chunk = std::max<std::uint32_t>(1, s.config.exam.batch_size);
        const std::size_t last = std::min(exam.questions.size(), exam.next + chunk);
        std::span<const example> part{exam.questions.data() + exam.next, last - exam.next};
        auto options = gpu::exam_options_from(s.config, /*greedy=*/false, exam.seed + exam.next);
        auto answers = gpu::sit_exam(s.checkpoint->model, s.checkpoint->tokenizer, part, options, s.loaded.version);
        turn.release();
        if (!answers)
          return fail("student_inference: exam failed: " + answers.error().message);
        exam.next = last;
        const bool pass_over = exam.next >= exam.questions.size();
        self->send(s.collector, graded_atom::value, std::move(answers.value()), exam.pass, pass_over);
        caf::anon_send(s.coordinator, exam_atom::value, exam.pass, static_cast<std::uint64_t>(part.size()),
                   s.loaded.version);
        if (pass_over)
          s.exams.pop_front();
        if (!s.exams.empty())
          self->send(self, next_atom::value);
      },
      [self, fail](eval_atom, const std::vector<example>& questions, const weights_snapshot& snapshot,
                   std::uint32_t round) {
        auto& s = self->state;
        gpu::set_torch_threads(static_cast<int>(s.config.threads));
        auto turn = take_device_turn(s.devices.get(), s.device);
        if (auto error = ensure_loaded(s, snapshot))
          return fail(*error);
        auto options = gpu::exam_options_from(s.config, /*greedy=*/true, s.config.seed);
        auto answers = gpu::sit_exam(s.checkpoint->model, s.checkpoint->tokenizer, questions, options, snapshot.version);
        turn.release();
        if (!answers)
          return fail("student_inference: evaluation failed: " + answers.error().message);
        // Per question, so that runs can be paired question by question (tailor compare).
        if (!s.config.output_dir.empty())
          if (auto written = write_evaluation(s.config.output_dir, round, answers.value()); !written)
            return fail("student_inference: " + written.error().message);
        caf::anon_send(s.coordinator, eval_atom::value, round, gpu::accuracy_of(answers.value()), snapshot.version);
      },
  };
}

} // namespace

student_inference_actor spawn_student_inference(caf::actor_system& system, run_config config,
                                                mistake_collector_actor collector, caf::actor coordinator,
                                                std::shared_ptr<device_scheduler> devices) {
  return system.spawn<caf::detached>(student_inference, std::move(config), std::move(collector),
                                     std::move(coordinator), std::move(devices));
}

} // namespace tailor
