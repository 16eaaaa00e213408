"""`spotray up/status/preempt/down --local`: a real Ray cluster on this machine, shaped by the plan.

    from spotray import load_spec, plan
    from spotray.local import up
    cluster = up(plan(load_spec("examples/seed.yaml")))
    ... RAY_ADDRESS=cluster.address python job.py ...
    cluster.preempt("small-group")
    cluster.down()

State (ports, PIDs, logs) lives in a directory per cluster name, so separate commands find the
cluster again; `down` stops the processes that cluster started and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .._errors import SpotrayError
from .._plan import Plan
from ._cloud import running
from ._http import ControllerError, call
from ._shape import default_scale, local_groups

DEFAULT_PROVISION_SECONDS = 2.0
DEFAULT_IDLE_TIMEOUT_SECONDS = 60


class LocalClusterError(SpotrayError):
    exit_code = 1


def state_root() -> Path:
    root = os.environ.get("SPOTRAY_STATE_DIR")
    return Path(root) if root else Path(tempfile.gettempdir()) / f"spotray-{os.getuid()}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalCluster:
    """A running local cluster, reached through its controller's API."""

    name: str
    state: Path
    url: str
    controller_pid: int
    gcs_port: int
    dashboard_port: int
    controller_started: float | None = None  # its create time, so a reused PID is not ours

    @property
    def address(self) -> str:
        """For RAY_ADDRESS / ray.init(address=...)."""
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def config(self) -> dict:
        return json.loads((self.state / "cluster.json").read_text())

    def instances(self) -> list[dict]:
        return call(f"{self.url}/instances")

    def events(self) -> list[dict]:
        return call(f"{self.url}/events")

    def preempt(self, group: str, count: int = 1, share: float | None = None) -> list[str]:
        return call(f"{self.url}/preempt", "POST", {"group": group, "count": count, "share": share})

    def freeze(self, group: str, count: int = 1) -> list[str]:
        """Freeze nodes (SIGSTOP, no notice), as a network black hole would; killed later."""
        return call(f"{self.url}/freeze", "POST", {"group": group, "count": count})

    def stockout(self, group: str, seconds: float) -> None:
        call(f"{self.url}/stockout", "POST", {"group": group, "seconds": seconds})

    def play(self, preemptions: list, stockouts: list = (), seed: int = 0) -> None:
        """Start a schedule (times in seconds from now): see `_schedule`."""
        call(
            f"{self.url}/schedule",
            "POST",
            {
                "preemptions": [asdict(p) for p in preemptions],
                "stockouts": [asdict(s) for s in stockouts],
                "seed": seed,
            },
        )

    def cancel_schedule(self) -> None:
        call(f"{self.url}/schedule/cancel", "POST", {})

    def now(self) -> float:
        """The cloud's clock (seconds since its start), which instance times use."""
        return call(f"{self.url}/now")

    def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.instances()):
                return
            time.sleep(0.5)
        raise LocalClusterError(f"local cluster {self.name!r}: timed out waiting for {what}")

    def down(self, timeout: float = 60.0) -> None:
        """Stop every process this cluster started (by PID), and the controller."""
        mine = (self.controller_pid, self.controller_started)
        if running(*mine):
            try:
                call(f"{self.url}/shutdown", "POST", {})
            except ControllerError:
                os.kill(self.controller_pid, 15)  # it also stops everything on SIGTERM
            deadline = time.monotonic() + timeout
            while running(*mine) and time.monotonic() < deadline:
                time.sleep(0.2)
            if running(*mine):
                os.kill(self.controller_pid, 9)
        (self.state / "controller.json").unlink(missing_ok=True)


def reap_orphans(name: str) -> int:
    """Stop what a cluster whose controller died left running (its `processes.json`, each
    process checked by PID and start time); returns how many process trees were stopped."""
    import psutil

    state = state_root() / name
    try:
        recorded = json.loads((state / "processes.json").read_text())
    except (OSError, ValueError):
        return 0
    trees = []
    for pid, started in recorded.values():
        if running(pid, started):
            proc = psutil.Process(pid)
            trees.append([proc, *proc.children(recursive=True)])
    for tree in trees:
        for proc in tree:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
    _, alive = psutil.wait_procs([p for tree in trees for p in tree], timeout=10)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    (state / "processes.json").unlink(missing_ok=True)
    (state / "controller.json").unlink(missing_ok=True)
    return len(trees)


def find(name: str) -> LocalCluster | None:
    """The running cluster called `name`, if any."""
    state = state_root() / name
    try:
        info = json.loads((state / "controller.json").read_text())
        config = json.loads((state / "cluster.json").read_text())
    except (OSError, ValueError):
        return None
    if not running(info["pid"], info.get("started")):
        return None
    return LocalCluster(
        name=name,
        state=state,
        url=info["url"],
        controller_pid=info["pid"],
        gcs_port=config["gcs_port"],
        dashboard_port=config["dashboard_port"],
        controller_started=info.get("started"),
    )


def up(
    plan: Plan,
    *,
    scale: float | None = None,
    time_scale: float = 1.0,
    provision_seconds: float = DEFAULT_PROVISION_SECONDS,
    idle_timeout_seconds: float | None = None,
    drain_seconds: float | None = None,
    timeout: float = 180.0,
) -> LocalCluster:
    """Start the plan's cluster on this machine and wait until the head and the groups'
    minimum nodes are running in Ray.

    `scale` multiplies the Pods' CPUs and memory (default: `default_scale`, which fits the
    machine); `time_scale` divides the Spot shutdown window and Ray's drain timeout;
    `drain_seconds` overrides the drain timeout (the plan's, time-scaled, by default)."""
    if find(plan.name):
        raise LocalClusterError(
            f"a local cluster {plan.name!r} is already up; `spotray down` it first"
        )
    if time_scale <= 0:
        raise LocalClusterError("--time-scale must be positive")
    if provision_seconds < 0:
        raise LocalClusterError("--provision-seconds must not be negative")
    if scale is not None and not 0 < scale <= 1:
        raise LocalClusterError(f"--scale must be in (0, 1], not {scale}")
    scale = default_scale(plan) if scale is None else scale
    groups = local_groups(plan, scale)
    state = state_root() / plan.name
    (state / "logs").mkdir(parents=True, exist_ok=True)
    idle = idle_timeout_seconds
    if idle is None:
        idle = plan.autoscaler_idle_timeout_seconds or DEFAULT_IDLE_TIMEOUT_SECONDS
    window = plan.shutdown.grace_period_seconds / time_scale
    config = {
        "name": plan.name,
        "scale": scale,
        "time_scale": time_scale,
        "groups": [asdict(g) for g in groups],
        "gcs_port": _free_port(),
        "dashboard_port": _free_port(),
        "client_port": _free_port(),
        "window_seconds": window,
        "notice_seconds": min(1.0 / time_scale, window / 2),
        "drain_seconds": drain_seconds
        if drain_seconds is not None
        else max(1, int(plan.shutdown.drain_timeout_seconds / time_scale)),
        "provision_seconds": provision_seconds,
        "idle_timeout_seconds": idle,
    }
    (state / "cluster.json").write_text(json.dumps(config, indent=1))
    (state / "controller.json").unlink(missing_ok=True)
    log = open(state / "logs" / "controller.log", "ab")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [sys.executable, "-m", "spotray._local._controller", str(state)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "RAY_AUTH_MODE": "disabled"},
    )
    log.close()
    try:
        return _wait_up(plan, proc, state, groups, time.monotonic() + timeout, timeout)
    except BaseException:
        found = find(plan.name)
        if found:
            found.down()
        if proc.poll() is None:  # SIGTERM: the controller stops what it started, then exits
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        raise


def _wait_up(plan, proc, state, groups, deadline, timeout) -> LocalCluster:
    cluster = None
    while cluster is None and time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalClusterError(
                f"the local cluster's controller exited ({proc.returncode}); "
                f"see {state / 'logs' / 'controller.log'}"
            )
        cluster = find(plan.name)
        time.sleep(0.2)
    if cluster is None:
        raise LocalClusterError(f"the local cluster's controller did not start in {timeout:.0f} s")
    _wait_ray_nodes(cluster, 1 + sum(g.min_nodes for g in groups), deadline)
    return cluster


def ray_nodes(cluster: LocalCluster) -> list:
    """Ray's view of the cluster's nodes (Ray's state API, through the dashboard)."""
    from ray.util.state import list_nodes

    with state_api(cluster):
        return list_nodes(address=cluster.dashboard_url, detail=True, raise_on_missing_output=False)


@contextlib.contextmanager
def state_api(cluster: LocalCluster):
    """Ray's state API raises many kinds of errors: turn them into one clear error."""
    try:
        yield
    except Exception as exc:
        raise LocalClusterError(f"Ray's state API at {cluster.dashboard_url}: {exc}") from None


def _wait_ray_nodes(cluster: LocalCluster, count: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            alive = [n for n in ray_nodes(cluster) if n.state == "ALIVE"]
            if len(alive) >= count:
                return
        except Exception:
            pass
        time.sleep(0.5)
    raise LocalClusterError(
        f"local cluster {cluster.name!r}: {count} Ray node(s) were not alive in time; "
        f"see {cluster.state / 'logs'}"
    )
