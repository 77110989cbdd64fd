#!/usr/bin/env python3
"""The student benchmark: tailor's LibTorch student against PyTorch eager + transformers, same model and threads.

Runs bench/student_bench (C++) and this file's own baselines, each measurement in a fresh process so that peak
RSS belongs to that measurement alone, for 1 and 2 threads. Prints `name  value  baseline  ratio` lines and
writes bench/results/student_bench.json.

    ~/.cache/tailor/venv/bin/python bench/student_bench.py --binary build/bench/student_bench

`--device cuda` runs both sides on the GPU under bf16 autocast (weights fp32), as tailor trains and samples there;
its results go to bench/results/student_bench_cuda.json unless `--results` says otherwise.

`--worker train|profile|generate` runs one baseline measurement and prints it as JSON (used by the driver).
"""
import argparse
import json
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent

# The shape of the benchmark; the C++ side gets the same numbers on its command line.
SHAPE = {
    "dim": 256, "layers": 4, "heads": 4, "intermediate": 688, "vocab": 384,
    "batch": 16, "seq": 256, "prefix": 64, "steps": 5, "warmup": 2,
    "prompt": 64, "new_tokens": 128, "top_k": 50, "repeats": 3,
}


# ---- baselines (run with --worker) -------------------------------------------------------------------------

def autocast(device):
    """bf16 autocast on a GPU, nothing on the CPU: what tailor does on each."""
    import contextlib
    import torch
    return torch.autocast("cuda", dtype=torch.bfloat16) if device != "cpu" else contextlib.nullcontext()


def synchronize(device):
    import torch
    if device != "cpu":
        torch.cuda.synchronize()


def build_model(shape, device="cpu"):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    config = LlamaConfig(
        hidden_size=shape["dim"], intermediate_size=shape["intermediate"],
        num_hidden_layers=shape["layers"], num_attention_heads=shape["heads"],
        num_key_value_heads=shape["heads"], vocab_size=shape["vocab"],
        max_position_embeddings=max(512, shape["seq"]), rms_norm_eps=1e-5, tie_word_embeddings=False,
        bos_token_id=1, eos_token_id=2, pad_token_id=None)
    torch.manual_seed(0)
    return LlamaForCausalLM(config).to(torch.float32).to(device)


def bench_batch(shape, device="cpu"):
    """Token ids [B, T] (BOS + prefix, target + EOS) and the is-target mask, as the C++ side builds them."""
    import torch
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, shape["vocab"], (shape["batch"], shape["seq"]), generator=g)
    ids[:, 0] = 1
    ids[:, -1] = 2
    is_target = torch.zeros_like(ids, dtype=torch.bool)
    is_target[:, shape["prefix"]:] = True
    return ids.to(device), is_target.to(device)


def weighted_lm_loss(logits, ids, is_target, prefix_weight=0.1):
    """METHOD.md's loss 1 on an unpadded batch: the same work tailor's loss does."""
    import torch
    import torch.nn.functional as F
    predicting = logits[:, :-1].float()
    labels = ids[:, 1:]
    weight = torch.where(is_target[:, 1:], 1.0, prefix_weight)
    token_loss = F.cross_entropy(predicting.reshape(-1, predicting.size(-1)), labels.reshape(-1),
                                 reduction="none").view_as(labels)
    return (token_loss * weight).sum() / labels.numel()


def make_optimizer(model):
    """AdamW as tailor's trainer sets it up: decay on matrices, none on norm weights."""
    import torch
    decayed = [p for p in model.parameters() if p.dim() >= 2]
    kept = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decayed, "weight_decay": 0.01}, {"params": kept, "weight_decay": 0.0}],
                             lr=1e-3, betas=(0.9, 0.999), eps=1e-8)


def train_phases(shape, device):
    """Seconds of forward (with the loss), backward and clip + AdamW of each timed step; the first loss and last."""
    import torch
    model = build_model(shape, device)
    model.train()
    optimizer = make_optimizer(model)
    ids, is_target = bench_batch(shape, device)
    phases, losses = [], []
    for i in range(shape["warmup"] + shape["steps"]):
        t0, c0 = time.perf_counter(), time.process_time()
        optimizer.zero_grad(set_to_none=True)
        with autocast(device):
            loss = weighted_lm_loss(model(input_ids=ids).logits, ids, is_target)
        synchronize(device)
        t1 = time.perf_counter()
        loss.backward()
        synchronize(device)
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        t3, c3 = time.perf_counter(), time.process_time()
        if i >= shape["warmup"]:
            phases.append({"forward": t1 - t0, "backward": t2 - t1, "optimizer": t3 - t2, "step": t3 - t0,
                           "step_cpu": c3 - c0})
    return phases, losses


def worker_train(shape, device):
    phases, losses = train_phases(shape, device)
    step = statistics.median(p["step"] for p in phases)
    step_cpu = statistics.median(p["step_cpu"] for p in phases)
    tokens = shape["batch"] * shape["seq"]
    return {"step_seconds": step, "step_cpu_seconds": step_cpu, "tokens_per_second": tokens / step,
            "tokens_per_cpu_second": tokens / step_cpu, "first_loss": losses[0], "last_loss": losses[-1]}


def worker_profile(shape, device):
    phases, _ = train_phases(shape, device)
    return {f"{name}_seconds": statistics.median(p[name] for p in phases)
            for name in ("forward", "backward", "optimizer")}


def worker_generate(shape, device):
    import torch
    model = build_model(shape, device)
    model.eval()
    # No EOS: every row runs all new tokens, as the C++ side does with its EOS stop turned off.
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    g = torch.Generator().manual_seed(1)
    prompts = torch.randint(3, shape["vocab"], (shape["batch"], shape["prompt"]), generator=g)
    prompts[:, 0] = 1
    prompts = prompts.to(device)
    mask = torch.ones_like(prompts)
    times, cpu_times, tokens = [], [], 0
    for r in range(shape["repeats"] + 1):  # the first run warms up
        torch.manual_seed(r)
        start, cpu_start = time.perf_counter(), time.process_time()
        with torch.inference_mode(), autocast(device):
            out = model.generate(input_ids=prompts, attention_mask=mask, do_sample=True, temperature=1.0,
                                 top_k=shape["top_k"], top_p=1.0, max_new_tokens=shape["new_tokens"],
                                 min_new_tokens=shape["new_tokens"])
        synchronize(device)
        took, cpu_took = time.perf_counter() - start, time.process_time() - cpu_start
        if r > 0:
            times.append(took)
            cpu_times.append(cpu_took)
            tokens = (out.shape[1] - prompts.shape[1]) * out.shape[0]
    run, run_cpu = statistics.median(times), statistics.median(cpu_times)
    return {"run_seconds": run, "run_cpu_seconds": run_cpu, "tokens": tokens, "tokens_per_second": tokens / run,
            "tokens_per_cpu_second": tokens / run_cpu}


def run_worker(mode, threads, device):
    import torch
    torch.set_num_threads(threads)
    out = {"train": worker_train, "profile": worker_profile, "generate": worker_generate}[mode](SHAPE, device)
    out.update(mode=mode, threads=torch.get_num_threads(),
               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    print(json.dumps(out))


# ---- driver ------------------------------------------------------------------------------------------------

def device_name(device):
    import torch
    return "cpu" if device == "cpu" else torch.cuda.get_device_name(0) + " (bf16 autocast)"


def measure(command, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"student_bench: {' '.join(map(str, command))} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def best(runs):
    """Per field, the best of several runs: most tokens per second, fewest seconds and megabytes."""
    out = dict(runs[0])
    for key in runs[0]:
        values = [run[key] for run in runs]
        if "_per_" in key:
            out[key] = max(values)
        elif key.endswith(("_seconds", "_mb")):
            out[key] = min(values)
    return out


def tailor_command(binary, mode, threads, device):
    command = [str(binary), "--mode", mode, "--threads", str(threads), "--device", device]
    for key, value in SHAPE.items():
        command += ["--" + key.replace("_", "-"), str(value)]
    return command


def baseline_command(mode, threads, device):
    return [sys.executable, str(pathlib.Path(__file__).resolve()), "--worker", mode, "--threads", str(threads),
            "--device", device]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(HERE.parent / "build" / "bench" / "student_bench"))
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--modes", default="train,generate,profile")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each side; the best counts")
    parser.add_argument("--worker", choices=["train", "profile", "generate"], help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda: both sides on the GPU, bf16 autocast")
    parser.add_argument("--results", help="where the JSON goes (default bench/results/student_bench[_cuda].json)")
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, int(args.threads.split(",")[0]), args.device)
        return
    if not args.results:
        args.results = str(HERE / "results" / ("student_bench.json" if args.device == "cpu"
                                               else "student_bench_cuda.json"))

    import torch
    import transformers
    rows, raw, load = [], [], os.getloadavg()[0]
    print(f"# student benchmark: LLaMA dim {SHAPE['dim']}, {SHAPE['layers']} layers, {SHAPE['heads']} heads, "
          f"vocab {SHAPE['vocab']}, batch {SHAPE['batch']} x seq {SHAPE['seq']}; sampling {SHAPE['batch']} x "
          f"{SHAPE['new_tokens']} new tokens (top-k {SHAPE['top_k']}); torch {torch.__version__}, "
          f"transformers {transformers.__version__}; baseline = PyTorch eager (transformers LlamaForCausalLM); "
          f"{args.rounds} alternating rounds, best kept; load average {load:.1f} on {os.cpu_count()} CPUs; "
          f"device {device_name(args.device)}")
    print(f"{'name':44s}  {'value':>10s}  {'baseline':>10s}  {'ratio':>6s}")

    def row(name, value, baseline, ratio):
        rows.append({"name": name, "value": value, "baseline": baseline, "ratio": ratio})
        print(f"{name:44s}  {value:10.1f}  {baseline:10.1f}  {ratio:6.2f}", flush=True)

    for threads in [int(t) for t in args.threads.split(",")]:
        for mode in args.modes.split(","):
            # Alternate the two sides so that a noisy neighbour hurts both alike; keep each side's best round.
            rounds = []
            for _ in range(args.rounds):
                rounds.append((measure(tailor_command(args.binary, mode, threads, args.device), threads),
                               measure(baseline_command(mode, threads, args.device), threads)))
            ours, theirs = (best([r[side] for r in rounds]) for side in (0, 1))
            raw.append({"threads": threads, "mode": mode,
                        "rounds": [{"tailor": a, "baseline": b} for a, b in rounds]})
            if mode == "profile":
                for phase in ("forward", "backward", "optimizer"):
                    a, b = ours[phase + "_seconds"] * 1e3, theirs[phase + "_seconds"] * 1e3
                    row(f"train_{phase}_ms[threads={threads}]", a, b, b / a)
                continue
            what = "train" if mode == "train" else "sample"
            for unit, key in (("s", "tokens_per_second"), ("cpu_s", "tokens_per_cpu_second")):
                row(f"{what}_tokens_per_{unit}[threads={threads}]", ours[key], theirs[key], ours[key] / theirs[key])
            # Memory: lower is better, so the ratio is baseline / tailor as for the speeds.
            row(f"{what}_peak_rss_mb[threads={threads}]", ours["peak_rss_mb"], theirs["peak_rss_mb"],
                theirs["peak_rss_mb"] / ours["peak_rss_mb"])

    results = pathlib.Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps({"benchmark": "student", "shape": SHAPE, "machine": platform.processor() or
                                   platform.machine(), "cpus": os.cpu_count(), "device": device_name(args.device), "torch": torch.__version__,
                                   "transformers": transformers.__version__, "load_average_at_start": load,
                                   "rounds": args.rounds, "rows": rows, "raw": raw},
                                  indent=2) + "\n")
    print(f"# written {results}")


if __name__ == "__main__":
    main()
