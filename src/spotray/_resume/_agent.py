"""`spotray agent`: turn a VM's preemption notice into a Ray drain with reason PREEMPTION.

Where a process can read the VM's own metadata server (a GCE VM outside GKE, e.g. `ray up`; a
GKE node pool with `workload_metadata_mode: GCE_METADATA`; the local cluster), the agent
long-polls `instance/preempted?wait_for_change=true` (header `Metadata-Flavor: Google`). When
it reads `TRUE` it asks the GCS to drain its own Ray node with reason PREEMPTION and a deadline
that ends `margin_seconds` before the VM is stopped (`notice_seconds` after the notice: 30 s for
a Spot VM, longer with GCE's `preemptionNoticeDuration`). From then on the node takes no new
work, resumable tasks on it save (they watch the same drain state), and when the node dies
after its deadline the GCS records AUTOSCALER_DRAIN_PREEMPTED, which Ray does not charge to a
task's retries (ray#54182).

It never gives up while the node is healthy: a metadata server that is down, slow or answers
garbage, and a GCS that is unreachable, are logged and retried with capped exponential backoff.
It exits 0 once its node is drained (or gone), and 2 only for bad arguments. Under GKE's
Workload Identity (`GKE_METADATA`, which spotray renders) Pods talk to GKE's metadata server,
which serves identity and static instance facts but not `instance/preempted`; there the
kubelet's SIGTERM, which spotray's rendered command hands to `ray start`, is the signal (see
docs/spot-safe.md).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

PREEMPTED_PATH = "/computeMetadata/v1/instance/preempted"
DEFAULT_METADATA_HOST = "metadata.google.internal"
SPOT_NOTICE_SECONDS = 30.0  # GCE: a Spot VM is stopped 30 s after its preemption notice
MARGIN_SECONDS = 5.0
LONG_POLL_SECONDS = 60
MAX_BACKOFF_SECONDS = 30.0
RAY_ADDRESS_FILE = "/tmp/ray/ray_current_cluster"  # written by `ray start` on every node

log = logging.getLogger("spotray.agent")


class AgentError(ValueError):
    """Bad agent configuration (the only reason it exits non-zero)."""


@dataclass(frozen=True)
class AgentConfig:
    metadata_host: str = DEFAULT_METADATA_HOST
    gcs_address: str | None = None  # default: $RAY_ADDRESS, else /tmp/ray/ray_current_cluster
    node_id: str | None = None  # default: the node of $RAY_CLOUD_INSTANCE_ID, else of node_ip
    node_ip: str | None = None
    notice_seconds: float = SPOT_NOTICE_SECONDS
    margin_seconds: float = MARGIN_SECONDS
    long_poll_seconds: float = LONG_POLL_SECONDS
    max_backoff_seconds: float = MAX_BACKOFF_SECONDS

    def __post_init__(self) -> None:
        if not self.metadata_host or "/" in self.metadata_host:
            raise AgentError(f"metadata host {self.metadata_host!r}: want HOST or HOST:PORT")
        for name in ("notice_seconds", "long_poll_seconds", "max_backoff_seconds"):
            value = getattr(self, name)
            if not (0 < value <= 3600):
                raise AgentError(f"{name.replace('_', '-')} {value}: want 0 < seconds <= 3600")
        if not (0 <= self.margin_seconds < self.notice_seconds):
            raise AgentError(
                f"margin-seconds {self.margin_seconds}: want 0 <= margin < notice-seconds"
            )

    @classmethod
    def from_env(cls, **given) -> AgentConfig:
        """Defaults from the environment a Ray node has: GCE_METADATA_HOST, RAY_ADDRESS."""
        given = {k: v for k, v in given.items() if v is not None}
        given.setdefault(
            "metadata_host", os.environ.get("GCE_METADATA_HOST") or DEFAULT_METADATA_HOST
        )
        return cls(**given)


class Backoff:
    """0.5 s, doubling to a cap; `reset()` after a success."""

    def __init__(self, cap: float) -> None:
        self.cap, self.delay, self.failures = cap, 0.5, 0

    def next(self) -> float:
        self.failures += 1
        delay, self.delay = self.delay, min(self.delay * 2, self.cap)
        return delay

    def reset(self) -> None:
        self.delay, self.failures = 0.5, 0


class Agent:
    """Watches one VM's preemption flag and drains its Ray node. `run()` blocks; `stop()` ends
    it from another thread."""

    def __init__(self, config: AgentConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._stop = threading.Event()
        self.noticed_at: float | None = None
        self.drained: dict | None = None  # {"node_id", "deadline_ms"} once the GCS accepted

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> int:
        log.info("watching http://%s%s", self.config.metadata_host, PREEMPTED_PATH)
        if not self.wait_for_notice():
            return 0
        self.drain()
        return 0

    # --- the metadata notice -------------------------------------------------------------

    def _get(self, etag: str | None) -> tuple[str, str | None]:
        query = ""
        if etag is not None:
            wait = int(self.config.long_poll_seconds)
            query = f"?wait_for_change=true&last_etag={etag}&timeout_sec={wait}"
        request = urllib.request.Request(
            f"http://{self.config.metadata_host}{PREEMPTED_PATH}{query}",
            headers={"Metadata-Flavor": "Google"},
        )
        wait = self.config.long_poll_seconds + min(5.0, self.config.long_poll_seconds)
        with urllib.request.urlopen(request, timeout=wait) as answer:
            if answer.headers.get("Metadata-Flavor") != "Google":
                raise ValueError("answer lacks the Metadata-Flavor: Google header")
            value = answer.read(64).decode("ascii", "replace").strip()
            return value, answer.headers.get("ETag")

    def wait_for_notice(self) -> bool:
        """Block until `instance/preempted` reads TRUE (returns True) or `stop()` (False)."""
        etag: str | None = None
        backoff = Backoff(self.config.max_backoff_seconds)
        while not self._stop.is_set():
            try:
                value, new_etag = self._get(etag)
                if value not in ("TRUE", "FALSE"):
                    raise ValueError(f"instance/preempted answered {value[:40]!r}")
            except (OSError, ValueError, urllib.error.HTTPError) as exc:
                delay = backoff.next()
                if backoff.failures in (1, 2, 4) or backoff.failures % 10 == 0:
                    log.warning(
                        "metadata server: %s (failure %d; retrying in %.1f s)",
                        exc,
                        backoff.failures,
                        delay,
                    )
                etag = None  # start over with a plain read
                self._stop.wait(delay)
                continue
            if backoff.failures:
                log.info("metadata server answers again after %d failure(s)", backoff.failures)
            backoff.reset()
            if value == "TRUE":
                self.noticed_at = self._clock()
                log.warning("preemption notice: instance/preempted is TRUE")
                return True
            etag = new_etag or "NONE"
        return False

    # --- the drain ----------------------------------------------------------------------------

    def gcs_address(self) -> str:
        found = self.config.gcs_address or os.environ.get("RAY_ADDRESS")
        if not found or found == "auto":
            try:
                with open(RAY_ADDRESS_FILE) as f:
                    found = f.read().strip()
            except OSError:
                found = None
        if not found:
            raise ConnectionError("no GCS address: give --address, RAY_ADDRESS or start Ray")
        return found

    def node_id(self, address: str) -> str:
        from .._local._raybridge import alive_nodes, node_ip

        if self.config.node_id:
            return self.config.node_id
        nodes = alive_nodes(address)
        instance = os.environ.get("RAY_CLOUD_INSTANCE_ID")
        if instance:
            mine = [n for n in nodes if n["instance_id"] == instance]
            what = f"instance id {instance!r}"
        else:
            ip = self.config.node_ip or node_ip()
            mine = [n for n in nodes if n["ip"] == ip]
            what = f"IP {ip}"
        if len(mine) != 1:
            raise LookupError(f"{len(mine)} alive Ray node(s) with {what}; give --node-id")
        return mine[0]["node_id"]

    def drain(self) -> bool:
        """Ask the GCS to drain this node (reason PREEMPTION) until it accepts or the VM's stop
        time passes; True if accepted."""
        from .._local._raybridge import drain_node

        assert self.noticed_at is not None
        deadline = self.noticed_at + self.config.notice_seconds - self.config.margin_seconds
        stop_at = self.noticed_at + self.config.notice_seconds
        backoff = Backoff(min(self.config.max_backoff_seconds, 2.0))
        while not self._stop.is_set() and self._clock() < stop_at:
            try:
                address = self.gcs_address()
                node = self.node_id(address)
                accepted, why = drain_node(
                    address,
                    node,
                    "preemption",
                    "spotray agent: instance/preempted is TRUE",
                    int(deadline * 1000),
                )
            except Exception as exc:  # GCS unreachable, node not up: retry until the stop
                accepted, why, node = False, f"{type(exc).__name__}: {exc}", None
            if not accepted and node is not None:
                accepted, why = self._already_draining(address, node, why)
            if accepted:
                self.drained = {"node_id": node, "deadline_ms": int(deadline * 1000)}
                log.warning(
                    "drained Ray node %s with reason PREEMPTION, deadline in %.1f s (%s)",
                    node,
                    deadline - self._clock(),
                    why or "accepted",
                )
                return True
            delay = backoff.next()
            log.warning("drain not accepted: %s (retrying in %.1f s)", why, delay)
            self._stop.wait(delay)
        log.warning("gave up draining: the VM's stop time has passed")
        return False

    def _already_draining(self, address: str, node: str, why: str) -> tuple[bool, str]:
        """A refusal because the node already drains (e.g. `ray start` got SIGTERM) or is gone
        is success: nothing is left to do."""
        from .._local._raybridge import alive_nodes

        try:
            found = [n for n in alive_nodes(address) if n["node_id"] == node]
        except Exception:
            return False, why
        if not found:
            return True, "the node is gone"
        if found[0]["draining_deadline_ms"] is not None:
            return True, "the node already drains"
        return False, why


def run_agent(config: AgentConfig) -> int:
    """Run the agent until its node is drained; Ctrl-C, SIGTERM and SIGHUP end it with 0 (the
    agent is shutting down with its VM, which is not a failure)."""
    from .. import _signals

    agent = Agent(config)
    worker = threading.Thread(target=agent.run, name="spotray-agent", daemon=True)
    try:
        with _signals.as_interrupt():
            worker.start()
            while worker.is_alive():
                worker.join(0.5)
    except KeyboardInterrupt:
        log.info("stopping")
        agent.stop()
    return 0
