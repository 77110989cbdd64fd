// `tailor cache stats`: what the teacher cache holds and what it has saved so far.
#include "apps/tailor/cache_command.hpp"

#include "io/teacher/teacher_cache.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

namespace tailor::cli {
namespace {

std::string dollars(double usd) {
  char text[32];
  std::snprintf(text, sizeof text, "$%.4f", usd);
  return text;
}

std::string tokens(const chat_usage& usage) {
  return std::to_string(usage.prompt_tokens + usage.completion_tokens) + " (" +
         std::to_string(usage.prompt_tokens) + " prompt, " + std::to_string(usage.completion_tokens) +
         " completion)";
}

int print_stats(const std::filesystem::path& file) {
  // Opening would create an empty cache; a mistyped path should say so instead.
  std::error_code error;
  if (!std::filesystem::exists(file, error)) {
    std::cerr << "tailor cache stats: no teacher cache at " << file.string() << "\n";
    return 1;
  }
  auto cache = teacher_cache::open(file);
  if (!cache) {
    std::cerr << "tailor cache stats: " << cache.error().message << "\n";
    return 1;
  }
  auto stats = (*cache)->stats();
  if (!stats) {
    std::cerr << "tailor cache stats: " << stats.error().message << "\n";
    return 1;
  }
  std::cout << "teacher cache   " << file.string() << "\n"
            << "entries         " << stats->entries << "\n"
            << "tokens stored   " << tokens(stats->stored) << ", " << dollars(stats->stored_usd) << " paid\n"
            << "hits recorded   " << stats->hits << "\n"
            << "tokens saved    " << tokens(stats->saved) << "\n"
            << "money saved     " << dollars(stats->saved_usd) << "\n";
  return 0;
}

} // namespace

void add_cache_command(CLI::App& app) {
  auto* cache = app.add_subcommand("cache", "Inspect the teacher answer cache");
  cache->require_subcommand(1);
  auto* stats = cache->add_subcommand("stats", "Entries, tokens stored, hits and money saved so far");
  auto file = std::make_shared<std::string>(default_teacher_cache_path().string());
  stats->add_option("--cache", *file, "Cache file")->capture_default_str();
  stats->callback([file] {
    int status = 1;
    try {
      status = print_stats(*file);
    } catch (const std::exception& error) {
      std::cerr << "tailor cache stats: " << error.what() << "\n";
    }
    if (status != 0)
      throw CLI::RuntimeError(status);
  });
}

} // namespace tailor::cli
