// teacher-serve's Batch API on the server's backend: the routes, the stored files and batches, the checks
// of an input file, and the answers gathered into output and error files.
#include "io/teacher/teacher_batch_endpoints.hpp"

#include "io/teacher/batch_files.hpp"
#include "io/teacher/multipart_form.hpp"
#include "io/teacher/teacher_http_session.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace tailor::teacher_http {
namespace {

namespace http = boost::beast::http;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

constexpr std::string_view chat_endpoint = batch_endpoint;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string method_name(http::verb method) {
  const auto name = http::to_string(method);
  return {name.data(), name.size()};
}

endpoint_reply error_reply(int status, std::string_view message, std::string_view code = {}) {
  return {status, error_body(message, "invalid_request_error", code)};
}

struct stored_file {
  std::string id;
  std::string filename;
  std::string purpose;
  std::string bytes;
  std::int64_t created_at = 0;

  json object() const {
    return {{"id", id},
            {"object", "file"},
            {"bytes", bytes.size()},
            {"created_at", created_at},
            {"filename", filename},
            {"purpose", purpose},
            {"status", "processed"}};
  }
};

struct stored_batch {
  std::string id;
  std::string input_file_id;
  std::int64_t created_at = 0;
  std::int64_t completed_at = 0; // set when first seen completed
  steady::time_point ready_at;   // not completed before
  json errors;                   // null, or why the input file was refused: then the batch failed
  std::string model_if_none;
  std::vector<std::string> custom_ids;
  std::vector<json> lines; // each request's output line once answered, null before
  std::size_t answered = 0;
  std::size_t succeeded = 0;
  std::string output_file_id; // once every request is answered
  std::string error_file_id;

  bool completed(steady::time_point now) const {
    return errors.is_null() && answered == lines.size() && now >= ready_at;
  }
};

// What the input file holds, or what is wrong with its lines, as OpenAI's batch `errors.data`.
struct checked_input {
  std::vector<std::string> custom_ids;
  std::vector<chat_request> requests;
  json errors = json::array();
};

checked_input check_input(std::string_view bytes) {
  checked_input input;
  std::unordered_set<std::string> seen;
  std::set<std::string> models;
  const auto refuse = [&](std::size_t line, std::string code, std::string message) {
    input.errors.push_back({{"code", code}, {"message", message}, {"param", nullptr}, {"line", line}});
  };
  for_each_text_line(bytes, [&](std::size_t number, std::string_view text) {
    const json line = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!line.is_object()) {
      refuse(number, "invalid_json_line", "line " + std::to_string(number) + " is not a JSON object");
      return;
    }
    const auto id = line.find("custom_id");
    if (id == line.end() || !id->is_string() || id->get_ref<const std::string&>().empty()) {
      refuse(number, "missing_custom_id", "line " + std::to_string(number) + " has no `custom_id`");
      return;
    }
    if (!seen.insert(id->get<std::string>()).second) {
      refuse(number, "duplicate_custom_id", "custom_id `" + id->get<std::string>() + "` appears twice");
      return;
    }
    if (line.value("method", "") != "POST" || line.value("url", "") != chat_endpoint) {
      refuse(number, "invalid_url",
             "line " + std::to_string(number) + " must POST to " + std::string{chat_endpoint});
      return;
    }
    const auto body = line.find("body");
    auto request = parse_chat_request(body == line.end() ? std::string{"null"} : dump(*body));
    if (!request) {
      refuse(number, "invalid_request", "line " + std::to_string(number) + ": " + request.error().message);
      return;
    }
    models.insert(request->model);
    input.custom_ids.push_back(id->get<std::string>());
    input.requests.push_back(std::move(request).value());
  });
  if (models.size() > 1)
    refuse(0, "mixed_models", "the requests of a batch must all name the same model");
  if (input.requests.empty() && input.errors.empty())
    refuse(0, "empty_file", "the input file holds no request");
  return input;
}

} // namespace

struct batch_endpoints::state {
  std::mutex mutex;
  std::unordered_map<std::string, stored_file> files;
  std::unordered_map<std::string, stored_batch> batches;
  std::uint64_t next_id = 1;
  std::chrono::milliseconds delay{0};
  std::string default_model;
  std::atomic<std::size_t> uploads{0};
  std::atomic<std::size_t> created{0};

  // Under the mutex.
  std::string new_id(std::string_view prefix) { return std::string{prefix} + std::to_string(next_id++); }

  std::string store(std::string filename, std::string purpose, std::string bytes) {
    const std::string id = new_id("file-tailor-");
    files[id] = {id, std::move(filename), std::move(purpose), std::move(bytes), unix_now()};
    return id;
  }

  json batch_object(stored_batch& batch) {
    const bool failed = !batch.errors.is_null();
    const bool completed = batch.completed(steady::now());
    if (completed && batch.completed_at == 0)
      batch.completed_at = unix_now();
    const auto id_or_null = [&](const std::string& id) {
      return completed && !id.empty() ? json(id) : json(nullptr);
    };
    const auto time_or_null = [](std::int64_t at) { return at != 0 ? json(at) : json(nullptr); };
    return {{"id", batch.id},
            {"object", "batch"},
            {"endpoint", chat_endpoint},
            {"errors", failed ? json{{"object", "list"}, {"data", batch.errors}} : json(nullptr)},
            {"input_file_id", batch.input_file_id},
            {"completion_window", "24h"},
            {"status", failed      ? "failed"
                       : completed ? "completed"
                                   : "in_progress"},
            {"output_file_id", id_or_null(batch.output_file_id)},
            {"error_file_id", id_or_null(batch.error_file_id)},
            {"created_at", batch.created_at},
            {"in_progress_at", failed ? json(nullptr) : json(batch.created_at)},
            {"expires_at", batch.created_at + 24 * 3600},
            {"completed_at", time_or_null(batch.completed_at)},
            {"failed_at", failed ? json(batch.created_at) : json(nullptr)},
            {"request_counts",
             {{"total", batch.lines.size()},
              {"completed", completed ? batch.succeeded : 0},
              {"failed", completed ? batch.answered - batch.succeeded : 0}}},
            {"metadata", nullptr}};
  }

  // One request of a batch answered by the backend; the last one writes the output and error files.
  void answered(const std::string& batch_id, std::size_t index, result<chat_response> reply) {
    std::lock_guard lock(mutex);
    auto found = batches.find(batch_id);
    if (found == batches.end() || index >= found->second.lines.size() ||
        !found->second.lines[index].is_null())
      return;
    stored_batch& batch = found->second;
    const std::string number = std::to_string(next_id++);
    json response;
    if (reply) {
      response = {
          {"status_code", 200},
          {"request_id", "req_tailor-" + number},
          {"body", completion_object(reply.value(), batch.model_if_none, "chatcmpl-tailor-batch-" + number)}};
      ++batch.succeeded;
    } else {
      // As the chat endpoint answers: a request the backend cannot answer is the client's to fix.
      const bool refused = reply.error().cause == problem_cause::rejected;
      response = {
          {"status_code", refused ? 400 : 500},
          {"request_id", "req_tailor-" + number},
          {"body", error_object(reply.error().message, refused ? "invalid_request_error" : "server_error")}};
    }
    batch.lines[index] = {{"id", "batch_req_tailor-" + number},
                          {"custom_id", batch.custom_ids[index]},
                          {"response", std::move(response)},
                          {"error", nullptr}};
    if (++batch.answered < batch.lines.size())
      return;
    std::string output, errors;
    for (const json& line : batch.lines)
      (line["response"]["status_code"] == 200 ? output : errors) += dump(line) + "\n";
    if (!output.empty())
      batch.output_file_id = store(batch.id + "_output.jsonl", "batch_output", std::move(output));
    if (!errors.empty())
      batch.error_file_id = store(batch.id + "_error.jsonl", "batch_output", std::move(errors));
  }
};

batch_endpoints::batch_endpoints(teacher_backend& backend, const teacher_server_options& options)
    : backend_(backend), state_(std::make_shared<state>()) {
  state_->delay = std::chrono::milliseconds(options.batch_delay_ms);
  state_->default_model = options.model;
}

batch_endpoints::~batch_endpoints() = default;

bool batch_endpoints::serves(std::string_view path) {
  if (path.starts_with("/v1/"))
    path.remove_prefix(3);
  for (std::string_view root : {"/files", "/batches"})
    if (path == root || (path.starts_with(root) && path[root.size()] == '/'))
      return true;
  return false;
}

std::size_t batch_endpoints::files_uploaded() const {
  return state_->uploads.load();
}

std::size_t batch_endpoints::batches_created() const {
  return state_->created.load();
}

endpoint_reply batch_endpoints::answer(http::verb method, std::string_view path,
                                       std::string_view content_type, std::string_view body) {
  if (path.starts_with("/v1/"))
    path.remove_prefix(3);
  std::vector<std::string> parts; // "files", "<id>", "content"
  for (std::string_view rest = path.substr(1); !rest.empty();) {
    const auto slash = rest.find('/');
    parts.emplace_back(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  }
  const auto wrong_method = [&](std::string_view allowed) {
    return error_reply(405,
                       method_name(method) + " is not allowed on " + std::string{path} + "; use " +
                           std::string{allowed},
                       "method_not_allowed");
  };
  const bool files = !parts.empty() && parts[0] == "files";
  if (files && parts.size() == 1) {
    if (method != http::verb::post)
      return wrong_method("POST");
    auto form = parse_form_body(content_type, body);
    if (!form)
      return error_reply(400, form.error().message);
    const form_part* purpose = nullptr;
    const form_part* file = nullptr;
    for (const form_part& part : *form) {
      if (part.name == "purpose")
        purpose = &part;
      else if (part.name == "file")
        file = &part;
    }
    if (!purpose || purpose->content != "batch")
      return error_reply(400, "this server takes files of purpose `batch` only");
    if (!file)
      return error_reply(400, "the upload has no part named `file`");
    std::lock_guard lock(state_->mutex);
    const std::string id = state_->store(file->filename, "batch", file->content);
    ++state_->uploads;
    return {200, dump(state_->files.at(id).object())};
  }
  if (files && (parts.size() == 2 || (parts.size() == 3 && parts[2] == "content"))) {
    if (method != http::verb::get)
      return wrong_method("GET");
    std::lock_guard lock(state_->mutex);
    const auto found = state_->files.find(parts[1]);
    if (found == state_->files.end())
      return error_reply(404, "no such file: " + parts[1]);
    if (parts.size() == 2)
      return {200, dump(found->second.object())};
    return {200, found->second.bytes, "application/octet-stream"};
  }
  const bool batches = !parts.empty() && parts[0] == "batches";
  if (batches && parts.size() == 1) {
    if (method != http::verb::post)
      return wrong_method("POST");
    return create_batch(body);
  }
  if (batches && parts.size() == 2) {
    if (method != http::verb::get)
      return wrong_method("GET");
    std::lock_guard lock(state_->mutex);
    const auto found = state_->batches.find(parts[1]);
    if (found == state_->batches.end())
      return error_reply(404, "no such batch: " + parts[1]);
    return {200, dump(state_->batch_object(found->second))};
  }
  return error_reply(404,
                     "no route for " + method_name(method) + " " + std::string{path} +
                         "; the batch API here answers POST /v1/files, GET /v1/files/{id}[/content], POST "
                         "/v1/batches and GET /v1/batches/{id}",
                     "unknown_url");
}

endpoint_reply batch_endpoints::create_batch(std::string_view body) {
  const json request = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!request.is_object())
    return error_reply(400, "the request body must be a JSON object");
  const std::string file_id = request.value("input_file_id", "");
  if (request.value("endpoint", "") != chat_endpoint)
    return error_reply(400, "this server batches " + std::string{chat_endpoint} + " only");
  if (request.value("completion_window", "") != "24h")
    return error_reply(400, "`completion_window` must be \"24h\"");
  std::string bytes;
  {
    std::lock_guard lock(state_->mutex);
    const auto found = state_->files.find(file_id);
    if (found == state_->files.end() || found->second.purpose != "batch")
      return error_reply(400, "`input_file_id` names no uploaded batch file: `" + file_id + "`");
    bytes = found->second.bytes;
  }
  checked_input input = check_input(bytes);
  const bool refused = !input.errors.empty();
  std::string id;
  std::string reply;
  {
    std::lock_guard lock(state_->mutex);
    id = state_->new_id("batch_tailor-");
    stored_batch& batch = state_->batches[id];
    batch.id = id;
    batch.input_file_id = file_id;
    batch.created_at = unix_now();
    batch.ready_at = steady::now() + state_->delay;
    if (refused) {
      batch.errors = std::move(input.errors);
    } else {
      batch.custom_ids = std::move(input.custom_ids);
      batch.lines.resize(input.requests.size());
      const std::string& model = input.requests.front().model;
      batch.model_if_none = model.empty() ? state_->default_model : model;
    }
    ++state_->created;
    reply = dump(state_->batch_object(batch));
  }
  if (!refused)
    answer_requests(id, std::move(input.requests));
  return {200, std::move(reply)};
}

// Asked outside the lock: a backend may answer on this thread, before complete() returns.
void batch_endpoints::answer_requests(const std::string& batch_id, std::vector<chat_request> requests) {
  for (std::size_t index = 0; index < requests.size(); ++index) {
    auto deliver = [state = state_, batch_id, index](result<chat_response> reply) {
      state->answered(batch_id, index, std::move(reply));
    };
    try {
      backend_.complete(std::move(requests[index]), deliver);
    } catch (const std::exception& error) {
      deliver(problem{std::string{"the teacher backend failed: "} + error.what()});
    }
  }
}

} // namespace tailor::teacher_http
