# Peak memory of one training step at Qwen2.5-0.5B's size (published config.json values, random weights),
# CPU: full fine-tuning, full fine-tuning with activation checkpointing, LoRA r=16, and LoRA r=16 with
# activation checkpointing; tailor (build/bench/train_memory_bench) against PyTorch + PEFT doing the same,
# every mode in a process of its own so that each peak is its own. Prints `name tailor baseline ratio`
# lines and writes bench/results/train_memory_bench.json.
#   python bench/train_memory_bench.py --tailor build/bench/train_memory_bench [--modes full,lora,...]
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import real_size_bench  # noqa: E402  (the checkpoint writer)

MODES = {
    "full": dict(lora_rank=0, checkpointing=False),
    "full_checkpointing": dict(lora_rank=0, checkpointing=True),
    "lora": dict(lora_rank=16, checkpointing=False),
    "lora_checkpointing": dict(lora_rank=16, checkpointing=True),
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def batch_ids(vocab, batch, seq):
    import random
    rng = random.Random(7)
    return [[rng.randrange(vocab) for _ in range(seq)] for _ in range(batch)]


def baseline(checkpoint, threads, batch, seq, lora_rank, checkpointing, steps):
    """PyTorch + PEFT, measured as train_memory_bench measures tailor (run in a child process)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(threads)
    out = {}
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
    out["rss_after_load_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
    if lora_rank > 0:
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank, lora_dropout=0.0,
                                                 target_modules=TARGETS, task_type="CAUSAL_LM"))
        if checkpointing:
            model.enable_input_require_grads()  # the reentrant checkpoint needs an input that requires grad
    trainable = [p for p in model.parameters() if p.requires_grad]
    out["trainable_parameters"] = sum(p.numel() for p in trainable)
    vocab = len(AutoTokenizer.from_pretrained(checkpoint))
    ids = torch.tensor(batch_ids(vocab, batch, seq))
    model.train()
    adamw = torch.optim.AdamW(trainable, lr=1e-5)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        adamw.step()
        adamw.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    out["step_seconds"] = times[-1]
    out["tokens_per_second"] = batch * seq / times[-1]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["threads"] = threads
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tailor", help="build/bench/train_memory_bench")
    parser.add_argument("--size", default="qwen2.5-0.5b")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "tailor-real-size"))
    parser.add_argument("--results", default=os.path.join(HERE, "results"))
    parser.add_argument("--baseline-child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.baseline_child:
        print(json.dumps(baseline(**json.loads(args.baseline_child))))
        return
    checkpoint = os.path.join(args.work, args.size)
    real_size_bench.write_checkpoint(args.size, checkpoint)
    results = {"size": args.size, "batch": args.batch, "seq": args.seq, "threads": args.threads, "modes": {}}
    for mode in args.modes.split(","):
        spec = MODES[mode]
        cpp_args = [args.tailor, "--checkpoint", checkpoint, "--threads", str(args.threads), "--batch",
                    str(args.batch), "--seq", str(args.seq), "--steps", str(args.steps), "--lora-rank",
                    str(spec["lora_rank"])]
        if spec["checkpointing"]:
            cpp_args.append("--checkpointing")
        tailor = json.loads(subprocess.run(cpp_args, check=True, capture_output=True, text=True).stdout)
        child = dict(checkpoint=checkpoint, threads=args.threads, batch=args.batch, seq=args.seq,
                     steps=args.steps, **spec)
        env = dict(os.environ, TRANSFORMERS_VERBOSITY="error", HF_HUB_OFFLINE="1")
        hf = json.loads(subprocess.run([sys.executable, __file__, "--baseline-child", json.dumps(child)],
                                       check=True, capture_output=True, text=True,
                                       env=env).stdout.strip().splitlines()[-1])
        results["modes"][mode] = {"tailor": tailor, "pytorch_peft": hf}
        for key in ("peak_rss_mb", "tokens_per_second", "trainable_parameters"):
            print(f"{mode}_{key}  {tailor[key]:.1f}  {hf[key]:.1f}  {tailor[key] / hf[key]:.2f}", flush=True)
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "train_memory_bench.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
