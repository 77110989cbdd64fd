// The teachers of a run, assembled from its config: each endpoint's backend behind the answer cache, its budget
// and prices, and the routes between them.
#include "io/teacher/teacher_factory.hpp"

#include "io/teacher/batch_teacher.hpp"
#include "io/teacher/builtin_teacher.hpp"
#include "io/teacher/caching_teacher.hpp"
#include "io/teacher/openai_client.hpp"
#include "io/teacher/run_prompts.hpp"
#include "io/teacher/teacher_cache.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>

namespace tailor {

struct run_teacher::endpoint {
  std::string name;
  std::unique_ptr<teacher_backend> inner;
  std::unique_ptr<caching_teacher> caching; // null for the built-in teacher, which is free and deterministic
  teacher_backend* front = nullptr;
  std::shared_ptr<teacher_budget> budget;
  teacher_exchange_options exchange;
  std::string description;
  // The Batch API path (teacher.batch), before the same cache; its prices are the batch prices.
  std::unique_ptr<teacher_backend> batch_inner;
  std::unique_ptr<caching_teacher> batch_caching;
  teacher_exchange_options batch_exchange;

  ~endpoint() {
    // The cache layers wait for the inner backends' answers; they go first, the backends after them.
    batch_caching.reset();
    caching.reset();
    batch_inner.reset();
    inner.reset();
  }
};

run_teacher::~run_teacher() = default;

std::shared_ptr<teacher_budget> run_teacher::budget() const {
  return endpoints_.front()->budget;
}

bool run_teacher::cached() const {
  return endpoints_.front()->caching != nullptr;
}

std::string run_teacher::describe() const {
  std::string text = endpoints_.front()->description;
  for (std::size_t i = 1; i < endpoints_.size(); ++i)
    text += "; " + endpoints_[i]->name + ": " + endpoints_[i]->description;
  return text;
}

teacher_backend& run_teacher::backend(std::size_t index, bool can_wait) {
  auto& e = *endpoints_.at(index);
  return can_wait && e.batch_caching ? *e.batch_caching : *e.front;
}

const teacher_exchange_options& run_teacher::exchange(std::size_t index, bool can_wait) const {
  const auto& e = *endpoints_.at(index);
  return can_wait && e.batch_caching ? e.batch_exchange : e.exchange;
}

bool run_teacher::can_wait(const teacher_request& request) const {
  return round_mode_ || (request.kind == teacher_request_kind::chain_of_thought && request.round == 1);
}

const std::string& run_teacher::name(std::size_t index) const {
  return endpoints_.at(index)->name;
}

std::size_t run_teacher::route(teacher_request_kind kind) const {
  return kind == teacher_request_kind::tailored_feedback ? feedback_ : chain_of_thought_;
}

std::optional<std::size_t> run_teacher::fallback_for(std::size_t index) const {
  if (!fallback_ || *fallback_ == index)
    return std::nullopt;
  return fallback_;
}

void run_teacher::cancel_all() {
  for (auto& e : endpoints_) {
    e->front->cancel_all();
    if (e->batch_caching)
      e->batch_caching->cancel_all();
  }
}

std::filesystem::path run_teacher_cache_path() {
  if (const char* file = std::getenv("TAILOR_TEACHER_CACHE"); file && *file)
    return file;
  return default_teacher_cache_path();
}

namespace {

struct endpoint_context {
  const run_config& config;
  const std::vector<std::filesystem::path>& train_files;
  const prompt_templates& templates;
  std::shared_ptr<fifo_semaphore> shared_limit;
  std::shared_ptr<teacher_cache>& cache; // opened by the first endpoint that needs it
};

// One teacher: `t`'s endpoint keys, reported under `prefix` ("teacher." or "teachers.<name>.").
result<std::unique_ptr<run_teacher::endpoint>> make_endpoint(const std::string& name, const std::string& prefix,
                                                             const teacher_config& t, endpoint_context& context) {
  auto e = std::make_unique<run_teacher::endpoint>();
  e->name = name;
  e->exchange.templates = context.templates;
  e->exchange.prices = {t.usd_per_million_prompt_tokens, t.usd_per_million_completion_tokens};
  teacher_budget_limits limits;
  if (t.budget_tokens > 0)
    limits.max_tokens = static_cast<std::int64_t>(t.budget_tokens);
  if (t.budget_usd > 0 && (t.usd_per_million_prompt_tokens > 0 || t.usd_per_million_completion_tokens > 0))
    limits.max_usd = t.budget_usd;
  e->budget = std::make_shared<teacher_budget>(limits);

  if (t.kind == teacher_kind::builtin) {
    if (context.config.data.task != task_kind::arith)
      return problem{prefix + "kind: the built-in teacher knows only the arith task, not " +
                     std::string{to_string(context.config.data.task)} + "; use an openai_compatible teacher"};
    auto builtin = builtin_teacher::load(context.train_files, context.templates);
    if (!builtin)
      return builtin.error();
    e->exchange.model = "builtin";
    e->inner = std::move(builtin.value());
    e->front = e->inner.get();
    e->description = "built-in (offline)";
    return e;
  }

  openai_client_options options;
  options.base_url = t.base_url;
  options.model = t.model;
  options.api_key_env = t.api_key_env;
  options.timeout = std::chrono::milliseconds{t.request_timeout_ms};
  options.max_tries = static_cast<int>(t.max_retries) + 1;
  options.concurrency = std::max<std::uint32_t>(1, t.concurrency);
  options.shared_limit = context.shared_limit;
  options.prices = e->exchange.prices;
  options.budget = e->budget;
  options.seed = context.config.seed;
  if (!t.api_key_env.empty() && !std::getenv(t.api_key_env.c_str()) &&
      t.base_url.find("api.openai.com") != std::string::npos)
    return problem{prefix + "api_key_env: the environment variable " + t.api_key_env +
                   " is not set (it must hold the API key for " + t.base_url + ")"};
  auto client = openai_client::create(options);
  if (!client)
    return problem{prefix.substr(0, prefix.size() - 1) + ": " + client.error().message};
  if (!context.cache) {
    auto cache = teacher_cache::open(run_teacher_cache_path());
    if (!cache)
      return problem{"teacher cache: " + cache.error().message};
    context.cache = std::shared_ptr<teacher_cache>(std::move(cache.value()));
  }
  e->exchange.model = t.model;
  e->inner = std::move(client.value());
  e->caching = std::make_unique<caching_teacher>(*e->inner, context.cache,
                                                 caching_teacher_options{.model = t.model, .prices = e->exchange.prices});
  e->front = e->caching.get();
  e->description = t.model + " at " + t.base_url + " (cached in " + run_teacher_cache_path().string() + ")";
  if (t.batch) {
    batch_teacher_options batch;
    batch.base_url = t.base_url;
    batch.model = t.model;
    batch.api_key_env = t.api_key_env;
    // Journaled with the run, so that its resume polls the batches it paid for.
    if (!context.config.output_dir.empty())
      batch.journal = std::filesystem::path{context.config.output_dir} /
                      (name == "teacher" ? std::string{"teacher_batches.jsonl"} : "teacher_batches-" + name + ".jsonl");
    batch.flush_after = std::chrono::milliseconds{t.batch_flush_ms};
    batch.poll_interval = std::chrono::milliseconds{t.batch_poll_ms};
    batch.timeout = options.timeout;
    batch.max_tries = options.max_tries;
    batch.prices = e->exchange.prices;
    batch.budget = e->budget;
    batch.seed = context.config.seed;
    auto client = batch_teacher::create(batch);
    if (!client)
      return problem{prefix + "batch: " + client.error().message};
    e->batch_exchange = e->exchange;
    e->batch_exchange.prices = {e->exchange.prices.usd_per_million_prompt * batch.batch_discount,
                                e->exchange.prices.usd_per_million_completion * batch.batch_discount};
    e->batch_inner = std::move(client.value());
    e->batch_caching = std::make_unique<caching_teacher>(
        *e->batch_inner, context.cache, caching_teacher_options{.model = t.model, .prices = e->batch_exchange.prices});
    e->description += ", work that can wait through its Batch API";
  }
  return e;
}

// The index of the teacher a route names; empty: the `teacher` section's own (0).
std::size_t index_of(const std::string& name, const std::vector<named_teacher>& teachers) {
  for (std::size_t i = 0; i < teachers.size(); ++i)
    if (teachers[i].name == name)
      return i + 1;
  return 0;
}

} // namespace

result<std::shared_ptr<run_teacher>> make_run_teacher(const run_config& config,
                                                      const std::vector<std::filesystem::path>& train_files,
                                                      std::shared_ptr<fifo_semaphore> shared_limit) {
  auto templates = prompt_templates_of(config.prompts);
  if (!templates)
    return problem{"prompts: " + templates.error().message};
  std::shared_ptr<teacher_cache> cache;
  endpoint_context context{config, train_files, *templates, std::move(shared_limit), cache};
  std::shared_ptr<run_teacher> teacher{new run_teacher};
  auto main = make_endpoint("teacher", "teacher.", config.teacher, context);
  if (!main)
    return main.error();
  teacher->endpoints_.push_back(std::move(main.value()));
  for (const auto& named : config.teachers) {
    auto more = make_endpoint(named.name, "teachers." + named.name + ".", named.endpoint, context);
    if (!more)
      return more.error();
    teacher->endpoints_.push_back(std::move(more.value()));
  }
  const auto& t = config.teacher;
  teacher->round_mode_ = config.mode == loop_mode::round;
  teacher->chain_of_thought_ = index_of(t.chain_of_thought_teacher, config.teachers);
  teacher->feedback_ = index_of(t.feedback_teacher, config.teachers);
  if (!t.fallback_teacher.empty())
    teacher->fallback_ = index_of(t.fallback_teacher, config.teachers);
  return teacher;
}

} // namespace tailor
