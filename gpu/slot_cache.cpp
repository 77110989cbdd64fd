// Fixed decoding slots' keys and values: loading prefills into slots, moving a slot, one step's writes and
// mask.
#include "gpu/slot_cache.hpp"

#include <algorithm>

namespace tailor::gpu {

namespace {

torch::Tensor long_tensor(const std::vector<int64_t>& values, torch::Device device) {
  return torch::tensor(values, torch::TensorOptions().dtype(torch::kLong)).to(device);
}

std::vector<int64_t> widened(const std::vector<int>& values) {
  return {values.begin(), values.end()};
}

} // namespace

slot_cache::slot_cache(int slots, int64_t room)
    : room_(room), lengths_(static_cast<std::size_t>(std::max(slots, 0)), 0) {}

void slot_cache::load(const std::vector<int>& targets, const kv_cache& prefill, const std::vector<int>& rows,
                      const std::vector<int64_t>& lengths) {
  TORCH_CHECK(targets.size() == rows.size() && rows.size() == lengths.size(),
              "slot_cache::load needs one row and one length per target slot");
  if (targets.empty())
    return;
  TORCH_CHECK(!prefill.keys.empty(), "slot_cache::load needs a prefill's keys");
  const int64_t columns = prefill.length();
  TORCH_CHECK(columns <= room_, "a prompt of ", columns, " tokens does not fit slots of ", room_,
              " positions");
  for (std::size_t i = 0; i < targets.size(); ++i) {
    TORCH_CHECK(targets[i] >= 0 && targets[i] < slots(), "slot ", targets[i], " out of ", slots());
    TORCH_CHECK(lengths[i] >= 1 && lengths[i] <= columns, "length ", lengths[i], " out of the prefill's ",
                columns, " columns");
  }
  const auto device = prefill.keys.front().device();
  const auto target_index = long_tensor(widened(targets), device);
  const auto row_index = long_tensor(widened(rows), device);
  if (key_buffers_.empty()) {
    for (std::size_t layer = 0; layer < prefill.keys.size(); ++layer) {
      const auto& k = prefill.keys[layer];
      // Zeros, not empty(): a step reads columns past a short row's length (masked), and a masked NaN would
      // still poison the weighted sum of values.
      key_buffers_.push_back(torch::zeros({slots(), k.size(1), room_, k.size(3)}, k.options()));
      value_buffers_.push_back(torch::zeros({slots(), k.size(1), room_, k.size(3)}, k.options()));
    }
  }
  TORCH_CHECK(prefill.keys.size() == key_buffers_.size(), "the prefill has ", prefill.keys.size(),
              " layers, the slots ", key_buffers_.size());
  for (std::size_t layer = 0; layer < key_buffers_.size(); ++layer) {
    auto& k = key_buffers_[layer];
    auto& v = value_buffers_[layer];
    // The whole prefill width goes in (a row's columns past its length are masked until the row writes them).
    k.narrow(2, 0, columns)
        .index_copy_(0, target_index, prefill.keys[layer].index_select(0, row_index).to(k.scalar_type()));
    v.narrow(2, 0, columns)
        .index_copy_(0, target_index, prefill.values[layer].index_select(0, row_index).to(v.scalar_type()));
  }
  for (std::size_t i = 0; i < targets.size(); ++i)
    lengths_[static_cast<std::size_t>(targets[i])] = lengths[i];
}

void slot_cache::move(int from, int to) {
  TORCH_CHECK(from >= 0 && from < slots() && to >= 0 && to < slots(), "slot_cache::move(", from, ", ", to,
              ") out of ", slots(), " slots");
  if (from == to)
    return;
  const int64_t length = lengths_[static_cast<std::size_t>(from)];
  for (auto* buffers : {&key_buffers_, &value_buffers_})
    for (auto& buffer : *buffers)
      buffer.select(0, to).narrow(1, 0, length).copy_(buffer.select(0, from).narrow(1, 0, length));
  lengths_[static_cast<std::size_t>(to)] = length;
  lengths_[static_cast<std::size_t>(from)] = 0;
}

slot_cache::step_inputs slot_cache::prepare_step(int active) {
  TORCH_CHECK(!key_buffers_.empty(), "a decoding step before any slot was loaded");
  TORCH_CHECK(active >= 1 && active <= slots(), "a step over ", active, " of ", slots(), " slots");
  const std::vector<int64_t> lengths(lengths_.begin(), lengths_.begin() + active);
  const int64_t columns = *std::max_element(lengths.begin(), lengths.end()) + 1;
  TORCH_CHECK(columns <= room_, "a sequence outgrew its slot's ", room_, " positions");
  const auto device = key_buffers_.front().device();
  const auto at = long_tensor(lengths, device); // [A]: each row's new column, which is its new position

  step_inputs out;
  for (std::size_t layer = 0; layer < key_buffers_.size(); ++layer) {
    out.cache.keys.push_back(key_buffers_[layer].narrow(0, 0, active).narrow(2, 0, columns - 1));
    out.cache.values.push_back(value_buffers_[layer].narrow(0, 0, active).narrow(2, 0, columns - 1));
  }
  // Row r's new position goes to column length(r) of each of its heads: one row of head_dim values per
  // (row, head) in the buffer seen as [slots * kv_heads * room, head_dim], the same rows in every layer.
  const int64_t heads = key_buffers_.front().size(1);
  std::vector<int64_t> rows;
  rows.reserve(static_cast<std::size_t>(active * heads));
  for (int64_t r = 0; r < active; ++r)
    for (int64_t h = 0; h < heads; ++h)
      rows.push_back((r * heads + h) * room_ + lengths[static_cast<std::size_t>(r)]);
  const auto write_rows = long_tensor(rows, device); // [A * kv_heads]
  out.cache.store = [this, active, columns, write_rows](std::size_t layer, const torch::Tensor& new_keys,
                                                        const torch::Tensor& new_values) {
    TORCH_CHECK(layer < key_buffers_.size(), "layer ", layer, " has no slot buffers");
    TORCH_CHECK(new_keys.size(0) == active && new_keys.size(2) == 1,
                "a slot step appends one position per row");
    auto& k = key_buffers_[layer];
    auto& v = value_buffers_[layer];
    const int64_t dim = k.size(3);
    k.view({-1, dim}).index_copy_(0, write_rows, new_keys.reshape({-1, dim}).to(k.scalar_type()));
    v.view({-1, dim}).index_copy_(0, write_rows, new_values.reshape({-1, dim}).to(v.scalar_type()));
    return std::pair{k.narrow(0, 0, active).narrow(2, 0, columns),
                     v.narrow(0, 0, active).narrow(2, 0, columns)};
  };
  auto column = torch::arange(columns, torch::TensorOptions().dtype(torch::kLong).device(device));
  out.mask = column.unsqueeze(0).le(at.unsqueeze(1)).unsqueeze(1); // [A, 1, columns]: its past and itself
  out.positions = at.unsqueeze(1);                                 // [A, 1]
  return out;
}

void slot_cache::advance(int active) {
  for (int slot = 0; slot < active; ++slot)
    ++lengths_[static_cast<std::size_t>(slot)];
}

} // namespace tailor::gpu
