// A created batch until its answers are delivered: polled while a call waits for it, its output and error
// files downloaded once it ended, each line's outcome given to its call (or kept for a later one with the
// same request), and the lines journaled as done.
#include "io/teacher/batch_teacher_impl.hpp"

#include <boost/beast/http/verb.hpp>
#include <spdlog/spdlog.h>

namespace tailor {
namespace {

namespace http = boost::beast::http;

// Why a request of a batch that ended has no answer.
std::string unanswered(const remote_batch& batch, const batch_status& status) {
  const std::string which = "batch " + batch.id;
  if (status.status == "failed")
    return which + " failed" + (status.errors.empty() ? "" : ": " + status.errors);
  if (status.status == "expired")
    return which + " expired before it answered this request";
  if (status.status == "cancelled")
    return which + " was cancelled before it answered this request";
  return which + " ended `" + status.status + "` without an answer for this request";
}

} // namespace

void batch_teacher::impl::start_polling(const std::shared_ptr<remote_batch>& batch,
                                        std::chrono::milliseconds delay) {
  if (batch->polling || closed || !batch->anyone_waiting())
    return;
  batch->polling = true;
  batch->poll_timer.expires_after(delay);
  batch->poll_timer.async_wait([this, batch](boost::system::error_code ec) {
    if (ec || closed) {
      batch->polling = false;
      return;
    }
    poll(batch);
  });
}

void batch_teacher::impl::poll(const std::shared_ptr<remote_batch>& batch) {
  // Nobody waits any more (cancelled): a later claim polls again.
  if (!batch->anyone_waiting()) {
    batch->polling = false;
    return;
  }
  const std::string path = "/batches/" + batch->id;
  caller.call(http::verb::get, path, "", "", "poll of batch " + batch->id + " at " + url(path),
              [this, batch](api_caller::outcome answer) {
                if (!answer.body)
                  return poll_failed(batch, answer.body.error(), answer.status);
                auto status = parse_batch_status(*answer.body);
                if (!status)
                  return poll_failed(
                      batch, {"batch " + batch->id + ": " + status.error().message, status.error().cause}, 0);
                if (!status->ended()) {
                  batch->polling = false;
                  return start_polling(batch, options.poll_interval);
                }
                download(batch, std::move(status).value(), std::make_shared<batch_outcomes>(), 0);
              });
}

// The output file, then the error file, whichever the batch has.
void batch_teacher::impl::download(const std::shared_ptr<remote_batch>& batch, batch_status ended,
                                   std::shared_ptr<batch_outcomes> outcomes, std::size_t next_file) {
  const std::string files[] = {ended.output_file_id, ended.error_file_id};
  while (next_file < std::size(files) && files[next_file].empty())
    ++next_file;
  if (next_file == std::size(files)) {
    batch->polling = false;
    return settle(batch, ended, *outcomes);
  }
  const std::string path = "/files/" + files[next_file] + "/content";
  caller.call(
      http::verb::get, path, "", "", "download of the results of batch " + batch->id + " from " + url(path),
      [this, batch, ended = std::move(ended), outcomes, next_file](api_caller::outcome answer) mutable {
        if (!answer.body && answer.status != 404) {
          batch->polling = false;
          return release_waiting(batch, answer.body.error());
        }
        // A file that is gone (deleted, or past its expiry) leaves its requests unanswered.
        const status results = answer.body ? read_batch_results(batch->id, *answer.body, *outcomes)
                                           : status{answer.body.error()};
        if (!results)
          spdlog::warn("teacher batch: {}", access->scrub(results.error().message));
        download(batch, std::move(ended), std::move(outcomes), next_file + 1);
      });
}

void batch_teacher::impl::settle(const std::shared_ptr<remote_batch>& batch, const batch_status& status,
                                 const batch_outcomes& outcomes) {
  batch->answered = true;
  std::vector<std::string> done;
  std::vector<std::pair<std::shared_ptr<batch_call>, result<chat_response>>> deliveries;
  for (auto& line : batch->lines) {
    if (line.done)
      continue;
    const auto found = outcomes.find(line.custom_id);
    result<chat_response> outcome =
        found != outcomes.end()
            ? found->second
            : result<chat_response>{problem{unanswered(*batch, status), problem_cause::transient}};
    if (outcome && !line.waiting) {
      line.answer = std::move(outcome).value(); // kept for a call with the same request
      continue;
    }
    // Failed requests nobody waits for are forgotten: asked again, they go into a new batch.
    line.done = true;
    done.push_back(line.custom_id);
    if (auto call = std::move(line.waiting))
      deliveries.emplace_back(std::move(call), std::move(outcome));
  }
  mark_done(batch, done);
  for (auto& [call, outcome] : deliveries)
    deliver(call, std::move(outcome));
}

void batch_teacher::impl::poll_failed(const std::shared_ptr<remote_batch>& batch, const problem& trouble,
                                      int http_status) {
  batch->polling = false;
  if (http_status != 404 || !batch->resumed)
    return release_waiting(batch, trouble);
  // A journaled batch this endpoint does not know (another account, a restarted local server): its requests
  // cannot be answered by it, and asked again they go into a new batch.
  const problem gone{"batch " + batch->id + " of the journal " + journal.file().string() + " is unknown to " +
                         url("/batches") + "; asked again, its requests go into a new batch",
                     problem_cause::transient};
  std::vector<std::string> done;
  std::vector<std::shared_ptr<batch_call>> waiting;
  for (auto& line : batch->lines) {
    if (line.done)
      continue;
    line.done = true;
    done.push_back(line.custom_id);
    if (line.waiting)
      waiting.push_back(std::move(line.waiting));
  }
  mark_done(batch, done);
  for (auto& call : waiting)
    deliver(call, gone);
}

// The calls waiting for `batch` get `trouble`; its requests can be claimed again by a later call.
void batch_teacher::impl::release_waiting(const std::shared_ptr<remote_batch>& batch,
                                          const problem& trouble) {
  std::vector<std::shared_ptr<batch_call>> waiting;
  for (std::size_t line = 0; line < batch->lines.size(); ++line)
    if (auto call = std::move(batch->lines[line].waiting)) {
      waiting.push_back(std::move(call));
      make_claimable(batch, line);
    }
  for (auto& call : waiting)
    deliver(call, trouble);
}

void batch_teacher::impl::claim(const std::shared_ptr<remote_batch>& batch, std::size_t line,
                                std::shared_ptr<batch_call> call) {
  call->where = batch_call::stage::in_batch;
  const bool first_of_journal = batch->resumed && !batch->attached;
  batch->attached = true;
  count([&](auto& s) {
    ++s.attached;
    ++s.in_flight;
    if (first_of_journal)
      ++s.batches_resumed;
  });
  batch_line& claimed = batch->lines[line];
  if (claimed.answer) {
    chat_response answer = std::move(*claimed.answer);
    claimed.answer.reset();
    claimed.done = true;
    mark_done(batch, {claimed.custom_id});
    return deliver(call, std::move(answer));
  }
  claimed.waiting = std::move(call);
  start_polling(batch, std::chrono::milliseconds(0));
}

void batch_teacher::impl::make_claimable(const std::shared_ptr<remote_batch>& batch, std::size_t line) {
  if (!batch->lines[line].done)
    claimable.emplace(batch->lines[line].key, line_ref{batch, line});
}

void batch_teacher::impl::mark_done(const std::shared_ptr<remote_batch>& batch,
                                    const std::vector<std::string>& custom_ids) {
  if (const status written = journal.record_done(batch->id, custom_ids); !written)
    spdlog::warn("teacher batch: {}", written.error().message);
  if (batch->all_done())
    batches.erase(batch->id);
}

// Delivers the outcome exactly once, with its usage counted at the batch price.
void batch_teacher::impl::deliver(const std::shared_ptr<batch_call>& call, result<chat_response> outcome) {
  if (call->finished)
    return;
  call->finished = true;
  const chat_usage usage = outcome ? outcome->usage : chat_usage{};
  const double cost = options.prices.cost_usd(usage) * options.batch_discount;
  if (call->holds_budget)
    options.budget->finish(usage, cost, call->bound);
  if (!outcome)
    outcome = problem{access->scrub(outcome.error().message), outcome.error().cause};
  const bool ok = outcome.ok();
  count([&](auto& s) {
    ++(ok ? s.answered : s.failed);
    if (call->where == batch_call::stage::in_batch)
      --s.in_flight;
    else if (call->where == batch_call::stage::pending)
      --s.pending;
    s.prompt_tokens += usage.prompt_tokens;
    s.completion_tokens += usage.completion_tokens;
    s.cost_usd += cost;
  });
  if (!ok)
    spdlog::debug("teacher batch: {}", outcome.error().message);
  auto done = std::move(call->done);
  call->done = nullptr;
  call_back(std::move(done), std::move(outcome), *access, "teacher batch");
  // The bound it gave back may let calls that waited for the budget in.
  if (call->holds_budget && !awaiting_budget.empty()) {
    auto waiting = std::move(awaiting_budget);
    awaiting_budget.clear();
    for (auto& next : waiting)
      enqueue(std::move(next));
  }
}

} // namespace tailor
