#include "io/common/child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace tailor {
namespace {

std::string describe(int status) {
  if (WIFEXITED(status))
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) +
           ")";
  return "stopped (wait status " + std::to_string(status) + ")";
}

} // namespace

result<child_process>
child_process::start(const std::vector<std::string>& argv,
                     const std::vector<std::pair<std::string, std::string>>& environment,
                     const std::filesystem::path& log) {
  if (argv.empty())
    return problem{"no program to start"};
  std::vector<std::string> variables;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const auto name = text.substr(0, text.find('='));
    bool overridden = false;
    for (const auto& [key, value] : environment)
      overridden = overridden || key == name;
    if (!overridden)
      variables.push_back(text);
  }
  for (const auto& [key, value] : environment)
    variables.push_back(key + "=" + value);
  std::vector<char*> env_pointers, arg_pointers;
  for (auto& v : variables)
    env_pointers.push_back(v.data());
  env_pointers.push_back(nullptr);
  std::vector<std::string> args = argv;
  for (auto& a : args)
    arg_pointers.push_back(a.data());
  arg_pointers.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  const int failed =
      ::posix_spawn(&pid, args[0].c_str(), &actions, nullptr, arg_pointers.data(), env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  if (failed != 0)
    return problem{"cannot start " + args[0] + ": " + std::strerror(failed)};
  return child_process{pid, log};
}

child_process::child_process(child_process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), log_(std::move(other.log_)), ended_(std::move(other.ended_)) {}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !ended_)
      wait_or_kill(std::chrono::milliseconds{0});
    pid_ = std::exchange(other.pid_, -1);
    log_ = std::move(other.log_);
    ended_ = std::move(other.ended_);
  }
  return *this;
}

child_process::~child_process() {
  if (pid_ > 0 && !ended_)
    wait_or_kill(std::chrono::milliseconds{0});
}

std::optional<std::string> child_process::exit_description() {
  if (ended_ || pid_ <= 0)
    return ended_;
  int status = 0;
  const pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done == pid_)
    ended_ = describe(status);
  else if (done < 0 && errno == ECHILD)
    ended_ = "is gone (reaped elsewhere)";
  return ended_;
}

std::string child_process::wait_or_kill(std::chrono::milliseconds patience) {
  const auto until = std::chrono::steady_clock::now() + patience;
  while (!exit_description() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  if (auto ended = exit_description())
    return *ended;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  ended_ = describe(status);
  return *ended_;
}

std::string child_process::last_log_line() const {
  std::ifstream in{log_};
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos)
      last = line;
  return last;
}

std::filesystem::path own_executable() {
  std::error_code error;
  auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::filesystem::path{} : path;
}

} // namespace tailor
