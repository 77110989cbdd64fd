// Access to an OpenAI-compatible API: the endpoint, the key, TLS, the common headers, and the guarded I/O
// thread and callbacks.
#include "io/teacher/api_access.hpp"

#include "io/http/retry_policy.hpp"

#include <boost/beast/http/field.hpp>
#include <cstdlib>
#include <spdlog/spdlog.h>

namespace tailor {
namespace {

namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;

} // namespace

std::string api_access::scrub(std::string text) const {
  if (api_key.empty())
    return text;
  for (auto at = text.find(api_key); at != std::string::npos; at = text.find(api_key, at))
    text.replace(at, api_key.size(), "[redacted]");
  return text;
}

std::shared_ptr<http_request> api_access::make_request(http::verb method, std::string_view path) const {
  auto message = std::make_shared<http_request>(method, endpoint.path_prefix + std::string{path}, 11);
  message->set(http::field::host, endpoint.host_header());
  message->set(http::field::user_agent, "tailor/0.1");
  message->set(http::field::accept, "application/json");
  if (!authorization.empty())
    message->set(http::field::authorization, authorization);
  message->keep_alive(true);
  return message;
}

std::shared_ptr<http_connection> api_access::connect(boost::asio::io_context& io) {
  return make_http_connection(io, tls ? &*tls : nullptr, endpoint, verify_tls);
}

result<std::unique_ptr<api_access>> make_api_access(std::string_view base_url, const std::string& api_key_env,
                                                    bool verify_tls, std::string_view who) {
  auto endpoint = parse_http_endpoint(base_url);
  if (!endpoint)
    return endpoint.error();
  auto access = std::make_unique<api_access>();
  access->endpoint = std::move(endpoint).value();
  access->api_key_env = api_key_env;
  access->verify_tls = verify_tls;
  const std::string url = access->endpoint.url();
  if (!api_key_env.empty()) {
    const char* key = std::getenv(api_key_env.c_str());
    if (key && *key) {
      access->api_key = key;
      access->authorization = "Bearer " + access->api_key;
    } else {
      spdlog::warn("{}: ${} is not set; requests to {} go without an API key", who, api_key_env, url);
    }
  }
  if (access->endpoint.tls) {
    try {
      access->tls.emplace(ssl::context::tls_client);
      if (verify_tls) {
        access->tls->set_default_verify_paths();
        access->tls->set_verify_mode(ssl::verify_peer);
      } else {
        access->tls->set_verify_mode(ssl::verify_none);
        spdlog::warn("{}: TLS certificates of {} are not verified", who, url);
      }
    } catch (const std::exception& error) {
      return problem{std::string{who} + ": cannot set up TLS: " + error.what()};
    }
  }
  return access;
}

problem_cause cause_of_status(int status) {
  if (is_retryable_status(status))
    return problem_cause::transient;
  if (status == 401 || status == 403 || status == 404)
    return problem_cause::fatal;
  return problem_cause::rejected;
}

std::string describe_status(const http_response& response, const api_access& access) {
  const int status = response.result_int();
  std::string reason = "HTTP " + std::to_string(status) + " " + std::string{response.reason()} + ": " +
                       error_message_of(response.body());
  if (status == 401 && access.authorization.empty() && !access.api_key_env.empty())
    reason += " (no API key was sent: $" + access.api_key_env + " is not set)";
  return reason;
}

void run_io_thread(boost::asio::io_context& io, const api_access& access, std::string_view who) {
  // Handlers catch their own errors; this only keeps a stray exception from ending the thread.
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& error) {
      spdlog::error("{}: unexpected error on the I/O thread: {}", who, access.scrub(error.what()));
    }
  }
}

void call_back(teacher_backend::callback done, result<chat_response> outcome, const api_access& access,
               std::string_view who) {
  try {
    if (done)
      done(std::move(outcome));
  } catch (const std::exception& error) {
    spdlog::error("{}: a completion callback threw: {}", who, access.scrub(error.what()));
  } catch (...) {
    spdlog::error("{}: a completion callback threw", who);
  }
}

} // namespace tailor
