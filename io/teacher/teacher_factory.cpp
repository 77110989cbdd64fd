#include "io/teacher/teacher_factory.hpp"

#include "io/teacher/builtin_teacher.hpp"
#include "io/teacher/caching_teacher.hpp"
#include "io/teacher/openai_client.hpp"
#include "io/teacher/run_prompts.hpp"
#include "io/teacher/teacher_cache.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>

namespace tailor {

run_teacher::~run_teacher() {
  // The cache layer waits for the inner backend's answers; it goes first, the backend after it.
  caching_.reset();
  inner_.reset();
}

std::filesystem::path run_teacher_cache_path() {
  if (const char* file = std::getenv("TAILOR_TEACHER_CACHE"); file && *file)
    return file;
  return default_teacher_cache_path();
}

result<std::shared_ptr<run_teacher>> make_run_teacher(const run_config& config,
                                                      const std::vector<std::filesystem::path>& train_files,
                                                      std::shared_ptr<fifo_semaphore> shared_limit) {
  auto templates = prompt_templates_of(config.prompts);
  if (!templates)
    return problem{"prompts: " + templates.error().message};
  std::shared_ptr<run_teacher> teacher{new run_teacher};
  const auto& t = config.teacher;
  teacher->exchange_.templates = *templates;
  teacher->exchange_.prices = {t.usd_per_million_prompt_tokens, t.usd_per_million_completion_tokens};
  teacher_budget_limits limits;
  if (t.budget_tokens > 0)
    limits.max_tokens = static_cast<std::int64_t>(t.budget_tokens);
  if (t.budget_usd > 0 && (t.usd_per_million_prompt_tokens > 0 || t.usd_per_million_completion_tokens > 0))
    limits.max_usd = t.budget_usd;
  teacher->budget_ = std::make_shared<teacher_budget>(limits);

  if (t.kind == teacher_kind::builtin) {
    if (config.data.task != task_kind::arith)
      return problem{"teacher.kind: the built-in teacher knows only the arith task, not " +
                     std::string{to_string(config.data.task)} + "; use an openai_compatible teacher"};
    auto builtin = builtin_teacher::load(train_files, *templates);
    if (!builtin)
      return builtin.error();
    teacher->exchange_.model = "builtin";
    teacher->inner_ = std::move(builtin.value());
    teacher->front_ = teacher->inner_.get();
    teacher->description_ = "built-in (offline)";
    return teacher;
  }

  openai_client_options options;
  options.base_url = t.base_url;
  options.model = t.model;
  options.api_key_env = t.api_key_env;
  options.timeout = std::chrono::milliseconds{t.request_timeout_ms};
  options.max_tries = static_cast<int>(t.max_retries) + 1;
  options.concurrency = std::max<std::uint32_t>(1, t.concurrency);
  options.shared_limit = std::move(shared_limit);
  options.prices = teacher->exchange_.prices;
  options.budget = teacher->budget_;
  options.seed = config.seed;
  if (!t.api_key_env.empty() && !std::getenv(t.api_key_env.c_str()) &&
      t.base_url.find("api.openai.com") != std::string::npos)
    return problem{"teacher.api_key_env: the environment variable " + t.api_key_env +
                   " is not set (it must hold the API key for " + t.base_url + ")"};
  auto client = openai_client::create(options);
  if (!client)
    return problem{"teacher: " + client.error().message};
  auto cache = teacher_cache::open(run_teacher_cache_path());
  if (!cache)
    return problem{"teacher cache: " + cache.error().message};
  teacher->exchange_.model = t.model;
  teacher->inner_ = std::move(client.value());
  teacher->caching_ = std::make_unique<caching_teacher>(
      *teacher->inner_, std::shared_ptr<teacher_cache>(std::move(cache.value())),
      caching_teacher_options{.model = t.model, .prices = teacher->exchange_.prices});
  teacher->front_ = teacher->caching_.get();
  teacher->description_ = t.model + " at " + t.base_url + " (cached in " + run_teacher_cache_path().string() + ")";
  return teacher;
}

} // namespace tailor
