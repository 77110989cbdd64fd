// Progress events as JSON, the one shape the websocket, the REST API, the CLI and the dashboard share.
#pragma once

#include "io/common/result.hpp"
#include "messages/progress.hpp"

#include <nlohmann/json.hpp>

namespace tailor {

// {"run_id", "phase": "training", "round", "step", ..., "timestamp_ms"}; accuracy is null before the first
// evaluation.
nlohmann::json to_json(const progress_event& event);

// The inverse, for clients; fields left out keep their defaults, a field of the wrong type is a problem.
result<progress_event> progress_event_from_json(const nlohmann::json& value);

// A bytes-safe dump: text from a run or the network need not be UTF-8, and a reply must always serialize.
std::string dump_json(const nlohmann::json& value);

// Milliseconds since the Unix epoch, as events carry them.
std::int64_t unix_time_ms();

} // namespace tailor
