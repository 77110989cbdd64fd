// JSON of OpenAI's chat completions API, read strictly enough to name what is wrong, leniently enough to
// accept what vLLM, llama.cpp's server and Ollama send.
#include "io/teacher/chat.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace tailor {
namespace {

using json = nlohmann::json;

std::string type_of(const json& value) {
  return value.type_name();
}

// Reads an optional field of the expected kind; a wrong kind is a problem, an absent one keeps the default.
template <class T>
bool read_optional(const json& object, const char* key, T& out, std::string& error) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null())
    return true;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) {
      error = std::string{"field `"} + key + "` must be a string, got " + type_of(*it);
      return false;
    }
  } else if constexpr (std::is_integral_v<T>) {
    if (!it->is_number_integer()) {
      error = std::string{"field `"} + key + "` must be an integer, got " + type_of(*it);
      return false;
    }
  } else {
    if (!it->is_number()) {
      error = std::string{"field `"} + key + "` must be a number, got " + type_of(*it);
      return false;
    }
  }
  out = it->get<T>();
  return true;
}

result<json> parse_object(std::string_view body, const char* what) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded())
    return problem{std::string{what} + " is not valid JSON"};
  if (!parsed.is_object())
    return problem{std::string{what} + " must be a JSON object, got " + type_of(parsed)};
  return parsed;
}

} // namespace

json to_json(const chat_request& request) {
  json messages = json::array();
  for (const auto& message : request.messages)
    messages.push_back({{"role", message.role}, {"content", message.content}});
  json body = {{"model", request.model},
               {"messages", messages},
               {"temperature", request.temperature},
               {"top_p", request.top_p},
               {"max_tokens", request.max_tokens},
               {"n", request.n}};
  if (!request.stop.empty())
    body["stop"] = request.stop;
  return body;
}

result<chat_request> parse_chat_request(std::string_view body) {
  auto parsed = parse_object(body, "request body");
  if (!parsed)
    return parsed.error();
  const json& object = parsed.value();
  chat_request request;
  std::string error;
  if (!read_optional(object, "model", request.model, error) ||
      !read_optional(object, "temperature", request.temperature, error) ||
      !read_optional(object, "top_p", request.top_p, error) ||
      !read_optional(object, "max_tokens", request.max_tokens, error) ||
      !read_optional(object, "n", request.n, error))
    return problem{error};
  if (request.n < 1)
    return problem{"field `n` must be at least 1"};
  auto messages = object.find("messages");
  if (messages == object.end() || !messages->is_array() || messages->empty())
    return problem{"field `messages` must be a non-empty array"};
  for (std::size_t i = 0; i < messages->size(); ++i) {
    const json& message = (*messages)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!message.is_object())
      return problem{where + " must be an object"};
    chat_message parsed_message;
    if (!read_optional(message, "role", parsed_message.role, error) ||
        !read_optional(message, "content", parsed_message.content, error))
      return problem{where + ": " + error};
    if (parsed_message.role.empty())
      return problem{where + ": field `role` is missing"};
    request.messages.push_back(std::move(parsed_message));
  }
  if (auto stop = object.find("stop"); stop != object.end() && !stop->is_null()) {
    if (stop->is_string())
      request.stop.push_back(stop->get<std::string>());
    else if (stop->is_array() &&
             std::all_of(stop->begin(), stop->end(), [](const json& s) { return s.is_string(); }))
      request.stop = stop->get<std::vector<std::string>>();
    else
      return problem{"field `stop` must be a string or an array of strings"};
  }
  return request;
}

json to_json(const chat_response& response) {
  json choices = json::array();
  for (std::size_t i = 0; i < response.choices.size(); ++i)
    choices.push_back({{"index", i},
                       {"message", {{"role", "assistant"}, {"content", response.choices[i]}}},
                       {"finish_reason", "stop"}});
  return {{"object", "chat.completion"},
          {"model", response.model},
          {"choices", choices},
          {"usage",
           {{"prompt_tokens", response.usage.prompt_tokens},
            {"completion_tokens", response.usage.completion_tokens},
            {"total_tokens", response.usage.prompt_tokens + response.usage.completion_tokens}}}};
}

result<chat_response> parse_chat_response(std::string_view body) {
  auto parsed = parse_object(body, "response body");
  if (!parsed)
    return parsed.error();
  const json& object = parsed.value();
  chat_response response;
  std::string error;
  if (!read_optional(object, "model", response.model, error))
    return problem{error};
  auto choices = object.find("choices");
  if (choices == object.end() || !choices->is_array())
    return problem{"response has no `choices` array"};
  // Choices may arrive in any order; `index` says where each belongs.
  response.choices.resize(choices->size());
  std::vector<bool> seen(choices->size(), false);
  for (std::size_t i = 0; i < choices->size(); ++i) {
    const json& choice = (*choices)[i];
    const std::string where = "choices[" + std::to_string(i) + "]";
    if (!choice.is_object())
      return problem{where + " must be an object"};
    std::size_t index = i;
    if (auto it = choice.find("index"); it != choice.end() && !it->is_null()) {
      if (!it->is_number_unsigned() || it->get<std::size_t>() >= choices->size())
        return problem{where + ": `index` must be a number below " + std::to_string(choices->size())};
      index = it->get<std::size_t>();
    }
    if (seen[index])
      return problem{where + ": index " + std::to_string(index) + " appears twice"};
    seen[index] = true;
    auto message = choice.find("message");
    if (message == choice.end() || !message->is_object())
      return problem{where + " has no `message` object"};
    auto content = message->find("content");
    if (content == message->end() || !content->is_string())
      return problem{where + ": `message.content` must be a string"};
    response.choices[index] = content->get<std::string>();
  }
  if (auto usage = object.find("usage"); usage != object.end() && usage->is_object()) {
    if (!read_optional(*usage, "prompt_tokens", response.usage.prompt_tokens, error) ||
        !read_optional(*usage, "completion_tokens", response.usage.completion_tokens, error))
      return problem{"usage: " + error};
  }
  return response;
}

} // namespace tailor
