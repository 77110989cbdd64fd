// Reading and writing the Batch API's objects and files, leniently where OpenAI's documentation allows
// fields to be null or missing.
#include "io/teacher/batch_files.hpp"

#include "io/http/retry_policy.hpp"

#include <nlohmann/json.hpp>

namespace tailor {
namespace {

using json = nlohmann::json;

std::string string_field(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The outcome of one line of an output or error file.
result<chat_response> line_outcome(const std::string& where, const json& line) {
  if (auto response = line.find("response"); response != line.end() && response->is_object()) {
    const auto code = response->find("status_code");
    const int status = code != response->end() && code->is_number_integer() ? code->get<int>() : 0;
    const auto body = response->find("body");
    const std::string text = body == response->end() ? std::string{} : dump(*body);
    if (status / 100 == 2) {
      auto parsed = parse_chat_response(text);
      if (parsed)
        return parsed;
      return problem{where + ": answered " + std::to_string(status) +
                         " with a body that is not a valid chat completion: " + parsed.error().message,
                     problem_cause::transient};
    }
    // OpenAI answers a line it refused with that status: the same request would be refused again.
    return problem{where + ": HTTP " + std::to_string(status) + ": " + error_message_of(text),
                   is_retryable_status(status) ? problem_cause::transient : problem_cause::rejected};
  }
  // Without a response the line was never run (the batch expired or was cancelled before it).
  if (auto error = line.find("error"); error != line.end() && error->is_object()) {
    const std::string code = string_field(*error, "code");
    return problem{where + ": " + (code.empty() ? "" : code + ": ") + string_field(*error, "message"),
                   problem_cause::transient};
  }
  return problem{where + ": the batch gave neither a response nor an error", problem_cause::transient};
}

} // namespace

std::string batch_input_line(std::string_view custom_id, std::string_view request_json) {
  std::string line = R"({"custom_id":)" + dump(json(std::string{custom_id})) + R"(,"method":"POST","url":)" +
                     dump(json(std::string{batch_endpoint})) + R"(,"body":)";
  line += request_json;
  line += "}\n";
  return line;
}

result<std::string> object_id(std::string_view body, std::string_view what) {
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object())
    return problem{std::string{what} + " is not a JSON object: " + error_message_of(body),
                   problem_cause::transient};
  std::string id = string_field(parsed, "id");
  if (id.empty())
    return problem{std::string{what} + " has no `id`", problem_cause::transient};
  return id;
}

bool batch_status::ended() const {
  return status == "completed" || status == "failed" || status == "expired" || status == "cancelled";
}

result<batch_status> parse_batch_status(std::string_view body) {
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object())
    return problem{"the batch object is not JSON: " + error_message_of(body), problem_cause::transient};
  batch_status status;
  status.id = string_field(parsed, "id");
  status.status = string_field(parsed, "status");
  if (status.status.empty())
    return problem{"the batch object has no `status`", problem_cause::transient};
  status.output_file_id = string_field(parsed, "output_file_id");
  status.error_file_id = string_field(parsed, "error_file_id");
  if (auto errors = parsed.find("errors"); errors != parsed.end() && errors->is_object()) {
    if (auto data = errors->find("data"); data != errors->end() && data->is_array())
      for (const json& error : *data) {
        if (!error.is_object())
          continue;
        if (!status.errors.empty())
          status.errors += "; ";
        if (auto line = error.find("line"); line != error.end() && line->is_number_integer())
          status.errors += "line " + std::to_string(line->get<long long>()) + ": ";
        status.errors += string_field(error, "message");
      }
  }
  return status;
}

void for_each_text_line(std::string_view text,
                        const std::function<void(std::size_t, std::string_view)>& visit) {
  std::size_t number = 0;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++number;
    if (line.find_first_not_of(" \t\r") != std::string_view::npos)
      visit(number, line);
  }
}

status read_batch_results(std::string_view batch_id, std::string_view jsonl, batch_outcomes& outcomes) {
  std::string unreadable;
  for_each_text_line(jsonl, [&](std::size_t number, std::string_view text) {
    const json line = json::parse(text, nullptr, /*allow_exceptions=*/false);
    const std::string custom_id = line.is_object() ? string_field(line, "custom_id") : std::string{};
    if (custom_id.empty()) {
      if (unreadable.empty())
        unreadable = "line " + std::to_string(number) +
                     (line.is_object() ? " has no `custom_id`" : " is not a JSON object");
      return;
    }
    auto outcome = line_outcome("batch " + std::string{batch_id} + " request " + custom_id, line);
    // A request answered in one file and failed in the other keeps its answer.
    auto [at, added] = outcomes.try_emplace(custom_id, outcome);
    if (!added && !at->second && outcome)
      at->second = std::move(outcome);
  });
  if (!unreadable.empty())
    return problem{"a result file of batch " + std::string{batch_id} + ": " + unreadable,
                   problem_cause::transient};
  return ok_status();
}

} // namespace tailor
