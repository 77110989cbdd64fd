"""Reference numbers from Hugging Face transformers for the model families tailor loads.

    hf_families.py build OUT_DIR
        builds one tiny random model per family (float32, fixed seeds) and saves each with save_pretrained
        (safetensors) into OUT_DIR/<name>/, with OUT_DIR/<name>/reference.safetensors: `tokens` [2, 16] and
        their `logits` [2, 16, V]; prompts `prompt_0`, `prompt_1` and the 24 tokens generate(do_sample=False)
        appends to each (`generated_0/1`); the rotary `inv_freq` and `attention_scaling` transformers uses.
        OUT_DIR/families.json lists each name with its class and model_type.
    hf_families.py reload DIR...
        loads each DIR (a checkpoint tailor wrote) with AutoModelForCausalLM in float32 and writes, into DIR,
        `transformers_logits.safetensors` (`logits` of the `tokens` in DIR/tokens.safetensors) and
        `transformers_class.json` (the class transformers chose, its model_type, rope parameters and
        whether its lm_head shares the embedding).

Exit status 0 on success.
"""

import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import (AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, MistralConfig,
                          MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)
from random_weights import spread_weights

VOCAB = 128
NEW_TOKENS = 24
COMMON = dict(vocab_size=VOCAB, intermediate_size=160, num_hidden_layers=2, rms_norm_eps=1e-6,
              attn_implementation="eager")


def families():
    """name -> (model class, config): each family as its users' checkpoints have it, shrunk."""
    llama3_rope = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
                   "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
    return {
        # Llama 3.2: llama3 rope scaling, tied embeddings, several stop ids.
        "llama3": (LlamaForCausalLM, LlamaConfig(
            hidden_size=64, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=131072,
            rope_parameters=llama3_rope, tie_word_embeddings=True, bos_token_id=1, eos_token_id=[2, 3, 4],
            **COMMON)),
        "llama-linear": (LlamaForCausalLM, LlamaConfig(
            hidden_size=64, num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
            rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0}, **COMMON)),
        # yarn, and Llama's attention_bias (q/k/v and o_proj).
        "llama-yarn": (LlamaForCausalLM, LlamaConfig(
            hidden_size=64, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
            rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                             "original_max_position_embeddings": 64},
            attention_bias=True, **COMMON)),
        # Qwen2.5-0.5B: q/k/v biases, tied, no window in use.
        "qwen2": (Qwen2ForCausalLM, Qwen2Config(
            hidden_size=64, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, tie_word_embeddings=True,
            use_sliding_window=False, sliding_window=32768, max_window_layers=2, bos_token_id=None,
            eos_token_id=5, **COMMON)),
        # Qwen2 with its window in use: the second layer slides over 6 positions.
        "qwen2-window": (Qwen2ForCausalLM, Qwen2Config(
            hidden_size=64, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, use_sliding_window=True,
            sliding_window=6, max_window_layers=1, **COMMON)),
        # Qwen3: q/k norms, head_dim 32 with 4 heads on a hidden size of 64.
        "qwen3": (Qwen3ForCausalLM, Qwen3Config(
            hidden_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
            max_position_embeddings=40960, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
            tie_word_embeddings=True, **COMMON)),
        # Mistral 7B v0.1: a sliding window (8 here) shorter than the sequences.
        "mistral": (MistralForCausalLM, MistralConfig(
            hidden_size=64, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
            sliding_window=8, rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, **COMMON)),
        # SmolLM2-135M: a Llama with tied embeddings, 3 heads of 16 over one key/value head.
        "smollm": (LlamaForCausalLM, LlamaConfig(
            hidden_size=48, num_attention_heads=3, num_key_value_heads=1, max_position_embeddings=8192,
            rope_parameters={"rope_type": "default", "rope_theta": 100000.0}, tie_word_embeddings=True,
            **COMMON)),
        # TinyLlama-1.1B: an untied Llama with 4:1 grouped-query attention.
        "tinyllama": (LlamaForCausalLM, LlamaConfig(
            hidden_size=64, num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=2048,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, **COMMON)),
    }


def build_one(out_dir, seed, model_class, config):
    torch.manual_seed(seed)
    model = model_class(config).float().eval()
    spread_weights(model)
    model.generation_config.eos_token_id = None  # always NEW_TOKENS new tokens
    model.generation_config.pad_token_id = 0
    model.save_pretrained(out_dir)

    generator = torch.Generator().manual_seed(seed + 1)
    tokens = torch.randint(3, VOCAB, (2, 16), generator=generator)
    with torch.no_grad():
        logits = model(input_ids=tokens).logits
    rotary = model.model.rotary_emb
    out = {"tokens": tokens, "logits": logits.contiguous(), "inv_freq": rotary.inv_freq.contiguous(),
           "attention_scaling": torch.tensor([float(rotary.attention_scaling)])}
    for i, length in enumerate((5, 9)):
        prompt = torch.randint(3, VOCAB, (1, length), generator=generator)
        with torch.no_grad():
            generated = model.generate(prompt, max_new_tokens=NEW_TOKENS, do_sample=False, eos_token_id=None,
                                       pad_token_id=0)
        out[f"prompt_{i}"] = prompt[0].contiguous()
        out[f"generated_{i}"] = generated[0, length:].contiguous()
    save_file(out, os.path.join(out_dir, "reference.safetensors"))
    return {"class": type(model).__name__, "model_type": config.model_type}


def build(out_dir):
    listing = {}
    for seed, (name, (model_class, config)) in enumerate(families().items()):
        listing[name] = build_one(os.path.join(out_dir, name), 1000 + 10 * seed, model_class, config)
    with open(os.path.join(out_dir, "families.json"), "w") as f:
        json.dump(listing, f, indent=2)
    return 0


def reload(dirs):
    for model_dir in dirs:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        tokens = load_file(os.path.join(model_dir, "tokens.safetensors"))["tokens"]
        with torch.no_grad():
            logits = model(input_ids=tokens).logits
        save_file({"logits": logits.contiguous()}, os.path.join(model_dir, "transformers_logits.safetensors"))
        tied = model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
        with open(os.path.join(model_dir, "transformers_class.json"), "w") as f:
            json.dump({"class": type(model).__name__, "model_type": model.config.model_type,
                       "rope_parameters": model.config.rope_parameters, "tied": tied}, f)
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "build":
        return build(argv[2])
    if len(argv) >= 3 and argv[1] == "reload":
        return reload(argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
