// The batch teacher's public face and the arrival of requests: checking the options, resuming the journal's
// batches, attaching a request to a journaled batch or gathering it for the next one, flushing and
// cancelling. Sending is batch_teacher_sending.cpp's; polling and answers batch_teacher_answers.cpp's.
#include "io/teacher/batch_teacher.hpp"

#include "io/teacher/batch_teacher_impl.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace tailor {
namespace {

namespace asio = boost::asio;

// OpenAI's limit on the requests of one batch.
constexpr std::size_t most_requests_per_batch = 50'000;

// What a line adds to the input file beside its request's JSON.
constexpr std::size_t line_overhead = 96;

status check_options(const batch_teacher_options& options) {
  if (options.max_requests < 1 || options.max_requests > most_requests_per_batch)
    return problem{"batch teacher: max_requests must be from 1 to 50000"};
  if (options.max_file_bytes < 1)
    return problem{"batch teacher: max_file_bytes must be at least 1"};
  if (options.flush_after.count() < 0)
    return problem{"batch teacher: flush_after must not be negative"};
  if (options.poll_interval.count() <= 0)
    return problem{"batch teacher: poll_interval must be positive"};
  if (options.timeout.count() <= 0)
    return problem{"batch teacher: timeout must be positive"};
  if (options.max_tries < 1)
    return problem{"batch teacher: max_tries must be at least 1"};
  if (options.backoff_base.count() < 0 || options.backoff_cap.count() < 0)
    return problem{"batch teacher: backoff times must not be negative"};
  if (!(options.batch_discount >= 0))
    return problem{"batch teacher: batch_discount must be a number >= 0"};
  return ok_status();
}

} // namespace

bool remote_batch::anyone_waiting() const {
  return std::any_of(lines.begin(), lines.end(),
                     [](const batch_line& line) { return line.waiting != nullptr; });
}

bool remote_batch::all_done() const {
  return std::all_of(lines.begin(), lines.end(), [](const batch_line& line) { return line.done; });
}

batch_teacher::impl::impl(batch_teacher_options chosen, std::unique_ptr<api_access> access_to,
                          batch_journal journal_read)
    : options(std::move(chosen)), access(std::move(access_to)), journal(std::move(journal_read)),
      caller(io, *access, {options.timeout, options.max_tries, options.backoff_base, options.backoff_cap},
             options.seed),
      random(options.seed != 0 ? options.seed : std::random_device{}()) {
  for (const journaled_batch& from_journal : journal.unfinished()) {
    auto batch = std::make_shared<remote_batch>(io);
    batch->id = from_journal.batch_id;
    batch->input_file_id = from_journal.input_file_id;
    batch->resumed = true;
    for (const auto& request : from_journal.requests)
      batch->lines.push_back({request.custom_id, request.key, nullptr, std::nullopt, false});
    batches.emplace(batch->id, batch);
    for (std::size_t line = 0; line < batch->lines.size(); ++line)
      make_claimable(batch, line);
  }
}

void batch_teacher::impl::enqueue(std::shared_ptr<batch_call> call) {
  if (closed)
    return deliver(call, problem{"teacher request cancelled", problem_cause::cancelled});
  if (options.budget) {
    const auto turn = options.budget->try_begin(call->bound);
    if (!turn)
      return deliver(call, turn.error());
    if (*turn == budget_turn::later)
      return awaiting_budget.push_back(std::move(call)); // enqueued again when a call gives back its bound
    call->holds_budget = true;
  }
  if (attach(call))
    return;
  pending_bytes += call->key.size() + line_overhead;
  call->where = batch_call::stage::pending;
  pending.push_back(std::move(call));
  count([](auto& s) { ++s.pending; });
  if (pending.size() >= options.max_requests || pending_bytes >= options.max_file_bytes)
    return send_pending();
  if (pending.size() == 1)
    arm_flush();
}

// Claims the first line with this request's key that no call waits for: of a journaled batch, or of one whose
// call was cancelled while it ran.
bool batch_teacher::impl::attach(const std::shared_ptr<batch_call>& call) {
  auto [at, end] = claimable.equal_range(call->key);
  while (at != end) {
    line_ref ref = at->second;
    at = claimable.erase(at);
    const batch_line& line = ref.batch->lines[ref.line];
    if (line.done || line.waiting || !batches.contains(ref.batch->id))
      continue; // stale
    claim(ref.batch, ref.line, call);
    return true;
  }
  return false;
}

void batch_teacher::impl::arm_flush() {
  const std::uint64_t generation = ++flush_generation;
  flush_timer.expires_after(options.flush_after);
  flush_timer.async_wait([this, generation](boost::system::error_code ec) {
    if (!ec && generation == flush_generation && !closed)
      send_pending();
  });
}

// Each model's requests, in arrival order, in batches within max_requests and max_file_bytes.
void batch_teacher::impl::send_pending() {
  ++flush_generation;
  flush_timer.cancel();
  auto calls = std::move(pending);
  pending.clear();
  pending_bytes = 0;
  std::vector<std::pair<std::string, std::vector<std::shared_ptr<batch_call>>>> by_model;
  for (auto& call : calls) {
    auto group =
        std::find_if(by_model.begin(), by_model.end(), [&](const auto& g) { return g.first == call->model; });
    if (group == by_model.end())
      group = by_model.insert(by_model.end(), {call->model, {}});
    group->second.push_back(std::move(call));
  }
  for (auto& [model, group] : by_model) {
    std::vector<std::shared_ptr<batch_call>> chunk;
    std::size_t bytes = 0;
    for (auto& call : group) {
      const std::size_t size = call->key.size() + line_overhead;
      if (!chunk.empty() && (chunk.size() >= options.max_requests || bytes + size > options.max_file_bytes)) {
        send_batch(std::move(chunk));
        chunk.clear();
        bytes = 0;
      }
      bytes += size;
      chunk.push_back(std::move(call));
    }
    if (!chunk.empty())
      send_batch(std::move(chunk));
  }
}

void batch_teacher::impl::cancel_everything() {
  ++flush_generation;
  flush_timer.cancel();
  const problem cancelled{"teacher request cancelled", problem_cause::cancelled};
  auto waiting = std::move(pending);
  pending.clear();
  pending_bytes = 0;
  for (auto& call : waiting)
    deliver(call, cancelled);
  auto unfunded = std::move(awaiting_budget);
  awaiting_budget.clear();
  for (auto& call : unfunded)
    deliver(call, cancelled);
  // A batch still being sent goes on: once created, its requests can be claimed again.
  for (auto& batch : sending)
    for (auto& line : batch->lines)
      if (auto call = std::move(line.waiting))
        deliver(call, cancelled);
  // Copied: a callback may ask again, which adds to `batches` only later, on this thread, but never here.
  std::vector<std::shared_ptr<remote_batch>> created;
  for (auto& [id, batch] : batches)
    created.push_back(batch);
  for (auto& batch : created)
    release_waiting(batch, cancelled);
}

void batch_teacher::impl::shut_down() {
  cancel_everything();
  closed = true;
  caller.close();
  flush_timer.cancel();
  for (auto& [id, batch] : batches)
    batch->poll_timer.cancel();
}

result<std::unique_ptr<batch_teacher>> batch_teacher::create(batch_teacher_options options) {
  if (const status checked = check_options(options); !checked)
    return checked.error();
  auto access = make_api_access(options.base_url, options.api_key_env, options.verify_tls, "teacher batch");
  if (!access)
    return access.error();
  batch_journal journal;
  if (!options.journal.empty()) {
    auto opened = batch_journal::open(options.journal);
    if (!opened)
      return opened.error();
    journal = std::move(opened).value();
  }
  try {
    auto state = std::make_unique<impl>(std::move(options), std::move(access).value(), std::move(journal));
    if (!state->journal.unfinished().empty())
      spdlog::info(
          "teacher batch: {} lists {} unfinished batches; requests asked again wait for their answers",
          state->journal.file().string(), state->journal.unfinished().size());
    auto* raw = state.get();
    state->thread = std::thread([raw] { run_io_thread(raw->io, *raw->access, "teacher batch"); });
    return std::unique_ptr<batch_teacher>(new batch_teacher(std::move(state)));
  } catch (const std::exception& error) {
    return problem{std::string{"batch teacher: cannot start: "} + error.what()};
  }
}

batch_teacher::batch_teacher(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

batch_teacher::~batch_teacher() {
  asio::post(impl_->io, [state = impl_.get()] { state->shut_down(); });
  impl_->work.reset();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

void batch_teacher::complete(chat_request request, callback done) {
  try {
    auto call = std::make_shared<batch_call>();
    if (request.model.empty())
      request.model = impl_->options.model;
    call->model = request.model;
    const auto& prices = impl_->options.prices;
    call->bound = cost_bound_of(request, {prices.usd_per_million_prompt * impl_->options.batch_discount,
                                          prices.usd_per_million_completion * impl_->options.batch_discount});
    // Serialised here, on the caller's thread; invalid UTF-8 in a prompt is replaced rather than thrown on.
    call->key = to_json(request).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    call->done = std::move(done);
    asio::post(impl_->io,
               [state = impl_.get(), call = std::move(call)]() mutable { state->enqueue(std::move(call)); });
  } catch (const std::exception& error) {
    if (done)
      done(problem{std::string{"teacher batch: cannot take the request: "} + error.what()});
  }
}

void batch_teacher::cancel_all() {
  asio::post(impl_->io, [state = impl_.get()] { state->cancel_everything(); });
}

void batch_teacher::flush() {
  asio::post(impl_->io, [state = impl_.get()] {
    if (!state->pending.empty())
      state->send_pending();
  });
}

batch_teacher_stats batch_teacher::stats() const {
  std::lock_guard lock(impl_->stats_mutex);
  batch_teacher_stats copy = impl_->counters;
  copy.http_requests = impl_->caller.http_requests();
  copy.retries = impl_->caller.retries();
  return copy;
}

const batch_teacher_options& batch_teacher::options() const {
  return impl_->options;
}

} // namespace tailor
