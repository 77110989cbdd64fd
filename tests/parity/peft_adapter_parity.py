"""LoRA adapters between tailor and PEFT, both directions.

    peft_adapter_parity.py DIR

DIR holds, from tests/gpu_adapter_checkpoint_test.cpp: tailor_lora/ (a checkpoint saved by tailor of a model with
trained LoRA adapters: the base in model.safetensors, the adapters in adapter_config.json and
adapter_model.safetensors) and tailor_lora.expected.safetensors (input_ids, tailor's logits with the adapters,
base_logits without them). This script checks that
  - the base weights alone load in transformers with no missing or unexpected tensor and give base_logits;
  - PeftModel.from_pretrained(base, tailor_lora) finds every adapter tensor, leaves none at its initial value
    and gives tailor's logits within 1e-4; so does AutoPeftModelForCausalLM, which finds the base through
    base_model_name_or_path, and transformers' own from_pretrained, which attaches the adapter it finds;
Then it writes peft_made/ (an adapter PEFT trains on the same base, rank 3 on the MLP and q_proj, its B
non-zero) and peft_made.expected.safetensors (its logits) for the C++ side to load and compare.
Exit status 0 when every check passes.
"""

import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model here is a local directory

import torch
from peft import AutoPeftModelForCausalLM, LoraConfig, PeftConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM
from parity_checks import check, check_close, exit_status


def logits(model, input_ids):
    model.eval()
    with torch.no_grad():
        return model(input_ids).logits


def base_only(directory, checkpoint):
    # A copy without the adapter files: transformers with peft installed would attach them.
    base = directory / "base_only"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(checkpoint / name, base / name)
    model, info = AutoModelForCausalLM.from_pretrained(
        base, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        check(not info.get(kind), f"base weights: {kind} {info.get(kind)}")
    return model


def check_tailor_adapter(directory):
    checkpoint = directory / "tailor_lora"
    expected = load_file(str(directory / "tailor_lora.expected.safetensors"))
    input_ids = expected["input_ids"]

    config = PeftConfig.from_pretrained(checkpoint)
    check(isinstance(config, LoraConfig), f"adapter_config.json reads as {type(config).__name__}")
    check(config.base_model_name_or_path == str(checkpoint.resolve()),
          f"base_model_name_or_path {config.base_model_name_or_path} is the checkpoint")

    check_close("base weights in transformers vs tailor's base", logits(base_only(directory, checkpoint), input_ids),
            expected["base_logits"])

    stored = load_file(str(checkpoint / "adapter_model.safetensors"))
    model = PeftModel.from_pretrained(base_only(directory, checkpoint), checkpoint)
    adapters = {n: p for n, p in model.named_parameters() if ".lora_" in n}
    check(len(adapters) == len(stored) > 0, f"PEFT has {len(adapters)} adapter tensors, the file {len(stored)}")
    for name, parameter in adapters.items():
        saved = stored.get(name.replace(".default.", "."))
        if saved is None or not torch.equal(saved, parameter.detach()):
            check(False, f"{name} is not the file's tensor")
            break
    else:
        check(True, "every adapter tensor PEFT holds is the file's")
    check_close("PeftModel.from_pretrained vs tailor", logits(model, input_ids), expected["logits"])

    auto = AutoPeftModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32, attn_implementation="eager")
    check_close("AutoPeftModelForCausalLM vs tailor", logits(auto, input_ids), expected["logits"])
    plain = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32, attn_implementation="eager")
    check_close("transformers from_pretrained (peft installed) vs tailor", logits(plain, input_ids), expected["logits"])
    return input_ids


def write_peft_adapter(directory, input_ids):
    model = get_peft_model(
        base_only(directory, directory / "tailor_lora"),
        LoraConfig(r=3, lora_alpha=5, lora_dropout=0.05, target_modules=["q_proj", "gate_proj", "up_proj", "down_proj"],
                   init_lora_weights=False, task_type="CAUSAL_LM"))
    torch.manual_seed(7)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if ".lora_" in name:
                parameter.normal_(0.0, 0.3)
    out = directory / "peft_made"
    model.save_pretrained(out)
    save_file({"input_ids": input_ids, "logits": logits(model, input_ids).contiguous()},
              str(directory / "peft_made.expected.safetensors"))
    config = json.loads((out / "adapter_config.json").read_text())
    print(f"wrote peft_made: r={config['r']} targets={config['target_modules']}", file=sys.stderr)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    directory = Path(sys.argv[1])
    input_ids = check_tailor_adapter(directory)
    write_peft_adapter(directory, input_ids)
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
