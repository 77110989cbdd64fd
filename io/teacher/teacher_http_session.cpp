// One HTTP/1.1 connection of the teacher server: routes requests, injects the planned fault or latency, asks
// the backend and writes OpenAI-style answers. Reading, limits and keep-alive are io/http/http_session.cpp's.
#include "io/teacher/teacher_http_session.hpp"

#include "io/http/http_session.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <string>
#include <string_view>

namespace tailor::teacher_http {

// Bytes from the network or from a backend need not be UTF-8; a reply must never fail to serialize.
std::string dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json error_object(std::string_view message, std::string_view type, std::string_view code) {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", nullptr},
            {"code", code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code)}}}};
}

std::string error_body(std::string_view message, std::string_view type, std::string_view code) {
  return dump(error_object(message, type, code));
}

nlohmann::json completion_object(const chat_response& reply, const std::string& model_if_none,
                                 std::string id) {
  nlohmann::json body = to_json(reply);
  if (reply.model.empty())
    body["model"] = model_if_none;
  body["id"] = std::move(id);
  body["created"] =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return body;
}

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;
using json = nlohmann::json;
using std::chrono::steady_clock;
using response_type = http_session::response_type;

// A teacher may think for minutes (a long chain of thought behind a slow API).
constexpr auto backend_timeout = std::chrono::minutes(10);

response_type json_response(http::status status, std::string body) {
  response_type response{status, 11};
  response.set(http::field::content_type, "application/json");
  response.body() = std::move(body);
  return response;
}

response_type error_response(http::status status, std::string_view message, std::string_view type,
                             std::string_view code = {}) {
  return json_response(status, error_body(message, type, code));
}

// What a proxy in front of a real API sends on a bad day: status 200, a JSON content type, half a body.
constexpr std::string_view malformed_body =
    R"({"id": "chatcmpl-truncated", "object": "chat.completion", "choi)";

class session final : public http_session {
public:
  session(tcp::socket socket, server_core& core, http_listener& listener)
      : http_session(std::move(socket), listener, core.options.max_body_bytes, "tailor-teacher"),
        core_(core) {}

private:
  void route() override {
    method_ = std::string(view(request().method_string()));
    std::string_view target = view(request().target());
    // The query string is dropped here and from the log: it is where careless clients put keys.
    path_ = std::string(target.substr(0, target.find('?')));
    if (path_ == "/v1/chat/completions" || path_ == "/chat/completions") {
      ++core_.requests;
      if (request().method() != http::verb::post)
        return refuse_method("POST");
      if (!authorized())
        return refuse_key();
      return plan_chat();
    }
    if (batch_endpoints::serves(path_)) {
      ++core_.batch_requests;
      if (!authorized())
        return refuse_key();
      endpoint_reply reply = core_.batches.answer(
          request().method(), path_, view(request()[http::field::content_type]), request().body());
      auto response = json_response(static_cast<http::status>(reply.status), std::move(reply.body));
      response.set(http::field::content_type, reply.content_type);
      return send(std::move(response), then::keep_alive);
    }
    if (path_ == "/v1/models" || path_ == "/models") {
      if (request().method() != http::verb::get)
        return refuse_method("GET");
      if (!authorized())
        return refuse_key();
      const json model = {
          {"id", core_.options.model}, {"object", "model"}, {"created", 0}, {"owned_by", "tailor"}};
      return send(json_response(http::status::ok, dump({{"object", "list"}, {"data", json::array({model})}})),
                  then::keep_alive);
    }
    send(error_response(http::status::not_found,
                        "no route for " + method_ + " " + path_ +
                            "; this server answers /v1/chat/completions, /v1/models, /v1/files, /v1/batches",
                        "invalid_request_error", "unknown_url"),
         then::keep_alive);
  }

  bool authorized() const {
    const std::string& key = core_.options.required_api_key;
    if (key.empty())
      return true;
    const beast::string_view header = request()[http::field::authorization];
    const beast::string_view scheme = "Bearer ";
    return header.size() > scheme.size() && beast::iequals(header.substr(0, scheme.size()), scheme) &&
           view(header.substr(scheme.size())) == key;
  }

  void refuse_key() {
    ++core_.unauthorized;
    const bool missing = request()[http::field::authorization].empty();
    auto response = error_response(http::status::unauthorized,
                                   missing ? "missing API key: send the header `Authorization: Bearer <key>`"
                                           : "incorrect API key provided",
                                   "invalid_request_error", "invalid_api_key");
    response.set(http::field::www_authenticate, "Bearer");
    send(std::move(response), then::keep_alive);
  }

  void refuse_method(const char* allowed) {
    auto response = error_response(http::status::method_not_allowed,
                                   method_ + " is not allowed on " + path_ + "; use " + allowed,
                                   "invalid_request_error", "method_not_allowed");
    response.set(http::field::allow, allowed);
    send(std::move(response), then::keep_alive);
  }

  void plan_chat() {
    const request_plan plan = core_.plan_request();
    if (plan.fault.what == teacher_fault::kind::timeout) {
      timer().expires_after(std::chrono::milliseconds(plan.fault.stall_ms));
      timer().async_wait([this, self = shared_from_this()](beast::error_code ec) {
        if (ec)
          return;
        log("stalled, closed without an answer");
        close();
      });
      return;
    }
    if (plan.latency_ms <= 0)
      return answer(plan.fault);
    timer().expires_after(std::chrono::microseconds(static_cast<std::int64_t>(plan.latency_ms * 1000)));
    timer().async_wait([this, self = shared_from_this(), fault = plan.fault](beast::error_code ec) {
      if (ec || closed())
        return;
      answer(fault);
    });
  }

  void answer(const teacher_fault& fault) {
    using kind = teacher_fault::kind;
    switch (fault.what) {
    case kind::rate_limited: {
      auto response = error_response(http::status::too_many_requests,
                                     "rate limit reached (injected fault); retry after " +
                                         std::to_string(fault.retry_after_s) + " s",
                                     "requests", "rate_limit_exceeded");
      response.set(http::field::retry_after, std::to_string(fault.retry_after_s));
      return send(std::move(response), then::keep_alive);
    }
    case kind::server_error:
      return send(error_response(http::status::internal_server_error,
                                 "the server had an error while processing your request (injected fault)",
                                 "server_error"),
                  then::keep_alive);
    case kind::malformed:
      return send(json_response(http::status::ok, std::string(malformed_body)), then::keep_alive);
    case kind::bad_request:
      return send(error_response(http::status::bad_request,
                                 "the request was refused as invalid (injected fault)",
                                 "invalid_request_error"),
                  then::keep_alive);
    case kind::timeout: // planned in plan_chat
    case kind::none:
      break;
    }
    auto request = parse_chat_request(this->request().body());
    if (!request)
      return send(error_response(http::status::bad_request, request.error().message, "invalid_request_error"),
                  then::keep_alive);
    ask_backend(std::move(request.value()));
  }

  void ask_backend(chat_request request) {
    requested_model_ = request.model;
    auto deliver = await_answer<result<chat_response>>(
        backend_timeout,
        [this] {
          send(error_response(http::status::gateway_timeout, "the teacher backend did not answer in time",
                              "server_error"),
               then::keep_alive);
        },
        [this](result<chat_response> reply) { on_backend(std::move(reply)); });
    try {
      core_.backend.complete(std::move(request), deliver);
    } catch (const std::exception& error) {
      deliver(problem{std::string("the teacher backend failed: ") + error.what()});
    }
  }

  void on_backend(result<chat_response> reply) {
    // A request the backend cannot answer (a question it does not know) is the client's to fix: 400, as
    // OpenAI answers an invalid request; anything else is the server's fault.
    if (!reply) {
      const bool refused = reply.error().cause == problem_cause::rejected;
      return send(error_response(refused ? http::status::bad_request : http::status::internal_server_error,
                                 reply.error().message, refused ? "invalid_request_error" : "server_error"),
                  then::keep_alive);
    }
    const json body =
        completion_object(reply.value(), requested_model_.empty() ? core_.options.model : requested_model_,
                          "chatcmpl-tailor-" + std::to_string(core_.next_completion_id++));
    ++core_.completions;
    send(json_response(http::status::ok, dump(body)), then::keep_alive);
  }

  response_type unreadable(http::status status, const std::string& reason) override {
    return error_response(status, reason, "invalid_request_error");
  }

  void sending(const response_type& response) override { log(std::to_string(response.result_int())); }

  // One debug line per request; never a header, so never a key.
  void log(const std::string& outcome) const {
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - received_at());
    spdlog::debug("teacher-serve: {} {} -> {} in {} ms", method_.empty() ? "?" : method_,
                  path_.empty() ? "?" : path_, outcome, elapsed.count());
  }

  server_core& core_;
  std::string method_;
  std::string path_;
  std::string requested_model_;
};

} // namespace

std::shared_ptr<server_connection> make_session(tcp::socket socket, server_core& core,
                                                http_listener& listener) {
  return std::make_shared<session>(std::move(socket), core, listener);
}

} // namespace tailor::teacher_http
