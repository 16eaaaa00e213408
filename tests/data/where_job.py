"""A driver for the fallback tests and bench: runs one 1-CPU task and prints, as JSON, the
worker group it ran on and how long after submission it started (null group: not within the
timeout given as argv[1])."""

import json
import sys
import time

import ray


@ray.remote(num_cpus=1)
def where() -> tuple[str | None, float]:
    return ray.get_runtime_context().get_node_labels().get("spotray.io/group"), time.time()


ray.init()
submitted = time.time()
try:
    group, started = ray.get(where.remote(), timeout=float(sys.argv[1]))
    print(json.dumps({"group": group, "waited": round(started - submitted, 2)}))
except ray.exceptions.GetTimeoutError:
    print(json.dumps({"group": None, "waited": None}))
