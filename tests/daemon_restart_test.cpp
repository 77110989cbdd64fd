// Crash safety in-process: a daemon stopped mid-run leaves its runs unfinished on disk, and the next one
// resumes them; cancels survive restarts; half-written run directories are handled.
#include "daemon_test_support.hpp"

#include <catch2/catch.hpp>
#include <fstream>

using namespace tailor;
using namespace tailor::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("an unfinished run resumes after a restart and finishes once", "[daemon][restart]") {
  temp_dir dir;
  std::string id;
  {
    test_daemon first(dir.path, 2ms);
    first.start();
    id = first.submit({{"rounds", 4}, {"steps_per_round", 25}});
    // "progress" is null until the run's first event: a poll right after the submit may see that.
    REQUIRE(eventually([&] {
      const json progress = first.run(id)["progress"];
      return progress.is_object() && progress.value("round", 0) >= 2;
    }));
    first.stop();
  }
  auto store = run_store::open(dir.path);
  const auto left = store->load(id);
  REQUIRE(left);
  CHECK_FALSE(is_final(left->phase));

  test_daemon second(dir.path, 2ms);
  second.start();
  REQUIRE(eventually([&] { return second.phase(id) == "finished"; }));
  const json run = second.run(id);
  CHECK(run["resumed"] == 1);
  const json rounds = run["results"]["rounds"];
  REQUIRE(rounds.size() == 4);
  for (int i = 0; i < 4; ++i)
    CHECK(rounds[i]["round"] == i + 1); // each round once, in order: nothing repeated, nothing skipped
}

TEST_CASE("a cancel recorded before a crash is not undone by the restart", "[daemon][restart]") {
  temp_dir dir;
  auto store = run_store::open(dir.path);
  run_record record;
  record.id = "was-cancelled";
  record.phase = run_phase::training;
  record.cancel_requested = true;
  REQUIRE(store->create(record, {{"rounds", 1}}));

  test_daemon daemon(dir.path);
  daemon.start();
  REQUIRE(eventually([&] { return daemon.phase("was-cancelled") == "cancelled"; }));
  CHECK(eventually([&] { return store->load("was-cancelled")->phase == run_phase::cancelled; }));
}

TEST_CASE("run directories left half-written are started or skipped, never fatal", "[daemon][restart]") {
  temp_dir dir;
  const auto runs = dir.path / "runs";
  // Submitted, but no state yet: the daemon died between the two files.
  std::filesystem::create_directories(runs / "no-state");
  std::ofstream(runs / "no-state" / "submitted.json") << R"({"rounds": 1, "steps_per_round": 3})";
  // Neither file: not a run.
  std::filesystem::create_directories(runs / "empty");
  // An invalid config on disk: the run fails with the parser's message instead of stopping the daemon.
  std::filesystem::create_directories(runs / "bad-config");
  std::ofstream(runs / "bad-config" / "submitted.json") << R"({"rounds": "many"})";
  // A finished run stays finished.
  auto store = run_store::open(dir.path);
  run_record done;
  done.id = "done";
  done.phase = run_phase::finished;
  REQUIRE(store->create(done, {{"rounds", 1}}));

  test_daemon daemon(dir.path);
  daemon.start();
  REQUIRE(eventually([&] { return daemon.phase("no-state") == "finished"; }));
  REQUIRE(eventually([&] { return daemon.phase("bad-config") == "failed"; }));
  CHECK_THAT(daemon.run("bad-config")["progress"]["message"].get<std::string>(), Catch::Contains("rounds"));
  CHECK(daemon.phase("done") == "finished");
  CHECK(daemon.call("GET", "/v1/runs/empty").status == 404);
}
