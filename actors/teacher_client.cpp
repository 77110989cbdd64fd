// teacher_client: one chat request per teacher request, its answer to the pools and the coordinator; a request
// that failed for a transient reason is asked once more, later.
#include "actors/teacher_client.hpp"

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
  // The requests asked a second time after failing: a second failure is final.
  std::set<std::string> asked_again;
};

// Which request an answer is to: a question may be asked about in several rounds, and about several of its
// mistakes within one.
std::string request_key(const teacher_request& request) {
  return std::string{to_string(request.kind)} + '\n' + request.problem.id + '\n' + std::to_string(request.round) +
         '\n' + request.student_mistake.wrong_rationale.text;
}

teacher_client_actor::behavior_type
teacher_client(teacher_client_actor::stateful_pointer<teacher_client_state> self, std::shared_ptr<run_teacher> teacher,
               reflection_builder_actor builder, caf::actor coordinator, std::chrono::milliseconds retry_failed_after) {
  self->state.teacher = std::move(teacher);
  self->state.builder = std::move(builder);
  self->state.coordinator = std::move(coordinator);
  self->state.retry_failed_after = retry_failed_after;
  return {
      [self](teach_atom, const teacher_request& request) {
        auto* teacher = self->state.teacher.get();
        auto chat = to_chat_request(request, teacher->exchange());
        // The backend answers on its own thread (or at once, for the built-in teacher); the answer comes
        // back to this actor as a message, so that no state is touched off the actor's thread.
        auto handle = caf::actor_cast<teacher_client_actor>(self);
        teacher->backend().complete(std::move(chat), [handle, request, teacher](result<chat_response> answer) {
          caf::anon_send(handle, answered_atom::value, request,
                         to_teacher_reply(request, answer, teacher->exchange()));
        });
      },
      [self](answered_atom, const teacher_request& request, const teacher_reply& reply) {
        auto& s = self->state;
        const auto key = request_key(request);
        if (reply.failure == teacher_failure::transient && s.asked_again.insert(key).second) {
          // A provider's bad minute: ask again once it may have passed, and meanwhile go on with the rest.
          caf::anon_send(s.coordinator, retrying_atom::value, reply);
          self->delayed_send(self, s.retry_failed_after, teach_atom::value, request);
          return;
        }
        s.asked_again.erase(key);
        // Every answer, also one without a correct rationale: round 1's first pass waits for each.
        self->send(s.builder, positive_atom::value, reply);
        caf::anon_send(s.coordinator, answered_atom::value, reply);
      },
  };
}

} // namespace

teacher_client_actor spawn_teacher_client(caf::actor_system& system, std::shared_ptr<run_teacher> teacher,
                                          reflection_builder_actor builder, caf::actor coordinator,
                                          std::chrono::milliseconds retry_failed_after) {
  return system.spawn(teacher_client, std::move(teacher), std::move(builder), std::move(coordinator),
                      retry_failed_after);
}

} // namespace tailor
