// The daemon's views for the dashboard and `tailor compare --server`, over loopback with simulated runs: a
// run's mistakes (with fixed or not) and evaluations, and compares grouped by the labels their runs carry.
#include "daemon_test_support.hpp"

#include <catch2/catch.hpp>
#include <fstream>

using namespace tailor;
using namespace tailor::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const json three_rounds = {{"rounds", 3}, {"steps_per_round", 3}};

} // namespace

TEST_CASE("a run's mistakes: every round or one, each fixed or not by the next exam", "[daemon][views]") {
  temp_dir dir;
  test_daemon daemon(dir.path, 1ms);
  daemon.start();
  const std::string id = daemon.submit(three_rounds);
  REQUIRE(eventually([&] { return daemon.phase(id) == "finished"; }));

  const auto all = daemon.call("GET", "/v1/runs/" + id + "/mistakes");
  REQUIRE(all.status == 200);
  const json body = all.json();
  CHECK(body["rounds"] == json::array({2, 3}));
  REQUIRE(body["mistakes"].size() == 8); // the simulated run's four a round, rounds 2 and 3
  const json& first = body["mistakes"][0];
  CHECK(first["round"] == 2);
  CHECK(first["example_id"] == "train-1");
  CHECK(first["task"] == "arith");
  CHECK_THAT(first["feedback"].get<std::string>(), Catch::Contains("multiplied wrong"));
  CHECK_FALSE(first["corrected_rationale"].get<std::string>().empty());
  CHECK(first["fixed"] == true); // round 3's exam: train-1 right 4 times of 4
  CHECK(first["fixed_in_round"] == 3);
  CHECK(body["mistakes"][1]["fixed"] == false); // train-2: 2 of 4
  CHECK(body["mistakes"][4]["fixed"] == nullptr); // round 3's: no later exam

  const auto round_three = daemon.call("GET", "/v1/runs/" + id + "/mistakes?round=3").json();
  CHECK(round_three["mistakes"].size() == 4);
  CHECK(daemon.call("GET", "/v1/runs/" + id + "/mistakes?round=9").json()["mistakes"].empty());

  for (const char* bad : {"0", "two", "-1", ""}) {
    const auto refused = daemon.call("GET", "/v1/runs/" + id + "/mistakes?round=" + bad);
    CHECK(refused.status == 400);
    CHECK_THAT(refused.error_message(), Catch::Contains("round must be a round number"));
  }
  const auto unknown = daemon.call("GET", "/v1/runs/no-such-run/mistakes");
  CHECK(unknown.status == 404);
  CHECK_THAT(unknown.error_message(), Catch::Contains("no run with id `no-such-run`"));
  CHECK(daemon.call("GET", "/v1/runs/" + id + "/nothing").status == 400); // not a run id
  CHECK(daemon.call("POST", "/v1/runs/" + id + "/mistakes").status == 405);

  const auto evaluations = daemon.call("GET", "/v1/runs/" + id + "/evaluations?round=1");
  REQUIRE(evaluations.status == 200);
  REQUIRE(evaluations.json()["rounds"].size() == 1);
  CHECK(evaluations.json()["rounds"][0]["records"].size() == 20);
  CHECK(daemon.call("GET", "/v1/runs/" + id + "/evaluations").json()["rounds"].size() == 3);
  CHECK(daemon.call("GET", "/v1/runs/no-such-run/evaluations").status == 404);
}

TEST_CASE("a run's bad mistake file is a 500 that names the line", "[daemon][views]") {
  temp_dir dir;
  test_daemon daemon(dir.path, 1ms);
  daemon.start();
  const std::string id = daemon.submit(three_rounds);
  REQUIRE(eventually([&] { return daemon.phase(id) == "finished"; }));
  std::ofstream{dir.path / "runs" / id / "mistakes" / "round_2.jsonl", std::ios::app} << "[1]\n{}\n";
  const auto broken = daemon.call("GET", "/v1/runs/" + id + "/mistakes");
  CHECK(broken.status == 500);
  CHECK_THAT(broken.error_message(), Catch::Contains("round_2.jsonl:5:"));
}

TEST_CASE("compares: runs grouped by their compare, arm and seed labels", "[daemon][views]") {
  temp_dir dir;
  test_daemon daemon(dir.path, 1ms);
  daemon.start();
  CHECK(daemon.call("GET", "/v1/compares").json()["compares"].empty());
  std::vector<std::string> ids;
  for (const char* arm : {"tailored", "random"})
    for (const char* seed : {"1", "2"}) {
      json config = three_rounds;
      config["seed"] = std::stoi(seed);
      if (std::string(arm) == "random")
        config["strategy"] = "random";
      const std::string id = std::string("cmp-") + arm + "-seed" + seed;
      ids.push_back(daemon.submit(config, "?id=" + id + "&compare=cmp&arm=" + arm + "&seed=" + seed));
    }
  daemon.submit(three_rounds); // a run of no compare
  for (const auto& id : ids)
    REQUIRE(eventually([&] { return daemon.phase(id) == "finished"; }));

  const json list = daemon.call("GET", "/v1/compares").json();
  REQUIRE(list["compares"].size() == 1);
  CHECK(list["compares"][0]["name"] == "cmp");
  CHECK(list["compares"][0]["arms"] == json::array({"random", "tailored"}));
  CHECK(list["compares"][0]["seeds"] == json::array({"1", "2"}));
  CHECK(list["compares"][0]["runs"] == 4);
  CHECK(list["compares"][0]["finished"] == 4);

  const auto detail = daemon.call("GET", "/v1/compares/cmp");
  REQUIRE(detail.status == 200);
  const json compare = detail.json();
  const json& tailored_seed2 = compare["arms"]["tailored"]["2"];
  CHECK(tailored_seed2["run_id"] == "cmp-tailored-seed2");
  CHECK(tailored_seed2["phase"] == "finished");
  REQUIRE(tailored_seed2["rounds"].size() == 3);
  CHECK(tailored_seed2["rounds"][2]["accuracy"].get<double>() >
        compare["arms"]["random"]["2"]["rounds"][2]["accuracy"].get<double>());
  CHECK(tailored_seed2["rounds"][0]["teacher_tokens"].get<std::uint64_t>() > 0);
  // Labels survive a restart of the daemon: they are part of the run's state on disk.
  daemon.stop();
  test_daemon again(dir.path, 1ms);
  again.start();
  CHECK(again.call("GET", "/v1/compares").json()["compares"][0]["runs"] == 4);

  CHECK(again.call("GET", "/v1/compares/nope").status == 404);
  CHECK(again.call("GET", "/v1/compares/..").status == 400);
  CHECK(again.call("POST", "/v1/compares").status == 405);
  const auto bad_label = again.call("POST", "/v1/runs?compare=a/b", three_rounds.dump());
  CHECK(bad_label.status == 400);
  CHECK_THAT(bad_label.error_message(), Catch::Contains("invalid compare label"));
}
