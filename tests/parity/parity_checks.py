# The checks of the parity scripts: each prints ok or FAILED on stderr and a failure is remembered, so that a
# script runs every check, reports them all, and exits with exit_status().
import sys

TOLERANCE = 1e-4  # max |difference| of logits computed in float32 by two implementations

failures = []


def check(condition, message):
    print(("ok      " if condition else "FAILED  ") + message, file=sys.stderr)
    if not condition:
        failures.append(message)


def check_close(name, got, want, tolerance=TOLERANCE):
    """Checks that two logits tensors agree within `tolerance`, naming their difference and scale."""
    difference = (got - want).abs().max().item()
    check(difference < tolerance, f"{name}: max difference {difference:.3g} (logits up to {want.abs().max():.3g})")


def exit_status():
    return 1 if failures else 0
