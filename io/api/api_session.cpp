// One HTTP/1.1 connection of the daemon: checks the token, routes the JSON API to the backend, serves the
// dashboard's files and /metrics, and hands websocket upgrades to io/api/api_websocket.cpp. Reading, limits and
// keep-alive are io/http/http_session.cpp's.
#include "io/api/api_connection.hpp"
#include "io/api/api_request.hpp"
#include "io/http/http_session.hpp"
#include "io/store/progress_json.hpp"
#include "io/store/run_store.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <charconv>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace tailor::api_http {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;
using json = nlohmann::json;
using response_type = http_session::response_type;

constexpr auto backend_timeout = std::chrono::seconds(30);

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

class api_session final : public http_session {
public:
  api_session(tcp::socket socket, server_core& core, http_listener& listener)
      : http_session(std::move(socket), listener, core.options.max_body_bytes, "tailord"), core_(core) {}

private:
  void route() override {
    ++core_.requests;
    const std::string_view target = view(request().target());
    const auto question = target.find('?');
    path_ = std::string(target.substr(0, question));
    query_ =
        parse_query(question == std::string_view::npos ? std::string_view{} : target.substr(question + 1));
    method_ = request().method();

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
    if (path_.starts_with(runs_prefix))
      return route_run(path_.substr(runs_prefix.size()));
    if (path_ == "/v1/compares" || path_.starts_with("/v1/compares/"))
      return route_compares();
    if (const static_file* file = find_static_file(path_))
      return method_ == http::verb::get ? serve_file(*file) : refuse_method("GET");
    send(api_error(404, "no route for " + std::string(view(request().method_string())) + " " + path_ +
                            "; the API is POST|GET /v1/runs, GET|DELETE /v1/runs/{id}, GET /v1/runs/{id}/mistakes, "
                            "GET /v1/runs/{id}/evaluations, GET /v1/compares, GET /v1/compares/{name}, "
                            "GET /v1/runs/{id}/events and /v1/events (websockets), GET /metrics, GET /"));
  }

  // /v1/runs/{id}, and its /events, /mistakes and /evaluations.
  void route_run(std::string id) {
    std::string part;
    for (const char* known : {"events", "mistakes", "evaluations"})
      if (const auto suffix = std::string("/") + known; id.ends_with(suffix)) {
        part = known;
        id.resize(id.size() - suffix.size());
      }
    if (!is_valid_run_id(id))
      return send(api_error(400, "invalid run id `" + id + "`: " + run_id_rules()));
    if (part == "events")
      return start_events(id);
    if (part == "mistakes" || part == "evaluations") {
      if (method_ != http::verb::get)
        return refuse_method("GET");
      const auto round = round_of_query();
      if (!round)
        return;
      if (part == "mistakes")
        return ask([id, round](api_backend& backend, api_reply_handler done) {
          backend.get_mistakes(id, *round, std::move(done));
        });
      return ask([id, round](api_backend& backend, api_reply_handler done) {
        backend.get_evaluations(id, *round, std::move(done));
      });
    }
    if (method_ == http::verb::get)
      return ask(
          [id](api_backend& backend, api_reply_handler done) { backend.get_run(id, std::move(done)); });
    if (method_ == http::verb::delete_)
      return ask(
          [id](api_backend& backend, api_reply_handler done) { backend.cancel_run(id, std::move(done)); });
    refuse_method("GET, DELETE");
  }

  // ?round=N (N >= 1), or 0 for all rounds when absent; nullopt after answering 400.
  std::optional<std::uint32_t> round_of_query() {
    const auto found = query_.find("round");
    if (found == query_.end())
      return 0u;
    const std::string& text = found->second;
    std::uint32_t round = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), round);
    if (error != std::errc{} || end != text.data() + text.size() || round == 0) {
      send(api_error(400, "round must be a round number from 1 (e.g. ?round=2), not `" + text + "`"));
      return std::nullopt;
    }
    return round;
  }

  // GET /v1/compares and /v1/compares/{name}.
  void route_compares() {
    if (method_ != http::verb::get)
      return refuse_method("GET");
    if (path_ == "/v1/compares")
      return ask([](api_backend& backend, api_reply_handler done) { backend.list_compares(std::move(done)); });
    const std::string name = path_.substr(std::string_view("/v1/compares/").size());
    if (!is_valid_run_id(name))
      return send(api_error(400, "invalid compare name `" + name + "`: " + run_id_rules()));
    ask([name](api_backend& backend, api_reply_handler done) { backend.get_compare(name, std::move(done)); });
  }

  bool authorized() const {
    const std::string& token = core_.options.token;
    if (token.empty())
      return true;
    const beast::string_view header = request()[http::field::authorization];
    constexpr std::string_view scheme = "Bearer ";
    if (header.size() > scheme.size() &&
        beast::iequals(header.substr(0, scheme.size()), beast::string_view(scheme.data(), scheme.size())))
      return same_secret(view(header.substr(scheme.size())), token);
    const auto query = query_.find("access_token");
    return query != query_.end() && same_secret(query->second, token);
  }

  void refuse_token() {
    ++core_.unauthorized;
    const bool missing = request()[http::field::authorization].empty() && !query_.contains("access_token");
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
        json_response(api_error(405, std::string(view(request().method_string())) + " is not allowed on " +
                                         path_ + "; use " + std::string(allowed)));
    response.set(http::field::allow, beast::string_view(allowed.data(), allowed.size()));
    send(std::move(response), then::keep_alive);
  }

  void submit() {
    json config;
    try {
      config = json::parse(request().body());
    } catch (const json::parse_error& error) {
      return send(api_error(400, std::string("the request body is not valid JSON: ") + error.what()));
    }
    if (!config.is_object())
      return send(api_error(400, "a run config must be a JSON object, e.g. {\"rounds\": 2}"));
    std::string id;
    if (const auto found = query_.find("id"); found != query_.end()) {
      id = found->second;
      if (!is_valid_run_id(id))
        return send(api_error(400, "invalid run id `" + id + "`: " + run_id_rules()));
    }
    std::string base_dir;
    if (const auto found = query_.find("base_dir"); found != query_.end())
      base_dir = found->second;
    // A compare's run (`tailor compare --server`): its compare, arm and seed, kept with it.
    std::map<std::string, std::string> labels;
    for (const char* key : {"compare", "arm", "seed"})
      if (const auto found = query_.find(key); found != query_.end()) {
        if (!is_valid_run_id(found->second))
          return send(api_error(400, std::string("invalid ") + key + " label `" + found->second + "`: " +
                                         run_id_rules()));
        labels[key] = found->second;
      }
    ask([config = std::move(config), id, base_dir, labels](api_backend& backend, api_reply_handler done) mutable {
      backend.submit(std::move(config), id, base_dir, std::move(labels), std::move(done));
    });
  }

  // Calls the backend and answers with its JSON reply.
  template <class Call>
  void ask(Call call) {
    call(core_.backend, backend_reply([this](api_reply reply) { send(reply); }));
  }

  // The handler to give the backend: `on_reply` runs on this connection's strand (where `this` is alive),
  // or the client gets 504 should the backend never answer.
  api_reply_handler backend_reply(std::function<void(api_reply)> on_reply) {
    return await_answer<api_reply>(
        backend_timeout,
        [this] { send(json_response(api_error(504, "the daemon did not answer in time")), then::close); },
        std::move(on_reply));
  }

  void serve_metrics() {
    auto done = backend_reply([this](api_reply reply) {
      std::string text = reply.body.get<std::string>() + core_.metrics_text();
      send(make_response(http::status::ok, std::move(text), "text/plain; version=0.0.4"), then::keep_alive);
    });
    core_.backend.metrics([done = std::move(done)](std::string text) mutable { done(api_reply{200, text}); });
  }

  void serve_file(const static_file& file) {
    const std::filesystem::path path =
        file.name.empty() ? core_.options.chart_js : core_.options.web_root / std::string(file.name);
    std::ifstream in(path, std::ios::binary);
    if (!in)
      return send(api_error(404, "the dashboard file " + path.string() + " is missing" +
                                     (file.name.empty() ? " (install Debian's libjs-chart.js)" : "")));
    std::ostringstream text;
    text << in.rdbuf();
    send(make_response(http::status::ok, text.str(), file.content_type), then::keep_alive);
  }

  // A websocket for one run's events (after checking that the run exists) or for all runs'.
  void start_events(const std::string& run_id) {
    if (method_ != http::verb::get)
      return refuse_method("GET");
    if (!beast::websocket::is_upgrade(request()))
      return send(api_error(
          426, path_ + " is a websocket: connect with a websocket client (e.g. `tailor watch ID`)"));
    if (run_id.empty())
      return upgrade(run_id);
    core_.backend.get_run(run_id, backend_reply([this, run_id](api_reply reply) {
                            if (reply.status != 200)
                              return send(reply);
                            upgrade(run_id);
                          }));
  }

  void upgrade(const std::string& run_id) {
    auto [stream, upgrade_request] = hand_over();
    serve_websocket(std::move(stream), std::move(upgrade_request), run_id, core_, listener());
  }

  // A JSON reply; the connection stays for the next request.
  void send(const api_reply& reply) { http_session::send(json_response(reply), then::keep_alive); }
  using http_session::send;

  response_type unreadable(http::status status, const std::string& reason) override {
    return json_response(api_error(static_cast<unsigned>(status), reason));
  }

  server_core& core_;
  http::verb method_ = http::verb::unknown;
  std::string path_;
  std::map<std::string, std::string> query_;
};

} // namespace

std::shared_ptr<server_connection> make_http_session(tcp::socket socket, server_core& core,
                                                     http_listener& listener) {
  return std::make_shared<api_session>(std::move(socket), core, listener);
}

} // namespace tailor::api_http
