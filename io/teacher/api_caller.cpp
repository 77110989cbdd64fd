// The tries of one file or batch API request: send, classify the answer, back off and send again, or end
// with a problem that says its cause.
#include "io/teacher/api_caller.hpp"

#include "io/http/retry_policy.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/field.hpp>
#include <spdlog/spdlog.h>

namespace tailor {
namespace {

namespace http = boost::beast::http;
using error_code = boost::system::error_code;

// Batch traffic is a poll now and then and an upload or download per batch: a few connections suffice.
constexpr std::size_t max_idle_connections = 4;

} // namespace

struct api_caller::attempt {
  attempt(boost::asio::io_context& io, std::shared_ptr<const http_request> request, std::string what,
          handler done)
      : request(std::move(request)), what(std::move(what)), done(std::move(done)), retry_timer(io) {}

  std::shared_ptr<const http_request> request;
  std::string what;
  handler done;
  boost::asio::steady_timer retry_timer;
  std::shared_ptr<http_connection> connection; // while a try is on the wire
  int tries = 0;
  bool redid_stale = false;
};

api_caller::api_caller(boost::asio::io_context& io, api_access& access, api_call_limits limits,
                       std::uint64_t seed)
    : io_(io), access_(access), limits_(limits), random_(seed != 0 ? seed : std::random_device{}()) {}

api_caller::~api_caller() {
  for (auto& connection : idle_)
    connection->close();
}

void api_caller::call(http::verb method, std::string path, std::string content_type, std::string body,
                      std::string what, handler done) {
  if (closed_)
    return done({problem{what + ": cancelled", problem_cause::cancelled}, 0});
  auto request = access_.make_request(method, path);
  if (!content_type.empty())
    request->set(http::field::content_type, content_type);
  request->body() = std::move(body);
  request->prepare_payload();
  auto call = std::make_shared<attempt>(io_, std::move(request), std::move(what), std::move(done));
  active_.insert(call);
  send(call);
}

void api_caller::close() {
  closed_ = true;
  auto calls = std::move(active_);
  active_.clear();
  for (const auto& call : calls) {
    call->done = nullptr;
    call->retry_timer.cancel();
    if (call->connection)
      call->connection->close();
  }
  for (auto& connection : idle_)
    connection->close();
  idle_.clear();
}

std::shared_ptr<http_connection> api_caller::take_connection() {
  while (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    if (connection->reusable())
      return connection;
  }
  return access_.connect(io_);
}

void api_caller::send(const std::shared_ptr<attempt>& call) {
  ++call->tries;
  ++http_requests_;
  auto connection = take_connection();
  call->connection = connection;
  connection->exchange(
      call->request, limits_.timeout,
      [this, call, connection](error_code ec, exchange_stage stage, http_response response) {
        try {
          on_answer(call, connection, ec, stage, std::move(response));
        } catch (const std::exception& error) {
          finish(call, {problem{call->what + ": " + error.what(), problem_cause::transient}, 0});
        }
      });
}

void api_caller::on_answer(const std::shared_ptr<attempt>& call,
                           const std::shared_ptr<http_connection>& connection, error_code ec,
                           exchange_stage stage, http_response response) {
  call->connection.reset();
  if (!call->done) { // closed while on the wire
    connection->close();
    return;
  }
  if (ec) {
    // A reused connection the server closed while it sat idle: redo at once on a fresh one.
    if (connection->reused() && !call->redid_stale && is_stale_connection_error(ec)) {
      call->redid_stale = true;
      --call->tries;
      return send(call);
    }
    return retry_or_fail(call, describe_exchange_failure(ec, stage, access_.endpoint, limits_.timeout), 0,
                         std::nullopt);
  }
  if (connection->reusable() && idle_.size() < max_idle_connections)
    idle_.push_back(connection);
  else
    connection->close();
  const int status = response.result_int();
  if (status / 100 == 2)
    return finish(call, {std::move(response.body()), status});
  std::string reason = describe_status(response, access_);
  const problem_cause cause = cause_of_status(status);
  if (cause == problem_cause::transient) {
    const auto retry_after = response[http::field::retry_after];
    return retry_or_fail(call, std::move(reason), status,
                         parse_retry_after({retry_after.data(), retry_after.size()}));
  }
  finish(call, {problem{call->what + ": " + reason, cause}, status});
}

void api_caller::retry_or_fail(const std::shared_ptr<attempt>& call, std::string reason, int status,
                               std::optional<std::chrono::milliseconds> retry_after) {
  if (call->tries >= limits_.max_tries) {
    if (call->tries > 1)
      reason += " (gave up after " + std::to_string(call->tries) + " tries)";
    return finish(call, {problem{call->what + ": " + reason, problem_cause::transient}, status});
  }
  const auto delay = retry_after
                         ? *retry_after
                         : backoff_delay(call->tries, limits_.backoff_base, limits_.backoff_cap, random_);
  spdlog::warn("teacher batch: {}: {}; try {} of {} in {}", call->what, access_.scrub(reason),
               call->tries + 1, limits_.max_tries, seconds_text(delay));
  ++retries_;
  call->retry_timer.expires_after(delay);
  call->retry_timer.async_wait([this, call](error_code ec) {
    if (!ec && call->done)
      send(call);
  });
}

void api_caller::finish(const std::shared_ptr<attempt>& call, outcome result) {
  active_.erase(call);
  auto done = std::move(call->done);
  call->done = nullptr;
  if (!done)
    return;
  if (!result.body)
    result.body = problem{access_.scrub(result.body.error().message), result.body.error().cause};
  done(std::move(result));
}

} // namespace tailor
