// A checkpoint's AdamW state: captured from and restored into an optimizer by parameter name, pickled to
// disk.
#include "gpu/checkpoint.hpp"
#include "gpu/safetensors.hpp"

#include <fstream>
#include <iterator>
#include <set>
#include <unordered_map>

namespace tailor::gpu {
namespace {

namespace fs = std::filesystem;
using c10::IValue;

constexpr const char* optimizer_format = "tailor.adamw.v1";

std::unordered_map<const void*, std::string> names_by_tensor(const named_parameters& parameters) {
  std::unordered_map<const void*, std::string> names;
  for (const auto& item : parameters)
    names.emplace(item.value().unsafeGetTensorImpl(), item.key());
  return names;
}

// A CPU copy that later in-place optimizer steps cannot change.
torch::Tensor cpu_copy(const torch::Tensor& tensor) {
  if (!tensor.defined())
    return tensor;
  return tensor.device().is_cpu() ? tensor.detach().clone() : tensor.detach().cpu();
}

c10::impl::GenericDict string_keyed_dict() {
  return c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get());
}

// Looks `key` up in a pickled dict; the problem names the missing key.
result<IValue> field(const c10::impl::GenericDict& dict, const std::string& key, const std::string& where) {
  auto found = dict.find(IValue{key});
  if (found == dict.end())
    return problem{where + ": `" + key + "` is missing"};
  return found->value();
}

result<adamw_state::group> parse_group(const IValue& value, const std::string& where) {
  if (!value.isGenericDict())
    return problem{where + " is not a dict"};
  auto dict = value.toGenericDict();
  adamw_state::group group;
  for (const char* key : {"lr", "eps", "weight_decay", "betas", "amsgrad", "param_names"})
    if (auto found = field(dict, key, where); !found)
      return found.error();
  auto betas = dict.at("betas");
  if (!dict.at("lr").isDouble() || !dict.at("eps").isDouble() || !dict.at("weight_decay").isDouble() ||
      !dict.at("amsgrad").isBool() || !betas.isTuple() || betas.toTupleRef().elements().size() != 2 ||
      !dict.at("param_names").isList())
    return problem{where + ": a hyperparameter has the wrong type"};
  const auto& beta = betas.toTupleRef().elements();
  group.options.lr(dict.at("lr").toDouble())
      .eps(dict.at("eps").toDouble())
      .weight_decay(dict.at("weight_decay").toDouble())
      .amsgrad(dict.at("amsgrad").toBool())
      .betas({beta[0].toDouble(), beta[1].toDouble()});
  for (const auto& name : dict.at("param_names").toListRef()) {
    if (!name.isString())
      return problem{where + ": `param_names` holds a non-string"};
    group.param_names.push_back(name.toStringRef());
  }
  return group;
}

result<adamw_state::moments> parse_moments(const IValue& value, const std::string& where) {
  if (!value.isGenericDict())
    return problem{where + " is not a dict"};
  auto dict = value.toGenericDict();
  adamw_state::moments moments;
  for (const char* key : {"step", "exp_avg", "exp_avg_sq"})
    if (auto found = field(dict, key, where); !found)
      return found.error();
  if (!dict.at("step").isInt() || !dict.at("exp_avg").isTensor() || !dict.at("exp_avg_sq").isTensor())
    return problem{where + ": `step` must be an integer, `exp_avg` and `exp_avg_sq` tensors"};
  moments.step = dict.at("step").toInt();
  moments.exp_avg = dict.at("exp_avg").toTensor();
  moments.exp_avg_sq = dict.at("exp_avg_sq").toTensor();
  if (auto found = dict.find(IValue{"max_exp_avg_sq"}); found != dict.end() && found->value().isTensor())
    moments.max_exp_avg_sq = found->value().toTensor();
  return moments;
}

} // namespace

result<adamw_state> capture_adamw_state(const torch::optim::AdamW& optimizer,
                                        const named_parameters& parameters) {
  try {
    auto names = names_by_tensor(parameters);
    adamw_state captured;
    for (const auto& group : optimizer.param_groups()) {
      adamw_state::group saved{static_cast<const torch::optim::AdamWOptions&>(group.options()), {}};
      for (const auto& param : group.params()) {
        auto name = names.find(param.unsafeGetTensorImpl());
        if (name == names.end())
          return problem{"the optimizer holds a parameter of shape " + c10::str(param.sizes()) +
                         " that is not among the model's"};
        saved.param_names.push_back(name->second);
        auto state = optimizer.state().find(param.unsafeGetTensorImpl());
        if (state == optimizer.state().end())
          continue; // no step taken yet: AdamW creates the moments lazily
        const auto& moments = static_cast<const torch::optim::AdamWParamState&>(*state->second);
        captured.params[name->second] = {moments.step(), cpu_copy(moments.exp_avg()),
                                         cpu_copy(moments.exp_avg_sq()), cpu_copy(moments.max_exp_avg_sq())};
      }
      captured.groups.push_back(std::move(saved));
    }
    return captured;
  } catch (const std::exception& error) {
    return problem{std::string{"cannot read the optimizer state: "} + error.what()};
  }
}

status restore_adamw_state(torch::optim::AdamW& optimizer, const named_parameters& parameters,
                           const adamw_state& state) {
  try {
    if (state.groups.size() != optimizer.param_groups().size())
      return problem{"the saved optimizer has " + std::to_string(state.groups.size()) +
                     " parameter groups, this one " + std::to_string(optimizer.param_groups().size())};
    auto names = names_by_tensor(parameters);
    std::set<std::string> restored;
    for (std::size_t i = 0; i < state.groups.size(); ++i) {
      auto& group = optimizer.param_groups()[i];
      const auto& saved = state.groups[i];
      std::set<std::string> saved_names{saved.param_names.begin(), saved.param_names.end()};
      if (saved_names.size() != group.params().size())
        return problem{"parameter group " + std::to_string(i) + " held " +
                       std::to_string(saved_names.size()) + " parameters when saved, " +
                       std::to_string(group.params().size()) + " now"};
      for (auto& param : group.params()) {
        auto name = names.find(param.unsafeGetTensorImpl());
        if (name == names.end())
          return problem{"the optimizer holds a parameter that is not among the model's"};
        if (!saved_names.contains(name->second))
          return problem{"parameter `" + name->second + "` was not in parameter group " + std::to_string(i) +
                         " when the optimizer was saved"};
        auto moments = state.params.find(name->second);
        if (moments == state.params.end()) {
          optimizer.state().erase(param.unsafeGetTensorImpl());
          continue;
        }
        const auto& m = moments->second;
        if (!m.exp_avg.defined() || m.exp_avg.sizes() != param.sizes() ||
            m.exp_avg_sq.sizes() != param.sizes())
          return problem{"the saved moments of `" + name->second + "` do not have its shape " +
                         c10::str(param.sizes())};
        if (saved.options.amsgrad() && !m.max_exp_avg_sq.defined())
          return problem{"the saved state of `" + name->second + "` lacks `max_exp_avg_sq` (amsgrad is on)"};
        // Copies, so that training never writes into the loaded state.
        auto on_param = [&](const torch::Tensor& t) {
          return t.defined() ? t.to(param.options(), /*non_blocking=*/false, /*copy=*/true) : t;
        };
        auto restored_state = std::make_unique<torch::optim::AdamWParamState>();
        restored_state->step(m.step);
        restored_state->exp_avg(on_param(m.exp_avg));
        restored_state->exp_avg_sq(on_param(m.exp_avg_sq));
        restored_state->max_exp_avg_sq(on_param(m.max_exp_avg_sq));
        optimizer.state()[param.unsafeGetTensorImpl()] = std::move(restored_state);
        restored.insert(name->second);
      }
      static_cast<torch::optim::AdamWOptions&>(group.options()) = saved.options;
    }
    for (const auto& [name, moments] : state.params)
      if (!restored.contains(name))
        return problem{"the saved optimizer has state for `" + name +
                       "`, which this optimizer does not hold"};
    return ok_status();
  } catch (const std::exception& error) {
    return problem{std::string{"cannot restore the optimizer state: "} + error.what()};
  }
}

status save_adamw_state(const fs::path& file, const adamw_state& state) {
  try {
    auto params = string_keyed_dict();
    for (const auto& [name, m] : state.params) {
      auto entry = string_keyed_dict();
      entry.insert("step", m.step);
      entry.insert("exp_avg", cpu_copy(m.exp_avg));
      entry.insert("exp_avg_sq", cpu_copy(m.exp_avg_sq));
      if (m.max_exp_avg_sq.defined())
        entry.insert("max_exp_avg_sq", cpu_copy(m.max_exp_avg_sq));
      params.insert(name, entry);
    }
    c10::impl::GenericList groups(c10::AnyType::get());
    for (const auto& group : state.groups) {
      auto entry = string_keyed_dict();
      const auto& options = group.options;
      entry.insert("lr", options.lr());
      entry.insert("betas",
                   c10::ivalue::Tuple::create(std::get<0>(options.betas()), std::get<1>(options.betas())));
      entry.insert("eps", options.eps());
      entry.insert("weight_decay", options.weight_decay());
      entry.insert("amsgrad", options.amsgrad());
      entry.insert("param_names", c10::List<std::string>(group.param_names));
      groups.push_back(entry);
    }
    auto root = string_keyed_dict();
    root.insert("format", optimizer_format);
    root.insert("state", params);
    root.insert("param_groups", groups);
    auto bytes = torch::pickle_save(root);
    return write_file_atomically(file, {bytes.data(), bytes.size()});
  } catch (const std::exception& error) {
    return problem{file.string() + ": cannot write the optimizer state: " + error.what()};
  }
}

result<adamw_state> load_adamw_state(const fs::path& file) {
  const auto where = file.string();
  try {
    std::ifstream in{file, std::ios::binary};
    if (!in)
      return problem{where + ": cannot open"};
    std::vector<char> bytes{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    auto root = torch::pickle_load(bytes);
    if (!root.isGenericDict())
      return problem{where + ": not an optimizer state (a dict)"};
    auto dict = root.toGenericDict();
    auto format = field(dict, "format", where);
    if (!format || !format->isString() || format->toStringRef() != optimizer_format)
      return problem{where + ": not a " + optimizer_format + " optimizer state"};
    auto params = field(dict, "state", where);
    auto groups = field(dict, "param_groups", where);
    if (!params || !groups || !params->isGenericDict() || !groups->isList())
      return problem{where + ": `state` must be a dict and `param_groups` a list"};

    adamw_state state;
    for (const auto& item : params->toGenericDict()) {
      if (!item.key().isString())
        return problem{where + ": `state` has a non-string key"};
      const auto& name = item.key().toStringRef();
      auto moments = parse_moments(item.value(), where + ": state of `" + name + "`");
      if (!moments)
        return moments.error();
      state.params.emplace(name, std::move(moments.value()));
    }
    for (const auto& value : groups->toListRef()) {
      auto group = parse_group(value, where + ": param_groups[" + std::to_string(state.groups.size()) + "]");
      if (!group)
        return group.error();
      state.groups.push_back(std::move(group.value()));
    }
    return state;
  } catch (const std::exception& error) {
    return problem{where + ": not a readable optimizer state: " + error.what()};
  }
}

} // namespace tailor::gpu
