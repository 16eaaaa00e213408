"""A preemption-tolerant Ray batch job whose answer is known exactly.

It sums k**2 for k = 1..N in `--tasks` chunks, one Ray task per chunk, each also holding its
CPU for `--task-seconds` (standing in for real work, so that preemptions hit running tasks).
Tasks are idempotent and Ray retries them when their node is lost (`max_retries`), so a run
with Spot preemptions must still print the exact sum, N(N+1)(2N+1)/6; the job checks it and
exits 1 if it is wrong.

    RAY_ADDRESS=127.0.0.1:6379 python examples/batch_job.py --tasks 48
    spotray run examples/seed.yaml --local -- python examples/batch_job.py
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

import ray


@ray.remote(num_cpus=1, max_retries=20)
def chunk_sum(lo: int, hi: int, seconds: float) -> int:
    """Sum of k**2 for lo <= k < hi, after `seconds` of (simulated) work."""
    time.sleep(seconds)
    return sum(k * k for k in range(lo, hi))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=48)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--task-seconds", type=float, default=2.0)
    args = parser.parse_args()

    ray.init(logging_level="ERROR", log_to_driver=False)
    bounds = [1 + args.n * i // args.tasks for i in range(args.tasks + 1)]
    refs = [chunk_sum.remote(lo, hi, args.task_seconds) for lo, hi in itertools.pairwise(bounds)]
    done, total = 0, 0
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        total += ray.get(ready[0])
        done += 1
        if done % max(1, args.tasks // 8) == 0 or not pending:
            print(f"{done}/{args.tasks} chunks done", flush=True)
    expected = args.n * (args.n + 1) * (2 * args.n + 1) // 6
    if total != expected:
        print(f"WRONG: sum of squares 1..{args.n} = {total}, expected {expected}")
        return 1
    print(f"OK: sum of squares 1..{args.n} = {total} (exact)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
