// The Batch API's JSON as the batch client writes and reads it: the lines of an input file, the file and
// batch objects, and the lines of the output and error files (teacher-serve reads and writes the same).
#pragma once

#include "io/common/result.hpp"
#include "io/teacher/chat.hpp"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tailor {

// The endpoint every line of a batch goes to, in the batch and in each line.
inline constexpr std::string_view batch_endpoint = "/v1/chat/completions";

// Calls `visit` with each line of a JSON Lines text that is not blank, and its 1-based number.
void for_each_text_line(std::string_view text,
                        const std::function<void(std::size_t, std::string_view)>& visit);

// One line of an input file, newline included: {"custom_id", "method": "POST", "url", "body"}, where
// `request_json` is the chat request's JSON as sent (it is also the journal's key, so it is not re-encoded).
std::string batch_input_line(std::string_view custom_id, std::string_view request_json);

// The `id` of a file or batch object; `what` names the object in the problem.
result<std::string> object_id(std::string_view body, std::string_view what);

struct batch_status {
  std::string id;
  // validating | in_progress | finalizing | completed | failed | expired | cancelling | cancelled
  std::string status;
  std::string output_file_id; // empty: none
  std::string error_file_id;  // empty: none
  std::string errors;         // what the batch's own `errors` say (why it failed validation), joined

  // completed, failed, expired or cancelled: nothing more will be answered.
  bool ended() const;
};

result<batch_status> parse_batch_status(std::string_view body);

using batch_outcomes = std::unordered_map<std::string, result<chat_response>>;

// Adds the outcome of each line of an output or error file of batch `batch_id` to `outcomes`, by custom_id:
// a 2xx response is its chat completion; a retryable status (429, 5xx) or an `error` object is `transient`;
// any other status is `rejected`. A line that cannot be read is skipped and said in the returned problem,
// which names the file's line; the others are still added.
status read_batch_results(std::string_view batch_id, std::string_view jsonl, batch_outcomes& outcomes);

} // namespace tailor
