// The OpenAI-compatible client: a queue in front of a concurrency limit (and of a limit shared with other
// clients, when given), a keep-alive pool, and the tries of each request with their backoff; all on one
// io_context thread.
#include "io/openai_client.hpp"

#include "io/http_connection.hpp"
#include "io/http_endpoint.hpp"
#include "io/retry_policy.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <spdlog/spdlog.h>
#include <thread>
#include <unordered_map>
#include <vector>

namespace tailor {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using error_code = boost::system::error_code;

} // namespace

// One complete() call, from the queue to its callback.
struct pending_call {
  pending_call(asio::io_context& io, std::shared_ptr<const http_request> request,
               teacher_backend::callback done)
      : request(std::move(request)), done(std::move(done)), retry_timer(io) {}

  std::shared_ptr<const http_request> request;
  teacher_backend::callback done;
  asio::steady_timer retry_timer;
  std::shared_ptr<http_connection> connection; // while a try is on the wire
  fifo_semaphore::lease shared_slot;           // of options.shared_limit, from leaving the queue to the end
  std::uint64_t id = 0;
  int tries = 0;
  bool redid_stale = false;
  bool retried_malformed = false;
  bool holds_budget = false;
  bool finished = false;
};

struct openai_client::impl {
  impl(openai_client_options options, http_endpoint endpoint)
      : options(std::move(options)), endpoint(std::move(endpoint)),
        url(this->endpoint.url("/chat/completions")),
        target(this->endpoint.path_prefix + "/chat/completions") {}

  openai_client_options options;
  http_endpoint endpoint;
  std::string url;    // for messages
  std::string target; // the request line's path
  std::string authorization;
  std::string api_key; // kept only to scrub it from anything a server echoes back
  std::optional<ssl::context> tls;

  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::thread thread;

  // Touched on the io thread only.
  std::deque<std::shared_ptr<pending_call>> queue;
  std::unordered_map<std::uint64_t, std::shared_ptr<pending_call>> active;
  std::vector<std::shared_ptr<http_connection>> idle;
  std::mt19937_64 random;
  std::uint64_t next_id = 1;
  // The shared limit: our place in its line (0: none) and a slot it granted that no call has taken yet.
  fifo_semaphore::ticket shared_wait = 0;
  fifo_semaphore::lease spare_slot;

  mutable std::mutex stats_mutex;
  openai_client_stats counters;

  template <class Change>
  void count(Change change) {
    std::lock_guard lock(stats_mutex);
    change(counters);
  }

  std::string scrub(std::string text) const {
    if (api_key.empty())
      return text;
    for (auto at = text.find(api_key); at != std::string::npos; at = text.find(api_key, at))
      text.replace(at, api_key.size(), "[redacted]");
    return text;
  }

  void run() {
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

  void enqueue(std::shared_ptr<pending_call> call) {
    call->id = next_id++;
    queue.push_back(std::move(call));
    count([](auto& s) { ++s.queued; });
    pump();
  }

  // Starts queued calls while slots are free; the budget is asked here, as late as possible, so that the
  // spend can overshoot by at most the calls already in flight.
  void pump() {
    while (active.size() < options.concurrency && !queue.empty()) {
      fifo_semaphore::lease slot;
      if (options.shared_limit && !(slot = take_shared_slot()))
        break; // pump() runs again when our turn comes
      auto call = std::move(queue.front());
      queue.pop_front();
      count([](auto& s) { --s.queued; });
      if (options.budget) {
        if (auto permit = options.budget->try_begin(); !permit) {
          finish(call, permit.error());
          continue;
        }
        call->holds_budget = true;
      }
      call->shared_slot = std::move(slot);
      active.emplace(call->id, call);
      count([](auto& s) { ++s.in_flight; });
      send(call);
    }
    spare_slot.release(); // granted after the need for it passed
  }

  // A slot of the shared limit now, or an empty lease and a place in its line (the lease arrives on the io
  // thread, through the queue of handlers: the semaphore calls back on whichever thread frees a slot).
  fifo_semaphore::lease take_shared_slot() {
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

  std::shared_ptr<http_connection> take_connection() {
    while (!idle.empty()) {
      auto connection = std::move(idle.back());
      idle.pop_back();
      if (connection->reusable())
        return connection;
    }
    count([](auto& s) { ++s.connections_opened; });
    return make_http_connection(io, tls ? &*tls : nullptr, endpoint, options.verify_tls);
  }

  void give_back(const std::shared_ptr<http_connection>& connection) {
    if (connection->reusable() && idle.size() < options.concurrency)
      idle.push_back(connection);
    else
      connection->close();
  }

  void send(const std::shared_ptr<pending_call>& call) {
    ++call->tries;
    count([](auto& s) { ++s.http_requests; });
    auto connection = take_connection();
    call->connection = connection;
    SPDLOG_TRACE("teacher: POST {} (try {} of {})", url, call->tries, options.max_tries);
    connection->exchange(
        call->request, options.timeout,
        [this, call, connection](error_code ec, exchange_stage stage, http_response response) {
          try {
            on_answer(call, connection, ec, stage, std::move(response));
          } catch (const std::exception& error) {
            finish(call, problem{"teacher endpoint " + url + ": " + error.what()});
            pump();
          }
        });
  }

  void on_answer(const std::shared_ptr<pending_call>& call,
                 const std::shared_ptr<http_connection>& connection, error_code ec, exchange_stage stage,
                 http_response response) {
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
      return retry_or_fail(call, describe_exchange_failure(ec, stage, endpoint, options.timeout),
                           std::nullopt);
    }
    give_back(connection);
    const int status = response.result_int();
    if (status / 100 == 2) {
      auto parsed = parse_chat_response(response.body());
      if (parsed)
        return succeed(call, std::move(parsed).value());
      const std::string reason =
          "answered " + std::to_string(status) +
          " with a body that is not a valid chat completion: " + parsed.error().message;
      if (call->retried_malformed)
        return fail(call, reason);
      call->retried_malformed = true;
      return retry_or_fail(call, reason, std::nullopt);
    }
    std::string reason = "HTTP " + std::to_string(status) + " " + std::string{response.reason()} + ": " +
                         error_message_of(response.body());
    if (is_retryable_status(status)) {
      const auto retry_after = response[http::field::retry_after];
      return retry_or_fail(call, reason, parse_retry_after({retry_after.data(), retry_after.size()}));
    }
    if (status == 401 && authorization.empty() && !options.api_key_env.empty())
      reason += " (no API key was sent: $" + options.api_key_env + " is not set)";
    fail(call, reason);
  }

  void retry_or_fail(const std::shared_ptr<pending_call>& call, const std::string& reason,
                     std::optional<std::chrono::milliseconds> retry_after) {
    if (call->tries >= options.max_tries)
      return fail(call, call->tries > 1
                            ? reason + " (gave up after " + std::to_string(call->tries) + " tries)"
                            : reason);
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

  void succeed(const std::shared_ptr<pending_call>& call, chat_response response) {
    const double cost = options.prices.cost_usd(response.usage);
    count([&](auto& s) {
      s.prompt_tokens += response.usage.prompt_tokens;
      s.completion_tokens += response.usage.completion_tokens;
      s.cost_usd += cost;
    });
    finish(call, std::move(response));
    pump();
  }

  void fail(const std::shared_ptr<pending_call>& call, const std::string& reason) {
    finish(call, problem{"teacher endpoint " + url + ": " + reason});
    pump();
  }

  // Delivers the outcome exactly once and frees the call's slot; the caller pumps the queue afterwards.
  void finish(const std::shared_ptr<pending_call>& call, result<chat_response> outcome) {
    if (call->finished)
      return;
    call->finished = true;
    const bool was_active = active.erase(call->id) > 0;
    call->shared_slot.release();
    const chat_usage usage = outcome ? outcome->usage : chat_usage{};
    if (call->holds_budget)
      options.budget->finish(usage, options.prices.cost_usd(usage));
    if (!outcome)
      outcome = problem{scrub(outcome.error().message)};
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

  void cancel_everything() {
    auto queued = std::move(queue);
    queue.clear();
    count([&](auto& s) { s.queued -= queued.size(); });
    std::vector<std::shared_ptr<pending_call>> running;
    running.reserve(active.size());
    for (auto& [id, call] : active)
      running.push_back(call);
    const problem cancelled{"teacher request cancelled"};
    for (auto& call : running) {
      call->retry_timer.cancel();
      if (call->connection)
        call->connection->close();
      finish(call, cancelled);
    }
    for (auto& call : queued)
      finish(call, cancelled);
  }
};

result<std::unique_ptr<openai_client>> openai_client::create(openai_client_options options) {
  auto endpoint = parse_http_endpoint(options.base_url);
  if (!endpoint)
    return endpoint.error();
  if (options.max_tries < 1)
    return problem{"teacher client: max_tries must be at least 1"};
  if (options.concurrency < 1)
    return problem{"teacher client: concurrency must be at least 1"};
  if (options.timeout.count() <= 0)
    return problem{"teacher client: timeout must be positive"};
  if (options.backoff_base.count() < 0 || options.backoff_cap.count() < 0)
    return problem{"teacher client: backoff times must not be negative"};

  auto state = std::make_unique<impl>(std::move(options), std::move(endpoint).value());
  const auto& chosen = state->options;
  if (!chosen.api_key_env.empty()) {
    const char* key = std::getenv(chosen.api_key_env.c_str());
    if (key && *key) {
      state->api_key = key;
      state->authorization = "Bearer " + state->api_key;
    } else {
      spdlog::warn("teacher: ${} is not set; requests to {} go without an API key", chosen.api_key_env,
                   state->url);
    }
  }
  if (state->endpoint.tls) {
    try {
      state->tls.emplace(ssl::context::tls_client);
      if (chosen.verify_tls) {
        state->tls->set_default_verify_paths();
        state->tls->set_verify_mode(ssl::verify_peer);
      } else {
        state->tls->set_verify_mode(ssl::verify_none);
        spdlog::warn("teacher: TLS certificates of {} are not verified", state->url);
      }
    } catch (const std::exception& error) {
      return problem{std::string{"teacher client: cannot set up TLS: "} + error.what()};
    }
  }
  state->random.seed(chosen.seed != 0 ? chosen.seed : std::random_device{}());
  auto* raw = state.get();
  state->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<openai_client>(new openai_client(std::move(state)));
}

openai_client::openai_client(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

openai_client::~openai_client() {
  auto* state = impl_.get();
  asio::post(state->io, [state] {
    state->cancel_everything();
    for (auto& connection : state->idle)
      connection->close();
    state->idle.clear();
  });
  state->work.reset();
  if (state->thread.joinable())
    state->thread.join();
  // Out of the shared line; a slot granted meanwhile sits in a handler the io_context frees, and with it.
  if (state->shared_wait != 0)
    state->options.shared_limit->withdraw(state->shared_wait);
}

void openai_client::complete(chat_request request, callback done) {
  try {
    if (request.model.empty())
      request.model = impl_->options.model;
    auto message = std::make_shared<http_request>(http::verb::post, impl_->target, 11);
    message->set(http::field::host, impl_->endpoint.host_header());
    message->set(http::field::user_agent, "tailor/0.1");
    message->set(http::field::content_type, "application/json");
    message->set(http::field::accept, "application/json");
    if (!impl_->authorization.empty())
      message->set(http::field::authorization, impl_->authorization);
    message->keep_alive(true);
    // Serialised here, on the caller's thread, to keep the I/O thread free; invalid UTF-8 in a prompt is
    // replaced rather than thrown on.
    message->body() = to_json(request).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    message->prepare_payload();
    auto call = std::make_shared<pending_call>(impl_->io, std::move(message), std::move(done));
    asio::post(impl_->io,
               [state = impl_.get(), call = std::move(call)]() mutable { state->enqueue(std::move(call)); });
  } catch (const std::exception& error) {
    if (done)
      done(problem{std::string{"teacher client: cannot send request: "} + error.what()});
  }
}

void openai_client::cancel_all() {
  asio::post(impl_->io, [state = impl_.get()] { state->cancel_everything(); });
}

openai_client_stats openai_client::stats() const {
  std::lock_guard lock(impl_->stats_mutex);
  return impl_->counters;
}

const openai_client_options& openai_client::options() const {
  return impl_->options;
}

} // namespace tailor
