// From training items to what an optimizer step eats: batches of distinct questions, tokenized examples.
#pragma once

#include "gpu/losses.hpp"
#include "gpu/tokenizer.hpp"
#include "messages/training.hpp"

#include <cstddef>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace tailor::gpu {

// Splits items 0..n-1 (item i belongs to question `question_of_item[i]`) into batches of at most
// `batch_size` items in which no question appears twice, as the method asks. Every item lands in exactly one
// batch; batches are full except where too few distinct questions remain (the fewest batches possible).
// Order and grouping are drawn from `rng`, so a seed fixes them.
std::vector<std::vector<std::size_t>> distinct_question_batches(std::span<const std::string> question_of_item,
                                                                std::size_t batch_size, std::mt19937_64& rng);

// The same over training items, whose question is their `example_id`.
std::vector<std::vector<std::size_t>> distinct_question_batches(std::span<const training_item> items,
                                                                std::size_t batch_size, std::mt19937_64& rng);

// An item's token ids: BOS + prefix, then target + EOS (encoded apart, as generation later sees the prefix
// alone); the triplet texts as bare rationales, only when the item has a complete triplet.
tailored_example tokenize_item(const tokenizer& tokens, const training_item& item);
std::vector<tailored_example> tokenize_items(const tokenizer& tokens, std::span<const training_item> items);

} // namespace tailor::gpu
