// A teacher backend in front of another one that answers from the teacher cache when it can and stores
// every new answer before anyone sees it.
#pragma once

#include "io/teacher/chat.hpp"
#include "io/common/result.hpp"
#include "io/teacher/teacher_budget.hpp"
#include "io/teacher/teacher_cache.hpp"

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace tailor {

struct caching_teacher_options {
  // The name answers are keyed under; the endpoint's model (e.g. "gpt-4o-mini"). Empty: each request's own
  // `model`. Changing it makes every answer a miss.
  std::string model;
  teacher_prices prices; // to price each stored answer, and so the money a hit saves
};

// Counts of this object's lifetime, in sample lookups (a request for n samples is n of them; one that
// waited for an identical request in flight looks up again what that one brought).
struct caching_teacher_stats {
  std::size_t hits = 0;
  std::size_t misses = 0;
  chat_usage saved; // summed over hits
  double saved_usd = 0;
};

// A request for n samples looks up each sample index; the missing ones are asked of the inner backend as
// one request with n = the number missing (again for any the endpoint left out: llama.cpp's server and
// Ollama answer one choice whatever n says); a call for samples already asked for by another call in
// flight waits for that answer instead of paying again. Each new sample is committed to the cache file before
// the callback runs, so a rerun of the same work sends nothing. The `usage` of an answer is what this call
// paid for: zero when every sample came from the cache.
//
// The file is touched on one thread of this object's own, which also runs the callbacks; commits that come
// due together share one transaction (one sync), and the inner backend's I/O thread never waits on disk.
class caching_teacher final : public teacher_backend {
public:
  // `inner` must outlive this object.
  caching_teacher(teacher_backend& inner, std::shared_ptr<teacher_cache> cache,
                  caching_teacher_options options);
  // Cancels what is pending, waits for the inner backend to answer what it was asked, joins the thread.
  ~caching_teacher() override;

  void complete(chat_request request, callback done) override;
  void cancel_all() override;

  caching_teacher_stats stats() const;
  teacher_cache& cache() { return *cache_; }

  struct call;

private:
  struct job {
    std::shared_ptr<call> target;
    std::optional<result<chat_response>> answer; // empty: look the call up
  };

  void run();
  void process(std::deque<job>& jobs);
  void forward(const std::shared_ptr<call>& target);
  void release_followers(call& leader, std::vector<std::shared_ptr<call>>& out);
  void post(job work);

  // Touched on the worker thread only: the sample keys asked of the inner backend (concatenated, one entry
  // per request in flight) and the calls for the same samples that wait for that answer.
  std::unordered_map<std::string, std::vector<std::shared_ptr<call>>> asked_;

  teacher_backend& inner_;
  std::shared_ptr<teacher_cache> cache_;
  caching_teacher_options options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<job> jobs_;
  std::size_t asked_of_inner_ = 0; // inner requests whose callback has not come back yet
  std::uint64_t generation_ = 0;   // bumped by cancel_all; calls older than it are cancelled
  bool stopping_ = false;
  caching_teacher_stats stats_;
  std::thread thread_;
};

} // namespace tailor
