"""Every private or unstable Ray API spotray uses, in one place.

Ray's autoscaler has no public plugin API: a node provider subclasses
`ray.autoscaler.node_provider.NodeProvider` and is loaded by the monitor from the cluster
config (`provider.type: external`, `provider.module`); autoscaler v2 wraps it
(`NodeProviderAdapter`) and matches its instances to Ray nodes by the raylet's
`RAY_CLOUD_INSTANCE_ID`. Draining a node goes through the GCS client. If a Ray upgrade moves
any of these, `tests/test_raybridge.py` fails here, loudly, rather than somewhere deep in a run.
Import this module only where Ray is needed: `render` and `check` never load Ray.
"""

from __future__ import annotations

RAY_VERSION_TESTED = "2.60.0"

# Environment a worker raylet is started with, read by autoscaler v2 (instance ↔ Ray node).
ENV_CLOUD_INSTANCE_ID = "RAY_CLOUD_INSTANCE_ID"
ENV_NODE_TYPE_NAME = "RAY_NODE_TYPE_NAME"
ENV_AUTOSCALER_V2 = "RAY_enable_autoscaler_v2"
ENV_UPDATE_INTERVAL = "AUTOSCALER_UPDATE_INTERVAL_S"
# Ray's token authentication (Ray >= 2.52): the mode, and a file holding the token
ENV_AUTH_MODE = "RAY_AUTH_MODE"
ENV_AUTH_TOKEN_PATH = "RAY_AUTH_TOKEN_PATH"
# `ray start` calls this hook with its parameters before it starts anything
ENV_START_HOOK = "RAY_START_HOOK"
START_HOOK = "spotray._local._raybridge.keep_on_loopback"
# Set, Ray takes 127.0.0.1 as this machine's address (meant for one-machine clusters on macOS
# and Windows); a driver needs it to reach a cluster bound to loopback.
ENV_LOOPBACK = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def keep_on_loopback(ray_params, head: bool) -> None:
    """`RAY_START_HOOK` for every node of the local cluster: keep it on 127.0.0.1.

    Ray 2.60's `ray start` replaces `--node-ip-address=127.0.0.1` with the machine's routable
    address (`services.resolve_ip_for_localhost`), and every listener that has no host flag of
    its own (GCS, raylet, agents, runtime-env agent, Ray client server, metrics) binds that
    address or all interfaces. The hook runs after that replacement and before anything
    starts: it puts 127.0.0.1 back, keeps `--address=127.0.0.1:PORT` as given, and makes the
    processes `ray start` spawns take 127.0.0.1 as the machine's address too."""
    import os

    import ray._private.services as services

    ray_params.node_ip_address = "127.0.0.1"
    services.resolve_ip_for_localhost = lambda host: host
    os.environ[ENV_LOOPBACK] = "0"


class StateClient:
    """Ray's state API (the dashboard's HTTP API) with the cluster's bearer token, whatever
    this process's own RAY_AUTH_MODE says (Ray's module-level helpers read the token only from
    the process's environment, and cache it)."""

    def __init__(self, dashboard_url: str, token: str, timeout: int = 30) -> None:
        from ray.util.state.api import StateApiClient

        self._client = StateApiClient(
            address=dashboard_url, headers={"Authorization": f"Bearer {token}"}
        )
        self._timeout = timeout  # seconds per request (Ray's default is 30)

    def _list(self, resource: str, **options):
        from ray.util.state.common import ListApiOptions, StateResource

        return self._client.list(
            getattr(StateResource, resource),
            options=ListApiOptions(timeout=self._timeout, **options),
            raise_on_missing_output=False,
        )

    def nodes(self) -> list:
        return self._list("NODES", detail=True)

    def jobs(self) -> list:
        return self._list("JOBS")

    def tasks(self, *, filters: list, limit: int) -> list:
        return self._list("TASKS", filters=filters, detail=True, limit=limit)

    def task_summary(self, timeout: int) -> dict:
        from ray.util.state.common import SummaryApiOptions, SummaryResource

        return self._client.summary(
            SummaryResource.TASKS,
            options=SummaryApiOptions(timeout=timeout),
            raise_on_missing_output=False,
        )


def node_provider_base():
    """The v1 NodeProvider base class the autoscaler loads (`provider.type: external`)."""
    from ray.autoscaler.node_provider import NodeProvider

    return NodeProvider


def tags():
    """Ray's node tag keys and values (ray.autoscaler.tags), as a simple namespace."""
    import ray.autoscaler.tags as t

    return t


def drain_node(gcs_address: str, node_id_hex: str, reason: str, message: str, deadline_ms: int):
    """Ask the GCS to drain a node (reason "preemption" or "idle"); returns (accepted, why)."""
    from ray._raylet import GcsClient
    from ray.core.generated import autoscaler_pb2

    code = {
        "preemption": autoscaler_pb2.DrainNodeReason.DRAIN_NODE_REASON_PREEMPTION,
        "idle": autoscaler_pb2.DrainNodeReason.DRAIN_NODE_REASON_IDLE_TERMINATION,
    }[reason]
    return GcsClient(address=gcs_address).drain_node(node_id_hex, code, message, deadline_ms)


def alive_nodes(gcs_address: str, timeout: float = 10.0) -> list[dict]:
    """The GCS's alive nodes, each {node_id (hex), ip, instance_id, draining_deadline_ms}, read
    without `ray.init` (the agent runs beside a raylet, not as a driver)."""
    from ray._raylet import GcsClient

    client = GcsClient(address=gcs_address)
    draining = dict(client.get_draining_nodes())
    out = []
    for node_id, info in client.get_all_node_info(timeout=timeout).items():
        if info.state != 0:  # GcsNodeInfo.ALIVE
            continue
        hex_id = node_id.hex()
        out.append(
            {
                "node_id": hex_id,
                "ip": info.node_manager_address,
                "instance_id": info.instance_id,
                "draining_deadline_ms": draining.get(hex_id),
            }
        )
    return out


def node_death(gcs_address: str, node_id_hex: str, timeout: float = 10.0) -> str | None:
    """How the GCS recorded a dead node's death (e.g. "AUTOSCALER_DRAIN_PREEMPTED"), or None
    while it is alive or unknown."""
    from ray._raylet import GcsClient
    from ray.core.generated import common_pb2

    for node_id, info in GcsClient(address=gcs_address).get_all_node_info(timeout=timeout).items():
        if node_id.hex() == node_id_hex and info.state != 0:
            return common_pb2.NodeDeathInfo.Reason.Name(info.death_info.reason)
    return None


def node_ip() -> str:
    """This machine's address as Ray would pick it for a node started here."""
    import ray._private.services as services

    return services.get_node_ip_address()


def draining_nodes() -> dict[str, int]:
    """The nodes the GCS is draining, as {node id (hex): deadline (ms since the epoch, 0: none)}.
    Ray Train v2 watches the same (`ray.train.v2._internal.execution.preemption`)."""
    import ray._private.state

    return dict(ray._private.state.state.get_draining_nodes())


def current_node_id() -> str:
    """The Ray node this worker process runs on (hex)."""
    import ray

    return ray.get_runtime_context().get_node_id()


def check_compatible() -> list[str]:
    """What spotray needs from Ray and did not find (empty: all present)."""
    missing = []
    try:
        base = node_provider_base()
        for name in ("non_terminated_nodes", "is_running", "node_tags", "terminate_node"):
            if not hasattr(base, name):
                missing.append(f"NodeProvider.{name}")
        if not hasattr(base, "create_node_with_resources_and_labels"):
            missing.append("NodeProvider.create_node_with_resources_and_labels")
    except ImportError as exc:
        missing.append(f"ray.autoscaler.node_provider ({exc})")
    try:
        t = tags()
        for name in ("TAG_RAY_NODE_KIND", "TAG_RAY_USER_NODE_TYPE", "TAG_RAY_LAUNCH_REQUEST"):
            if not hasattr(t, name):
                missing.append(f"ray.autoscaler.tags.{name}")
    except ImportError as exc:
        missing.append(f"ray.autoscaler.tags ({exc})")
    try:
        from ray._raylet import GcsClient, InnerGcsClient
        from ray.core.generated import autoscaler_pb2

        # GcsClient forwards unknown attributes to its InnerGcsClient
        for name in ("drain_node", "get_all_node_info", "get_draining_nodes"):
            if not (hasattr(GcsClient, name) or hasattr(InnerGcsClient, name)):
                missing.append(f"GcsClient.{name}")
        from ray.core.generated import common_pb2

        common_pb2.NodeDeathInfo.Reason.Value("AUTOSCALER_DRAIN_PREEMPTED")
        autoscaler_pb2.DrainNodeReason.DRAIN_NODE_REASON_PREEMPTION  # noqa: B018
    except (ImportError, AttributeError, ValueError) as exc:
        missing.append(f"GCS drain API ({exc})")
    try:
        import ray._private.state as state

        if not hasattr(state.GlobalState, "get_draining_nodes"):
            missing.append("ray._private.state.GlobalState.get_draining_nodes")
        import ray._private.services as services

        if not hasattr(services, "resolve_ip_for_localhost"):
            missing.append("ray._private.services.resolve_ip_for_localhost (the loopback hook)")
    except ImportError as exc:
        missing.append(f"ray._private.state ({exc})")
    try:
        from ray.autoscaler.v2.instance_manager.node_provider import NodeProviderAdapter

        if "RAY_CLOUD_INSTANCE_ID" not in _source_of_ray_node_matching():
            missing.append("autoscaler v2 no longer matches instances by RAY_CLOUD_INSTANCE_ID")
        del NodeProviderAdapter
    except ImportError as exc:
        missing.append(f"autoscaler v2 ({exc})")
    return missing


def _source_of_ray_node_matching() -> str:
    import inspect

    import ray._private.services as services

    return inspect.getsource(services)
