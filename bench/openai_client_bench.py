#!/usr/bin/env python3
"""The teacher client benchmark's loads through the official `openai` Python client (AsyncOpenAI).

Run by bench/teacher_client_bench (which starts the servers), or by hand against `tailor teacher-serve`.
Prints one JSON object: seconds taken by each load and the number of failed requests.
"""
import argparse
import asyncio
import json
import sys
import time

from openai import AsyncOpenAI


def request_args(index):
    # The same request the C++ side sends.
    return {
        "model": "echo-model",
        "messages": [
            {"role": "system", "content": "Explain step by step."},
            {"role": "user", "content": f"What is {index} + 1?"},
        ],
        "max_tokens": 64,
        "temperature": 0.7,
        "top_p": 1.0,
        "n": 1,
    }


async def run_load(client, count, concurrency):
    """Seconds for `count` requests with at most `concurrency` outstanding, and how many failed."""
    failures = 0
    next_index = 0

    async def worker():
        nonlocal failures, next_index
        while next_index < count:
            index = next_index
            next_index += 1
            try:
                await client.chat.completions.create(**request_args(index))
            except Exception as error:  # noqa: BLE001 - a failure is counted, not fatal
                failures += 1
                print(f"openai_client_bench: {error}", file=sys.stderr)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, failures


async def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fast-url", required=True, help="base URL of a server with no added latency")
    parser.add_argument("--slow-url", required=True, help="base URL of a server with 200 ms latency")
    parser.add_argument("--sequential", type=int, default=2000)
    parser.add_argument("--concurrent", type=int, default=5000)
    parser.add_argument("--slow", type=int, default=640)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    # No retries, as on the C++ side; the key is required by the client but not checked by the server.
    fast = AsyncOpenAI(base_url=args.fast_url, api_key="unused", max_retries=0, timeout=120)
    slow = AsyncOpenAI(base_url=args.slow_url, api_key="unused", max_retries=0, timeout=120)
    # Warm-up: connections, imports, caches, as on the C++ side.
    await run_load(fast, 200, args.concurrency)
    await run_load(slow, args.concurrency, args.concurrency)
    sequential_s, failed_sequential = await run_load(fast, args.sequential, 1)
    concurrent_s, failed_concurrent = await run_load(fast, args.concurrent, args.concurrency)
    slow_s, failed_slow = await run_load(slow, args.slow, args.concurrency)
    await fast.close()
    await slow.close()
    print(json.dumps({
        "sequential_s": sequential_s,
        "concurrent_s": concurrent_s,
        "slow_s": slow_s,
        "failures": failed_sequential + failed_concurrent + failed_slow,
    }))


if __name__ == "__main__":
    asyncio.run(main())
