// OpenAI-compatible chat completions as plain structs: what a teacher is asked and what it answers.
// Shared by the HTTP client, the built-in teacher, the teacher server and the answer cache.
#pragma once

#include "io/common/result.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tailor {

struct chat_message {
  std::string role;  // system | user | assistant
  std::string content;

  friend bool operator==(const chat_message&, const chat_message&) = default;
};

struct chat_request {
  std::string model;
  std::vector<chat_message> messages;
  double temperature = 0.7;
  double top_p = 1.0;
  int max_tokens = 512;
  int n = 1;                      // samples wanted
  std::vector<std::string> stop;  // stop sequences

  friend bool operator==(const chat_request&, const chat_request&) = default;
};

struct chat_usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;

  friend bool operator==(const chat_usage&, const chat_usage&) = default;
};

struct chat_response {
  std::string model;
  std::vector<std::string> choices;  // one text per sample, in index order
  chat_usage usage;

  friend bool operator==(const chat_response&, const chat_response&) = default;
};

// The `/v1/chat/completions` JSON bodies, both directions. Parsing never throws; a problem names the field.
nlohmann::json to_json(const chat_request& request);
result<chat_request> parse_chat_request(std::string_view body);
nlohmann::json to_json(const chat_response& response);
result<chat_response> parse_chat_response(std::string_view body);

// Anything that answers chat requests: the HTTP client of an OpenAI-compatible endpoint, or the built-in
// offline teacher. `complete` returns at once; `done` is called exactly once, possibly on another thread.
class teacher_backend {
public:
  using callback = std::function<void(result<chat_response>)>;
  virtual ~teacher_backend() = default;
  virtual void complete(chat_request request, callback done) = 0;
  // Ends every request in flight; their callbacks get a problem saying so.
  virtual void cancel_all() = 0;
};

} // namespace tailor
