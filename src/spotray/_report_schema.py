"""The JSON schema of a run report (`spotray run --report FILE`), versioned, in one place.

Every report carries `schema_version`. A change that renames, removes or retypes a field bumps
the version; a new optional field does not. `docs/report.md` is generated from this schema
(tools/gen_docs.py), and the tests validate written reports against it with jsonschema.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

_NUMBER_OR_NULL = {"type": ["number", "null"]}
_SECONDS = {"type": "number", "minimum": 0}
_COUNT = {"type": "integer", "minimum": 0}


def _field(description: str, schema: dict) -> dict:
    return {**schema, "description": description}


GROUP = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "name",
        "spot",
        "launched",
        "preempted",
        "replaced",
        "node_seconds",
        "usd_as_run",
        "usd_on_demand",
    ],
    "properties": {
        "name": _field(
            "The worker group (RayCluster workerGroupSpecs[].groupName).", {"type": "string"}
        ),
        "spot": _field("Whether the group's pool is Spot.", {"type": "boolean"}),
        "launched": _field("Pods (local nodes) launched during the run.", _COUNT),
        "preempted": _field("Pods that got a preemption notice during the run.", _COUNT),
        "replaced": _field("Pods launched after the group's first preemption in the run.", _COUNT),
        "node_seconds": _field(
            "Seconds the group's Pods ran, clipped to the run (local time, not time-scaled).",
            _SECONDS,
        ),
        "usd_as_run": _field(
            "What those Pod-seconds cost on GKE at the group's own market (Spot or on-demand); "
            "null where the price data has no price.",
            _NUMBER_OR_NULL,
        ),
        "usd_on_demand": _field(
            "What the same Pod-seconds cost on-demand; null where there is no price.",
            _NUMBER_OR_NULL,
        ),
    },
}

STOCKOUT = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "group",
        "fallback",
        "stocked_out_seconds",
        "fallback_launched",
        "fallback_node_seconds",
        "usd_fallback",
        "usd_at_spot",
        "usd_extra",
    ],
    "properties": {
        "group": _field("The Spot group that was stocked out.", {"type": "string"}),
        "fallback": _field(
            "The lower-priority on-demand group its work falls back to (the plan's).",
            {"type": "string"},
        ),
        "stocked_out_seconds": _field(
            "Seconds of the run during which the Spot group had no capacity.", _SECONDS
        ),
        "fallback_launched": _field(
            "Pods of the fallback group launched while the Spot group was stocked out.", _COUNT
        ),
        "fallback_node_seconds": _field(
            "Seconds those Pods ran, clipped to the run: on-demand time used instead of Spot.",
            _SECONDS,
        ),
        "usd_fallback": _field(
            "What those Pod-seconds cost on GKE on-demand; null where there is no price.",
            _NUMBER_OR_NULL,
        ),
        "usd_at_spot": _field(
            "What they would have cost as the Spot group's Pods; null where there is no price.",
            _NUMBER_OR_NULL,
        ),
        "usd_extra": _field(
            "usd_fallback - usd_at_spot: what the stockout cost; null where a price is missing.",
            _NUMBER_OR_NULL,
        ),
    },
}

SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"urn:spotray:run-report:{SCHEMA_VERSION}",
    "title": "spotray run report",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "schema_version",
        "cluster",
        "command",
        "exit_code",
        "interrupted",
        "makespan_seconds",
        "groups",
        "tasks",
        "task_attempts",
        "failed_attempts",
        "retried_attempts",
        "failed_by_cause",
        "attempts_by_cause",
        "node_deaths_by_ray",
        "task_seconds_ok",
        "task_seconds_lost",
        "goodput",
        "usd_as_run",
        "usd_on_demand",
        "price_source",
        "time_scale",
        "resource_scale",
    ],
    "properties": {
        "schema_version": _field("This schema's version.", {"const": SCHEMA_VERSION}),
        "cluster": _field("The local cluster's name (the spec's `name`).", {"type": "string"}),
        "command": _field(
            "The job's command line.", {"type": "array", "items": {"type": "string"}}
        ),
        "exit_code": _field(
            "The job's exit code (negative: killed by that signal); null if it never exited "
            "on its own (interrupted).",
            {"type": ["integer", "null"]},
        ),
        "interrupted": _field(
            "The run was stopped by Ctrl-C or SIGTERM: the numbers cover the run until then.",
            {"type": "boolean"},
        ),
        "makespan_seconds": _field("Wall-clock seconds from the job's start to its end.", _SECONDS),
        "groups": _field("One entry per worker group.", {"type": "array", "items": GROUP}),
        "stockouts": _field(
            "One entry per Spot group with an on-demand fallback that was stocked out during "
            "the run (docs/fallback.md).",
            {"type": "array", "items": STOCKOUT},
        ),
        "tasks": _field("Distinct Ray tasks (normal and actor tasks) of the run's jobs.", _COUNT),
        "task_attempts": _field("Their attempts (a retry is an attempt).", _COUNT),
        "failed_attempts": _field("Attempts that ended FAILED.", _COUNT),
        "retried_attempts": _field("Attempts with attempt_number > 0.", _COUNT),
        "failed_by_cause": _field(
            "Failed attempts by Ray's error_type (NODE_DIED, WORKER_DIED, TASK_EXECUTION_"
            "EXCEPTION, ...).",
            {"type": "object", "additionalProperties": _COUNT},
        ),
        "attempts_by_cause": _field(
            "Failed attempts by cause: preempted (their node died), application_error (the "
            "task raised), other.",
            {"type": "object", "additionalProperties": _COUNT},
        ),
        "node_deaths_by_ray": _field(
            "For attempts lost with their node: how Ray recorded the node's death (preemption "
            "when the GCS says AUTOSCALER_DRAIN_PREEMPTED, unexpected, expected, idle, unknown). "
            "Only a preemption is exempt from Ray's max_retries.",
            {"type": "object", "additionalProperties": _COUNT},
        ),
        "task_seconds_ok": _field(
            "Run time of attempts that finished: work that counted.", _SECONDS
        ),
        "task_seconds_lost": _field("Run time of attempts that failed: work lost.", _SECONDS),
        "goodput": _field(
            "task_seconds_ok / (task_seconds_ok + task_seconds_lost); null with no task time.",
            {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        ),
        "usd_as_run": _field(
            "Sum of the groups' usd_as_run (null if any is null).", _NUMBER_OR_NULL
        ),
        "usd_on_demand": _field(
            "Sum of the groups' usd_on_demand (null if any is null).", _NUMBER_OR_NULL
        ),
        "price_source": _field(
            "Where the prices come from: name, url, generated (date).", {"type": "object"}
        ),
        "time_scale": _field(
            "The Spot shutdown window and drain were divided by this.",
            {"type": "number", "exclusiveMinimum": 0},
        ),
        "resource_scale": _field(
            "The Pods' CPUs and memory were multiplied by this.",
            {"type": "number", "exclusiveMinimum": 0},
        ),
    },
}
