// What every client of an OpenAI-compatible API does alike: where requests go, the API key from its
// environment variable (kept out of every message), the TLS context, the common headers of a request, what a
// status that is not 2xx says about the request, and the I/O thread that neither a stray exception nor a
// throwing callback may end.
#pragma once

#include "io/common/result.hpp"
#include "io/http/http_connection.hpp"
#include "io/http/http_endpoint.hpp"
#include "io/teacher/chat.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/verb.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tailor {

struct api_access {
  http_endpoint endpoint;
  std::string api_key_env;   // where the key came from, for hints
  std::string api_key;       // kept only to scrub it from anything a server echoes back
  std::string authorization; // "Bearer <key>"; empty: no key is sent
  bool verify_tls = true;
  std::optional<boost::asio::ssl::context> tls; // set for https:// endpoints

  // `text` with every occurrence of the key replaced by "[redacted]".
  std::string scrub(std::string text) const;
  // A keep-alive request to `path` below the endpoint's prefix ("/files"), with Host, User-Agent, Accept and
  // the key; body and content type are the caller's.
  std::shared_ptr<http_request> make_request(boost::beast::http::verb method, std::string_view path) const;
  // A fresh connection to the endpoint.
  std::shared_ptr<http_connection> connect(boost::asio::io_context& io);
};

// Parses `base_url`, reads the key once from `api_key_env` (empty: send none; unset: a warning, and none) and
// sets up TLS, verifying certificates unless `verify_tls` is off. `who` starts the messages ("teacher
// client").
result<std::unique_ptr<api_access>> make_api_access(std::string_view base_url, const std::string& api_key_env,
                                                    bool verify_tls, std::string_view who);

// What a status that is not 2xx says: `transient` for the statuses worth another try (retry_policy.hpp),
// `fatal` for 401, 403 and 404 (a wrong key, a forbidden account, an unknown model or URL: every request
// would fail alike), `rejected` for any other 4xx (about this request only).
problem_cause cause_of_status(int status);

// "HTTP 400 Bad Request: <the server's message>", with a hint when a 401 came and no key was sent.
std::string describe_status(const http_response& response, const api_access& access);

// Runs `io` until it stops, logging (scrubbed, under `who`) any exception a handler lets out.
void run_io_thread(boost::asio::io_context& io, const api_access& access, std::string_view who);

// Calls `done` with `outcome`; an exception it throws is logged (scrubbed, under `who`), not let out.
void call_back(teacher_backend::callback done, result<chat_response> outcome, const api_access& access,
               std::string_view who);

} // namespace tailor
