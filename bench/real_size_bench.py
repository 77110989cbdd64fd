# The student at a real size: Qwen2.5-0.5B's and Llama-3.2-1B's published config.json values with random
# weights, loaded, trained one step and decoded greedily by tailor (build/bench/real_size_bench) and by
# transformers, one after the other in separate processes with the same threads, so that each has the
# machine's memory to itself. Prints `name tailor transformers ratio` lines and writes bench/results/.
#   python bench/real_size_bench.py --tailor build/bench/real_size_bench [--sizes qwen2.5-0.5b,llama3.2-1b]
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Published config.json values (the models' Hugging Face repositories); weights random, stored as bf16 as
# the published checkpoints are.
SIZES = {
    "qwen2.5-0.5b": dict(
        family="qwen2", architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_size=896,
        intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
        vocab_size=151936, max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=True, sliding_window=32768, max_window_layers=21, use_sliding_window=False,
        bos_token_id=151643, eos_token_id=151643, hidden_act="silu"),
    "llama3.2-1b": dict(
        family="llama3", architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=2048,
        intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
        head_dim=64, vocab_size=128256, max_position_embeddings=131072, rms_norm_eps=1e-5,
        tie_word_embeddings=True, bos_token_id=128000, eos_token_id=[128001, 128008, 128009],
        hidden_act="silu", rope_theta=500000.0,
        rope_scaling={"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                      "original_max_position_embeddings": 8192, "rope_type": "llama3"}),
}


def write_checkpoint(size, out):
    """A random-weight checkpoint of `size` with a small tokenizer of its family (ids below its vocab)."""
    if os.path.exists(os.path.join(out, "model.safetensors")):
        return
    import torch
    import transformers
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "families"))
    import make_checkpoints
    spec = dict(SIZES[size])
    family = spec.pop("family")
    make_checkpoints.make(family, out)  # the family's tokenizer files (and a tiny model, replaced below)
    # The special ids of that small tokenizer, not the published ones past its end: tailor checks every
    # special and stop id against the tokenizer it loads.
    with open(os.path.join(out, "config.json")) as f:
        tiny = json.load(f)
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        spec.pop(key, None)
        if tiny.get(key) is not None:
            spec[key] = tiny[key]
    os.remove(os.path.join(out, "generation_config.json"))
    config = transformers.AutoConfig.for_model(spec.pop("model_type"), **spec)
    torch.manual_seed(0)
    with torch.device("cpu"):
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(out)


def baseline(checkpoint, threads, batch, seq, prompt, new_tokens, train, optimizer):
    """transformers, measured as real_size_bench measures tailor (run in a child process)."""
    import random
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(threads)
    out = {}
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
    out["load_seconds"] = time.perf_counter() - start
    out["rss_after_load_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["parameters"] = sum(p.numel() for p in model.parameters())
    vocab = len(AutoTokenizer.from_pretrained(checkpoint))
    rng = random.Random(7)
    ids = torch.tensor([[rng.randrange(vocab) for _ in range(prompt)]])
    model.eval()
    with torch.no_grad():
        start = time.perf_counter()
        generated = model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                   pad_token_id=0)
        took = time.perf_counter() - start
    out["greedy_tokens"] = generated.shape[1] - prompt
    out["greedy_tokens_per_second"] = out["greedy_tokens"] / took
    if train:
        model.train()
        batch_ids = torch.tensor([[rng.randrange(vocab) for _ in range(seq)] for _ in range(batch)])
        if optimizer:
            adamw = torch.optim.AdamW(model.parameters(), lr=1e-5)
            steps = []
            for _ in range(2):
                start = time.perf_counter()
                loss = model(batch_ids, labels=batch_ids).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                adamw.step()
                adamw.zero_grad(set_to_none=True)
                steps.append(time.perf_counter() - start)
            out["train_step_seconds"] = steps[-1]
            out["first_train_step_seconds"] = steps[0]
        else:
            start = time.perf_counter()
            model(batch_ids, labels=batch_ids).loss.backward()
            out["forward_backward_seconds"] = time.perf_counter() - start
        out["rss_after_train_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["threads"] = threads
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tailor", help="build/bench/real_size_bench")
    parser.add_argument("--sizes", default="qwen2.5-0.5b,llama3.2-1b")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "tailor-real-size"))
    parser.add_argument("--results", default=os.path.join(HERE, "results"))
    parser.add_argument("--baseline-child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.baseline_child:
        print(json.dumps(baseline(**json.loads(args.baseline_child))))
        return
    results = {}
    for size in args.sizes.split(","):
        checkpoint = os.path.join(args.work, size)
        write_checkpoint(size, checkpoint)
        # AdamW's fp32 states of a 1.2B model (20 GB) do not fit beside anything else on a 24 GB machine:
        # there, forward and backward only.
        optimizer = size != "llama3.2-1b"
        cpp_args = [args.tailor, "--checkpoint", checkpoint, "--threads", str(args.threads), "--batch",
                    str(args.batch), "--seq", str(args.seq), "--new-tokens", str(args.new_tokens)]
        if not optimizer:
            cpp_args.append("--no-optimizer")
        tailor = json.loads(subprocess.run(cpp_args, check=True, capture_output=True, text=True).stdout)
        child = dict(checkpoint=checkpoint, threads=args.threads, batch=args.batch, seq=args.seq, prompt=64,
                     new_tokens=args.new_tokens, train=True, optimizer=optimizer)
        env = dict(os.environ, TRANSFORMERS_VERBOSITY="error", HF_HUB_OFFLINE="1")
        hf = json.loads(subprocess.run([sys.executable, __file__, "--baseline-child", json.dumps(child)], check=True,
                                       capture_output=True, text=True, env=env).stdout.strip().splitlines()[-1])
        results[size] = {"tailor": tailor, "transformers": hf}
        for key in ("load_seconds", "rss_after_load_mb", "rss_after_train_mb", "greedy_tokens_per_second",
                    "train_step_seconds", "forward_backward_seconds"):
            if key in tailor and key in hf:
                print(f"{size}_{key}  {tailor[key]:.3f}  {hf[key]:.3f}  {tailor[key] / hf[key]:.2f}", flush=True)
        print(f"{size}_parameters  {tailor['parameters']}  {hf['parameters']}  "
              f"{tailor['parameters'] / hf['parameters']:.3f}", flush=True)
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "real_size_bench.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
