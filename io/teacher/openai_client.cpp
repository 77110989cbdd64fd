// The OpenAI-compatible client's public face: checking its options, setting up the API key and TLS, and
// handing each request, serialised, to its io_context thread (where openai_client_calls.cpp takes over).
#include "io/teacher/openai_client.hpp"

#include "io/http/http_endpoint.hpp"
#include "io/teacher/openai_client_impl.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <spdlog/spdlog.h>
#include <thread>

namespace tailor {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace ssl = asio::ssl;

} // namespace

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
    call->bound = cost_bound_of(request, impl_->options.prices);
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
