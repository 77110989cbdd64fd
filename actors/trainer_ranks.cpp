#include "actors/trainer_ranks.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace tailor {
namespace {

namespace fs = std::filesystem;

// A port no one listens on now, for the group's store (the kernel's pick for a socket bound to port 0).
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return 29500;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  std::uint16_t port = 29500;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

// The `tailor` executable that runs a follower: TAILOR_EXECUTABLE, this one when it is `tailor`, else the
// `tailor` built or installed beside it (tailord's runs).
result<fs::path> tailor_executable() {
  if (const char* given = std::getenv("TAILOR_EXECUTABLE"); given != nullptr && *given != '\0')
    return fs::path{given};
  const auto self = own_executable();
  if (self.filename() == "tailor")
    return self;
  for (const auto& candidate :
       {self.parent_path() / "tailor", self.parent_path().parent_path() / "tailor" / "tailor"})
    if (fs::exists(candidate))
      return candidate;
  return problem{"cannot find the `tailor` executable that runs the other trainer ranks beside " +
                 self.string() + "; set TAILOR_EXECUTABLE"};
}

std::string command_key(std::uint64_t index) {
  return "command/" + std::to_string(index);
}

} // namespace

result<std::unique_ptr<trainer_ranks>> trainer_ranks::start(const run_config& config) {
  auto where = gpu::rendezvous_from_environment();
  if (!where)
    return where.error();
  gpu::rendezvous meet = where.value();
  const int local = static_cast<int>(config.nproc);
  if (std::getenv("WORLD_SIZE") == nullptr)
    meet.world_size = local;
  if (meet.world_size < local)
    return problem{"WORLD_SIZE " + std::to_string(meet.world_size) + " is less than nproc " +
                   std::to_string(local)};
  if (meet.rank != 0)
    return problem{"`tailor run` is rank 0 of the trainer ranks, but RANK is " + std::to_string(meet.rank) +
                   "; the other ranks run `tailor rank-worker RUN_DIR`"};
  if (std::getenv("MASTER_PORT") == nullptr)
    meet.master_port = free_port();
  // Long enough for a follower to load a large checkpoint before the first collective; a dead rank is
  // noticed long before, when its connections close.
  meet.timeout = std::chrono::minutes{5};

  auto executable = tailor_executable();
  if (!executable)
    return executable.error();
  const fs::path logs = fs::path{config.output_dir} / "ranks";
  std::error_code error;
  fs::create_directories(logs, error);
  if (error)
    return problem{logs.string() + ": cannot create: " + error.message()};

  std::unique_ptr<trainer_ranks> ranks{new trainer_ranks()};
  for (int rank = 1; rank < local; ++rank) {
    const auto log = logs / ("rank-" + std::to_string(rank) + ".log");
    fs::remove(log, error);
    auto child = child_process::start({executable->string(), "rank-worker", config.output_dir},
                                      {{"MASTER_ADDR", meet.master_addr},
                                       {"MASTER_PORT", std::to_string(meet.master_port)},
                                       {"RANK", std::to_string(rank)},
                                       {"WORLD_SIZE", std::to_string(meet.world_size)}},
                                      log);
    if (!child)
      return problem{"rank " + std::to_string(rank) + ": " + child.error().message};
    ranks->followers_.push_back(std::move(child.value()));
  }
  // Meeting blocks until every rank has come or the timeout has passed; a follower that dies on its way (a
  // bad config, a missing GPU) ends the wait at once, leaving the meeting to give up by itself.
  auto meeting = std::make_shared<std::promise<result<std::shared_ptr<gpu::process_group>>>>();
  auto met = meeting->get_future();
  std::thread{[meeting, meet] { meeting->set_value(gpu::process_group::create(meet)); }}.detach();
  while (met.wait_for(std::chrono::milliseconds{50}) != std::future_status::ready)
    if (auto dead = ranks->dead_rank())
      return problem{*dead};
  auto group = met.get();
  if (!group)
    return problem{ranks->explain(group.error().message)};
  ranks->group_ = std::move(group.value());
  return ranks;
}

trainer_ranks::~trainer_ranks() {
  // Whoever lets go last (the trainer, or an exam chunk still in hand) stops the followers.
  if (group_)
    (void)send(rank_command{.kind = "stop"});
  for (auto& follower : followers_)
    follower.wait_or_kill(std::chrono::seconds{10});
}

result<std::uint64_t> trainer_ranks::send(const rank_command& command) {
  if (!group_)
    return problem{"the trainer ranks have not met"};
  const auto bytes = rank_command_bytes(command);
  if (bytes.empty())
    return problem{"cannot encode the `" + command.kind + "` command for the other ranks"};
  std::lock_guard lock{mutex_};
  if (auto posted = group_->store_set(command_key(sent_), bytes); !posted)
    return posted.error();
  return sent_++;
}

void trainer_ranks::forget_read(std::uint64_t through) {
  std::lock_guard lock{mutex_};
  for (; forgotten_ <= through && forgotten_ < sent_; ++forgotten_)
    (void)group_->store_erase(command_key(forgotten_));
}

result<rank_exam_answers> trainer_ranks::exam_answers(std::uint64_t index) {
  const auto key = exam_answers_key(index);
  for (;;) {
    {
      std::lock_guard lock{mutex_};
      auto read = group_->store_get_if_set(key);
      if (!read)
        return read.error();
      if (read->has_value()) {
        (void)group_->store_erase(key);
        auto answers = rank_message_from_bytes<rank_exam_answers>(**read);
        if (!answers)
          return problem{"the answers to exam command " + std::to_string(index) + " are not a rank's answers"};
        return std::move(*answers);
      }
      if (auto dead = dead_rank_locked())
        return problem{*dead};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
}

std::optional<std::string> trainer_ranks::dead_rank() {
  std::lock_guard lock{mutex_};
  return dead_rank_locked();
}

std::optional<std::string> trainer_ranks::dead_rank_locked() {
  for (std::size_t i = 0; i < followers_.size(); ++i)
    if (auto ended = followers_[i].exit_description()) {
      auto text =
          "rank " + std::to_string(i + 1) + " (pid " + std::to_string(followers_[i].pid()) + ") " + *ended;
      if (auto said = followers_[i].last_log_line(); !said.empty())
        text += "; it said: " + said;
      return text + " (log: " + followers_[i].log().string() + ")";
    }
  return std::nullopt;
}

std::string trainer_ranks::explain(const std::string& error) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{2};
  do {
    if (auto dead = dead_rank())
      return *dead;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  } while (std::chrono::steady_clock::now() < until);
  return error;
}

} // namespace tailor
