// Data parallel over c10d Gloo on loopback: two ranks train as one process does, a dead rank fails the other
// with a message naming it, and a bad rendezvous is refused with a clear error.
#include "gpu/distributed.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

using namespace tailor;

namespace {

// A port nobody listens on right now (the kernel's pick for a bound-then-closed socket).
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct rank_process {
  pid_t pid = -1;
  std::filesystem::path out, err;
};

// Starts the helper as one rank; its stderr goes to a file the test reads.
rank_process spawn_rank(const std::filesystem::path& dir, int rank, int world, std::uint16_t port, int steps,
                        int die_after = -1) {
  rank_process p;
  p.out = dir / ("rank" + std::to_string(rank) + "of" + std::to_string(world) + ".txt");
  p.err = dir / ("rank" + std::to_string(rank) + "of" + std::to_string(world) + ".err");
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    if (entry.rfind("RANK=", 0) != 0 && entry.rfind("WORLD_SIZE=", 0) != 0 && entry.rfind("MASTER_", 0) != 0)
      env_text.push_back(entry);
  }
  env_text.push_back("RANK=" + std::to_string(rank));
  env_text.push_back("WORLD_SIZE=" + std::to_string(world));
  env_text.push_back("MASTER_ADDR=127.0.0.1");
  env_text.push_back("MASTER_PORT=" + std::to_string(port));
  std::vector<char*> env;
  for (auto& e : env_text)
    env.push_back(e.data());
  env.push_back(nullptr);
  std::vector<std::string> args_text{TAILOR_RANK_HELPER, p.out.string(), std::to_string(steps)};
  if (die_after >= 0)
    args_text.push_back(std::to_string(die_after));
  std::vector<char*> args;
  for (auto& a : args_text)
    args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, p.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(posix_spawn(&p.pid, TAILOR_RANK_HELPER, &actions, nullptr, args.data(), env.data()) == 0);
  posix_spawn_file_actions_destroy(&actions);
  return p;
}

int wait_exit(const rank_process& p) {
  int status = 0;
  REQUIRE(::waitpid(p.pid, &status, 0) == p.pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct run_record {
  std::vector<double> losses, grad_norms, weights;
};

run_record read_record(const std::filesystem::path& path) {
  run_record r;
  std::ifstream in(path);
  std::string kind;
  while (in >> kind) {
    double value = 0;
    in >> value;
    if (kind == "loss") {
      r.losses.push_back(value);
      double norm = 0;
      in >> norm;
      r.grad_norms.push_back(norm);
    } else {
      r.weights.push_back(value);
    }
  }
  return r;
}

std::filesystem::path scratch_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("tailor_distributed_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

} // namespace

TEST_CASE("two Gloo ranks train as one process with the same global batch", "[distributed]") {
  const auto dir = scratch_dir("equivalence");
  constexpr int steps = 20;
  auto single = spawn_rank(dir, 0, 1, free_port(), steps);
  REQUIRE(wait_exit(single) == 0);
  const auto port = free_port();
  auto r0 = spawn_rank(dir, 0, 2, port, steps);
  auto r1 = spawn_rank(dir, 1, 2, port, steps);
  const int rc0 = wait_exit(r0), rc1 = wait_exit(r1);
  INFO(read_all(r0.err) << read_all(r1.err));
  REQUIRE(rc0 == 0);
  REQUIRE(rc1 == 0);

  const auto one = read_record(single.out), a = read_record(r0.out), b = read_record(r1.out);
  REQUIRE(one.losses.size() == steps);
  REQUIRE(a.losses.size() == steps);
  REQUIRE(b.losses.size() == steps);
  for (int i = 0; i < steps; ++i) {
    INFO("step " << i + 1);
    CHECK(a.losses[i] == Approx(one.losses[i]).epsilon(1e-5));
    CHECK(a.grad_norms[i] == Approx(one.grad_norms[i]).epsilon(1e-4));
    CHECK(b.losses[i] == a.losses[i]); // both ranks report the reduced loss
  }
  CHECK(one.losses.back() < 0.8 * one.losses.front()); // it did learn, so the comparison means something
  REQUIRE(a.weights.size() == one.weights.size());
  REQUIRE(b.weights.size() == one.weights.size());
  double worst = 0;
  for (std::size_t j = 0; j < one.weights.size(); ++j) {
    worst = std::max(worst, std::abs(a.weights[j] - one.weights[j]));
    REQUIRE(b.weights[j] == a.weights[j]); // the ranks stay identical without broadcasting weights
  }
  CHECK(worst < 1e-4);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a rank that dies fails the other with a message naming it", "[distributed]") {
  const auto dir = scratch_dir("death");
  const auto port = free_port();
  auto r0 = spawn_rank(dir, 0, 2, port, 10);
  auto r1 = spawn_rank(dir, 1, 2, port, 10, 2);
  CHECK(wait_exit(r1) == 9);
  const int rc0 = wait_exit(r0);
  const auto said = read_all(r0.err);
  INFO(said);
  CHECK(rc0 == 7);
  CHECK(said.find("training step 3") != std::string::npos);
  CHECK(said.find("rank 0 of 2") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a bad rendezvous is refused with a clear error", "[distributed]") {
  gpu::rendezvous where;
  where.world_size = 2;
  where.rank = 2;
  auto checked = gpu::check_rendezvous(where);
  REQUIRE_FALSE(checked);
  CHECK(checked.error().message.find("RANK 2 is outside WORLD_SIZE 2") != std::string::npos);
  where.world_size = 0;
  where.rank = 0;
  REQUIRE_FALSE(gpu::check_rendezvous(where));
  CHECK_FALSE(gpu::process_group::create(where));

  SECTION("an unreachable master times out naming the address") {
    gpu::rendezvous follower;
    follower.world_size = 2;
    follower.rank = 1;
    follower.master_port = free_port();
    follower.timeout = std::chrono::milliseconds(1500);
    auto group = gpu::process_group::create(follower);
    REQUIRE_FALSE(group);
    CHECK(group.error().message.find("cannot meet the other ranks at 127.0.0.1:") != std::string::npos);
  }
  SECTION("bad environment values") {
    ::setenv("WORLD_SIZE", "two", 1);
    auto parsed = gpu::rendezvous_from_environment();
    ::unsetenv("WORLD_SIZE");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().message.find("WORLD_SIZE must be an integer") != std::string::npos);
  }
}
