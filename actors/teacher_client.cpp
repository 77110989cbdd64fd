// teacher_client: one chat request per teacher request, to the teacher its kind is routed to; its answer to the
// pools and the coordinator. A request the teacher failed goes to the fallback teacher, if there is one; a
// transient failure is asked once more, later.
#include "actors/teacher_client.hpp"

#include "io/store/mistake_records.hpp"
#include "io/teacher/teacher_exchange.hpp"
#include "io/teacher/teacher_factory.hpp"

#include <caf/all.hpp>

#include <set>
#include <string>

namespace tailor {
namespace {

struct teacher_client_state {
  std::shared_ptr<run_teacher> teacher;
  reflection_builder_actor builder;
  caf::actor coordinator;
  std::chrono::milliseconds retry_failed_after{0};
  std::string output_dir; // where the mistake records go; empty: nowhere
  // The requests asked a second time after failing: a second failure is final.
  std::set<std::string> asked_again;
};

// Which request an answer is to: a question may be asked about in several rounds, and about several of its
// mistakes within one.
std::string request_key(const teacher_request& request) {
  return std::string{to_string(request.kind)} + '\n' + request.problem.id + '\n' + std::to_string(request.round) +
         '\n' + request.student_mistake.wrong_rationale.text;
}

// Sends `request` to the run's teacher `index`; the answer comes back to `self` as a message, so that no
// state is touched off the actor's thread (the backend answers on its own thread, or at once).
void ask(teacher_client_actor::stateful_pointer<teacher_client_state> self, const teacher_request& request,
         std::size_t index) {
  // Not a share of the teacher: the callback may run last on the client's own thread, which must not be the
  // one to destroy the client. The teacher outlives its callbacks (teacher_client.hpp).
  auto* teacher = self->state.teacher.get();
  const bool can_wait = teacher->can_wait(request);
  auto chat = to_chat_request(request, teacher->exchange(index, can_wait));
  auto handle = caf::actor_cast<teacher_client_actor>(self);
  teacher->backend(index, can_wait).complete(std::move(chat), [handle, request, teacher, index,
                                                              can_wait](result<chat_response> answer) {
    auto reply = to_teacher_reply(request, answer, teacher->exchange(index, can_wait));
    reply.teacher = teacher->name(index);
    caf::anon_send(handle, answered_atom::value, request, std::move(reply), static_cast<std::uint32_t>(index));
  });
}

// What the fallback teacher may take over: a request the first one could not answer for now (tries run out,
// budget spent) or would not (rejected). A fatal failure stops the run anyway; a cancelled one ends with it.
bool fallback_helps(teacher_failure failure) {
  return failure == teacher_failure::transient || failure == teacher_failure::budget ||
         failure == teacher_failure::rejected;
}

teacher_client_actor::behavior_type
teacher_client(teacher_client_actor::stateful_pointer<teacher_client_state> self, std::shared_ptr<run_teacher> teacher,
               reflection_builder_actor builder, caf::actor coordinator, std::chrono::milliseconds retry_failed_after,
               std::string output_dir) {
  self->state.teacher = std::move(teacher);
  self->state.output_dir = std::move(output_dir);
  self->state.builder = std::move(builder);
  self->state.coordinator = std::move(coordinator);
  self->state.retry_failed_after = retry_failed_after;
  return {
      [self](teach_atom, const teacher_request& request) {
        ask(self, request, self->state.teacher->route(request.kind));
      },
      [self](answered_atom, const teacher_request& request, const teacher_reply& reply, std::uint32_t index) {
        auto& s = self->state;
        if (fallback_helps(reply.failure))
          if (const auto fallback = s.teacher->fallback_for(index)) {
            ask(self, request, *fallback);
            return;
          }
        const auto key = request_key(request);
        if (reply.failure == teacher_failure::transient && s.asked_again.insert(key).second) {
          // A provider's bad minute: ask again once it may have passed, and meanwhile go on with the rest.
          caf::anon_send(s.coordinator, retrying_atom::value, reply);
          self->delayed_send(self, s.retry_failed_after, teach_atom::value, request);
          return;
        }
        s.asked_again.erase(key);
        // The mistakes view's record: only here are the student's mistake and the teacher's answer both at hand.
        if (request.kind == teacher_request_kind::tailored_feedback && !s.output_dir.empty())
          if (auto recorded = append_mistake(s.output_dir, request.round, mistake_of(request, reply)); !recorded)
            return self->quit(caf::make_error(caf::sec::runtime_error, "teacher_client: " + recorded.error().message));
        // Every answer, also one without a correct rationale: round 1's first pass waits for each.
        self->send(s.builder, positive_atom::value, reply);
        caf::anon_send(s.coordinator, answered_atom::value, reply);
      },
  };
}

} // namespace

teacher_client_actor spawn_teacher_client(caf::actor_system& system, std::shared_ptr<run_teacher> teacher,
                                          reflection_builder_actor builder, caf::actor coordinator,
                                          std::chrono::milliseconds retry_failed_after, std::string output_dir) {
  return system.spawn(teacher_client, std::move(teacher), std::move(builder), std::move(coordinator),
                      retry_failed_after, std::move(output_dir));
}

} // namespace tailor
