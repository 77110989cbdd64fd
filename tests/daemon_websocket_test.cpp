// Progress over websockets: a run's events in order, a late subscriber starting from the current state,
// /v1/events for all runs, and a stalled client that neither slows the run nor grows without bound.
#include "daemon_test_support.hpp"

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>
#include <set>

using namespace tailor;
using namespace tailor::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Watches `target` until a final phase of `run_id` arrives (or the socket ends); returns every message.
std::vector<json> watch_until_final(const api_endpoint& endpoint, const std::string& target,
                                    const std::string& run_id) {
  std::vector<json> messages;
  const auto watched = api_watch(
      endpoint, target,
      [&](const std::string& text) {
        messages.push_back(json::parse(text));
        const json& m = messages.back();
        const json& event = m["type"] == "state" ? m["event"] : m;
        if (event.value("run_id", "") != run_id)
          return true;
        const std::string phase = event.value("phase", "");
        return phase != "finished" && phase != "failed" && phase != "cancelled";
      },
      10s);
  REQUIRE(watched);
  return messages;
}

} // namespace

TEST_CASE("a run's websocket streams its events in order, state first", "[daemon][websocket]") {
  temp_dir dir;
  test_daemon daemon(dir.path, 3ms);
  daemon.start();
  const std::string id = daemon.submit({{"rounds", 2}, {"steps_per_round", 30}});
  const auto messages = watch_until_final(daemon.endpoint, "/v1/runs/" + id + "/events", id);
  REQUIRE(messages.size() > 10);
  CHECK(messages.front()["type"] == "state");
  // The state is where the stream starts: the events after it continue from its step.
  const json& state = messages.front()["event"];
  std::uint64_t last_step = state["phase"] == "training" ? state["step"].get<std::uint64_t>() : 0;
  std::uint32_t last_round = state["phase"] == "training" ? state["round"].get<std::uint32_t>() : 0;
  std::set<std::string> phases;
  for (std::size_t i = 1; i < messages.size(); ++i) {
    const json& m = messages[i];
    REQUIRE(m["type"] == "progress");
    CHECK(m["run_id"] == id);
    phases.insert(m["phase"].get<std::string>());
    if (m["phase"] == "training") {
      const auto round = m["round"].get<std::uint32_t>();
      const auto step = m["step"].get<std::uint64_t>();
      // No event is lost or repeated: steps count up by one within a round.
      if (round == last_round)
        CHECK(step == last_step + 1);
      else
        CHECK(step == 1);
      last_round = round;
      last_step = step;
    }
  }
  CHECK(last_round == 2);
  CHECK(last_step == 30);
  CHECK(phases.count("evaluating") >= 1);
  CHECK(messages.back()["phase"] == "finished");
}

TEST_CASE("a late subscriber first gets the run's current state with its history", "[daemon][websocket]") {
  temp_dir dir;
  test_daemon daemon(dir.path, 1ms);
  daemon.start();
  const std::string id = daemon.submit({{"rounds", 2}, {"steps_per_round", 20}});
  REQUIRE(eventually([&] { return daemon.phase(id) == "finished"; }));

  json first;
  REQUIRE(api_watch(daemon.endpoint, "/v1/runs/" + id + "/events", [&](const std::string& text) {
    first = json::parse(text);
    return false;
  }));
  CHECK(first["type"] == "state");
  CHECK(first["run_id"] == id);
  CHECK(first["event"]["phase"] == "finished");
  CHECK(first["history"]["loss"].size() == 40);
  CHECK(first["history"]["accuracy"].size() == 2);
  CHECK(first["history"]["spend"].size() > 1);

  // A run that does not exist has no websocket.
  const auto missing =
      api_watch(daemon.endpoint, "/v1/runs/nope/events", [](const std::string&) { return false; });
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message, Catch::Contains("no run"));
}

TEST_CASE("/v1/events carries every run's events", "[daemon][websocket]") {
  temp_dir dir;
  test_daemon daemon(dir.path, 2ms);
  daemon.start();
  const std::string earlier = daemon.submit({{"rounds", 1}, {"steps_per_round", 2}});
  REQUIRE(eventually([&] { return daemon.phase(earlier) == "finished"; }));

  std::set<std::string> seen_state, seen_progress;
  std::atomic<bool> subscribed = false;
  std::string a, b;
  std::thread watcher([&] {
    int finished = 0;
    REQUIRE(api_watch(daemon.endpoint, "/v1/events", [&](const std::string& text) {
      const json m = json::parse(text);
      if (m["type"] == "state")
        seen_state.insert(m["run_id"].get<std::string>());
      subscribed = true;
      if (m["type"] == "progress") {
        seen_progress.insert(m["run_id"].get<std::string>());
        if (m["phase"] == "finished")
          ++finished;
      }
      return finished < 2;
    }));
  });
  REQUIRE(eventually([&] { return subscribed.load(); }));
  a = daemon.submit({{"rounds", 1}, {"steps_per_round", 10}});
  b = daemon.submit({{"rounds", 1}, {"steps_per_round", 10}});
  watcher.join();
  CHECK(seen_state.count(earlier) == 1); // the state of runs known before subscribing
  CHECK(seen_progress.count(a) == 1);
  CHECK(seen_progress.count(b) == 1);
}

TEST_CASE("a stalled client neither slows the run nor holds more than its queue", "[daemon][websocket]") {
  namespace net = boost::asio;
  namespace beast = boost::beast;
  temp_dir dir;
  test_daemon daemon(dir.path, 0us);
  daemon.options.server.client_queue = 16;
  daemon.start();
  constexpr int steps = 20000;

  // A client that completes the handshake, then reads nothing, with a tiny receive window.
  net::io_context io;
  beast::websocket::stream<net::ip::tcp::socket> stalled(io);
  stalled.next_layer().open(net::ip::tcp::v4());
  stalled.next_layer().set_option(net::socket_base::receive_buffer_size(4096));
  stalled.next_layer().connect({net::ip::make_address("127.0.0.1"), daemon.endpoint.port});
  stalled.handshake("127.0.0.1", "/v1/events");
  REQUIRE(eventually([&] { return daemon.core().server_stats().websockets == 1; }));
  const std::string id = daemon.submit({{"rounds", 1}, {"steps_per_round", steps}});

  const auto started = std::chrono::steady_clock::now();
  std::size_t events = 0;
  const auto messages = watch_until_final(daemon.endpoint, "/v1/runs/" + id + "/events", id);
  events = messages.size();
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(took < 30s);
  INFO("a reading client got " << events << " messages");

  // Now the stalled client reads: it finds drop markers, and far fewer messages than the run sent.
  std::size_t received = 0, dropped = 0;
  bool final_seen = false;
  beast::flat_buffer buffer;
  while (!final_seen) {
    stalled.read(buffer);
    const json m = json::parse(beast::buffers_to_string(buffer.data()));
    buffer.clear();
    ++received;
    if (m["type"] == "dropped")
      dropped += m["count"].get<std::size_t>();
    final_seen = m.value("phase", "") == "finished" && m.value("run_id", "") == id;
  }
  // How many arrive is not asserted: the kernel's socket buffers (autotuned up to megabytes, tens of
  // thousands of these small messages) hold what the server wrote before its queue for this client filled.
  CHECK(dropped > 0);
  CHECK(received + dropped >= steps); // every event was either delivered or counted as dropped
  stalled.close(beast::websocket::close_code::normal);
  // The counter also has what the reading client, with the same small queue, could not keep up with.
  CHECK(eventually([&] { return daemon.core().server_stats().websocket_dropped >= dropped; }));
  // The server counts the session out once it has answered the close, on its own thread.
  CHECK(eventually([&] { return daemon.core().server_stats().websockets == 0; }));
}
