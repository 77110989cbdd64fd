// A handle on one version of the student's weights: where its checkpoint lies, never the tensors.
#pragma once

#include <caf/meta/type_name.hpp>
#include <cstdint>
#include <string>

namespace tailor {

// Tensors stay on the device that owns them; actors (on this node or another) pass the checkpoint's path and
// load it themselves.
struct weights_snapshot {
  std::uint64_t version = 0;  // 0: the initial weights (from scratch or the configured base checkpoint)
  std::string checkpoint_dir; // safetensors + config.json + tokenizer.model; empty for version 0 from scratch

  friend bool operator==(const weights_snapshot&, const weights_snapshot&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, weights_snapshot& x) {
  return f(caf::meta::type_name("weights_snapshot"), x.version, x.checkpoint_dir);
}

} // namespace tailor
