// One HTTP/1.1 connection of the teacher server: reads requests, routes them, injects the planned fault or
// latency, asks the backend and writes OpenAI-style answers, keeping the connection alive between requests.
#include "io/teacher_http_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <spdlog/spdlog.h>
#include <string>
#include <string_view>

namespace tailor::teacher_http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using std::chrono::steady_clock;

// Every wait on the network is bounded, so that a silent or slow client cannot hold a connection forever.
constexpr auto idle_timeout = std::chrono::seconds(60);  // between requests on a kept-alive connection
constexpr auto body_timeout = std::chrono::seconds(30);  // for the rest of a request once its header came
constexpr auto write_timeout = std::chrono::seconds(30); // for one response
constexpr auto linger_timeout = std::chrono::seconds(2); // draining what a refused client still sends
constexpr auto backend_timeout = std::chrono::minutes(10);
constexpr std::uint32_t header_limit = 64 * 1024;

using response_type = http::response<http::string_body>;

std::string_view view(beast::string_view text) {
  return {text.data(), text.size()};
}

// Bytes from the network or from a backend need not be UTF-8; a reply must never fail to serialize.
std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// OpenAI's error shape: {"error": {"message", "type", "param", "code"}}.
std::string error_body(std::string_view message, std::string_view type, std::string_view code = {}) {
  return dump({{"error",
                {{"message", message},
                 {"type", type},
                 {"param", nullptr},
                 {"code", code.empty() ? json(nullptr) : json(code)}}}});
}

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

} // namespace

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket socket, server_core& core)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), core_(core) {}

  void start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&session::read_header, shared_from_this()));
  }

  // Idempotent; every handler still queued then sees `closed_` and stops.
  void close() {
    if (closed_)
      return;
    closed_ = true;
    awaiting_backend_ = false;
    timer_.cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

private:
  // What to do with the connection once a response is written.
  enum class then : std::uint8_t { keep_alive, close, linger };

  void read_header() {
    if (closed_)
      return;
    parser_.emplace();
    parser_->header_limit(header_limit);
    parser_->body_limit(core_.options.max_body_bytes);
    stream_.expires_after(idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec)
      return on_read_error(ec);
    if (closed_)
      return;
    received_ = steady_clock::now();
    version_ = parser_->get().version();
    if (parser_->is_done())
      return route();
    // curl sends `Expect: 100-continue` before bodies over 1 KiB and waits a second for this go-ahead.
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, version_);
      stream_.expires_after(write_timeout);
      http::async_write(stream_, *continue_,
                        beast::bind_front_handler(&session::on_continue_sent, shared_from_this()));
      return;
    }
    read_body();
  }

  void on_continue_sent(beast::error_code ec, std::size_t) {
    if (ec)
      return close();
    read_body();
  }

  void read_body() {
    if (closed_)
      return;
    stream_.expires_after(body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&session::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec)
      return on_read_error(ec);
    if (closed_)
      return;
    route();
  }

  // A client that hangs up, idles out or is cut off by stop() gets nothing; one that sends too much or
  // something that is not HTTP is told so before the connection closes.
  void on_read_error(beast::error_code ec) {
    if (closed_ || ec == http::error::end_of_stream || ec == http::error::partial_message)
      return close();
    if (parser_ && parser_->is_header_done())
      version_ = parser_->get().version();
    if (ec == http::error::body_limit)
      return send(error_response(http::status::payload_too_large,
                                 "request body is larger than " +
                                     std::to_string(core_.options.max_body_bytes) + " bytes",
                                 "invalid_request_error"),
                  then::linger);
    if (ec.category() == http::make_error_code(http::error::bad_target).category())
      return send(error_response(http::status::bad_request, "malformed HTTP request: " + ec.message(),
                                 "invalid_request_error"),
                  then::linger);
    close();
  }

  void route() {
    const auto& request = parser_->get();
    keep_alive_ = request.keep_alive();
    method_ = std::string(view(request.method_string()));
    std::string_view target = view(request.target());
    // The query string is dropped here and from the log: it is where careless clients put keys.
    path_ = std::string(target.substr(0, target.find('?')));
    if (path_ == "/v1/chat/completions" || path_ == "/chat/completions") {
      ++core_.requests;
      if (request.method() != http::verb::post)
        return refuse_method("POST");
      if (!authorized())
        return refuse_key();
      return plan_chat();
    }
    if (path_ == "/v1/models" || path_ == "/models") {
      if (request.method() != http::verb::get)
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
                            "; this server answers POST /v1/chat/completions and GET /v1/models",
                        "invalid_request_error", "unknown_url"),
         then::keep_alive);
  }

  bool authorized() const {
    const std::string& key = core_.options.required_api_key;
    if (key.empty())
      return true;
    const beast::string_view header = parser_->get()[http::field::authorization];
    const beast::string_view scheme = "Bearer ";
    return header.size() > scheme.size() && beast::iequals(header.substr(0, scheme.size()), scheme) &&
           view(header.substr(scheme.size())) == key;
  }

  void refuse_key() {
    ++core_.unauthorized;
    const bool missing = parser_->get()[http::field::authorization].empty();
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
      timer_.expires_after(std::chrono::milliseconds(plan.fault.stall_ms));
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec)
          return;
        self->log("stalled, closed without an answer");
        self->close();
      });
      return;
    }
    if (plan.latency_ms <= 0)
      return answer(plan.fault);
    timer_.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(plan.latency_ms * 1000)));
    timer_.async_wait([self = shared_from_this(), fault = plan.fault](beast::error_code ec) {
      if (ec || self->closed_)
        return;
      self->answer(fault);
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
    auto request = parse_chat_request(parser_->get().body());
    if (!request)
      return send(error_response(http::status::bad_request, request.error().message, "invalid_request_error"),
                  then::keep_alive);
    ask_backend(std::move(request.value()));
  }

  void ask_backend(chat_request request) {
    awaiting_backend_ = true;
    requested_model_ = request.model;
    // The timer keeps this session alive while the backend works; the callback only holds a weak reference,
    // so a backend that answers after stop() finds nobody, and one that never answers leaks nothing.
    timer_.expires_after(backend_timeout);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || !self->awaiting_backend_)
        return;
      self->awaiting_backend_ = false;
      self->send(error_response(http::status::gateway_timeout, "the teacher backend did not answer in time",
                                "server_error"),
                 then::keep_alive);
    });
    auto deliver = [weak = weak_from_this(), gate = core_.gate](result<chat_response> reply) {
      gate->pass([&] {
        if (auto self = weak.lock())
          net::post(self->stream_.get_executor(),
                    [self, reply = std::move(reply)]() mutable { self->on_backend(std::move(reply)); });
      });
    };
    try {
      core_.backend.complete(std::move(request), std::move(deliver));
    } catch (const std::exception& error) {
      on_backend(problem{std::string("the teacher backend failed: ") + error.what()});
    }
  }

  void on_backend(result<chat_response> reply) {
    if (closed_ || !awaiting_backend_)
      return;
    awaiting_backend_ = false;
    timer_.cancel();
    if (!reply)
      return send(error_response(http::status::internal_server_error, reply.error().message, "server_error"),
                  then::keep_alive);
    json body = to_json(reply.value());
    if (reply->model.empty())
      body["model"] = requested_model_.empty() ? core_.options.model : requested_model_;
    body["id"] = "chatcmpl-tailor-" + std::to_string(core_.next_completion_id++);
    body["created"] =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    ++core_.completions;
    send(json_response(http::status::ok, dump(body)), then::keep_alive);
  }

  void send(response_type response, then next) {
    if (closed_)
      return;
    response.version(version_);
    response.set(http::field::server, "tailor-teacher");
    response.keep_alive(keep_alive_ && next == then::keep_alive);
    response.prepare_payload();
    after_write_ = response.keep_alive()  ? then::keep_alive
                   : next == then::linger ? then::linger
                                          : then::close;
    response_ = std::move(response);
    log(std::to_string(response_.result_int()));
    stream_.expires_after(write_timeout);
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&session::on_written, shared_from_this()));
  }

  void on_written(beast::error_code ec, std::size_t) {
    if (ec)
      return close();
    switch (after_write_) {
    case then::keep_alive:
      return read_header();
    case then::close:
      return close();
    case then::linger:
      return linger();
    }
  }

  // Closing with unread bytes makes the kernel reset the connection, which can destroy the answer before
  // the client reads it; so the refused client's remaining bytes are read and dropped first, for a while.
  void linger() {
    if (closed_)
      return;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(linger_timeout);
    buffer_.clear();
    drain();
  }

  void drain() {
    stream_.async_read_some(buffer_.prepare(16 * 1024),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec || self->closed_)
                                return self->close();
                              self->drain();
                            });
  }

  // One debug line per request; never a header, so never a key.
  void log(const std::string& outcome) const {
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - received_);
    spdlog::debug("teacher-serve: {} {} -> {} in {} ms", method_.empty() ? "?" : method_,
                  path_.empty() ? "?" : path_, outcome, elapsed.count());
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  net::steady_timer timer_; // latency, stall, or the backend's deadline: one at a time
  server_core& core_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  response_type response_;
  then after_write_ = then::close;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool awaiting_backend_ = false;
  bool closed_ = false;
  std::string method_;
  std::string path_;
  std::string requested_model_;
  steady_clock::time_point received_ = steady_clock::now();
};

void serve_connection(tcp::socket socket, server_core& core) {
  auto live = std::make_shared<session>(std::move(socket), core);
  if (core.enlist(live))
    live->start();
}

void abort_session(session& live) {
  live.close();
}

} // namespace tailor::teacher_http
