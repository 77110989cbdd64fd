#include "actors/teacher_client.hpp"

#include "io/teacher/teacher_exchange.hpp"
#include "io/teacher/teacher_factory.hpp"

#include <caf/all.hpp>

namespace tailor {
namespace {

struct teacher_client_state {
  std::shared_ptr<run_teacher> teacher;
  reflection_builder_actor builder;
  caf::actor coordinator;
};

teacher_client_actor::behavior_type
teacher_client(teacher_client_actor::stateful_pointer<teacher_client_state> self, std::shared_ptr<run_teacher> teacher,
               reflection_builder_actor builder, caf::actor coordinator) {
  self->state.teacher = std::move(teacher);
  self->state.builder = std::move(builder);
  self->state.coordinator = std::move(coordinator);
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
      [self](answered_atom, const teacher_request&, const teacher_reply& reply) {
        // Every answer, also one without a correct rationale: round 1's first pass waits for each.
        self->send(self->state.builder, positive_atom::value, reply);
        caf::anon_send(self->state.coordinator, answered_atom::value, reply);
      },
  };
}

} // namespace

teacher_client_actor spawn_teacher_client(caf::actor_system& system, std::shared_ptr<run_teacher> teacher,
                                          reflection_builder_actor builder, caf::actor coordinator) {
  return system.spawn(teacher_client, std::move(teacher), std::move(builder), std::move(coordinator));
}

} // namespace tailor
