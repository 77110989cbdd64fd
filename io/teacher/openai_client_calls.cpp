// The life of an OpenAI-compatible client's calls on its io_context thread: the queue in front of the
// concurrency limits, the keep-alive pool, the tries of each request with their backoff, and the one
// delivery of each outcome.
#include "io/http/retry_policy.hpp"
#include "io/teacher/openai_client_impl.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <exception>
#include <spdlog/spdlog.h>
#include <string>
#include <utility>

namespace tailor {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using error_code = boost::system::error_code;

} // namespace

std::string openai_client::impl::scrub(std::string text) const {
  if (api_key.empty())
    return text;
  for (auto at = text.find(api_key); at != std::string::npos; at = text.find(api_key, at))
    text.replace(at, api_key.size(), "[redacted]");
  return text;
}

void openai_client::impl::run() {
  // Handlers catch their own errors; this only keeps a stray exception from ending the thread.
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& error) {
      spdlog::error("teacher client: unexpected error on the I/O thread: {}", scrub(error.what()));
    }
  }
}

void openai_client::impl::enqueue(std::shared_ptr<pending_call> call) {
  call->id = next_id++;
  queue.push_back(std::move(call));
  count([](auto& s) { ++s.queued; });
  pump();
}

// Starts queued calls while slots are free; the budget is asked here, as late as possible, so that the
// spend can overshoot by at most the calls already in flight.
void openai_client::impl::pump() {
  while (active.size() < options.concurrency && !queue.empty()) {
    fifo_semaphore::lease slot;
    if (options.shared_limit && !(slot = take_shared_slot()))
      break; // pump() runs again when our turn comes
    const auto turn = options.budget ? options.budget->try_begin(queue.front()->bound)
                                     : result<budget_turn>{budget_turn::go};
    if (turn && *turn == budget_turn::later)
      break; // pump() runs again when a call in flight ends and gives back its reservation
    auto call = std::move(queue.front());
    queue.pop_front();
    count([](auto& s) { --s.queued; });
    if (!turn) {
      finish(call, turn.error());
      continue;
    }
    call->holds_budget = options.budget != nullptr;
    call->shared_slot = std::move(slot);
    active.emplace(call->id, call);
    count([](auto& s) { ++s.in_flight; });
    send(call);
  }
  spare_slot.release(); // granted after the need for it passed
}

// A slot of the shared limit now, or an empty lease and a place in its line (the lease arrives on the io
// thread, through the queue of handlers: the semaphore calls back on whichever thread frees a slot).
fifo_semaphore::lease openai_client::impl::take_shared_slot() {
  if (spare_slot)
    return std::move(spare_slot);
  if (shared_wait != 0)
    return {};
  if (auto slot = options.shared_limit->try_acquire())
    return slot;
  shared_wait = options.shared_limit->acquire_async([this](fifo_semaphore::lease slot) {
    asio::post(io, [this, slot = std::move(slot)]() mutable {
      shared_wait = 0;
      spare_slot = std::move(slot);
      pump();
    });
  });
  return {};
}

std::shared_ptr<http_connection> openai_client::impl::take_connection() {
  while (!idle.empty()) {
    auto connection = std::move(idle.back());
    idle.pop_back();
    if (connection->reusable())
      return connection;
  }
  count([](auto& s) { ++s.connections_opened; });
  return make_http_connection(io, tls ? &*tls : nullptr, endpoint, options.verify_tls);
}

void openai_client::impl::give_back(const std::shared_ptr<http_connection>& connection) {
  if (connection->reusable() && idle.size() < options.concurrency)
    idle.push_back(connection);
  else
    connection->close();
}

void openai_client::impl::send(const std::shared_ptr<pending_call>& call) {
  ++call->tries;
  count([](auto& s) { ++s.http_requests; });
  auto connection = take_connection();
  call->connection = connection;
  SPDLOG_TRACE("teacher: POST {} (try {} of {})", url, call->tries, options.max_tries);
  connection->exchange(call->request, options.timeout,
                       [this, call, connection](error_code ec, exchange_stage stage, http_response response) {
                         try {
                           on_answer(call, connection, ec, stage, std::move(response));
                         } catch (const std::exception& error) {
                           finish(call, problem{"teacher endpoint " + url + ": " + error.what(),
                                                problem_cause::transient});
                           pump();
                         }
                       });
}

void openai_client::impl::on_answer(const std::shared_ptr<pending_call>& call,
                                    const std::shared_ptr<http_connection>& connection, error_code ec,
                                    exchange_stage stage, http_response response) {
  call->connection.reset();
  if (call->finished) { // cancelled while on the wire
    connection->close();
    return;
  }
  if (ec) {
    if (connection->reused() && !call->redid_stale && is_stale_connection_error(ec)) {
      call->redid_stale = true;
      --call->tries;
      return send(call);
    }
    return retry_or_fail(call, describe_exchange_failure(ec, stage, endpoint, options.timeout), std::nullopt);
  }
  give_back(connection);
  const int status = response.result_int();
  if (status / 100 == 2) {
    auto parsed = parse_chat_response(response.body());
    if (parsed)
      return succeed(call, std::move(parsed).value());
    // A proxy or an overloaded server can cut or garble a body: as transient as a 5xx.
    return retry_or_fail(call,
                         "answered " + std::to_string(status) +
                             " with a body that is not a valid chat completion: " + parsed.error().message,
                         std::nullopt);
  }
  std::string reason = "HTTP " + std::to_string(status) + " " + std::string{response.reason()} + ": " +
                       error_message_of(response.body());
  if (is_retryable_status(status)) {
    const auto retry_after = response[http::field::retry_after];
    return retry_or_fail(call, reason, parse_retry_after({retry_after.data(), retry_after.size()}));
  }
  if (status == 401 && authorization.empty() && !options.api_key_env.empty())
    reason += " (no API key was sent: $" + options.api_key_env + " is not set)";
  // A wrong key, a forbidden account or an unknown model or URL fails every request alike; any other 4xx
  // (a prompt too long, say) is about this request only.
  const bool every_request_fails = status == 401 || status == 403 || status == 404;
  fail(call, reason, every_request_fails ? problem_cause::fatal : problem_cause::rejected);
}

void openai_client::impl::retry_or_fail(const std::shared_ptr<pending_call>& call, const std::string& reason,
                                        std::optional<std::chrono::milliseconds> retry_after) {
  if (call->tries >= options.max_tries)
    return fail(call,
                call->tries > 1 ? reason + " (gave up after " + std::to_string(call->tries) + " tries)" : reason,
                problem_cause::transient);
  const auto delay = retry_after
                         ? *retry_after
                         : backoff_delay(call->tries, options.backoff_base, options.backoff_cap, random);
  spdlog::warn("teacher: {} {}; try {} of {} in {}", url, scrub(reason), call->tries + 1, options.max_tries,
               seconds_text(delay));
  count([](auto& s) { ++s.retries; });
  call->retry_timer.expires_after(delay);
  call->retry_timer.async_wait([this, call](error_code ec) {
    if (!ec && !call->finished)
      send(call);
  });
}

void openai_client::impl::succeed(const std::shared_ptr<pending_call>& call, chat_response response) {
  const double cost = options.prices.cost_usd(response.usage);
  count([&](auto& s) {
    s.prompt_tokens += response.usage.prompt_tokens;
    s.completion_tokens += response.usage.completion_tokens;
    s.cost_usd += cost;
  });
  finish(call, std::move(response));
  pump();
}

void openai_client::impl::fail(const std::shared_ptr<pending_call>& call, const std::string& reason,
                               problem_cause cause) {
  finish(call, problem{"teacher endpoint " + url + ": " + reason, cause});
  pump();
}

// Delivers the outcome exactly once and frees the call's slot; the caller pumps the queue afterwards.
void openai_client::impl::finish(const std::shared_ptr<pending_call>& call, result<chat_response> outcome) {
  if (call->finished)
    return;
  call->finished = true;
  const bool was_active = active.erase(call->id) > 0;
  call->shared_slot.release();
  const chat_usage usage = outcome ? outcome->usage : chat_usage{};
  if (call->holds_budget)
    options.budget->finish(usage, options.prices.cost_usd(usage), call->bound);
  if (!outcome)
    outcome = problem{scrub(outcome.error().message), outcome.error().cause};
  const bool ok = outcome.ok();
  count([&](auto& s) {
    ++s.requests;
    ++(ok ? s.succeeded : s.failed);
    if (was_active)
      --s.in_flight;
  });
  if (!ok)
    spdlog::debug("{}", outcome.error().message);
  auto done = std::move(call->done);
  call->done = nullptr;
  try {
    if (done)
      done(std::move(outcome));
  } catch (const std::exception& error) {
    spdlog::error("teacher client: a completion callback threw: {}", scrub(error.what()));
  } catch (...) {
    spdlog::error("teacher client: a completion callback threw");
  }
}

void openai_client::impl::cancel_everything() {
  auto queued = std::move(queue);
  queue.clear();
  count([&](auto& s) { s.queued -= queued.size(); });
  std::vector<std::shared_ptr<pending_call>> running;
  running.reserve(active.size());
  for (auto& [id, call] : active)
    running.push_back(call);
  const problem cancelled{"teacher request cancelled", problem_cause::cancelled};
  for (auto& call : running) {
    call->retry_timer.cancel();
    if (call->connection)
      call->connection->close();
    finish(call, cancelled);
  }
  for (auto& call : queued)
    finish(call, cancelled);
}

} // namespace tailor
