// Helpers shared by the generation tests: running the loop with a check that it succeeded, greedy options.
#pragma once

#include "gpu/generation.hpp"

#include <catch2/catch.hpp>
#include <utility>
#include <vector>

namespace tailor::generation_test {

inline std::vector<gpu::prompt_completions> run(gpu::next_token_model& model,
                                                const std::vector<std::vector<int>>& prompts,
                                                const gpu::generation_options& options,
                                                const gpu::token_decoder& decoder) {
  auto out = gpu::generate(model, decoder, prompts, options);
  INFO((out.ok() ? "" : out.error().message));
  REQUIRE(out.ok());
  return std::move(out).value();
}

inline gpu::generation_options greedy(int max_new_tokens) {
  gpu::generation_options options;
  options.sampling.greedy = true;
  options.max_new_tokens = max_new_tokens;
  return options;
}

} // namespace tailor::generation_test
