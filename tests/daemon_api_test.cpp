// The daemon's HTTP API end to end over loopback, with simulated runs: happy paths, every error status,
// cancel, concurrent runs and the bearer token.
#include "daemon_test_support.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <mutex>
#include <vector>

using namespace tailor;
using namespace tailor::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const json small_run = {{"rounds", 2}, {"steps_per_round", 5}};

std::string error_of(const api_response& response) {
  return response.error_message();
}

} // namespace

TEST_CASE("a submitted run is listed, progresses, finishes and has results", "[daemon][api]") {
  temp_dir dir;
  test_daemon daemon(dir.path);
  daemon.start();

  const auto submitted = daemon.call("POST", "/v1/runs", small_run.dump());
  REQUIRE(submitted.status == 201);
  const std::string id = submitted.json()["id"];
  CHECK(is_valid_run_id(id));
  CHECK(std::filesystem::exists(dir.path / "runs" / id / "submitted.json"));

  const auto listed = daemon.call("GET", "/v1/runs").json();
  REQUIRE(listed["runs"].size() == 1);
  CHECK(listed["runs"][0]["id"] == id);

  REQUIRE(eventually([&] { return daemon.phase(id) == "finished"; }));
  const json run = daemon.run(id);
  CHECK(run["progress"]["round"] == 2);
  CHECK(run["progress"]["accuracy"].get<double>() > 0);
  REQUIRE(run["results"].is_object());
  CHECK(run["results"]["finished"] == true);
  CHECK(run["results"]["rounds"].size() == 2);
  // The state on disk says the same, soon (it is written off the events' path).
  auto store = run_store::open(dir.path);
  CHECK(eventually([&] { return store->load(id)->phase == run_phase::finished; }));

  const auto metrics = daemon.call("GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK_THAT(metrics.body, Catch::Contains("tailor_runs{phase=\"finished\"} 1"));
  CHECK_THAT(metrics.body, Catch::Contains("tailor_run_teacher_tokens_total{run=\"" + id + "\"}"));
  CHECK_THAT(metrics.body, Catch::Contains("tailord_http_requests_total"));
}

TEST_CASE("a submitted run trains the steps its config asks for, round 1 its own", "[daemon][api]") {
  temp_dir dir;
  test_daemon daemon(dir.path, 1ms);
  daemon.start();
  const std::string id = daemon.submit({{"rounds", 3}, {"steps_per_round", 4}, {"first_round_steps", 7}});
  REQUIRE(eventually([&] { return daemon.phase(id) == "finished"; }));
  const json rounds = daemon.run(id)["results"]["rounds"];
  REQUIRE(rounds.size() == 3);
  CHECK(rounds[0]["steps"] == 7);
  CHECK(rounds[1]["steps"] == 4);
  CHECK(rounds[2]["steps"] == 4);
}

TEST_CASE("a chosen run id is used once", "[daemon][api]") {
  temp_dir dir;
  test_daemon daemon(dir.path);
  daemon.start();
  CHECK(daemon.submit(small_run, "?id=my-run") == "my-run");
  const auto taken = daemon.call("POST", "/v1/runs?id=my-run", small_run.dump());
  CHECK(taken.status == 409);
  CHECK_THAT(error_of(taken), Catch::Contains("already exists"));
  const auto bad = daemon.call("POST", "/v1/runs?id=../../etc", small_run.dump());
  CHECK(bad.status == 400);
  CHECK_THAT(error_of(bad), Catch::Contains("invalid run id"));
}

TEST_CASE("bad requests get JSON errors with the right status", "[daemon][api]") {
  temp_dir dir;
  test_daemon daemon(dir.path);
  daemon.options.server.max_body_bytes = 4096;
  daemon.start();

  SECTION("400: not JSON, not an object, an invalid config with its path") {
    const auto not_json = daemon.call("POST", "/v1/runs", "{\"rounds\": ");
    CHECK(not_json.status == 400);
    CHECK_THAT(error_of(not_json), Catch::Contains("not valid JSON"));
    CHECK(not_json.json()["error"]["status"] == 400);

    CHECK(daemon.call("POST", "/v1/runs", "[1, 2]").status == 400);

    const auto invalid = daemon.call("POST", "/v1/runs", R"({"rounds": "three", "exam": {"smaples": 4}})");
    CHECK(invalid.status == 400);
    CHECK_THAT(error_of(invalid), Catch::Contains("rounds"));
    const json problems = invalid.json()["error"]["problems"];
    REQUIRE(problems.size() == 2);
    CHECK(problems[0]["path"] == "rounds");
    CHECK(problems[1]["path"] == "exam.smaples");
    CHECK_THAT(problems[1]["message"].get<std::string>(), Catch::Contains("samples"));
    // Nothing was created for a refused config.
    CHECK(daemon.call("GET", "/v1/runs").json()["runs"].empty());
  }
  SECTION("400: run ids that try to leave runs/") {
    for (const char* target : {"/v1/runs/..", "/v1/runs/.hidden", "/v1/runs/a%2F..%2F..", "/v1/runs/a/b",
                               "/v1/runs/..%2Fevents"}) {
      const auto response = daemon.call("GET", target);
      INFO(target);
      CHECK(response.status == 400);
      CHECK_THAT(error_of(response), Catch::Contains("invalid run id"));
    }
  }
  SECTION("404: unknown runs and routes") {
    CHECK(daemon.call("GET", "/v1/runs/nope").status == 404);
    CHECK(daemon.call("DELETE", "/v1/runs/nope").status == 404);
    const auto route = daemon.call("GET", "/v2/whatever");
    CHECK(route.status == 404);
    CHECK_THAT(error_of(route), Catch::Contains("/v1/runs"));
  }
  SECTION("405 and 426") {
    const auto method = daemon.call("PUT", "/v1/runs");
    CHECK(method.status == 405);
    CHECK(daemon.call("POST", "/v1/runs/some-id").status == 405);
    const auto not_upgraded = daemon.call("GET", "/v1/events");
    CHECK(not_upgraded.status == 426);
  }
  SECTION("409: cancelling a run that has ended") {
    const std::string id = daemon.submit(small_run);
    REQUIRE(eventually([&] { return daemon.phase(id) == "finished"; }));
    const auto late = daemon.call("DELETE", "/v1/runs/" + id);
    CHECK(late.status == 409);
    CHECK_THAT(error_of(late), Catch::Contains("already ended"));
  }
  SECTION("413: a body over the limit") {
    json big = small_run;
    big["prompts"] = {{"demos", std::string(8000, 'x')}};
    const auto response = daemon.call("POST", "/v1/runs", big.dump());
    CHECK(response.status == 413);
    CHECK_THAT(error_of(response), Catch::Contains("4096 bytes"));
  }
}

TEST_CASE("a cancelled run stops cleanly and stays cancelled", "[daemon][api]") {
  temp_dir dir;
  test_daemon daemon(dir.path, 5ms);
  daemon.start();
  const std::string id = daemon.submit({{"rounds", 3}, {"steps_per_round", 10000}});
  REQUIRE(eventually([&] { return daemon.phase(id) == "training"; }));
  const auto cancelled = daemon.call("DELETE", "/v1/runs/" + id);
  CHECK(cancelled.status == 202);
  CHECK(cancelled.json()["cancel_requested"] == true);
  REQUIRE(eventually([&] { return daemon.phase(id) == "cancelled"; }));
  const json run = daemon.run(id);
  CHECK(run["results"]["finished"] == false);
  CHECK(daemon.call("DELETE", "/v1/runs/" + id).status == 409);
}

TEST_CASE("two runs at once both progress to the end", "[daemon][api]") {
  temp_dir dir;
  test_daemon daemon(dir.path, 1ms);
  daemon.start();
  const std::string a = daemon.submit({{"rounds", 2}, {"steps_per_round", 40}});
  const std::string b = daemon.submit({{"rounds", 2}, {"steps_per_round", 40}});
  // Both are going at the same time, not one after the other.
  REQUIRE(eventually([&] { return daemon.phase(a) == "training" && daemon.phase(b) == "training"; }));
  REQUIRE(eventually([&] { return daemon.phase(a) == "finished" && daemon.phase(b) == "finished"; }));
  CHECK(daemon.run(a)["results"]["rounds"].size() == 2);
  CHECK(daemon.run(b)["results"]["rounds"].size() == 2);
}

TEST_CASE("with one device slot, two runs take turns on the device and both progress",
          "[daemon][api][devices]") {
  temp_dir dir;
  test_daemon daemon(dir.path, 5ms);
  daemon.options.device_slots = 1;
  const json config = {{"rounds", 1}, {"steps_per_round", 40}, {"device", "cpu"}};
  daemon.start();
  const auto started = std::chrono::steady_clock::now();
  const std::string a = daemon.submit(config);
  const std::string b = daemon.submit(config);
  const auto step = [&](const std::string& id) { return daemon.run(id)["progress"]["step"].get<int>(); };
  // Neither waits for the other to end: both are a quarter through while both still train.
  REQUIRE(eventually([&] { return step(a) >= 10 && step(b) >= 10; }));
  CHECK(daemon.phase(a) == "training");
  CHECK(daemon.phase(b) == "training");
  // One holds the device, the other waits for its turn.
  CHECK(eventually([&] {
    const std::string text = daemon.call("GET", "/metrics").body;
    return text.find("tailor_device_leases_active{device=\"cpu\"} 1") != std::string::npos &&
           text.find("tailor_device_leases_waiting{device=\"cpu\"} 1") != std::string::npos;
  }));
  CHECK_THAT(daemon.call("GET", "/metrics").body, Catch::Contains("tailor_device_slots{device=\"cpu\"} 1"));
  REQUIRE(eventually([&] { return daemon.phase(a) == "finished" && daemon.phase(b) == "finished"; }));
  // One step at a time: 2 runs x (40 steps + an evaluation + the end) x 5 ms, at least.
  CHECK(std::chrono::steady_clock::now() - started >= 2 * 42 * 5ms);
  CHECK(daemon.run(a)["results"]["rounds"].size() == 1);
  CHECK(daemon.run(b)["results"]["rounds"].size() == 1);
}

TEST_CASE("runs asking for GPUs are placed on the GPUs the fewest runs are on, one per rank",
          "[daemon][api][devices]") {
  temp_dir dir;
  test_daemon daemon(dir.path, 5ms);
  daemon.options.gpus = 4;
  auto placed = std::make_shared<std::vector<std::string>>(); // the devices the runs were launched with
  auto mutex = std::make_shared<std::mutex>();
  auto simulate = daemon.options.launch;
  daemon.options.launch = [=](caf::actor_system& system, run_spec spec, caf::actor listener) {
    {
      std::lock_guard hold(*mutex);
      placed->push_back(spec.config.device);
    }
    return simulate(system, std::move(spec), std::move(listener));
  };
  const auto devices = [&] {
    std::lock_guard hold(*mutex);
    return *placed;
  };
  daemon.start();
  const json long_run = {{"rounds", 1}, {"steps_per_round", 2000}, {"device", "cuda"}, {"nproc", 2}};
  const std::string a = daemon.submit(long_run);
  const std::string b = daemon.submit(long_run);
  REQUIRE(eventually([&] { return devices().size() == 2; }));
  CHECK(devices() == std::vector<std::string>{"cuda:0", "cuda:2"});
  CHECK(eventually([&] {
    const std::string text = daemon.call("GET", "/metrics").body;
    return text.find("tailor_device_runs_placed{device=\"cuda:1\"} 1\n") != std::string::npos &&
           text.find("tailor_device_runs_placed{device=\"cuda:3\"} 1\n") != std::string::npos;
  }));
  // A named GPU is kept; the CPU too.
  const std::string c = daemon.submit({{"rounds", 1}, {"steps_per_round", 2}, {"device", "cuda:3"}});
  const std::string d = daemon.submit({{"rounds", 1}, {"steps_per_round", 2}, {"device", "cpu"}, {"nproc", 2}});
  REQUIRE(eventually([&] { return devices().size() == 4; }));
  CHECK(devices()[2] == "cuda:3");
  CHECK(devices()[3] == "cpu");
  // Once a ends, its GPUs are the least busy again.
  REQUIRE(daemon.call("DELETE", "/v1/runs/" + a).status == 202);
  REQUIRE(eventually([&] { return daemon.phase(a) == "cancelled"; }));
  const std::string e = daemon.submit({{"rounds", 1}, {"steps_per_round", 2}, {"device", "auto"}, {"nproc", 2}});
  REQUIRE(eventually([&] { return devices().size() == 5; }));
  CHECK(devices()[4] == "cuda:0");
  REQUIRE(daemon.call("DELETE", "/v1/runs/" + b).status == 202);
  REQUIRE(eventually([&] { return daemon.phase(b) == "cancelled"; }));
}

TEST_CASE("with max_active, extra runs wait queued and start when a slot frees", "[daemon][api]") {
  temp_dir dir;
  test_daemon daemon(dir.path, 1ms);
  daemon.options.max_active_runs = 1;
  daemon.start();
  const std::string a = daemon.submit({{"rounds", 1}, {"steps_per_round", 200}});
  const std::string b = daemon.submit({{"rounds", 1}, {"steps_per_round", 5}});
  CHECK(daemon.phase(b) == "queued");
  REQUIRE(eventually([&] { return daemon.phase(b) == "finished"; }));
  CHECK(daemon.phase(a) == "finished");
  // b started only after a ended.
  CHECK(daemon.run(b)["progress"]["timestamp_ms"].get<std::int64_t>() >=
        daemon.run(a)["progress"]["timestamp_ms"].get<std::int64_t>());
}

TEST_CASE("a run that dies without a last word is marked failed", "[daemon][api]") {
  temp_dir dir;
  test_daemon daemon(dir.path);
  daemon.options.launch = [](caf::actor_system& system, run_spec, caf::actor) {
    // A spawn argument (unused) keeps CAF 0.17's argument-less spawn path, which UBSan flags, out of the
    // test.
    return system.spawn(
        [](caf::event_based_actor* self, int) { self->quit(caf::exit_reason::unhandled_exception); }, 0);
  };
  daemon.start();
  const std::string id = daemon.submit(small_run);
  REQUIRE(eventually([&] { return daemon.phase(id) == "failed"; }));
  CHECK_THAT(daemon.run(id)["progress"]["message"].get<std::string>(),
             Catch::Contains("without reporting an end"));
}

TEST_CASE("the dashboard and Chart.js are served", "[daemon][api]") {
  temp_dir dir;
  test_daemon daemon(dir.path);
  daemon.start();
  const auto page = daemon.call("GET", "/");
  CHECK(page.status == 200);
  CHECK_THAT(page.body, Catch::Contains("<html"));
  CHECK(daemon.call("GET", "/app.js").status == 200);
  CHECK(daemon.call("GET", "/style.css").status == 200);
  if (std::filesystem::exists(daemon.options.server.chart_js)) {
    const auto chart = daemon.call("GET", "/chart.js");
    CHECK(chart.status == 200);
    CHECK_THAT(chart.body, Catch::Contains("Chart"));
  }
  // The file table is fixed: no path reaches another file.
  CHECK(daemon.call("GET", "/../CMakeLists.txt").status == 404);
  CHECK(daemon.call("GET", "/index.html/../../x").status == 404);
}

TEST_CASE("with a token, every request needs it", "[daemon][api][auth]") {
  temp_dir dir;
  const std::string token = "0123456789abcdef0123456789abcdef";

  SECTION("a non-loopback bind without a token does not start") {
    test_daemon daemon(dir.path);
    daemon.options.server.host = "0.0.0.0";
    CHECK_THROWS_WITH(daemon.start(), Catch::Contains("needs a bearer token"));
  }
  SECTION("a non-loopback bind with a token answers 401 without it") {
    test_daemon daemon(dir.path);
    daemon.options.server.host = "0.0.0.0";
    daemon.options.server.token = token;
    daemon.start();
    api_endpoint anonymous = daemon.endpoint;
    anonymous.token.clear();
    for (const auto& [method, target] :
         std::vector<std::pair<std::string, std::string>>{{"GET", "/v1/runs"},
                                                          {"POST", "/v1/runs"},
                                                          {"GET", "/"},
                                                          {"GET", "/metrics"},
                                                          {"DELETE", "/v1/runs/x"}}) {
      const auto refused = api_call(anonymous, method, target, method == "POST" ? small_run.dump() : "");
      REQUIRE(refused);
      INFO(method << " " << target);
      CHECK(refused->status == 401);
      CHECK_THAT(refused->error_message(), Catch::Contains("Bearer"));
    }
    api_endpoint wrong = daemon.endpoint;
    wrong.token = std::string(token.size(), 'x');
    CHECK(api_call(wrong, "GET", "/v1/runs")->status == 401);
    CHECK(api_call(anonymous, "GET", "/v1/runs?access_token=" + token)->status == 200);
    CHECK(daemon.call("GET", "/v1/runs").status == 200);
    CHECK(daemon.submit(small_run).size() > 0);
    // A websocket without the token is refused before the upgrade.
    const auto watched = api_watch(anonymous, "/v1/events", [](const std::string&) { return false; });
    REQUIRE_FALSE(watched);
    CHECK_THAT(watched.error().message, Catch::Contains("token"));
    CHECK(api_watch(daemon.endpoint, "/v1/events", [](const std::string&) { return false; }));
  }
}
