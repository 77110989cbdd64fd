// teacher-serve's Batch API: /v1/files (upload, metadata, content) and /v1/batches (create, get). The
// requests of a batch are answered by the server's backend, and the batch is `completed` once every one is
// answered and `batch_delay_ms` passed since its creation. Files and batches live in memory until the
// server stops. Not served: listing, deleting, cancelling, and expiry.
#pragma once

#include "io/teacher/chat.hpp"
#include "io/teacher/teacher_server.hpp"

#include <boost/beast/http/verb.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace tailor::teacher_http {

struct endpoint_reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

class batch_endpoints {
public:
  // `backend` and `options` must outlive this; a backend answer that comes later is kept alive, not lost.
  batch_endpoints(teacher_backend& backend, const teacher_server_options& options);
  ~batch_endpoints();

  // Whether `path` (without its query) is a file or batch path, with or without the /v1 prefix.
  static bool serves(std::string_view path);
  // The answer to a request on such a path, at once; errors in OpenAI's shape. Thread-safe.
  endpoint_reply answer(boost::beast::http::verb method, std::string_view path, std::string_view content_type,
                        std::string_view body);

  std::size_t files_uploaded() const;
  std::size_t batches_created() const;

  struct state;

private:
  endpoint_reply create_batch(std::string_view body);
  void answer_requests(const std::string& batch_id, std::vector<chat_request> requests);

  teacher_backend& backend_;
  std::shared_ptr<state> state_;
};

} // namespace tailor::teacher_http
