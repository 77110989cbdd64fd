// The caching teacher backend: per-sample lookups, one inner request for what is missing, commit, answer.
#include "io/teacher/caching_teacher.hpp"

#include <algorithm>
#include <optional>
#include <spdlog/spdlog.h>
#include <vector>

namespace tailor {

struct caching_teacher::call {
  chat_request request;
  callback done;
  std::string model;                             // keyed under; replaced by the model the endpoint names
  std::vector<std::string> keys;                 // one per sample index
  std::vector<std::optional<std::string>> texts; // filled from the cache and from the inner backend
  std::vector<int> missing;                      // sample indices not found yet, in order
  std::string group;                             // while asked of the inner backend: see `asked_`
  chat_usage paid;
  std::uint64_t generation = 0;
};

namespace {

// Splits a request's usage over the k samples it brought, remainders to the first ones, so that the
// shares add up to what was paid.
chat_usage share_of(const chat_usage& usage, std::size_t k, std::size_t j) {
  const auto part = [&](std::int64_t total) {
    const auto count = static_cast<std::int64_t>(k);
    return total / count + (static_cast<std::int64_t>(j) < total % count ? 1 : 0);
  };
  return {part(usage.prompt_tokens), part(usage.completion_tokens)};
}

const problem& cancelled() {
  static const problem text{"teacher request cancelled", problem_cause::cancelled};
  return text;
}

void deliver(caching_teacher::callback& done, result<chat_response> outcome) {
  auto callback = std::move(done);
  done = nullptr;
  try {
    if (callback)
      callback(std::move(outcome));
  } catch (const std::exception& error) {
    spdlog::error("teacher cache: a completion callback threw: {}", error.what());
  } catch (...) {
    spdlog::error("teacher cache: a completion callback threw");
  }
}

} // namespace

caching_teacher::caching_teacher(teacher_backend& inner, std::shared_ptr<teacher_cache> cache,
                                 caching_teacher_options options)
    : inner_(inner), cache_(std::move(cache)), options_(std::move(options)), thread_([this] { run(); }) {}

caching_teacher::~caching_teacher() {
  cancel_all();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void caching_teacher::complete(chat_request request, callback done) {
  try {
    auto target = std::make_shared<call>();
    target->model = options_.model.empty() ? request.model : options_.model;
    const int n = std::max(1, request.n);
    for (int index = 0; index < n; ++index)
      target->keys.push_back(teacher_cache_key(request, target->model, index));
    target->texts.resize(static_cast<std::size_t>(n));
    for (int index = 0; index < n; ++index)
      target->missing.push_back(index);
    target->request = std::move(request);
    target->done = std::move(done);
    {
      std::lock_guard lock(mutex_);
      target->generation = generation_;
    }
    post({std::move(target), std::nullopt});
  } catch (const std::exception& error) {
    if (done)
      done(problem{std::string{"teacher cache: cannot look up request: "} + error.what()});
  }
}

void caching_teacher::cancel_all() {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  inner_.cancel_all();
}

caching_teacher_stats caching_teacher::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void caching_teacher::post(job work) {
  // Notified under the lock: the last answer of the inner backend may let the destructor finish, and the
  // condition variable must not be touched after that.
  std::lock_guard lock(mutex_);
  if (work.answer)
    --asked_of_inner_;
  jobs_.push_back(std::move(work));
  wake_.notify_one();
}

void caching_teacher::run() {
  for (;;) {
    std::deque<job> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return !jobs_.empty() || (stopping_ && asked_of_inner_ == 0); });
      if (jobs_.empty())
        return;
      batch.swap(jobs_);
    }
    try {
      process(batch);
    } catch (const std::exception& error) {
      // Only allocation failures get here; the calls of the batch must still be answered.
      for (auto& work : batch)
        deliver(work.target->done, problem{std::string{"teacher cache: "} + error.what()});
    }
  }
}

// Everything that came due together: lookups, and answers of the inner backend to store. One transaction
// stores the new answers and the hit totals; only after it commits does anyone hear of them.
void caching_teacher::process(std::deque<job>& batch) {
  enum class next { answer, fail, forward };
  struct step {
    std::shared_ptr<call> target;
    next what;
    problem error;
    bool stored = false; // depends on the commit
  };
  std::vector<step> steps;
  std::vector<std::shared_ptr<call>> followers; // to look up again once the answers they waited for are in
  std::vector<cache_entry> entries;
  cache_hits hits;
  caching_teacher_stats counted;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    generation = generation_;
  }

  for (auto& work : batch) {
    auto& target = *work.target;
    if (!work.answer) {
      if (target.generation < generation) {
        steps.push_back({work.target, next::fail, cancelled()});
        continue;
      }
      // Only what is still missing: a call that waited on an identical one looks up again (see forward).
      std::vector<std::string> keys;
      for (int index : target.missing)
        keys.push_back(target.keys[static_cast<std::size_t>(index)]);
      auto found = cache_->lookup(keys);
      if (!found) {
        // Asking the endpoint now would pay for an answer that cannot be kept.
        steps.push_back({work.target, next::fail, found.error()});
        continue;
      }
      std::vector<int> still_missing;
      for (std::size_t j = 0; j < found->size(); ++j) {
        const int index = target.missing[j];
        auto& hit = (*found)[j];
        if (!hit) {
          still_missing.push_back(index);
          ++counted.misses;
          continue;
        }
        target.texts[static_cast<std::size_t>(index)] = std::move(hit->text);
        ++hits.count;
        ++counted.hits;
        hits.saved.prompt_tokens += hit->usage.prompt_tokens;
        hits.saved.completion_tokens += hit->usage.completion_tokens;
        hits.saved_usd += hit->cost_usd;
      }
      target.missing = std::move(still_missing);
      steps.push_back({work.target, target.missing.empty() ? next::answer : next::forward, {}});
      continue;
    }
    std::vector<std::shared_ptr<call>> released;
    release_followers(target, released);
    auto& answer = *work.answer;
    if (!answer) {
      // Those that asked the same at the same time hear the same.
      steps.push_back({work.target, next::fail, answer.error()});
      for (auto& follower : released)
        steps.push_back({std::move(follower), next::fail, answer.error()});
      continue;
    }
    followers.insert(followers.end(), released.begin(), released.end());
    const std::size_t k = std::min(answer->choices.size(), target.missing.size());
    if (k == 0) {
      steps.push_back({work.target, next::fail, problem{"teacher answered no choices", problem_cause::transient}});
      continue;
    }
    if (!answer->model.empty())
      target.model = answer->model;
    for (std::size_t j = 0; j < k; ++j) {
      const auto index = static_cast<std::size_t>(target.missing[j]);
      const chat_usage share = share_of(answer->usage, k, j);
      target.texts[index] = answer->choices[j];
      entries.push_back(
          {target.keys[index],
           {target.model, std::move(answer->choices[j]), share, options_.prices.cost_usd(share)}});
    }
    target.missing.erase(target.missing.begin(), target.missing.begin() + static_cast<std::ptrdiff_t>(k));
    target.paid.prompt_tokens += answer->usage.prompt_tokens;
    target.paid.completion_tokens += answer->usage.completion_tokens;
    steps.push_back({work.target, target.missing.empty() ? next::answer : next::forward, {}, true});
  }

  const status committed = cache_->store(entries, hits);
  if (!committed && hits.count != 0)
    spdlog::warn("{}", committed.error().message);
  {
    std::lock_guard lock(mutex_);
    stats_.hits += counted.hits;
    stats_.misses += counted.misses;
    if (committed) {
      stats_.saved.prompt_tokens += hits.saved.prompt_tokens;
      stats_.saved.completion_tokens += hits.saved.completion_tokens;
      stats_.saved_usd += hits.saved_usd;
    }
  }

  for (auto& follower : followers)
    post({std::move(follower), std::nullopt});
  for (auto& current : steps) {
    auto& target = *current.target;
    if (current.stored && !committed) {
      deliver(target.done, committed.error());
      continue;
    }
    switch (current.what) {
    case next::fail:
      deliver(target.done, current.error);
      break;
    case next::forward:
      forward(current.target);
      break;
    case next::answer: {
      chat_response response;
      response.model = target.model;
      response.usage = target.paid;
      response.choices.reserve(target.texts.size());
      for (auto& text : target.texts)
        response.choices.push_back(std::move(text).value_or(std::string{}));
      deliver(target.done, std::move(response));
      break;
    }
    }
  }
}

void caching_teacher::release_followers(call& leader, std::vector<std::shared_ptr<call>>& out) {
  auto waiting = asked_.find(leader.group);
  if (waiting == asked_.end())
    return;
  for (auto& follower : waiting->second)
    out.push_back(std::move(follower));
  asked_.erase(waiting);
  leader.group.clear();
}

void caching_teacher::forward(const std::shared_ptr<call>& target) {
  // The same samples already asked for by another call: wait for its answer instead of paying again.
  std::string group;
  for (int index : target->missing)
    group += target->keys[static_cast<std::size_t>(index)];
  if (auto leader = asked_.find(group); leader != asked_.end()) {
    leader->second.push_back(target);
    return;
  }
  bool is_cancelled = false;
  {
    std::lock_guard lock(mutex_);
    is_cancelled = target->generation < generation_;
    if (!is_cancelled)
      ++asked_of_inner_;
  }
  if (is_cancelled) {
    // Not asked of the inner backend, so nobody else will answer it.
    deliver(target->done, cancelled());
    return;
  }
  asked_.emplace(group, std::vector<std::shared_ptr<call>>{});
  target->group = std::move(group);
  chat_request missing = target->request;
  missing.n = static_cast<int>(target->missing.size());
  inner_.complete(std::move(missing), [this, target](result<chat_response> answer) {
    post({target, std::move(answer)});
  });
}

} // namespace tailor
