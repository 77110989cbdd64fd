"""HF `tokenizers` baseline for bench/tokenizer_bench.cpp: the same documents, the same tokenizer.json.

    tokenizer_bench.py TOKENIZER_JSON DOCUMENTS_JSON [--repeats N]

Encodes every document (add_special_tokens=False) one at a time on one thread, then all at once with
encode_batch (Rust threads, as many as the machine has), each after one warm-up pass, and prints one JSON
object: median seconds of each, MB/s, the token count and the thread count.
"""

import argparse
import json
import os
import statistics
import time

from tokenizers import Tokenizer


def timed(function, repeats):
    function()  # warm-up: the word cache fills as it would in a long run
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tokenizer")
    parser.add_argument("documents")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tokenizer = Tokenizer.from_file(args.tokenizer)
    with open(args.documents, encoding="utf-8") as f:
        documents = json.load(f)
    megabytes = sum(len(d.encode("utf-8")) for d in documents) / 1e6
    tokens = sum(len(tokenizer.encode(d, add_special_tokens=False).ids) for d in documents)

    single = timed(lambda: [tokenizer.encode(d, add_special_tokens=False) for d in documents], args.repeats)
    batch = timed(lambda: tokenizer.encode_batch(documents, add_special_tokens=False), args.repeats)
    print(json.dumps({"single_seconds": single, "single_mb_per_s": megabytes / single,
                      "batch_seconds": batch, "batch_mb_per_s": megabytes / batch,
                      "tokens": tokens, "megabytes": megabytes,
                      "batch_threads": int(os.environ.get("RAYON_NUM_THREADS", os.cpu_count()))}))


if __name__ == "__main__":
    main()
