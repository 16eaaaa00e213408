"""How fast `spotray check` is.

1. Whole process: `spotray check` on the seed's RayCluster and Terraform files, as a user runs
   it (median of N runs), against a bare `python -c pass` start-up (the floor no CLI can beat).
2. In process: a 1,000-worker-group RayCluster against 100 node pools (each group pinned to one
   pool by node affinity and tolerations, 3 zones per pool): reading + every rule.
3. The CRD schema rule (SR100) on that cluster: spotray's structural-schema validator against
   jsonschema (Draft 7, the same schema), the baseline it replaces.

Targets (issue 3): < 0.5 s whole process; < 1 s in process.
Run: .venv/bin/python bench/check.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed"
MACHINES = ["e2-standard-4", "n2-standard-8", "n2-standard-16", "c3-standard-8"]


def median_run(argv: list[str], runs: int) -> tuple[float, float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def big_cluster(groups: int, pools: int) -> tuple[str, list[str]]:
    flags = [
        f"name=pool-{i},machine={MACHINES[i % len(MACHINES)]},spot={'true' if i % 2 else 'false'},"
        f"taint=dedicated=pool-{i}:NoSchedule,zones=us-central1-a;us-central1-b;us-central1-c,"
        "max_nodes=50"
        for i in range(pools)
    ]
    lines = [
        "apiVersion: ray.io/v1",
        "kind: RayCluster",
        "metadata: {name: big}",
        "spec:",
        '  rayVersion: "2.60.0"',
        "  enableInTreeAutoscaling: true",
        "  autoscalerOptions: {version: v2}",
        "  headGroupSpec:",
        "    rayStartParams: {}",
        "    template:",
        "      spec:",
        "        nodeSelector: {cloud.google.com/gke-nodepool: pool-0}",
        "        tolerations: [{key: dedicated, operator: Equal, value: pool-0, effect: NoSchedule}]",
        "        containers: [{name: ray-head, image: 'rayproject/ray:2.60.0',"
        " resources: {requests: {cpu: '2', memory: 8Gi}}}]",
        "  workerGroupSpecs:",
    ]
    for g in range(groups):
        pool = f"pool-{g % pools}"
        lines += [
            f"  - groupName: group-{g}",
            "    minReplicas: 0",
            "    maxReplicas: 10",
            "    rayStartParams: {}",
            "    template:",
            "      spec:",
            "        restartPolicy: Never",
            "        terminationGracePeriodSeconds: 15",
            "        affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
            "{nodeSelectorTerms: [{matchExpressions: [{key: cloud.google.com/gke-nodepool, "
            f"operator: In, values: [{pool}]}}]}}]}}}}}}",
            f"        tolerations: [{{key: dedicated, operator: Equal, value: {pool}, "
            "effect: NoSchedule}]",
            "        containers: [{name: ray-worker, image: 'rayproject/ray:2.60.0',"
            " env: [{name: RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S, value: '10'}],"
            " resources: {requests: {cpu: 1500m, memory: 5Gi}}}]",
        ]
    return "\n".join(lines) + "\n", flags


def in_process(groups: int, pools: int) -> None:
    from spotray._check import Documents, parse_pool_flag, run_checks
    from spotray._check._documents import read_yaml
    from spotray._check._schema import raycluster_schema, validate

    text, flags = big_cluster(groups, pools)
    start = time.perf_counter()
    docs = Documents()
    read_yaml(text, "big.yaml", docs)
    docs.pools = [parse_pool_flag(f) for f in flags]
    docs.pools_given = True
    read = time.perf_counter() - start
    findings = run_checks(docs)
    total = time.perf_counter() - start
    print(
        f"in process, {groups} groups x {pools} pools: {total * 1000:.0f} ms "
        f"(read {read * 1000:.0f} ms, rules {(total - read) * 1000:.0f} ms), "
        f"{len(findings)} finding(s)"
    )

    spec = docs.clusters[0].spec
    schema = raycluster_schema()["properties"]["spec"]
    start = time.perf_counter()
    ours = list(validate(spec, schema))
    t_ours = time.perf_counter() - start
    import jsonschema

    start = time.perf_counter()
    validator = jsonschema.Draft7Validator(schema)
    theirs = list(validator.iter_errors(spec))
    t_theirs = time.perf_counter() - start
    print(
        f"CRD schema on that cluster: spotray {t_ours * 1000:.0f} ms, jsonschema "
        f"{t_theirs * 1000:.0f} ms ({len(ours)} vs {len(theirs)} violations); "
        f"jsonschema / spotray = {t_theirs / t_ours:.1f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--pools", type=int, default=100)
    args = parser.parse_args()

    files = [str(SEED / "ray-cluster.yaml"), str(SEED / "nodepool.tf")]
    med, lo, hi = median_run([sys.executable, "-m", "spotray.cli", "check", *files], args.runs)
    floor, _, _ = median_run([sys.executable, "-c", "pass"], args.runs)
    print(
        f"whole process, spotray check on the seed files: median {med:.3f} s over {args.runs} "
        f"runs ({lo:.3f}-{hi:.3f}); bare python start-up {floor:.3f} s; ratio {med / floor:.1f}x "
        f"(target < 0.5 s: {'met' if med < 0.5 else 'MISSED'})"
    )
    in_process(args.groups, args.pools)
    return 0


if __name__ == "__main__":
    sys.exit(main())
