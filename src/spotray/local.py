"""The local spot cluster as a Python API (needs the `local` extra: Ray).

import spotray
from spotray import local

plan = spotray.plan(spotray.load_spec("examples/seed.yaml"))
cluster = local.up(plan, time_scale=3)
report = local.run_job(cluster, ["python", "examples/batch_job.py"],
                       preemptions=local.poisson({"small-group": 1}, 30, 300, seed=1))
cluster.down()
"""

from __future__ import annotations

from ._local._cluster import (
    LocalCluster,
    LocalClusterError,
    MissingExtraError,
    find,
    leftovers,
    leftovers_of,
    names,
    reap_orphans,
    state_root,
    stop_leftovers,
    up,
)
from ._local._metadata import InstanceMetadata, MetadataServer
from ._local._run import run_job
from ._local._shape import LocalGroup, default_scale, local_groups
from ._spot._report import GroupReport, Report
from ._spot._schedule import Preemption, Stockout, poisson, read_trace

__all__ = [
    "GroupReport",
    "InstanceMetadata",
    "LocalCluster",
    "LocalClusterError",
    "LocalGroup",
    "MetadataServer",
    "MissingExtraError",
    "Preemption",
    "Report",
    "Stockout",
    "default_scale",
    "find",
    "leftovers",
    "leftovers_of",
    "local_groups",
    "names",
    "poisson",
    "read_trace",
    "reap_orphans",
    "run_job",
    "state_root",
    "stop_leftovers",
    "up",
]
