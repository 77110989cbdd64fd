// JSON of progress events (io/store/progress_json.hpp).
#include "io/store/progress_json.hpp"

#include <chrono>

namespace tailor {

using json = nlohmann::json;

json to_json(const progress_event& e) {
  return {{"run_id", e.run_id},
          {"phase", to_string(e.phase)},
          {"round", e.round},
          {"step", e.step},
          {"total_steps", e.total_steps},
          {"lm_loss", e.lm_loss},
          {"triplet_loss", e.triplet_loss},
          {"accuracy", e.accuracy < 0 ? json(nullptr) : json(e.accuracy)},
          {"mistakes", e.mistakes},
          {"teacher_in_flight", e.teacher_in_flight},
          {"teacher_done", e.teacher_done},
          {"teacher_failed", e.teacher_failed},
          {"teacher_tokens", e.teacher_tokens},
          {"teacher_cost_usd", e.teacher_cost_usd},
          {"message", e.message},
          {"timestamp_ms", e.timestamp_ms}};
}

namespace {

// Reads `value[key]` into `out` when present; false when it is there with the wrong type.
template <class T>
bool read_field(const json& value, const char* key, T& out) {
  const auto found = value.find(key);
  if (found == value.end() || found->is_null())
    return true;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!found->is_string())
      return false;
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!found->is_number())
      return false;
  } else {
    if (!found->is_number_integer() && !found->is_number_unsigned())
      return false;
  }
  out = found->get<T>();
  return true;
}

} // namespace

result<progress_event> progress_event_from_json(const json& value) {
  if (!value.is_object())
    return problem{"a progress event must be a JSON object"};
  progress_event e;
  std::string phase = "queued";
  bool ok = read_field(value, "run_id", e.run_id) && read_field(value, "phase", phase) &&
            read_field(value, "round", e.round) && read_field(value, "step", e.step) &&
            read_field(value, "total_steps", e.total_steps) && read_field(value, "lm_loss", e.lm_loss) &&
            read_field(value, "triplet_loss", e.triplet_loss) && read_field(value, "accuracy", e.accuracy) &&
            read_field(value, "mistakes", e.mistakes) &&
            read_field(value, "teacher_in_flight", e.teacher_in_flight) &&
            read_field(value, "teacher_done", e.teacher_done) &&
            read_field(value, "teacher_failed", e.teacher_failed) &&
            read_field(value, "teacher_tokens", e.teacher_tokens) &&
            read_field(value, "teacher_cost_usd", e.teacher_cost_usd) &&
            read_field(value, "message", e.message) && read_field(value, "timestamp_ms", e.timestamp_ms);
  if (!ok)
    return problem{"a progress event has a field of the wrong type"};
  const auto parsed = parse_enum<run_phase>(phase);
  if (!parsed)
    return problem{"unknown run phase `" + phase + "`; expected one of " + enum_name_list<run_phase>()};
  e.phase = *parsed;
  return e;
}

std::string dump_json(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::int64_t unix_time_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace tailor
