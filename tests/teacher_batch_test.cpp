// The batch teacher against teacher-serve's Batch API: answers, counts, the journal and resuming from it,
// failed lines and batches, bad journals; and the pieces underneath (multipart bodies, result files).
#include "io/teacher/batch_files.hpp"
#include "io/teacher/batch_journal.hpp"
#include "io/teacher/batch_teacher.hpp"
#include "io/teacher/multipart_form.hpp"
#include "tests/eventually.hpp"
#include "tests/teacher_server_support.hpp"
#include "tests/teacher_test_support.hpp"

#include <fstream>
#include <map>
#include <sstream>

using namespace tailor;
using namespace tailor::testing;
using tailor::server_test::batch_counts;
using tailor::server_test::echo_backend;
using tailor::server_test::two;
using namespace std::chrono_literals;

namespace {

// Outcomes by the name of the question that asked, from any thread.
class named_outcomes {
public:
  teacher_backend::callback callback(std::string name) {
    return [this, name](result<chat_response> outcome) {
      std::lock_guard lock(mutex_);
      results_.insert_or_assign(name, std::move(outcome));
      ++count_;
      changed_.notify_all();
    };
  }
  bool wait_for(std::size_t count, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return count_ >= count; });
  }
  std::size_t count() {
    std::lock_guard lock(mutex_);
    return count_;
  }
  result<chat_response> at(const std::string& name) {
    std::lock_guard lock(mutex_);
    return results_.at(name);
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, result<chat_response>> results_;
  std::size_t count_ = 0;
};

batch_teacher_options batch_options(const teacher_server& server, std::filesystem::path journal = {}) {
  batch_teacher_options options;
  options.base_url = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1";
  options.model = "echo-model";
  options.api_key_env.clear();
  options.journal = std::move(journal);
  options.max_requests = 100;
  options.flush_after = 10min; // the tests flush themselves, unless they test this
  options.poll_interval = 20ms;
  options.timeout = 10s;
  options.backoff_base = 5ms;
  options.backoff_cap = 50ms;
  options.seed = 7;
  return options;
}

std::unique_ptr<batch_teacher> make_batch_teacher(batch_teacher_options options) {
  auto teacher = batch_teacher::create(std::move(options));
  INFO((teacher ? std::string{} : teacher.error().message));
  REQUIRE(teacher);
  return std::move(teacher).value();
}

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_all(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

void check_answer(named_outcomes& outcomes, const std::string& question) {
  auto outcome = outcomes.at(question);
  INFO(question << ": " << (outcome ? std::string{} : outcome.error().message));
  REQUIRE(outcome);
  REQUIRE(outcome->choices.size() == 1);
  CHECK(outcome->choices[0] == "echo 0: " + question);
}

} // namespace

TEST_CASE("multipart bodies read back as they were written", "[batch]") {
  const std::vector<form_part> parts = {{"purpose", "", "", "batch"},
                                        {"file", "a.jsonl", "application/jsonl", "{\"x\": 1}\n{\"y\": 2}\n"}};
  const form_body body = make_form_body(parts, "b0undary");
  auto read = parse_form_body(body.content_type, body.body);
  INFO((read ? std::string{} : read.error().message));
  REQUIRE(read);
  CHECK(*read == parts);
  CHECK_THAT(parse_form_body("application/json", body.body).error().message, Catch::Contains("multipart"));
  CHECK_THAT(parse_form_body("multipart/form-data; boundary=other", body.body).error().message,
             Catch::Contains("no part"));
}

TEST_CASE("result files give each line its outcome and cause", "[batch]") {
  const std::string lines =
      R"({"id":"r1","custom_id":"a","response":{"status_code":200,"body":{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}},"error":null})"
      "\n"
      R"({"id":"r2","custom_id":"b","response":{"status_code":400,"body":{"error":{"message":"too long"}}},"error":null})"
      "\n"
      R"({"id":"r3","custom_id":"c","response":{"status_code":503,"body":{}},"error":null})"
      "\n"
      R"({"id":"r4","custom_id":"d","response":null,"error":{"code":"batch_expired","message":"not run"}})"
      "\nnot json\n";
  batch_outcomes outcomes;
  const status read = read_batch_results("batch_1", lines, outcomes);
  CHECK_FALSE(read);
  CHECK_THAT(read.error().message, Catch::Contains("line 5"));
  REQUIRE(outcomes.size() == 4);
  REQUIRE(outcomes.at("a"));
  CHECK(outcomes.at("a")->choices == std::vector<std::string>{"hi"});
  CHECK(outcomes.at("a")->usage == chat_usage{3, 1});
  CHECK(outcomes.at("b").error().cause == problem_cause::rejected);
  CHECK_THAT(outcomes.at("b").error().message, Catch::Contains("too long"));
  CHECK(outcomes.at("c").error().cause == problem_cause::transient);
  CHECK(outcomes.at("d").error().cause == problem_cause::transient);
  CHECK_THAT(outcomes.at("d").error().message, Catch::Contains("batch_expired"));
}

TEST_CASE("a batch answers each call with the backend's answer, at the batch price", "[batch]") {
  echo_backend backend;
  teacher_server_options server_options;
  server_options.batch_delay_ms = 50;
  auto server = start_server(backend, server_options);
  auto options = batch_options(*server);
  options.max_requests = 3; // the third call sends the batch
  options.prices = {2.0, 4.0};
  auto teacher = make_batch_teacher(options);

  named_outcomes outcomes;
  for (const char* question : {"one", "two", "three"})
    teacher->complete(ask(question), outcomes.callback(question));
  REQUIRE(outcomes.wait_for(3));
  for (const char* question : {"one", "two", "three"})
    check_answer(outcomes, question);

  CHECK(batch_counts(*server) == two{1, 1});
  CHECK(server->stats().requests == 0);       // nothing went to /v1/chat/completions
  CHECK(server->stats().batch_requests >= 4); // upload, create, at least one poll, one download
  const auto stats = teacher->stats();
  CHECK(stats.batches_created == 1);
  CHECK(stats.requests_sent == 3);
  CHECK(stats.answered == 3);
  CHECK(stats.failed == 0);
  CHECK(stats.pending == 0);
  CHECK(stats.in_flight == 0);
  // The echo backend's usage: the question's length in prompt tokens, 3 completion tokens.
  CHECK(stats.prompt_tokens == 3 + 3 + 5);
  CHECK(stats.completion_tokens == 9);
  CHECK(stats.cost_usd == Approx(((11 * 2.0) + (9 * 4.0)) / 1e6 * 0.5));
}

TEST_CASE("each call reserves its bound in the budget: one that fits only after another waits for it", "[batch]") {
  echo_backend backend;
  teacher_server_options server_options;
  server_options.batch_delay_ms = 20;
  auto server = start_server(backend, server_options);
  auto options = batch_options(*server);
  options.flush_after = 20ms;
  const auto question = [](const std::string& text) {
    auto request = ask(text);
    request.max_tokens = 10;
    return request;
  };
  const auto bound = cost_bound_of(question("first"), {});
  // Room for one bound beside nothing in flight, not for two: the second call must wait for the first.
  options.budget = std::make_shared<teacher_budget>(teacher_budget_limits{bound.tokens * 3 / 2, std::nullopt});
  auto teacher = make_batch_teacher(options);
  named_outcomes outcomes;
  teacher->complete(question("first"), outcomes.callback("first"));
  teacher->complete(question("secnd"), outcomes.callback("secnd"));
  REQUIRE(outcomes.wait_for(2));
  check_answer(outcomes, "first");
  check_answer(outcomes, "secnd");
  // One batch each: the second was sent only once the first was answered and gave back its bound.
  CHECK(batch_counts(*server) == two{2, 2});
  CHECK(options.budget->spent_tokens() <= bound.tokens * 3 / 2);
  CHECK(options.budget->in_flight() == 0);
}

TEST_CASE("flush_after sends a batch that did not fill up", "[batch]") {
  echo_backend backend;
  auto server = start_server(backend);
  auto options = batch_options(*server);
  options.flush_after = 50ms;
  auto teacher = make_batch_teacher(options);
  named_outcomes outcomes;
  teacher->complete(ask("alone"), outcomes.callback("alone"));
  REQUIRE(outcomes.wait_for(1));
  check_answer(outcomes, "alone");
  CHECK(batch_counts(*server) == two{1, 1});
}

TEST_CASE("a teacher on the journal of a killed one gets the answers without paying again", "[batch]") {
  echo_backend backend;
  teacher_server_options server_options;
  server_options.batch_delay_ms = 1500; // the first teacher dies while its batch runs
  auto server = start_server(backend, server_options);
  temporary_folder folder;
  const auto journal = folder.path() / "batches.jsonl";
  const std::vector<std::string> questions = {"alpha", "beta"};

  named_outcomes first_outcomes;
  {
    auto first = make_batch_teacher(batch_options(*server, journal));
    for (const auto& question : questions)
      first->complete(ask(question), first_outcomes.callback(question));
    first->flush();
    // The batch is journaled as soon as it is created, before any answer.
    REQUIRE(eventually([&] { return read_all(journal).find("batch_tailor-") != std::string::npos; }));
    CHECK(first_outcomes.count() == 0);
    const auto text = read_all(journal);
    const auto at = text.find("batch_tailor-");
    const std::string batch_id = text.substr(at, text.find('"', at) - at);
    server_test::client client(server->port());
    const auto response =
        client.exchange(server_test::make_request(server_test::http::verb::get, "/v1/batches/" + batch_id));
    CHECK(nlohmann::json::parse(response.body()).at("status") == "in_progress");
    CHECK(first->stats().batches_created == 1);
  } // killed: its calls end cancelled; the batch runs on
  REQUIRE(first_outcomes.wait_for(2, 1s));
  for (const auto& question : questions)
    CHECK(first_outcomes.at(question).error().cause == problem_cause::cancelled);

  auto second = make_batch_teacher(batch_options(*server, journal));
  named_outcomes outcomes;
  for (const auto& question : questions)
    second->complete(ask(question), outcomes.callback(question));
  REQUIRE(outcomes.wait_for(2));
  for (const auto& question : questions)
    check_answer(outcomes, question);
  CHECK(batch_counts(*server) == two{1, 1}); // no second upload, no second batch
  const auto stats = second->stats();
  CHECK(stats.batches_created == 0);
  CHECK(stats.attached == 2);
  CHECK(stats.batches_resumed == 1);
  CHECK(stats.answered == 2);

  // Its lines are done: a third teacher has nothing to resume, and sends the same request anew.
  auto reopened = batch_journal::open(journal);
  REQUIRE(reopened);
  CHECK(reopened->unfinished().empty());
}

TEST_CASE("a journaled batch the endpoint does not know is given up, and its requests sent anew", "[batch]") {
  echo_backend backend;
  auto server = start_server(backend);
  temporary_folder folder;
  const auto journal = folder.path() / "batches.jsonl";
  // The journal's key of a request: its JSON, as the teacher writes it.
  const std::string key = to_json(ask("lost")).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  write_all(journal, nlohmann::json{{"batch", "batch_gone"},
                                    {"input_file", "file-gone"},
                                    {"requests", {{{"custom_id", "request-1"}, {"key", key}}}}}
                             .dump() +
                         "\n");
  auto teacher = make_batch_teacher(batch_options(*server, journal));
  named_outcomes outcomes;
  teacher->complete(ask("lost"), outcomes.callback("first"));
  REQUIRE(outcomes.wait_for(1));
  const auto gone = outcomes.at("first");
  REQUIRE_FALSE(gone);
  CHECK(gone.error().cause == problem_cause::transient);
  CHECK_THAT(gone.error().message, Catch::Contains("batch_gone") && Catch::Contains("unknown"));
  CHECK(batch_counts(*server) == two{0, 0});

  teacher->complete(ask("lost"), outcomes.callback("lost"));
  teacher->flush();
  REQUIRE(outcomes.wait_for(2));
  check_answer(outcomes, "lost");
  CHECK(batch_counts(*server) == two{1, 1});
}

TEST_CASE("a line with an error and a failed batch give problems with the right causes", "[batch]") {
  echo_backend backend;
  auto server = start_server(backend);
  auto teacher = make_batch_teacher(batch_options(*server));
  named_outcomes outcomes;

  // The echo backend refuses "refuse" (400 in the batch: rejected) and fails on "fail" (500: transient).
  for (const char* question : {"refuse", "fail", "fine"})
    teacher->complete(ask(question), outcomes.callback(question));
  teacher->flush();
  REQUIRE(outcomes.wait_for(3));
  check_answer(outcomes, "fine");
  CHECK(outcomes.at("refuse").error().cause == problem_cause::rejected);
  CHECK_THAT(outcomes.at("refuse").error().message, Catch::Contains("cannot answer `refuse`"));
  CHECK(outcomes.at("fail").error().cause == problem_cause::transient);
  CHECK_THAT(outcomes.at("fail").error().message, Catch::Contains("500"));

  // A request with no messages fails the validation of its whole batch.
  chat_request empty = ask("unused");
  empty.messages.clear();
  teacher->complete(empty, outcomes.callback("empty"));
  teacher->complete(ask("innocent"), outcomes.callback("innocent"));
  teacher->flush();
  REQUIRE(outcomes.wait_for(5));
  for (const char* question : {"empty", "innocent"}) {
    const auto failed = outcomes.at(question);
    REQUIRE_FALSE(failed);
    CHECK(failed.error().cause == problem_cause::transient);
    CHECK_THAT(failed.error().message, Catch::Contains("failed") && Catch::Contains("messages"));
  }
  CHECK(batch_counts(*server) == two{2, 2});
  CHECK(teacher->stats().failed == 4);
}

TEST_CASE("a wrong key on the batch endpoints is fatal", "[batch]") {
  echo_backend backend;
  teacher_server_options server_options;
  server_options.required_api_key = "sk-right";
  auto server = start_server(backend, server_options);
  ::setenv("TAILOR_BATCH_TEST_KEY", "sk-wrong", 1);
  auto options = batch_options(*server);
  options.api_key_env = "TAILOR_BATCH_TEST_KEY";
  auto teacher = make_batch_teacher(options);
  named_outcomes outcomes;
  teacher->complete(ask("one"), outcomes.callback("one"));
  teacher->flush();
  REQUIRE(outcomes.wait_for(1));
  const auto refused = outcomes.at("one");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().cause == problem_cause::fatal);
  CHECK_THAT(refused.error().message, Catch::Contains("401"));
  CHECK_THAT(refused.error().message, !Catch::Contains("sk-wrong"));
  CHECK(server->stats().unauthorized == 1);
}

TEST_CASE("cancel_all ends waiting calls with a cancelled problem", "[batch]") {
  echo_backend backend;
  auto server = start_server(backend);
  auto teacher = make_batch_teacher(batch_options(*server));
  named_outcomes outcomes;
  teacher->complete(ask("never sent"), outcomes.callback("never sent"));
  teacher->cancel_all();
  REQUIRE(outcomes.wait_for(1));
  CHECK(outcomes.at("never sent").error().cause == problem_cause::cancelled);
  CHECK(batch_counts(*server) == two{0, 0});
  CHECK(teacher->stats().pending == 0);
}

TEST_CASE("a journal that cannot be read is an error naming file and line", "[batch]") {
  temporary_folder folder;
  const auto journal = folder.path() / "batches.jsonl";
  const std::string good =
      R"({"batch":"batch_1","input_file":"file-1","requests":[{"custom_id":"request-1","key":"{}"}]})";
  write_all(journal, good + "\nnot json at all\n" + good + "\n");
  batch_teacher_options options;
  options.base_url = "http://127.0.0.1:9/v1";
  options.api_key_env.clear();
  options.journal = journal;
  auto teacher = batch_teacher::create(options);
  REQUIRE_FALSE(teacher);
  CHECK_THAT(teacher.error().message, Catch::Contains(journal.string() + ":2:") && Catch::Contains("JSON"));

  write_all(journal, good + "\n" + R"({"something":"else"})" + "\n");
  CHECK_THAT(batch_journal::open(journal).error().message,
             Catch::Contains(journal.string() + ":2:") && Catch::Contains("journal record"));

  // A last line cut short by a crash is dropped, and the file mended so that appends start on a new line.
  write_all(journal, good + "\n" + R"({"done":"batch_1","custom_)");
  auto mended = batch_journal::open(journal);
  REQUIRE(mended);
  REQUIRE(mended->unfinished().size() == 1);
  CHECK(mended->unfinished()[0].requests.size() == 1);
  CHECK(read_all(journal).ends_with("\n"));
  REQUIRE(mended->record_done("batch_1", {"request-1"}));
  auto finished = batch_journal::open(journal);
  REQUIRE(finished);
  CHECK(finished->unfinished().empty());
  CHECK(read_all(journal).empty()); // compacted
}
