// Child processes that outlive a call: started with extra environment and their output in a log file, polled
// for their exit, described in words when they die.
#pragma once

#include "io/common/result.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace tailor {

class child_process {
public:
  // Runs `argv` (argv[0] a path) with the parent's environment plus `environment` (NAME=VALUE, overriding),
  // stdout and stderr appended to `log`.
  static result<child_process> start(const std::vector<std::string>& argv,
                                     const std::vector<std::pair<std::string, std::string>>& environment,
                                     const std::filesystem::path& log);

  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  // Kills a child still running (SIGKILL) and reaps it.
  ~child_process();

  pid_t pid() const { return pid_; }
  const std::filesystem::path& log() const { return log_; }

  // How it ended ("exited with status 3", "was killed by signal 9"), once it has; nullopt while it runs.
  std::optional<std::string> exit_description();
  // Waits up to `patience` for it to end by itself, then kills it; its exit description.
  std::string wait_or_kill(std::chrono::milliseconds patience);
  // The last non-empty line of its log ("" when none), which is usually why it stopped.
  std::string last_log_line() const;

private:
  child_process(pid_t pid, std::filesystem::path log) : pid_(pid), log_(std::move(log)) {}
  pid_t pid_ = -1;
  std::filesystem::path log_;
  std::optional<std::string> ended_;
};

// The path of the running executable (/proc/self/exe resolved).
std::filesystem::path own_executable();

} // namespace tailor
