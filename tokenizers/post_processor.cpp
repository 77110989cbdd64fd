// Post-processors reduced to their single-sequence effect, which is all encode(add_bos, add_eos) needs.
#include "tokenizers/post_processor.hpp"

namespace tailor::tokenizers {
namespace {

// TemplateProcessing: the specials before `$A` lead, the ones after it trail. Each special names an entry of
// `special_tokens`, whose `ids` it stands for.
special_template parse_template(const json& spec, const std::string& path) {
  special_template out;
  const auto& single = array_field(spec, "single", path);
  const auto& specials = required(spec, "special_tokens", path);
  const auto single_path = child(path, "single");
  bool after_sequence = false;
  for (std::size_t i = 0; i < single.size(); ++i) {
    const auto item_path = element(single_path, i);
    const auto& item = single[i];
    if (item.is_object() && item.contains("Sequence")) {
      after_sequence = true;
      continue;
    }
    if (!item.is_object() || !item.contains("SpecialToken"))
      refuse(item_path, "is neither a Sequence nor a SpecialToken");
    const auto name = string_field(item["SpecialToken"], "id", child(item_path, "SpecialToken"));
    const auto specials_path = child(path, "special_tokens");
    if (!specials.is_object() || !specials.contains(name))
      refuse(child(specials_path, name), "is missing (the template uses it)");
    const auto& ids = array_field(specials[name], "ids", child(specials_path, name));
    for (const auto& id : ids) {
      if (!id.is_number_integer())
        refuse(child(child(specials_path, name), "ids"), "holds a value that is not an id");
      (after_sequence ? out.trailing : out.leading).push_back(id.get<int>());
    }
  }
  return out;
}

// RobertaProcessing / BertProcessing: `cls` and `sep` are [token, id] pairs around the sequence.
int pair_id(const json& spec, const char* key, const std::string& path,
            const std::function<int(const std::string&)>& id_of) {
  const auto& value = required(spec, key, path);
  if (value.is_array() && value.size() == 2 && value[1].is_number_integer())
    return value[1].get<int>();
  if (value.is_array() && !value.empty() && value[0].is_string())
    if (int id = id_of(value[0].get<std::string>()); id >= 0)
      return id;
  refuse(child(path, key), "is not a [token, id] pair");
}

constexpr const char* supported_post_processors = "TemplateProcessing, ByteLevel, RobertaProcessing, "
                                                  "BertProcessing, Sequence";

} // namespace

special_template parse_post_processor(const json& spec, const std::string& path,
                                      const std::function<int(const std::string&)>& id_of) {
  if (spec.is_null())
    return {};
  const auto type = type_field(spec, path);
  if (type == "TemplateProcessing")
    return parse_template(spec, path);
  if (type == "ByteLevel")
    return {};
  if (type == "RobertaProcessing" || type == "BertProcessing")
    return {{pair_id(spec, "cls", path, id_of)}, {pair_id(spec, "sep", path, id_of)}};
  if (type == "Sequence") {
    // Each processor wraps what the ones before it produced.
    special_template out;
    const auto list_path = child(path, "processors");
    const auto& list = array_field(spec, "processors", path);
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto step = parse_post_processor(list[i], element(list_path, i), id_of);
      step.leading.insert(step.leading.end(), out.leading.begin(), out.leading.end());
      out.leading = std::move(step.leading);
      out.trailing.insert(out.trailing.end(), step.trailing.begin(), step.trailing.end());
    }
    return out;
  }
  unsupported_type(path, type, supported_post_processors);
}

} // namespace tailor::tokenizers
