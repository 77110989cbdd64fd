// The teacher cache: keys, the SQLite file shared by objects and processes, and the caching backend in
// front of the real client, which must never pay twice for an answer.
#include "io/teacher/caching_teacher.hpp"
#include "io/teacher/teacher_cache.hpp"
#include "tests/teacher_test_support.hpp"

#include <algorithm>
#include <fstream>
#include <sqlite3.h>
#include <sys/wait.h>
#include <thread>

using namespace tailor;
using namespace tailor::testing;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<teacher_cache> open_cache(const std::filesystem::path& file) {
  auto cache = teacher_cache::open(file);
  INFO((cache ? std::string{} : cache.error().message));
  REQUIRE(cache);
  return std::shared_ptr<teacher_cache>(std::move(cache).value());
}

result<chat_response> ask_once(teacher_backend& backend, chat_request request) {
  outcomes got;
  backend.complete(std::move(request), got.callback());
  REQUIRE(got.wait_for(1));
  return std::move(got.take().front());
}

cache_entry entry(std::string key, std::string text) {
  return {std::move(key), {"m", std::move(text), {3, 4}, 0.5}};
}

// Client + cache in front of a loopback echo server, as a run would stack them.
struct cached_stack {
  explicit cached_stack(const std::filesystem::path& file, teacher_server_options server_options = {})
      : server(start_server(teacher, std::move(server_options))), client(make_client(local_options(*server))),
        cached(std::make_unique<caching_teacher>(*client, open_cache(file),
                                                 caching_teacher_options{"echo-model", {1.0, 2.0}})) {}

  echo_teacher teacher;
  std::unique_ptr<teacher_server> server;
  std::unique_ptr<openai_client> client;
  std::unique_ptr<caching_teacher> cached;
};

} // namespace

TEST_CASE("cache keys change with everything that changes the answer, and only with that",
          "[teacher_cache]") {
  const chat_request base = ask("What is 6 * 7?", 1);
  const std::string key = teacher_cache_key(base, "m", 0);
  CHECK(key.size() == 64);
  CHECK(key == teacher_cache_key(base, "m", 0));

  chat_request more_samples = base;
  more_samples.n = 4;
  CHECK(teacher_cache_key(more_samples, "m", 0) == key);

  std::vector<chat_request> variants(6, base);
  variants[0].messages.back().content += " ";
  variants[1].messages.front().role = "user";
  variants[2].temperature = 0.0;
  variants[3].top_p = 0.5;
  variants[4].max_tokens = 7;
  variants[5].stop = {"\n"};
  for (const auto& variant : variants)
    CHECK(teacher_cache_key(variant, "m", 0) != key);
  CHECK(teacher_cache_key(base, "other-model", 0) != key);
  CHECK(teacher_cache_key(base, "m", 1) != key);
}

TEST_CASE("the cache file stores answers, keeps the first one per key, and counts hits", "[teacher_cache]") {
  temporary_folder folder;
  const auto file = folder.path() / "nested" / "cache.sqlite";
  auto cache = open_cache(file);
  const std::vector<cache_entry> first = {entry("a", "alpha"), entry("b", "beta")};
  REQUIRE(cache->store(first));
  const std::vector<cache_entry> again = {entry("a", "changed")};
  REQUIRE(cache->store(again, {2, {6, 8}, 1.0}));

  const std::vector<std::string> keys = {"b", "missing", "a"};
  auto found = cache->lookup(keys);
  REQUIRE(found);
  REQUIRE(found->size() == 3);
  REQUIRE((*found)[0]);
  CHECK((*found)[0]->text == "beta");
  CHECK((*found)[0]->usage == chat_usage{3, 4});
  CHECK_FALSE((*found)[1]);
  CHECK((*found)[2]->text == "alpha");

  auto stats = cache->stats();
  REQUIRE(stats);
  CHECK(stats->entries == 2);
  CHECK(stats->stored == chat_usage{6, 8});
  CHECK(stats->stored_usd == Approx(1.0));
  CHECK(stats->hits == 2);
  CHECK(stats->saved == chat_usage{6, 8});
  CHECK(stats->saved_usd == Approx(1.0));

  // WAL is what lets other processes read while one writes.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* query = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &query, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(query) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(query, 0))) == "wal");
  sqlite3_finalize(query);
  sqlite3_close(db);
}

TEST_CASE("an unusable cache path is a clear error", "[teacher_cache]") {
  temporary_folder folder;
  const auto blocker = folder.path() / "file";
  std::ofstream(blocker) << "not a folder";
  auto cache = teacher_cache::open(blocker / "cache.sqlite");
  REQUIRE_FALSE(cache);
  CHECK_THAT(cache.error().message, Catch::Contains("teacher cache") && Catch::Contains("cannot open"));
}

TEST_CASE("two processes write one cache file at the same time", "[teacher_cache]") {
  temporary_folder folder;
  const auto file = folder.path() / "shared.sqlite";
  open_cache(file); // creates the schema before the race

  const auto write_many = [&](const std::string& prefix) {
    auto cache = teacher_cache::open(file);
    if (!cache)
      return false;
    for (int i = 0; i < 100; ++i) {
      const std::vector<cache_entry> one = {entry(prefix + std::to_string(i), "text")};
      if (!(*cache)->store(one, {1, {1, 1}, 0.0}))
        return false;
    }
    return true;
  };
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0)
    ::_exit(write_many("child-") ? 0 : 1);
  const bool parent_ok = write_many("parent-");
  int child_status = 0;
  REQUIRE(::waitpid(child, &child_status, 0) == child);
  CHECK(parent_ok);
  CHECK(WIFEXITED(child_status));
  CHECK(WEXITSTATUS(child_status) == 0);

  auto stats = open_cache(file)->stats();
  REQUIRE(stats);
  CHECK(stats->entries == 200);
  CHECK(stats->hits == 200);
}

TEST_CASE("a cache hit makes no HTTP request and pays nothing", "[teacher_cache]") {
  temporary_folder folder;
  cached_stack stack(folder.path() / "cache.sqlite");

  auto first = ask_once(*stack.cached, ask("What is 6 * 7?", 2));
  REQUIRE(first);
  CHECK(first->usage == chat_usage{10, 10});
  CHECK(stack.server->stats().requests == 1);

  auto second = ask_once(*stack.cached, ask("What is 6 * 7?", 2));
  REQUIRE(second);
  CHECK(second->choices == first->choices);
  CHECK(second->usage == chat_usage{});
  CHECK(stack.server->stats().requests == 1);

  const auto stats = stack.cached->stats();
  CHECK(stats.hits == 2);
  CHECK(stats.misses == 2);
  CHECK(stats.saved == chat_usage{10, 10});
  CHECK(stats.saved_usd == Approx((10 * 1.0 + 10 * 2.0) / 1e6));
  auto on_disk = stack.cached->cache().stats();
  REQUIRE(on_disk);
  CHECK(on_disk->hits == 2);
  CHECK(on_disk->entries == 2);
}

TEST_CASE("only missing samples are requested, as one request", "[teacher_cache]") {
  temporary_folder folder;
  cached_stack stack(folder.path() / "cache.sqlite");
  auto two = ask_once(*stack.cached, ask("Name a prime.", 2));
  REQUIRE(two);
  auto five = ask_once(*stack.cached, ask("Name a prime.", 5));
  REQUIRE(five);
  REQUIRE(five->choices.size() == 5);
  CHECK(five->choices[0] == two->choices[0]);
  CHECK(five->choices[1] == two->choices[1]);
  CHECK(stack.server->stats().requests == 2);
  CHECK(stack.teacher.last_n == 3);
  CHECK(stack.teacher.samples == 5);
  CHECK(five->usage == chat_usage{10, 15});
}

TEST_CASE("an endpoint that ignores n is asked again for the samples it left out", "[teacher_cache]") {
  temporary_folder folder;
  cached_stack stack(folder.path() / "cache.sqlite");
  stack.teacher.max_choices = 1;
  auto answer = ask_once(*stack.cached, ask("Count to three.", 3));
  REQUIRE(answer);
  CHECK(answer->choices.size() == 3);
  CHECK(stack.server->stats().requests == 3);
  auto again = ask_once(*stack.cached, ask("Count to three.", 3));
  REQUIRE(again);
  CHECK(again->choices == answer->choices);
  CHECK(stack.server->stats().requests == 3);
}

TEST_CASE("identical requests at the same time are paid for once", "[teacher_cache]") {
  temporary_folder folder;
  teacher_server_options server_options;
  server_options.latency_ms = 200;
  cached_stack stack(folder.path() / "cache.sqlite", server_options);
  outcomes got;
  for (int i = 0; i < 5; ++i)
    stack.cached->complete(ask("What is 12 * 12?", 2), got.callback());
  REQUIRE(got.wait_for(5));
  auto answers = got.take();
  int paid = 0;
  for (const auto& answer : answers) {
    REQUIRE(answer);
    CHECK(answer->choices == answers.front()->choices);
    paid += answer->usage == chat_usage{} ? 0 : 1;
  }
  CHECK(paid == 1);
  CHECK(stack.server->stats().requests == 1);
}

TEST_CASE("a failure reaches every request that waited for the same answer", "[teacher_cache]") {
  temporary_folder folder;
  teacher_server_options server_options;
  server_options.latency_ms = 200;
  teacher_fault refused;
  refused.what = teacher_fault::kind::bad_request;
  server_options.scripted_faults = {refused};
  cached_stack stack(folder.path() / "cache.sqlite", server_options);
  outcomes got;
  for (int i = 0; i < 3; ++i)
    stack.cached->complete(ask("What is 0 / 0?"), got.callback());
  REQUIRE(got.wait_for(3));
  for (const auto& outcome : got.take()) {
    REQUIRE_FALSE(outcome);
    CHECK_THAT(outcome.error().message, Catch::Contains("HTTP 400"));
  }
  CHECK(stack.server->stats().requests == 1);
}

TEST_CASE("every new answer is in the file before the callback sees it", "[teacher_cache]") {
  temporary_folder folder;
  const auto file = folder.path() / "cache.sqlite";
  cached_stack stack(file);
  auto observer = open_cache(file);
  const chat_request request = ask("Is 91 prime?", 2);
  std::vector<std::string> keys = {teacher_cache_key(request, "echo-model", 0),
                                   teacher_cache_key(request, "echo-model", 1)};
  outcomes got;
  std::atomic<int> found_in_callback{-1};
  stack.cached->complete(request, [&](result<chat_response> outcome) {
    auto found = observer->lookup(keys);
    found_in_callback = found
                            ? static_cast<int>(std::count_if(found->begin(), found->end(),
                                                             [](const auto& hit) { return hit.has_value(); }))
                            : -2;
    got.callback()(std::move(outcome));
  });
  REQUIRE(got.wait_for(1));
  CHECK(found_in_callback == 2);
}

TEST_CASE("a rerun of the same work through another cache object sends nothing", "[teacher_cache]") {
  temporary_folder folder;
  const auto file = folder.path() / "cache.sqlite";
  echo_teacher teacher;
  auto server = start_server(teacher);
  auto client = make_client(local_options(*server));
  const auto run_all = [&](caching_teacher& cached) {
    outcomes got;
    for (int i = 0; i < 20; ++i)
      cached.complete(ask("question " + std::to_string(i), 2), got.callback());
    REQUIRE(got.wait_for(20));
    for (const auto& outcome : got.take())
      REQUIRE(outcome);
  };
  {
    caching_teacher first(*client, open_cache(file), {"echo-model", {}});
    run_all(first);
  }
  CHECK(server->stats().requests == 20);
  // Two live objects on one file: both see what either stored.
  caching_teacher second(*client, open_cache(file), {"echo-model", {}});
  caching_teacher third(*client, open_cache(file), {"echo-model", {}});
  run_all(second);
  run_all(third);
  CHECK(server->stats().requests == 20);
  CHECK(second.stats().hits == 40);
  CHECK(third.stats().misses == 0);
  auto fresh = ask_once(third, ask("a new question"));
  REQUIRE(fresh);
  CHECK(ask_once(second, ask("a new question")));
  CHECK(server->stats().requests == 21);
}

TEST_CASE("failures are not cached", "[teacher_cache]") {
  temporary_folder folder;
  teacher_server_options server_options;
  teacher_fault refused;
  refused.what = teacher_fault::kind::bad_request;
  server_options.scripted_faults = {refused};
  cached_stack stack(folder.path() / "cache.sqlite", server_options);
  CHECK_FALSE(ask_once(*stack.cached, ask("What is 1 + 1?")));
  CHECK(ask_once(*stack.cached, ask("What is 1 + 1?")));
  CHECK(stack.server->stats().requests == 2);
}

TEST_CASE("cancel_all reaches requests waiting on the endpoint", "[teacher_cache]") {
  temporary_folder folder;
  teacher_server_options server_options;
  server_options.latency_ms = 20000;
  cached_stack stack(folder.path() / "cache.sqlite", server_options);
  outcomes got;
  for (int i = 0; i < 5; ++i)
    stack.cached->complete(ask("slow " + std::to_string(i)), got.callback());
  std::this_thread::sleep_for(200ms);
  stack.cached->cancel_all();
  REQUIRE(got.wait_for(5, 5s));
  for (const auto& outcome : got.take()) {
    REQUIRE_FALSE(outcome);
    CHECK_THAT(outcome.error().message, Catch::Contains("cancelled"));
  }
  auto stats = stack.cached->cache().stats();
  REQUIRE(stats);
  CHECK(stats->entries == 0);
}
