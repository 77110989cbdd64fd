// One HTTP/1.1 connection of the daemon: reads requests, checks the token, routes the JSON API to the
// backend, serves the dashboard's files and /metrics, and hands websocket upgrades to io/api_websocket.cpp.
#include "io/api_connection.hpp"
#include "io/api_request.hpp"
#include "io/progress_json.hpp"
#include "io/run_store.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace tailor::api_http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;

// Every wait on the network is bounded, so that a silent or slow client cannot hold a connection forever.
constexpr auto idle_timeout = std::chrono::seconds(60);
constexpr auto body_timeout = std::chrono::seconds(30);
constexpr auto write_timeout = std::chrono::seconds(30);
constexpr auto linger_timeout = std::chrono::seconds(2);
constexpr auto backend_timeout = std::chrono::seconds(30);
constexpr std::uint32_t header_limit = 64 * 1024;

using response_type = http::response<http::string_body>;

std::string_view view(beast::string_view text) {
  return {text.data(), text.size()};
}

response_type make_response(http::status status, std::string body, std::string_view content_type) {
  response_type response{status, 11};
  response.set(http::field::content_type, beast::string_view(content_type.data(), content_type.size()));
  response.set(http::field::cache_control, "no-store");
  response.body() = std::move(body);
  return response;
}

response_type json_response(const api_reply& reply) {
  return make_response(static_cast<http::status>(reply.status), dump_json(reply.body) + "\n",
                       "application/json");
}

class http_session : public connection, public std::enable_shared_from_this<http_session> {
public:
  http_session(tcp::socket socket, server_core& core)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), core_(core) {}

  void start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&http_session::read_header, shared_from_this()));
  }

  void abort() override { close(); }

private:
  enum class then : std::uint8_t { keep_alive, close, linger };

  void close() {
    if (closed_)
      return;
    closed_ = true;
    awaiting_backend_ = false;
    timer_.cancel();
    if (handed_over_)
      return;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  void read_header() {
    if (closed_)
      return;
    parser_.emplace();
    parser_->header_limit(header_limit);
    parser_->body_limit(core_.options.max_body_bytes);
    stream_.expires_after(idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&http_session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec)
      return on_read_error(ec);
    if (closed_)
      return;
    version_ = parser_->get().version();
    // A declared body over the limit is refused before it is sent.
    if (const auto length = parser_->content_length(); length && *length > core_.options.max_body_bytes)
      return on_read_error(http::error::body_limit);
    if (parser_->is_done())
      return route();
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, version_);
      stream_.expires_after(write_timeout);
      http::async_write(stream_, *continue_,
                        [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                          if (write_ec)
                            return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    if (closed_)
      return;
    stream_.expires_after(body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec)
      return on_read_error(ec);
    if (!closed_)
      route();
  }

  void on_read_error(beast::error_code ec) {
    if (closed_ || ec == http::error::end_of_stream || ec == http::error::partial_message)
      return close();
    if (ec == http::error::body_limit)
      return send(api_error(413, "the request body is larger than the limit of " +
                                     std::to_string(core_.options.max_body_bytes) + " bytes"),
                  then::linger);
    if (ec.category() == http::make_error_code(http::error::bad_target).category())
      return send(api_error(400, "malformed HTTP request: " + ec.message()), then::linger);
    close();
  }

  void route() {
    ++core_.requests;
    const auto& request = parser_->get();
    keep_alive_ = request.keep_alive();
    const std::string_view target = view(request.target());
    const auto question = target.find('?');
    path_ = std::string(target.substr(0, question));
    query_ =
        parse_query(question == std::string_view::npos ? std::string_view{} : target.substr(question + 1));
    method_ = request.method();

    if (!authorized())
      return refuse_token();
    if (path_ == "/metrics")
      return method_ == http::verb::get ? serve_metrics() : refuse_method("GET");
    if (path_ == "/v1/events")
      return start_events("");
    if (path_ == "/v1/runs") {
      if (method_ == http::verb::get)
        return ask([](api_backend& backend, api_reply_handler done) { backend.list_runs(std::move(done)); });
      if (method_ == http::verb::post)
        return submit();
      return refuse_method("GET, POST");
    }
    static constexpr std::string_view runs_prefix = "/v1/runs/";
    if (path_.starts_with(runs_prefix)) {
      std::string rest = path_.substr(runs_prefix.size());
      const bool events = rest.ends_with("/events");
      if (events)
        rest.resize(rest.size() - std::string_view("/events").size());
      if (!is_valid_run_id(rest))
        return send(api_error(400, "invalid run id `" + rest + "`: " + run_id_rules()), then::keep_alive);
      if (events)
        return start_events(rest);
      if (method_ == http::verb::get)
        return ask([id = rest](api_backend& backend, api_reply_handler done) {
          backend.get_run(id, std::move(done));
        });
      if (method_ == http::verb::delete_)
        return ask([id = rest](api_backend& backend, api_reply_handler done) {
          backend.cancel_run(id, std::move(done));
        });
      return refuse_method("GET, DELETE");
    }
    if (const static_file* file = find_static_file(path_))
      return method_ == http::verb::get ? serve_file(*file) : refuse_method("GET");
    send(api_error(404, "no route for " + std::string(view(request.method_string())) + " " + path_ +
                            "; the API is POST|GET /v1/runs, GET|DELETE /v1/runs/{id}, "
                            "GET /v1/runs/{id}/events and /v1/events (websockets), GET /metrics, GET /"),
         then::keep_alive);
  }

  bool authorized() const {
    const std::string& token = core_.options.token;
    if (token.empty())
      return true;
    const std::string_view header = view(parser_->get()[http::field::authorization]);
    constexpr std::string_view scheme = "Bearer ";
    if (header.size() > scheme.size() &&
        beast::iequals(parser_->get()[http::field::authorization].substr(0, scheme.size()),
                       beast::string_view(scheme.data(), scheme.size())))
      return same_secret(header.substr(scheme.size()), token);
    const auto query = query_.find("access_token");
    return query != query_.end() && same_secret(query->second, token);
  }

  void refuse_token() {
    ++core_.unauthorized;
    const bool missing =
        parser_->get()[http::field::authorization].empty() && !query_.contains("access_token");
    auto response = json_response(api_error(
        401, missing
                 ? "this daemon needs a token: send `Authorization: Bearer <token>` (the CLI: --token-file "
                   "or TAILOR_TOKEN; the dashboard: ?access_token=<token>)"
                 : "the token is not the daemon's"));
    response.set(http::field::www_authenticate, "Bearer");
    send(std::move(response), then::keep_alive);
  }

  void refuse_method(std::string_view allowed) {
    auto response =
        json_response(api_error(405, std::string(view(parser_->get().method_string())) +
                                         " is not allowed on " + path_ + "; use " + std::string(allowed)));
    response.set(http::field::allow, beast::string_view(allowed.data(), allowed.size()));
    send(std::move(response), then::keep_alive);
  }

  void submit() {
    json config;
    try {
      config = json::parse(parser_->get().body());
    } catch (const json::parse_error& error) {
      return send(api_error(400, std::string("the request body is not valid JSON: ") + error.what()),
                  then::keep_alive);
    }
    if (!config.is_object())
      return send(api_error(400, "a run config must be a JSON object, e.g. {\"rounds\": 2}"),
                  then::keep_alive);
    std::string id;
    if (const auto found = query_.find("id"); found != query_.end()) {
      id = found->second;
      if (!is_valid_run_id(id))
        return send(api_error(400, "invalid run id `" + id + "`: " + run_id_rules()), then::keep_alive);
    }
    std::string base_dir;
    if (const auto found = query_.find("base_dir"); found != query_.end())
      base_dir = found->second;
    ask([config = std::move(config), id, base_dir](api_backend& backend, api_reply_handler done) mutable {
      backend.submit(std::move(config), id, base_dir, std::move(done));
    });
  }

  // Calls the backend with a handler that brings its answer back to this connection's strand.
  template <class Call>
  void ask(Call call) {
    call(core_.backend, reply_handler([](http_session& self, api_reply reply) {
           self.send(json_response(reply), then::keep_alive);
         }));
  }

  // The timer keeps the connection alive while the backend works (its handlers hold it only weakly), and
  // answers 504 should the backend never answer.
  void await_backend() {
    awaiting_backend_ = true;
    timer_.expires_after(backend_timeout);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || !self->awaiting_backend_)
        return;
      self->awaiting_backend_ = false;
      self->send(api_error(504, "the daemon did not answer in time"), then::close);
    });
  }

  // Holds the connection weakly: a backend that answers late, or never, keeps nothing alive.
  template <class Then>
  api_reply_handler reply_handler(Then next) {
    await_backend();
    return [weak = weak_from_this(), gate = core_.gate, next = std::move(next)](api_reply reply) mutable {
      gate->pass([&] {
        if (auto self = weak.lock())
          net::post(self->stream_.get_executor(),
                    [self, next = std::move(next), reply = std::move(reply)]() mutable {
                      if (self->closed_ || !self->awaiting_backend_)
                        return;
                      self->awaiting_backend_ = false;
                      self->timer_.cancel();
                      next(*self, std::move(reply));
                    });
      });
    };
  }

  void serve_metrics() {
    auto done = reply_handler([](http_session& self, api_reply reply) {
      std::string text = reply.body.get<std::string>() + self.core_.metrics_text();
      self.send(make_response(http::status::ok, std::move(text), "text/plain; version=0.0.4"),
                then::keep_alive);
    });
    core_.backend.metrics([done = std::move(done)](std::string text) mutable { done(api_reply{200, text}); });
  }

  void serve_file(const static_file& file) {
    const std::filesystem::path path =
        file.name.empty() ? core_.options.chart_js : core_.options.web_root / std::string(file.name);
    std::ifstream in(path, std::ios::binary);
    if (!in)
      return send(api_error(404, "the dashboard file " + path.string() + " is missing" +
                                     (file.name.empty() ? " (install Debian's libjs-chart.js)" : "")),
                  then::keep_alive);
    std::ostringstream text;
    text << in.rdbuf();
    send(make_response(http::status::ok, text.str(), file.content_type), then::keep_alive);
  }

  // A websocket for one run's events (after checking that the run exists) or for all runs'.
  void start_events(const std::string& run_id) {
    if (method_ != http::verb::get)
      return refuse_method("GET");
    if (!beast::websocket::is_upgrade(parser_->get()))
      return send(
          api_error(426, path_ + " is a websocket: connect with a websocket client (e.g. `tailor watch ID`)"),
          then::keep_alive);
    if (run_id.empty())
      return upgrade(run_id);
    core_.backend.get_run(run_id, reply_handler([run_id](http_session& self, api_reply reply) {
                            if (reply.status != 200)
                              return self.send(json_response(reply), then::keep_alive);
                            self.upgrade(run_id);
                          }));
  }

  void upgrade(const std::string& run_id) {
    handed_over_ = true;
    closed_ = true;
    timer_.cancel();
    stream_.expires_never();
    serve_websocket(std::move(stream_), parser_->release(), run_id, core_);
  }

  void send(api_reply reply, then next) { send(json_response(reply), next); }

  void send(response_type response, then next) {
    if (closed_)
      return;
    response.version(version_);
    response.set(http::field::server, "tailord");
    response.keep_alive(keep_alive_ && next == then::keep_alive);
    response.prepare_payload();
    after_write_ = response.keep_alive()  ? then::keep_alive
                   : next == then::linger ? then::linger
                                          : then::close;
    response_ = std::move(response);
    stream_.expires_after(write_timeout);
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&http_session::on_written, shared_from_this()));
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
  // the client reads it; so a refused client's remaining bytes are read and dropped first, for a while.
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

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  net::steady_timer timer_; // the backend's deadline
  server_core& core_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  response_type response_;
  then after_write_ = then::close;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool closed_ = false;
  bool awaiting_backend_ = false;
  bool handed_over_ = false; // the stream now belongs to a websocket connection
  http::verb method_ = http::verb::unknown;
  std::string path_;
  std::map<std::string, std::string> query_;
};

} // namespace

void serve_http(tcp::socket socket, server_core& core) {
  auto live = std::make_shared<http_session>(std::move(socket), core);
  if (core.enlist(live))
    live->start();
}

} // namespace tailor::api_http
