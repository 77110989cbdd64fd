"""Checkpoints between tailor and Hugging Face transformers, both directions.

    checkpoint_hf_parity.py DIR

DIR holds, from tests/gpu_checkpoint_test.cpp: tailor_untied/ and tailor_tied/ (checkpoints saved by tailor),
each with NAME.expected.safetensors beside it (input_ids, tailor's logits on them, tailor's token ids of
DIR/text.txt). For each, this script checks that
  - LlamaForCausalLM.from_pretrained loads it with no missing, unexpected or mismatched tensor, and gives the
    same logits within 1e-4;
  - tokenizer.model loads in sentencepiece and encodes the text to the same ids;
  - optimizer.pt loads with torch.load(weights_only=True) and holds a state for parameters of the model.
Then it writes two checkpoints made by transformers for the C++ side to load and compare: hf_tied_bf16_sharded/
(bfloat16, sharded, tied embeddings) and hf_untied_f16/ (float16, one file), each with its expected logits.
Exit status 0 when every check passes.
"""

import shutil
import sys
from pathlib import Path

import sentencepiece
import torch
import torch.jit._pickle
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig, LlamaForCausalLM
from parity_checks import check, check_close, exit_status
from random_weights import spread_weights


def check_tailor_checkpoint(directory, name):
    checkpoint = directory / name
    expected = load_file(str(directory / f"{name}.expected.safetensors"))
    model, info = LlamaForCausalLM.from_pretrained(
        checkpoint, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    model.eval()
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        check(not info.get(kind), f"{name}: {kind} {info.get(kind)}")
    with torch.no_grad():
        logits = model(expected["input_ids"]).logits
    check_close(f"{name}: transformers vs tailor", logits, expected["logits"])

    processor = sentencepiece.SentencePieceProcessor(model_file=str(checkpoint / "tokenizer.model"))
    text = (directory / "text.txt").read_text()
    ids = processor.encode(text)
    check(ids == expected["text_ids"].tolist(), f"{name}: sentencepiece encodes the text as tailor does ({ids})")

    # LibTorch's pickler tags dicts and lists with their element types through this one function.
    with torch.serialization.safe_globals([torch.jit._pickle.restore_type_tag]):
        optimizer = torch.load(checkpoint / "optimizer.pt", weights_only=True)
    parameters = dict(model.named_parameters())
    states = optimizer["state"]
    check(set(states) == set(parameters), f"{name}: optimizer.pt has a state for each of the model's parameters")
    check(all(states[n]["exp_avg"].shape == parameters[n].shape for n in states if n in parameters),
          f"{name}: optimizer moments have their parameters' shapes")


def spread(model, seed):
    # Weights far from the tiny initialisation, so that logits are O(1) and comparisons mean something.
    torch.manual_seed(seed)
    spread_weights(model, norm_std=0.1, weight_std=0.3)


def write_hf_checkpoint(directory, name, tied, dtype, shard_size, input_ids):
    config = LlamaConfig(hidden_size=64, intermediate_size=172, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=128, max_position_embeddings=512, rms_norm_eps=1e-6,
                         tie_word_embeddings=tied, bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(config)
    spread(model, 100 + tied)
    checkpoint = directory / name
    model.to(dtype).save_pretrained(checkpoint, max_shard_size=shard_size)
    shutil.copy(directory / "tailor_untied" / "tokenizer.model", checkpoint / "tokenizer.model")
    # The stored weights, rounded to `dtype`, computed in float32: what tailor must reproduce. Reloaded rather
    # than converted back, because converting the model also rounds its rotary frequencies (a float buffer).
    model = LlamaForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(input_ids).logits
    save_file({"input_ids": input_ids, "logits": logits.contiguous()},
              str(directory / f"{name}.expected.safetensors"))
    weight_files = sorted(p.name for p in checkpoint.glob("*.safetensors"))
    print(f"wrote {name}: {weight_files}", file=sys.stderr)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    directory = Path(sys.argv[1])
    for name in ("tailor_untied", "tailor_tied"):
        check_tailor_checkpoint(directory, name)
    input_ids = load_file(str(directory / "tailor_untied.expected.safetensors"))["input_ids"]
    write_hf_checkpoint(directory, "hf_tied_bf16_sharded", True, torch.bfloat16, "20KB", input_ids)
    write_hf_checkpoint(directory, "hf_untied_f16", False, torch.float16, "50MB", input_ids)
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
