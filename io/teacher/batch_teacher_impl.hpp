// Internal to the batch teacher: its calls, the remote batches they wait on, and its state on its io_context
// thread, shared by its public face (batch_teacher.cpp), the sending of batches (batch_teacher_sending.cpp)
// and their polling and answers (batch_teacher_answers.cpp).
#pragma once

#include "io/teacher/api_access.hpp"
#include "io/teacher/api_caller.hpp"
#include "io/teacher/batch_files.hpp"
#include "io/teacher/batch_journal.hpp"
#include "io/teacher/batch_teacher.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace tailor {

// One complete() call, from its arrival to its callback.
struct batch_call {
  std::string key; // the chat request's JSON: the body of its line and its key in the journal
  std::string model;
  teacher_backend::callback done;
  enum class stage : std::uint8_t { arriving, pending, in_batch }; // for the counts
  stage where = stage::arriving;
  bool holds_budget = false;
  teacher_cost_bound bound; // reserved in the budget from its arrival to its answer
  bool finished = false;
};

// One request of a remote batch.
struct batch_line {
  std::string custom_id;
  std::string key;
  std::shared_ptr<batch_call> waiting; // the call this request answers, while one waits
  std::optional<chat_response> answer; // downloaded before any call claimed it
  bool done = false;                   // delivered or given up, and journaled so
};

struct remote_batch {
  explicit remote_batch(boost::asio::io_context& io) : poll_timer(io) {}

  std::string id; // empty while it is uploaded and created
  std::string input_file_id;
  std::vector<batch_line> lines;
  boost::asio::steady_timer poll_timer;
  bool resumed = false;  // read from the journal
  bool attached = false; // a call of this process attached to it (for batches_resumed)
  bool polling = false;  // a poll is scheduled or on the wire, or its files are being downloaded
  bool answered = false; // its results are in

  bool anyone_waiting() const;
  bool all_done() const;
};

struct batch_teacher::impl {
  impl(batch_teacher_options options, std::unique_ptr<api_access> access, batch_journal journal);

  batch_teacher_options options;
  std::unique_ptr<api_access> access;
  batch_journal journal;

  boost::asio::io_context io{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
  std::thread thread;
  api_caller caller;
  std::mt19937_64 random; // multipart boundaries

  // Touched on the io thread only.
  std::vector<std::shared_ptr<batch_call>> pending;
  // Calls whose bound fits the budget only once calls that reserved theirs are answered.
  std::vector<std::shared_ptr<batch_call>> awaiting_budget;
  std::size_t pending_bytes = 0;
  boost::asio::steady_timer flush_timer{io};
  std::uint64_t flush_generation = 0; // a flush timer that fires after a newer flush does nothing
  std::vector<std::shared_ptr<remote_batch>> sending;                     // being uploaded or created
  std::unordered_map<std::string, std::shared_ptr<remote_batch>> batches; // created, until every line is done
  // Lines of created batches that no call waits for, by key. Entries go stale when their line is claimed,
  // done or forgotten; attach() skips and drops those.
  struct line_ref {
    std::shared_ptr<remote_batch> batch;
    std::size_t line = 0;
  };
  std::unordered_multimap<std::string, line_ref> claimable;
  bool closed = false;

  mutable std::mutex stats_mutex;
  batch_teacher_stats counters;

  template <class Change>
  void count(Change change) {
    std::lock_guard lock(stats_mutex);
    change(counters);
  }

  // Arrival, flushing and cancelling (batch_teacher.cpp).
  void enqueue(std::shared_ptr<batch_call> call);
  bool attach(const std::shared_ptr<batch_call>& call);
  void arm_flush();
  void send_pending();
  void cancel_everything();
  void shut_down();

  // Sending (batch_teacher_sending.cpp).
  void send_batch(std::vector<std::shared_ptr<batch_call>> calls);
  void post_for_id(const std::shared_ptr<remote_batch>& batch, std::string path, std::string content_type,
                   std::string body, std::string what, std::function<void(std::string)> then);
  void upload(const std::shared_ptr<remote_batch>& batch, std::string file);
  void create_remote(const std::shared_ptr<remote_batch>& batch);
  void created(const std::shared_ptr<remote_batch>& batch);
  void fail_sending(const std::shared_ptr<remote_batch>& batch, const problem& trouble);

  // Polling and answers (batch_teacher_answers.cpp).
  void start_polling(const std::shared_ptr<remote_batch>& batch, std::chrono::milliseconds delay);
  void poll(const std::shared_ptr<remote_batch>& batch);
  void download(const std::shared_ptr<remote_batch>& batch, batch_status ended,
                std::shared_ptr<batch_outcomes> outcomes, std::size_t next_file);
  void settle(const std::shared_ptr<remote_batch>& batch, const batch_status& status,
              const batch_outcomes& outcomes);
  void poll_failed(const std::shared_ptr<remote_batch>& batch, const problem& trouble, int http_status);
  void release_waiting(const std::shared_ptr<remote_batch>& batch, const problem& trouble);
  void claim(const std::shared_ptr<remote_batch>& batch, std::size_t line, std::shared_ptr<batch_call> call);
  void make_claimable(const std::shared_ptr<remote_batch>& batch, std::size_t line);
  void mark_done(const std::shared_ptr<remote_batch>& batch, const std::vector<std::string>& custom_ids);
  void deliver(const std::shared_ptr<batch_call>& call, result<chat_response> outcome);
  std::string url(std::string_view path) const { return access->endpoint.url(path); }
};

} // namespace tailor
