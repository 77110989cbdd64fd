"""Safetensors files between tailor and the reference `safetensors` package, both directions.

    checkpoint_safetensors.py DIR

checks that DIR/from_tailor_{F32,F16,BF16}.safetensors hold the reference tensors, floats in that dtype, then
writes them with safetensors.torch to DIR/from_python.safetensors (the vector as F16, the scalar as BF16).

The C++ test builds the same tensors (tests/gpu_safetensors_test.cpp, `reference_tensors`); exit status 0 means
equal, anything else prints what differs.
"""

import sys

import torch
from safetensors.torch import load_file, save_file

FLOAT_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def reference_tensors(float_dtype):
    # Values exact in float16 and bfloat16, so that every conversion is lossless and comparisons are exact.
    return {
        "a.matrix": (torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25 - 1).to(float_dtype),
        "b.vector": ((torch.arange(10, dtype=torch.float32) - 5) / 4).to(float_dtype),
        "c.scalar": torch.tensor(3.5, dtype=float_dtype),
        "d.empty": torch.zeros(0, 3, dtype=float_dtype),
        "e.long": torch.arange(5, dtype=torch.int64) * 1000000007,
        "f.int": torch.tensor([-2, 0, 7], dtype=torch.int32),
        "g.bool": torch.tensor([True, False, True]),
    }


def write(path):
    tensors = reference_tensors(torch.float32)
    tensors["b.vector"] = tensors["b.vector"].to(torch.float16)
    tensors["c.scalar"] = tensors["c.scalar"].to(torch.bfloat16)
    save_file(tensors, path, metadata={"written_by": "safetensors"})
    return 0


def check(path, dtype_name):
    print(f"checking {path}", file=sys.stderr)
    expected = reference_tensors(FLOAT_DTYPES[dtype_name])
    loaded = load_file(path)
    failures = []
    if sorted(loaded) != sorted(expected):
        failures.append(f"names {sorted(loaded)} != {sorted(expected)}")
    for name, want in expected.items():
        got = loaded.get(name)
        if got is None:
            continue
        if got.dtype != want.dtype or got.shape != want.shape or not torch.equal(got, want):
            failures.append(f"{name}: got {got.dtype} {tuple(got.shape)} {got.flatten()[:6].tolist()}, "
                            f"want {want.dtype} {tuple(want.shape)} {want.flatten()[:6].tolist()}")
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    directory = sys.argv[1]
    # One interpreter for every check: importing torch costs seconds.
    failed = [name for name in FLOAT_DTYPES if check(f"{directory}/from_tailor_{name}.safetensors", name)]
    write(f"{directory}/from_python.safetensors")
    sys.exit(1 if failed else 0)
