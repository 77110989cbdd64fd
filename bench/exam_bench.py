#!/usr/bin/env python3
"""The exam benchmark's baseline: transformers' `generate` over the exam's batches, as a user would run it.

Run by build/bench/exam_bench (C++) with `--job FILE`: a JSON job with the model ({"checkpoint": dir} or
{"config": {...}} for random weights), the prompts' token ids, each sample's length in tokens (the EOS
included: tailor's rows ended there), the order and size of the batches, the sampling settings, threads and
repeats. Every row is forced to end at its length (EOS banned before it, EOS alone at it), so both sides
generate the same tokens' worth; a batch runs until its longest row ends, as `generate` does. Prints one JSON
object: the seconds of each repeat, the tokens generated, and how many rows ended off their length.
"""
import argparse
import json
import statistics
import time


def build_model(spec):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    if "checkpoint" in spec:
        return LlamaForCausalLM.from_pretrained(spec["checkpoint"], torch_dtype=torch.float32)
    config = LlamaConfig(**spec["config"], bos_token_id=1, eos_token_id=2, pad_token_id=None)
    torch.manual_seed(0)
    return LlamaForCausalLM(config).to(torch.float32)


class forced_lengths:
    """A logits processor: row r's token number targets[r] is the EOS, and no token before it is."""

    def __init__(self, targets, prompt_width, eos, device):
        import torch
        self.targets = torch.tensor(targets, device=device)
        self.prompt_width = prompt_width
        self.eos = eos

    def __call__(self, input_ids, scores):
        step = input_ids.shape[1] - self.prompt_width + 1  # the token being chosen now, 1-based
        scores[:, self.eos] = float("-inf")
        forced = self.targets == step
        scores[forced] = float("-inf")
        scores[forced, self.eos] = 0.0
        return scores


def run_exam(model, job):
    """One pass over the exam's batches -> (seconds, tokens generated, rows that ended off their length)."""
    import contextlib
    import torch
    from transformers import LogitsProcessorList
    device = job.get("device", "cpu")
    # bf16 autocast on a GPU (weights fp32), as tailor's exam runs there; the CPU stays fp32.
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device != "cpu" else contextlib.nullcontext()
    prompts, targets, samples, eos = job["prompts"], job["targets"], job["samples"], job["eos"]
    order, batch = job["order"], job["batch"]
    tokens = off = 0
    start = time.perf_counter()
    for first in range(0, len(order), batch):
        chunk = order[first:first + batch]
        width = max(len(prompts[p]) for p in chunk)
        ids = torch.zeros((len(chunk), width), dtype=torch.long)  # left-padded: pads are masked
        mask = torch.zeros_like(ids)
        for row, p in enumerate(chunk):
            ids[row, width - len(prompts[p]):] = torch.tensor(prompts[p])
            mask[row, width - len(prompts[p]):] = 1
        rows = [targets[p][s] for p in chunk for s in range(samples)]  # row p * n + s, as generate repeats
        forcing = LogitsProcessorList([forced_lengths(rows, width, eos, device)])
        with torch.inference_mode(), autocast:
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=True,
                                 temperature=1.0, top_k=job["top_k"], top_p=1.0,
                                 max_new_tokens=job["max_new_tokens"], num_return_sequences=samples,
                                 eos_token_id=eos, pad_token_id=0, logits_processor=forcing)
        out = out.cpu()
        for row, target in enumerate(rows):
            new = out[row, width:].tolist()
            length = new.index(eos) + 1 if eos in new else len(new)
            tokens += length
            off += length != target
    return time.perf_counter() - start, tokens, off


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job", required=True)
    args = parser.parse_args()
    with open(args.job) as f:
        job = json.load(f)
    import torch
    import transformers
    torch.set_num_threads(job["threads"])
    model = build_model(job["model"]).to(job.get("device", "cpu"))
    model.eval()
    model.generation_config.eos_token_id = job["eos"]
    run_exam(model, {**job, "order": job["order"][:job["batch"]]})  # warm-up: one batch
    seconds, tokens, off = [], 0, 0
    for _ in range(job["repeats"]):
        torch.manual_seed(len(seconds))
        took, tokens, off = run_exam(model, job)
        seconds.append(took)
    print(json.dumps({"seconds": seconds, "median_seconds": statistics.median(seconds), "tokens": tokens,
                      "rows_off_length": off, "threads": torch.get_num_threads(), "torch": torch.__version__,
                      "transformers": transformers.__version__}))


if __name__ == "__main__":
    main()
