"""Reference numbers from Hugging Face transformers for tailor's LLaMA model and its two losses.

    llama_reference.py model OUT_DIR [--tie]
        builds a tiny random LlamaForCausalLM (fixed seed, float32), saves it with save_pretrained into OUT_DIR
        and writes OUT_DIR/reference.safetensors: `tokens` [2, 12] and their `logits` [2, 12, V]; prompts
        `prompt_0`, `prompt_1` and the 10 tokens `generate(do_sample=False)` appends to each (`generated_0/1`).
    llama_reference.py losses MODEL_DIR BATCH_JSON OUT_FILE
        computes the weighted LM loss and the self-reflection triplet loss of the examples in BATCH_JSON
        (token lists, unpadded) one example at a time, and writes `lm`, `triplet`, `total`, the encodings and the
        gradients of `total` with respect to the parameters named in BATCH_JSON's `grad_names` to OUT_FILE.

The losses follow the paper's definition directly, without padding or batching, so that they check tailor's
padded, batched, cached implementation rather than repeat it. Exit status 0 on success.
"""

import copy
import json
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM
from random_weights import spread_weights

VOCAB = 128


def tiny_config(tie):
    return LlamaConfig(
        hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        vocab_size=VOCAB, max_position_embeddings=256, rms_norm_eps=1e-5, tie_word_embeddings=tie,
        rope_parameters={"rope_type": "default", "rope_theta": 1000.0}, bos_token_id=1, eos_token_id=2,
        pad_token_id=None, attn_implementation="eager")


def build_model(out_dir, tie):
    torch.manual_seed(1234)
    model = LlamaForCausalLM(tiny_config(tie)).float().eval()
    spread_weights(model)
    model.generation_config.eos_token_id = None  # always 10 new tokens
    model.generation_config.pad_token_id = 0
    model.save_pretrained(out_dir)

    generator = torch.Generator().manual_seed(99)
    tokens = torch.randint(3, VOCAB, (2, 12), generator=generator)
    with torch.no_grad():
        logits = model(input_ids=tokens).logits
    out = {"tokens": tokens, "logits": logits.contiguous()}
    for i, length in enumerate((5, 8)):
        prompt = torch.randint(3, VOCAB, (1, length), generator=generator)
        with torch.no_grad():
            generated = model.generate(prompt, max_new_tokens=10, do_sample=False, eos_token_id=None)
        out[f"prompt_{i}"] = prompt[0].contiguous()
        out[f"generated_{i}"] = generated[0, length:].contiguous()
    save_file(out, f"{out_dir}/reference.safetensors")
    return 0


def last_hidden_after_prefix(model, prefix_cache, rationale):
    # The prefix cache was filled without gradient; a copy is extended by the rationale, with gradient.
    cache = copy.deepcopy(prefix_cache)
    out = model.model(input_ids=torch.tensor([rationale]), past_key_values=cache, use_cache=True)
    return out.last_hidden_state[0, -1]  # after the final norm


def losses(model_dir, batch_json, out_file):
    model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model.train()
    spec = json.load(open(batch_json))
    w, margin, lam, cut = spec["prefix_weight"], spec["margin"], spec["triplet_weight"], spec["max_rationale_tokens"]

    # L_lm: every predicted token of every example, weighted, over the count of predicted tokens.
    weighted_sum, counted = torch.zeros(()), 0
    for e in spec["examples"]:
        ids = e["prefix"] + e["target"]
        logits = model(input_ids=torch.tensor([ids])).logits[0]
        for t in range(len(ids) - 1):
            weight = 1.0 if t + 1 >= len(e["prefix"]) else w
            weighted_sum = weighted_sum + weight * F.cross_entropy(logits[t], torch.tensor(ids[t + 1]))
            counted += 1
    lm = weighted_sum / max(counted, 1)

    # L_cl over the examples with a non-empty anchor, a different positive and a negative.
    anchors, positives, negatives = [], [], []
    for e in spec["examples"]:
        a, p, n = e["anchor"][:cut], e["positive"][:cut], e["negative"][:cut]
        if not (e["anchor"] and e["positive"] and e["negative"]) or e["positive"] == e["anchor"]:
            continue
        with torch.no_grad():
            prefix_cache = model.model(input_ids=torch.tensor([e["prefix"]]), use_cache=True).past_key_values
        anchors.append(last_hidden_after_prefix(model, prefix_cache, a))
        positives.append(last_hidden_after_prefix(model, prefix_cache, p))
        negatives.append(last_hidden_after_prefix(model, prefix_cache, n))
    out = {}
    if anchors:
        a, p, n = torch.stack(anchors), torch.stack(positives), torch.stack(negatives)
        per_row = torch.relu(margin - F.cosine_similarity(a, p, dim=1) + F.cosine_similarity(a, n, dim=1))
        triplet = per_row.mean()
        out.update({"anchor": a.detach(), "positive": p.detach(), "negative": n.detach()})
    else:
        triplet = torch.zeros(())
    total = lm + lam * triplet
    total.backward()

    params = dict(model.named_parameters())
    for name in spec["grad_names"]:
        grad = params[name].grad
        out["grad." + name] = torch.zeros_like(params[name]) if grad is None else grad.contiguous()
    out.update({"lm": lm.detach().reshape(1), "triplet": triplet.detach().reshape(1),
                "total": total.detach().reshape(1)})
    save_file({k: v.contiguous() for k, v in out.items()}, out_file)
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "model":
        return build_model(argv[2], "--tie" in argv[3:])
    if len(argv) == 5 and argv[1] == "losses":
        return losses(argv[2], argv[3], argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
