"""The batch job with long, checkpointable tasks, in both forms: resumable, or plain Ray (`--plain`).

It sums k**2 for k = 1..N in `--tasks` tasks; each task walks its range in `--steps` steps of
`--step-seconds` of (simulated) work. With `spotray.resumable` a preempted task resumes from its
last step (saved at once when the preemption notice comes); as plain Ray it starts over. The job
checks the exact answer, N(N+1)(2N+1)/6, and exits 1 if it is wrong. With `--log FILE` every
step that runs is logged as `task attempt step`, so work redone can be counted.

    spotray run examples/seed.yaml --local --preempt-rate 20 --time-scale 5 \
        -- python examples/resumable_job.py --store /tmp/ckpt
    spotray run examples/seed.yaml --local --preempt-rate 20 --time-scale 5 \
        -- python examples/resumable_job.py --plain
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time

import ray

from spotray.resumable import resumable


def walk(task: int, lo: int, hi: int, steps: int, seconds: float, state: dict, step, log):
    """Sum k**2 over [lo, hi) in `steps` steps from `state`; `step(state)` after each."""
    bounds = [lo + (hi - lo) * i // steps for i in range(steps + 1)]
    for i in range(state["i"], steps):
        if log:
            with open(log, "a") as out:
                out.write(f"{task} {state['attempt']} {i}\n")
        time.sleep(seconds)  # the work of one step
        acc = state["acc"] + sum(k * k for k in range(bounds[i], bounds[i + 1]))
        state = {**state, "i": i + 1, "acc": acc}
        step(state)
    return state["acc"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--step-seconds", type=float, default=0.5)
    parser.add_argument("--plain", action="store_true", help="plain Ray tasks: no checkpoints")
    parser.add_argument("--store", default="/tmp/spotray-checkpoints", help="checkpoint store")
    parser.add_argument("--log", default=None, help="log every step run here")
    args = parser.parse_args()
    run_id = os.environ.get("SPOTRAY_RUN_ID", str(os.getpid()))

    if args.plain:

        @ray.remote(num_cpus=1, max_retries=-1)
        def part(task, lo, hi):
            state = {"i": 0, "acc": 0, "attempt": -1}
            return walk(
                task, lo, hi, args.steps, args.step_seconds, state, lambda s: None, args.log
            )

    else:

        @resumable(store=args.store, key=lambda task, lo, hi: f"{run_id}/{task}", num_cpus=1)
        def part(ckpt, task, lo, hi):
            state = ckpt.load(default={"i": 0, "acc": 0})
            state = {**state, "attempt": ckpt.attempt}
            return walk(task, lo, hi, args.steps, args.step_seconds, state, ckpt.step, args.log)

    ray.init(logging_level="ERROR", log_to_driver=False)
    bounds = [1 + args.n * i // args.tasks for i in range(args.tasks + 1)]
    pending = [part.remote(t, lo, hi) for t, (lo, hi) in enumerate(itertools.pairwise(bounds))]
    total, done = 0, 0
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        total += ray.get(ready[0])
        done += 1
        if done % max(1, args.tasks // 4) == 0 or not pending:
            print(f"{done}/{args.tasks} tasks done", flush=True)
    expected = args.n * (args.n + 1) * (2 * args.n + 1) // 6
    if total != expected:
        print(f"WRONG: sum of squares 1..{args.n} = {total}, expected {expected}")
        return 1
    print(f"OK: sum of squares 1..{args.n} = {total} (exact)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
