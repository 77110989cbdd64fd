// Sending a batch: its input file uploaded (multipart, purpose `batch`), the batch created on it, and the
// batch journaled before anything polls it, so that its answers are never paid for twice.
#include "io/teacher/batch_teacher_impl.hpp"
#include "io/teacher/multipart_form.hpp"

#include <boost/beast/http/verb.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace tailor {
namespace {

namespace http = boost::beast::http;

std::string random_boundary(std::mt19937_64& random) {
  char text[40];
  std::snprintf(text, sizeof text, "tailor-%016llx%016llx", static_cast<unsigned long long>(random()),
                static_cast<unsigned long long>(random()));
  return text;
}

} // namespace

void batch_teacher::impl::send_batch(std::vector<std::shared_ptr<batch_call>> calls) {
  auto batch = std::make_shared<remote_batch>(io);
  std::string file;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    std::string custom_id = "request-" + std::to_string(i + 1);
    file += batch_input_line(custom_id, calls[i]->key);
    calls[i]->where = batch_call::stage::in_batch;
    batch->lines.push_back({std::move(custom_id), calls[i]->key, calls[i], std::nullopt, false});
  }
  count([&](auto& s) {
    s.pending -= calls.size();
    s.in_flight += calls.size();
  });
  sending.push_back(batch);
  upload(batch, std::move(file));
}

// POSTs `body` and goes on with the id of the object the answer describes; any failure ends the batch's
// calls.
void batch_teacher::impl::post_for_id(const std::shared_ptr<remote_batch>& batch, std::string path,
                                      std::string content_type, std::string body, std::string what,
                                      std::function<void(std::string)> then) {
  caller.call(http::verb::post, std::move(path), std::move(content_type), std::move(body), what,
              [this, batch, what, then = std::move(then)](api_caller::outcome answer) {
                if (!answer.body)
                  return fail_sending(batch, answer.body.error());
                auto id = object_id(*answer.body, "the answer to the " + what);
                if (!id)
                  return fail_sending(batch, id.error());
                then(std::move(id).value());
              });
}

void batch_teacher::impl::upload(const std::shared_ptr<remote_batch>& batch, std::string file) {
  const form_body form = make_form_body(
      {{"purpose", "", "", "batch"}, {"file", "tailor-batch.jsonl", "application/jsonl", std::move(file)}},
      random_boundary(random));
  post_for_id(batch, "/files", form.content_type, form.body, "upload of a batch file to " + url("/files"),
              [this, batch](std::string id) {
                batch->input_file_id = std::move(id);
                create_remote(batch);
              });
}

void batch_teacher::impl::create_remote(const std::shared_ptr<remote_batch>& batch) {
  const nlohmann::json body = {{"input_file_id", batch->input_file_id},
                               {"endpoint", std::string{batch_endpoint}},
                               {"completion_window", "24h"}};
  post_for_id(batch, "/batches", "application/json", body.dump(), "creation of a batch at " + url("/batches"),
              [this, batch](std::string id) {
                batch->id = std::move(id);
                created(batch);
              });
}

void batch_teacher::impl::created(const std::shared_ptr<remote_batch>& batch) {
  std::erase(sending, batch);
  journaled_batch record{batch->id, batch->input_file_id, {}};
  for (const auto& line : batch->lines)
    record.requests.push_back({line.custom_id, line.key});
  // The batch runs and is paid for whatever the journal says: its answers are still awaited.
  if (const status written = journal.record_batch(record); !written)
    spdlog::error("teacher batch: batch {} is not journaled, so a restart would pay for it again: {}",
                  batch->id, written.error().message);
  count([&](auto& s) {
    ++s.batches_created;
    s.requests_sent += batch->lines.size();
  });
  spdlog::info("teacher batch: batch {} of {} requests created", batch->id, batch->lines.size());
  batches.emplace(batch->id, batch);
  for (std::size_t line = 0; line < batch->lines.size(); ++line)
    if (!batch->lines[line].waiting)
      make_claimable(batch, line); // its call was cancelled meanwhile
  start_polling(batch, options.poll_interval);
}

void batch_teacher::impl::fail_sending(const std::shared_ptr<remote_batch>& batch, const problem& trouble) {
  std::erase(sending, batch);
  for (auto& line : batch->lines)
    if (auto call = std::move(line.waiting))
      deliver(call, trouble);
}

} // namespace tailor
