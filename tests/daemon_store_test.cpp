// The daemon's building blocks without sockets: run ids, the run store's files, the bounded event queue.
#include "daemon_test_support.hpp"
#include "io/api/api_request.hpp"
#include "io/api/event_queue.hpp"
#include "io/store/run_store.hpp"

#include <catch2/catch.hpp>
#include <fstream>

using namespace tailor;
using tailor::testing::temp_dir;

TEST_CASE("run ids are one safe path component", "[daemon][store]") {
  for (const char* good : {"a", "run-1", "20250101-120000-ab12", "My_Run.v2", "x..y"})
    CHECK(is_valid_run_id(good));
  for (const char* bad :
       {"", "..", ".", ".hidden", "-flag", "a/b", "../etc", "a\\b", "a b", "%2e%2e", "é", "run\n", "/abs"})
    CHECK_FALSE(is_valid_run_id(bad));
  CHECK(is_valid_run_id(std::string(64, 'a')));
  CHECK_FALSE(is_valid_run_id(std::string(65, 'a')));
  CHECK_FALSE(is_valid_run_id(std::string("a\0b", 3)));
  CHECK(is_valid_run_id(make_run_id()));
  CHECK(make_run_id() != make_run_id());
}

TEST_CASE("the run store keeps records whole and refuses taken ids", "[daemon][store]") {
  temp_dir dir;
  auto store = run_store::open(dir.path / "data");
  REQUIRE(store);
  run_record record;
  record.id = "r1";
  record.created_ms = 1000;
  record.base_dir = "/somewhere";
  progress_event event;
  event.run_id = "r1";
  event.phase = run_phase::training;
  event.round = 2;
  event.step = 17;
  event.accuracy = 0.5;
  event.message = "half way";
  record.last_event = event;
  record.phase = run_phase::training;
  REQUIRE(store->create(record, {{"rounds", 3}}));

  auto loaded = store->load("r1");
  REQUIRE(loaded);
  CHECK(loaded->phase == run_phase::training);
  CHECK(loaded->base_dir == "/somewhere");
  REQUIRE(loaded->last_event);
  CHECK(*loaded->last_event == event);
  CHECK(store->load_config("r1").value() == nlohmann::json{{"rounds", 3}});
  CHECK_FALSE(store->load_results("r1"));

  const auto again = store->create(record, {});
  REQUIRE_FALSE(again);
  CHECK_THAT(again.error().message, Catch::Contains("already exists"));

  record.phase = run_phase::finished;
  record.cancel_requested = true;
  REQUIRE(store->save(record));
  CHECK(store->load("r1")->phase == run_phase::finished);
  CHECK(store->load("r1")->cancel_requested);
  // No temporary file is left beside the state.
  CHECK_FALSE(std::filesystem::exists(store->run_dir("r1") / "state.json.tmp"));

  // Only directories named like run ids are runs.
  std::filesystem::create_directories(dir.path / "data" / "runs" / ".hidden");
  std::filesystem::create_directories(dir.path / "data" / "runs" / "a b");
  std::ofstream(dir.path / "data" / "runs" / "file-not-dir") << "x";
  CHECK(store->list_ids() == std::vector<std::string>{"r1"});

  run_record bad = record;
  bad.id = "../escape";
  CHECK_FALSE(store->create(bad, {}));
  CHECK_FALSE(std::filesystem::exists(dir.path / "data" / "escape"));
}

TEST_CASE("a data dir that cannot be written is a problem", "[daemon][store]") {
  temp_dir dir;
  std::ofstream(dir.path / "plain-file") << "x";
  const auto store = run_store::open(dir.path / "plain-file");
  REQUIRE_FALSE(store);
  CHECK_THAT(store.error().message, Catch::Contains("plain-file"));
}

TEST_CASE("an event queue drops the oldest and says how many", "[daemon][queue]") {
  event_queue queue(3);
  int wakeups = 0;
  queue.set_wakeup([&] { ++wakeups; });
  const auto text = [](int i) { return std::make_shared<const std::string>(std::to_string(i)); };

  queue.push(text(1));
  CHECK(wakeups == 1);
  queue.push(text(2)); // the consumer was woken and has not drained yet: no second wakeup
  CHECK(wakeups == 1);
  CHECK(*queue.pop() == "1");
  CHECK(*queue.pop() == "2");
  CHECK(queue.pop() == nullptr);
  queue.push(text(3)); // the consumer waits again
  CHECK(wakeups == 2);
  CHECK(*queue.pop() == "3");
  CHECK(queue.pop() == nullptr);

  for (int i = 10; i < 20; ++i)
    queue.push(text(i));
  CHECK(queue.dropped_total() == 7);
  CHECK(*queue.pop() == R"({"type":"dropped","count":7})");
  CHECK(*queue.pop() == "17");
  CHECK(*queue.pop() == "18");
  CHECK(*queue.pop() == "19");
  CHECK(queue.pop() == nullptr);

  queue.close();
  queue.push(text(99));
  CHECK(queue.closed());
  CHECK(queue.pop() == nullptr);
}

TEST_CASE("query strings, tokens and the dashboard's file table", "[daemon][request]") {
  using namespace tailor::api_http;
  const auto query = parse_query("id=my-run&base_dir=%2Fhome%2Fme%20too&flag&access_token=a+b");
  CHECK(query.at("id") == "my-run");
  CHECK(query.at("base_dir") == "/home/me too");
  CHECK(query.at("flag").empty());
  CHECK(query.at("access_token") == "a b");
  CHECK(percent_decode("%zz%4") == "%zz%4"); // malformed escapes stay as they are
  CHECK(same_secret("secret-token", "secret-token"));
  CHECK_FALSE(same_secret("secret-token", "secret-tokeN"));
  CHECK_FALSE(same_secret("secret", "secret-token"));
  REQUIRE(find_static_file("/") != nullptr);
  CHECK(find_static_file("/")->name == "index.html");
  CHECK(find_static_file("/../etc/passwd") == nullptr);
  CHECK(find_static_file("/chart.js")->name.empty());
}
