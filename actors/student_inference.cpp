#include "actors/student_inference.hpp"

#include "actors/shared_ranks.hpp"
#include "actors/sharded_exam.hpp"
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
  std::shared_ptr<shared_ranks> ranks;       // the trainer's data-parallel ranks, once it has started them
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

// The answers of the loaded checkpoint to `questions`, this rank's device turn held while they are made.
result<std::vector<graded_answer>> answer_here(inference_state& s, std::span<const example> questions,
                                               bool greedy, std::uint64_t seed) {
  auto turn = take_device_turn(s.devices.get(), s.device);
  return gpu::sit_exam(s.checkpoint->model, s.checkpoint->tokenizer, questions,
                       gpu::exam_options_from(s.config, greedy, seed), s.loaded.version);
}

// `questions` answered by the loaded checkpoint, over the data-parallel ranks when there are some: then
// `part_size` questions per rank (sharded_exam.hpp).
result<std::vector<graded_answer>> answer(inference_state& s, std::span<const example> questions, bool greedy,
                                          std::uint64_t seed, std::size_t part_size) {
  auto ranks = s.ranks ? s.ranks->take() : nullptr;
  if (!ranks)
    return answer_here(s, questions, greedy, seed);
  return sit_over_ranks(*ranks, questions, {.snapshot = s.loaded, .greedy = greedy, .seed = seed, .part_size = part_size},
                        [&s, greedy](std::span<const example> part, std::uint64_t part_seed) {
                          return answer_here(s, part, greedy, part_seed);
                        });
}

// How many ranks answer together: 1 until the trainer has started its ranks.
std::size_t ranks_answering(const inference_state& s) {
  auto ranks = s.ranks ? s.ranks->take() : nullptr;
  return ranks ? static_cast<std::size_t>(ranks->world_size()) : 1;
}

student_inference_actor::behavior_type
student_inference(student_inference_actor::stateful_pointer<inference_state> self, run_config config,
                  mistake_collector_actor collector, caf::actor coordinator,
                  std::shared_ptr<device_scheduler> devices, std::shared_ptr<shared_ranks> ranks) {
  auto& s = self->state;
  s.config = std::move(config);
  s.collector = std::move(collector);
  s.coordinator = std::move(coordinator);
  s.devices = std::move(devices);
  s.ranks = std::move(ranks);
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
        {
          auto turn = take_device_turn(s.devices.get(), s.device);
          if (auto error = ensure_loaded(s, s.newest))
            return fail(*error);
        }
        // A chunk of exam.batch_size questions per rank, each with the seed moved by its first question.
        const std::size_t chunk = std::max<std::uint32_t>(1, s.config.exam.batch_size);
        const std::size_t last = std::min(exam.questions.size(), exam.next + chunk * ranks_answering(s));
        std::span<const example> part{exam.questions.data() + exam.next, last - exam.next};
        auto answers = answer(s, part, /*greedy=*/false, exam.seed + exam.next, chunk);
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
        {
          auto turn = take_device_turn(s.devices.get(), s.device);
          if (auto error = ensure_loaded(s, snapshot))
            return fail(*error);
        }
        // Greedy: the seed does not matter, but it is the run's, as for one process.
        const std::size_t ranks = ranks_answering(s);
        auto answers = answer(s, questions, /*greedy=*/true, s.config.seed, (questions.size() + ranks - 1) / ranks);
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
                                                std::shared_ptr<device_scheduler> devices,
                                                std::shared_ptr<shared_ranks> ranks) {
  return system.spawn<caf::detached>(student_inference, std::move(config), std::move(collector),
                                     std::move(coordinator), std::move(devices), std::move(ranks));
}

} // namespace tailor
