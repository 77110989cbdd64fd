// Helpers of the continuous sampler's tests: a run that must succeed, slot options, equal completions.
#pragma once

#include "gpu/continuous_sampler.hpp"

#include <catch2/catch.hpp>
#include <utility>
#include <vector>

namespace tailor::continuous_test {

inline std::vector<gpu::prompt_completions> run_continuous(gpu::slot_model& model,
                                                           const gpu::token_decoder& decoder,
                                                           const std::vector<std::vector<int>>& prompts,
                                                           const gpu::generation_options& options,
                                                           gpu::continuous_options continuous) {
  auto out = gpu::generate_continuous(model, decoder, prompts, options, continuous);
  INFO((out.ok() ? "" : out.error().message));
  REQUIRE(out.ok());
  return std::move(out).value();
}

inline gpu::continuous_options in_slots(int slots, std::vector<std::size_t> order = {}) {
  gpu::continuous_options out;
  out.slots = slots;
  out.order = std::move(order);
  return out;
}

inline void check_same(const gpu::completion& got, const gpu::completion& expected) {
  CHECK(got.token_ids == expected.token_ids);
  CHECK(got.text == expected.text);
  CHECK(got.token_count == expected.token_count);
  CHECK(got.stop == expected.stop);
}

} // namespace tailor::continuous_test
