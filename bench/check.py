"""How fast `spotray check` is.

1. Whole process: `spotray check` on the seed's RayCluster and Terraform files, as a user runs
   it (the `spotray` console script), against the floor of the same run: a Python process that
   imports PyYAML and python-hcl2 and parses the same two files (what any checker of these files
   must do). Runs alternate, one pair at a time; the ratio of the medians is printed.
2. The realworld corpus (every file of ../shared/realworld) as one `spotray check` run, against
   the same kind of floor over those files.
3. In process: a 1,000-worker-group RayCluster against 100 node pools (each group pinned to one
   pool by node affinity and tolerations, 3 zones per pool): reading + every rule.
4. The CRD schema rule (SR100) on that cluster: spotray's structural-schema validator against
   jsonschema (Draft 7, the same schema), the baseline it replaces.

Targets (issue 10): whole process <= 1.5x its floor; in process <= 1 s.
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
REALWORLD = ROOT.parent / "shared" / "realworld"
SPOTRAY = str(Path(sys.executable).with_name("spotray"))
FLOOR = """
import sys, yaml, hcl2
for name in sys.argv[1:]:
    with open(name) as f:
        if name.endswith((".tf", ".tfvars")):
            hcl2.load(f)
        else:
            list(yaml.safe_load_all(f))
"""
MACHINES = ["e2-standard-4", "n2-standard-8", "n2-standard-16", "c3-standard-8"]


def paired_medians(ours: list[str], floor: list[str], runs: int) -> tuple[float, float]:
    """Median wall time of each command, run alternately (one of each per round)."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for argv, out in ((ours, times[0]), (floor, times[1])):
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=False)
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


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
    ours, floor = paired_medians(
        [SPOTRAY, "check", *files], [sys.executable, "-c", FLOOR, *files], args.runs
    )
    ratio = ours / floor
    print(
        f"whole process, spotray check on the seed files: median {ours:.3f} s; floor (import "
        f"PyYAML + python-hcl2, parse both files) {floor:.3f} s; ratio {ratio:.2f} over "
        f"{args.runs} pairs (target <= 1.5: {'met' if ratio <= 1.5 else 'MISSED'})"
    )
    corpus = sorted(str(p) for p in REALWORLD.iterdir() if p.suffix in (".yaml", ".tf", ".tfvars"))
    ours, floor = paired_medians(
        [SPOTRAY, "check", *corpus], [sys.executable, "-c", FLOOR, *corpus], args.runs
    )
    print(
        f"whole process, the realworld corpus ({len(corpus)} files) as one run: median "
        f"{ours:.3f} s; floor {floor:.3f} s; ratio {ours / floor:.2f}"
    )
    in_process(args.groups, args.pools)
    return 0


if __name__ == "__main__":
    sys.exit(main())
