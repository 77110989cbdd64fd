// The chat-completions JSON of io/teacher/chat.cpp: round trips both ways, and parse errors that name the field.
#include "io/teacher/chat.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace tailor;

namespace {

chat_request sample_request() {
  chat_request request;
  request.model = "teacher-1";
  request.messages = {{"system", "You explain arithmetic."}, {"user", "What is 17 * 3? Say \"why\".\n"}};
  request.temperature = 0.25;
  request.top_p = 0.9;
  request.max_tokens = 128;
  request.n = 3;
  request.stop = {"\n\n", "END"};
  return request;
}

std::string error_of(const result<chat_response>& parsed) {
  REQUIRE_FALSE(parsed);
  return parsed.error().message;
}

} // namespace

TEST_CASE("a chat request survives JSON and back", "[chat]") {
  const chat_request request = sample_request();
  const auto parsed = parse_chat_request(to_json(request).dump());
  REQUIRE(parsed);
  CHECK(*parsed == request);
}

TEST_CASE("a request without stop sequences has no stop field, and a single stop string is accepted",
          "[chat]") {
  chat_request request = sample_request();
  request.stop.clear();
  CHECK_FALSE(to_json(request).contains("stop"));
  const auto parsed =
      parse_chat_request(R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stop":"END"})");
  REQUIRE(parsed);
  CHECK(parsed->stop == std::vector<std::string>{"END"});
  CHECK(parsed->n == 1);
}

TEST_CASE("chat request parse errors name what is wrong", "[chat]") {
  const auto error = [](std::string_view body) {
    auto parsed = parse_chat_request(body);
    REQUIRE_FALSE(parsed);
    return parsed.error().message;
  };
  CHECK_THAT(error("{not json"), Catch::Contains("not valid JSON"));
  CHECK_THAT(error("[1, 2]"), Catch::Contains("must be a JSON object"));
  CHECK_THAT(error(R"({"model":"m"})"), Catch::Contains("`messages`"));
  CHECK_THAT(error(R"({"messages":[]})"), Catch::Contains("non-empty"));
  CHECK_THAT(error(R"({"messages":[{"content":"hi"}]})"),
             Catch::Contains("messages[0]: field `role` is missing"));
  CHECK_THAT(error(R"({"messages":[{"role":"user","content":3}]})"),
             Catch::Contains("`content` must be a string"));
  CHECK_THAT(error(R"({"messages":[{"role":"user","content":"x"}],"n":0})"),
             Catch::Contains("`n` must be at least 1"));
  CHECK_THAT(error(R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})"),
             Catch::Contains("`temperature` must be a number"));
  CHECK_THAT(error(R"({"messages":[{"role":"user","content":"x"}],"stop":[1]})"), Catch::Contains("`stop`"));
}

TEST_CASE("a chat response survives JSON and back", "[chat]") {
  chat_response response;
  response.model = "teacher-1";
  response.choices = {"first answer", "second, with \"quotes\" and\nlines", ""};
  response.usage = {42, 17};
  const auto parsed = parse_chat_response(to_json(response).dump());
  REQUIRE(parsed);
  CHECK(*parsed == response);
}

TEST_CASE("choices out of order are put in index order", "[chat]") {
  const auto parsed = parse_chat_response(R"({
    "model": "m",
    "choices": [
      {"index": 2, "message": {"role": "assistant", "content": "c"}},
      {"index": 0, "message": {"role": "assistant", "content": "a"}},
      {"index": 1, "message": {"role": "assistant", "content": "b"}}
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}
  })");
  REQUIRE(parsed);
  CHECK(parsed->choices == std::vector<std::string>{"a", "b", "c"});
  CHECK(parsed->usage == chat_usage{5, 6});
}

TEST_CASE("a response without usage counts zero tokens", "[chat]") {
  const auto parsed = parse_chat_response(R"({"choices":[{"message":{"content":"x"}}]})");
  REQUIRE(parsed);
  CHECK(parsed->choices == std::vector<std::string>{"x"});
  CHECK(parsed->usage == chat_usage{});
}

TEST_CASE("chat response parse errors name what is wrong", "[chat]") {
  CHECK_THAT(error_of(parse_chat_response("<html>502 Bad Gateway</html>")),
             Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of(parse_chat_response(R"({"model":"m"})")), Catch::Contains("no `choices` array"));
  CHECK_THAT(error_of(parse_chat_response(R"({"choices":[{"index":0,"message":{"role":"assistant"}}]})")),
             Catch::Contains("choices[0]: `message.content` must be a string"));
  CHECK_THAT(error_of(parse_chat_response(R"({"choices":[{"index":0}]})")),
             Catch::Contains("no `message` object"));
  CHECK_THAT(
      error_of(parse_chat_response(
          R"({"choices":[{"index":0,"message":{"content":"a"}},{"index":0,"message":{"content":"b"}}]})")),
      Catch::Contains("appears twice"));
  CHECK_THAT(error_of(parse_chat_response(R"({"choices":[{"index":5,"message":{"content":"a"}}]})")),
             Catch::Contains("`index` must be a number below 1"));
  CHECK_THAT(error_of(parse_chat_response(
                 R"({"choices":[{"message":{"content":"a"}}],"usage":{"prompt_tokens":"many"}})")),
             Catch::Contains("usage: field `prompt_tokens` must be an integer"));
}
