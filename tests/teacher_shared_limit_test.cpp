// Teacher clients sharing one limit (tailord --teacher-concurrency) against a loopback server: never more
// requests at the teacher than the limit, turns taken in order, and a client that leaves frees its place.
#include "sharing/fifo_semaphore.hpp"
#include "io/teacher/openai_client.hpp"
#include "tests/eventually.hpp"
#include "tests/teacher_test_support.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

using namespace tailor;
using namespace tailor::testing;
using namespace std::chrono_literals;

namespace {

// Answers each request `delay` after it arrives, from a thread of its own; counts the requests it holds at
// once and keeps the order the questions came in.
class overlap_teacher final : public teacher_backend {
public:
  explicit overlap_teacher(std::chrono::milliseconds delay) : delay_(delay) {}
  ~overlap_teacher() override {
    for (auto& t : threads_)
      t.join();
  }

  void complete(chat_request request, callback done) override {
    const int now = ++holding_;
    int seen = most_;
    while (now > seen && !most_.compare_exchange_weak(seen, now)) {
    }
    std::lock_guard hold(mutex_);
    arrivals_.push_back(request.messages.back().content);
    threads_.emplace_back([this, request = std::move(request), done = std::move(done)]() mutable {
      std::this_thread::sleep_for(delay_);
      --holding_; // before the answer: the next request may follow it at once
      echo_.complete(std::move(request), std::move(done));
    });
  }
  void cancel_all() override {}

  int most() const { return most_; }
  std::vector<std::string> arrivals() {
    std::lock_guard hold(mutex_);
    return arrivals_;
  }

private:
  std::chrono::milliseconds delay_;
  echo_teacher echo_;
  std::atomic<int> holding_{0};
  std::atomic<int> most_{0};
  std::mutex mutex_;
  std::vector<std::string> arrivals_;
  std::vector<std::thread> threads_;
};

} // namespace

TEST_CASE("two clients sharing a limit of one never have two requests at the teacher",
          "[teacher_client][gate]") {
  overlap_teacher teacher(30ms);
  auto server = start_server(teacher);
  auto options = local_options(*server);
  options.concurrency = 4; // each client's own limit, well above the shared one
  const bool shared = GENERATE(true, false);
  auto gate = fifo_semaphore::create(1);
  if (shared)
    options.shared_limit = gate;
  auto a = make_client(options);
  auto b = make_client(options);

  outcomes got;
  for (int i = 0; i < 6; ++i)
    a->complete(ask("a" + std::to_string(i)), got.callback());
  for (int i = 0; i < 2; ++i)
    b->complete(ask("b" + std::to_string(i)), got.callback());
  REQUIRE(got.wait_for(8));
  for (const auto& outcome : got.take())
    CHECK(outcome);
  if (!shared) {
    CHECK(teacher.most() > 1); // the control: without the gate the clients overlap, and the test sees it
    return;
  }
  CHECK(teacher.most() == 1);
  // a asked first and more, yet b's two go out among the first five: the clients take turns.
  const auto arrivals = teacher.arrivals();
  const auto last_b = std::find(arrivals.begin(), arrivals.end(), "b1");
  REQUIRE(last_b != arrivals.end());
  CHECK(last_b - arrivals.begin() <= 4);
  CHECK(eventually([&] { return gate->current().active == 0; }));
  CHECK(gate->current().waiting == 0);
}

TEST_CASE("a client that leaves the shared line frees its place", "[teacher_client][gate]") {
  overlap_teacher teacher(300ms);
  auto server = start_server(teacher);
  auto options = local_options(*server);
  auto gate = fifo_semaphore::create(1);
  options.shared_limit = gate;
  auto a = make_client(options);
  auto b = make_client(options);

  outcomes got_a, got_b;
  a->complete(ask("a0"), got_a.callback());
  REQUIRE(eventually([&] { return gate->current().active == 1; }));
  b->complete(ask("b0"), got_b.callback());
  REQUIRE(eventually([&] { return gate->current().waiting == 1; }));

  SECTION("destroyed while waiting") {
    b.reset();
    CHECK(gate->current().waiting == 0);
  }
  SECTION("cancelled while waiting: the turn it is given goes on at once") {
    b->cancel_all();
  }
  REQUIRE(got_b.wait_for(1));
  CHECK_THAT(got_b.take().front().error().message, Catch::Contains("cancelled"));
  REQUIRE(got_a.wait_for(1));
  CHECK(got_a.take().front());
  CHECK(eventually([&] { return gate->current().active == 0 && gate->current().waiting == 0; }));

  // The gate still works for whoever comes next.
  auto c = make_client(options);
  outcomes got_c;
  c->complete(ask("c0"), got_c.callback());
  REQUIRE(got_c.wait_for(1));
  CHECK(got_c.take().front());
}
