// Shared pieces of the teacher client and cache tests: a loopback server around the echo teacher, clients
// of it, and a collector that waits for callbacks.
#pragma once

#include "io/teacher/chat.hpp"
#include "io/teacher/openai_client.hpp"
#include "io/teacher/teacher_server.hpp"
#include "tests/echo_teacher.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

namespace tailor::testing {

// Collects callback outcomes from any thread.
class outcomes {
public:
  teacher_backend::callback callback() {
    return [this](result<chat_response> outcome) {
      std::lock_guard lock(mutex_);
      results_.push_back(std::move(outcome));
      changed_.notify_all();
    };
  }
  // Waits until `count` outcomes arrived; false after `timeout`.
  bool wait_for(std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return results_.size() >= count; });
  }
  std::vector<result<chat_response>> take() {
    std::lock_guard lock(mutex_);
    return std::move(results_);
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<result<chat_response>> results_;
};

inline chat_request ask(std::string question, int n = 1) {
  chat_request request;
  request.model = "echo-model";
  request.messages = {{"system", "Explain step by step."}, {"user", std::move(question)}};
  request.n = n;
  request.temperature = 0.7;
  return request;
}

inline std::unique_ptr<teacher_server> start_server(teacher_backend& backend,
                                                    teacher_server_options options = {}) {
  auto server = teacher_server::start(backend, std::move(options));
  INFO((server ? std::string{} : server.error().message));
  REQUIRE(server);
  return std::move(server).value();
}

// A client of a loopback server with quick retries, so tests that fail on purpose stay fast.
inline openai_client_options local_options(const teacher_server& server) {
  openai_client_options options;
  options.base_url = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1";
  options.model = "echo-model";
  options.api_key_env.clear();
  options.timeout = std::chrono::seconds(20);
  options.backoff_base = std::chrono::milliseconds(5);
  options.backoff_cap = std::chrono::milliseconds(50);
  options.concurrency = 8;
  options.seed = 7;
  return options;
}

inline std::unique_ptr<openai_client> make_client(openai_client_options options) {
  auto client = openai_client::create(std::move(options));
  INFO((client ? std::string{} : client.error().message));
  REQUIRE(client);
  return std::move(client).value();
}

// A fresh folder under the system temp dir, removed at the end of the test.
class temporary_folder {
public:
  temporary_folder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tailor-test-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~temporary_folder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

} // namespace tailor::testing
