// Registers every message type with CAF, so messages can be serialized (journal) and sent to other nodes.
#pragma once

#include <caf/fwd.hpp>

namespace tailor {

// Call once on the config before constructing the actor_system.
void register_message_types(caf::actor_system_config& cfg);

} // namespace tailor
