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
import math
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import _signals
from .._bounds import finite, positive
from .._errors import InputError, SpotrayError
from .._io import write_text
from .._k8s_names import DNS1123_LABEL
from .._plan import ALLOCATE_TIMEOUT_ENV, PENDING_IDLE_ENV, Plan
from ._cloud import running
from ._http import ControllerError, call
from ._raybridge import ENV_AUTH_MODE, ENV_AUTH_TOKEN_PATH, ENV_LOOPBACK
from ._shape import default_scale, local_groups

PROCESSES_FILE = "processes.json"

DEFAULT_PROVISION_SECONDS = 2.0
DEFAULT_IDLE_TIMEOUT_SECONDS = 60
CLUSTER_ID_ENV = "SPOTRAY_CLUSTER_ID"  # in the environment of every process a cluster starts
SECRET_FILE = "controller.secret"  # the controller API's bearer secret (0600)
TOKEN_FILE = "ray.token"  # Ray's auth token (0600), handed over as RAY_AUTH_TOKEN_PATH


class LocalClusterError(SpotrayError):
    exit_code = 1


class MissingExtraError(SpotrayError):
    """An optional dependency is missing: names the extra that brings it."""


def require_local_extra() -> None:
    """Fail early, naming the extra, when Ray (with its autoscaler) or psutil is missing."""
    import importlib

    for module in ("psutil", "ray", "ray.autoscaler.v2"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise MissingExtraError(
                f"the local cluster needs {module!r}, which cannot be imported ({exc}): "
                "pip install 'spotray[local]' (it brings the Ray release spotray is tested with)"
            ) from None


def state_root() -> Path:
    root = os.environ.get("SPOTRAY_STATE_DIR")
    return Path(root) if root else Path(tempfile.gettempdir()) / f"spotray-{os.getuid()}"


def _check_owner(path: Path) -> None:
    """Refuse a state directory that another user owns, or a link: someone else could have
    put it there (in a shared /tmp) to make `down` stop this user's processes."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        raise LocalClusterError(
            f"{path} is a link or belongs to another user: spotray will not use it "
            "(set SPOTRAY_STATE_DIR to a directory of your own)"
        )


def state_dir(name: str) -> Path:
    """The state directory of cluster `name`, which must be a cluster name (a DNS-1123 label,
    so it stays inside the state root) and, if it exists, this user's."""
    if len(name) > 63 or not DNS1123_LABEL.match(name):
        raise InputError(f"{name!r} is not a cluster name (a lowercase DNS-1123 label)")
    root = state_root()
    _check_owner(root)
    _check_owner(root / name)
    return root / name


def _private_dir(name: str) -> Path:
    """The cluster's state directory, made if need be, that only this user can enter (it holds
    the cluster's secrets). The state root is made 0700 if new and otherwise left as it is."""
    path = state_dir(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.mkdir(exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def _write_secret(path: Path) -> str:
    """A new random secret in a file only this user can read."""
    value = secrets.token_hex(32)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def auth_env(state: Path) -> dict[str, str]:
    """What a process needs to talk to the cluster's Ray (token auth)."""
    return {ENV_AUTH_MODE: "token", ENV_AUTH_TOKEN_PATH: str(state / TOKEN_FILE)}


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
    secret: str = ""  # the controller API's bearer secret

    @property
    def address(self) -> str:
        """For RAY_ADDRESS / ray.init(address=...)."""
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for a Ray driver of this cluster: RAY_ADDRESS, token auth, and Ray's
        switch that keeps a driver on 127.0.0.1 (the cluster listens there only)."""
        return {"RAY_ADDRESS": self.address, ENV_LOOPBACK: "0", **auth_env(self.state)}

    @property
    def token(self) -> str:
        """Ray's auth token of this cluster (the bearer credential of its dashboard)."""
        return (self.state / TOKEN_FILE).read_text().strip()

    @property
    def config(self) -> dict:
        return json.loads((self.state / "cluster.json").read_text())

    def _call(self, path: str, method: str = "GET", body: dict | None = None):
        return call(f"{self.url}{path}", method, body, secret=self.secret)

    def instances(self) -> list[dict]:
        return self._call("/instances")

    def events(self) -> list[dict]:
        return self._call("/events")

    def preempt(self, group: str, count: int = 1, share: float | None = None) -> list[str]:
        return self._call("/preempt", "POST", {"group": group, "count": count, "share": share})

    def freeze(self, group: str, count: int = 1) -> list[str]:
        """Freeze nodes (SIGSTOP, no notice), as a network black hole would; killed later."""
        return self._call("/freeze", "POST", {"group": group, "count": count})

    def stockout(self, group: str, seconds: float) -> None:
        self._call("/stockout", "POST", {"group": group, "seconds": seconds})

    def play(self, preemptions: list, stockouts: list = (), seed: int = 0) -> None:
        """Start a schedule (times in seconds from now): see `_schedule`."""
        self._call(
            "/schedule",
            "POST",
            {
                "preemptions": [asdict(p) for p in preemptions],
                "stockouts": [asdict(s) for s in stockouts],
                "seed": seed,
            },
        )

    def cancel_schedule(self) -> None:
        self._call("/schedule/cancel", "POST", {})

    def now(self) -> float:
        """The cloud's clock (seconds since its start), which instance times use."""
        return self._call("/now")

    def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.instances()):
                return
            time.sleep(0.5)
        raise LocalClusterError(f"local cluster {self.name!r}: timed out waiting for {what}")

    def down(self, timeout: float = 60.0) -> int:
        """Stop every process this cluster started, and the controller; then whatever of the
        cluster still runs (see `stop_leftovers`). Returns how many had to be stopped so."""
        mine = (self.controller_pid, self.controller_started)
        if running(*mine):
            try:
                self._call("/shutdown", "POST", {})
            except ControllerError:  # it also stops everything on SIGTERM
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.controller_pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while running(*mine) and time.monotonic() < deadline:
                time.sleep(0.2)
            if running(*mine):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.controller_pid, signal.SIGKILL)
        return stop_leftovers(self.name)


def node_temp_root(cluster_id: str) -> Path:
    """Where a cluster's worker nodes keep Ray's temp files (sessions, sockets, logs): short,
    since Ray puts its Unix sockets below it (at most 107 bytes on Linux); removed by `down`."""
    return Path(tempfile.gettempdir()) / f"spotray-ray-{os.getuid()}" / cluster_id[:8]


def _cluster_id(name: str) -> str | None:
    try:
        return json.loads((state_dir(name) / "cluster.json").read_text()).get("id")
    except (OSError, ValueError, AttributeError):
        return None


def leftovers(name: str) -> list:
    """The processes of cluster `name` that still run (psutil.Process objects); see
    `leftovers_of`."""
    return leftovers_of([name])[name]


def leftovers_of(clusters: list[str]) -> dict[str, list]:
    """For each cluster name, its processes that still run: every process whose environment
    carries the cluster's id (all that its controller started, their children, and jobs
    started by `spotray run`), and those recorded in `processes.json` (checked by PID and start
    time). The state directory is the source of truth: this finds them whether or not the
    controller lives. One pass over the machine's processes, whatever the number of names."""
    import psutil

    ids = {cid: name for name in clusters if (cid := _cluster_id(name))}
    found: dict[str, dict[int, psutil.Process]] = {name: {} for name in clusters}
    if ids:
        me = os.getpid()
        for proc in psutil.process_iter():
            if proc.pid == me:
                continue
            with contextlib.suppress(psutil.Error):
                name = ids.get(proc.environ().get(CLUSTER_ID_ENV))
                if name is not None:
                    found[name][proc.pid] = proc
    for name in clusters:
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            recorded = json.loads((state_dir(name) / PROCESSES_FILE).read_text())
            for pid, started in recorded.values():
                if running(pid, started):
                    with contextlib.suppress(psutil.Error):
                        proc = psutil.Process(pid)
                        for p in (proc, *proc.children(recursive=True)):
                            found[name].setdefault(p.pid, p)
    return {name: [p for p in procs.values() if _alive(p)] for name, procs in found.items()}


def _alive(proc) -> bool:
    """Whether a process still runs (it may have exited since it was found)."""
    import psutil

    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop_leftovers(name: str, *, grace: float = 10.0) -> int:
    """Stop every process `leftovers(name)` finds: SIGTERM, then SIGKILL after `grace`
    seconds; forget the controller. Returns how many processes were stopped."""
    import psutil

    procs = leftovers(name)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
    cluster_id = _cluster_id(name)
    if cluster_id:
        shutil.rmtree(node_temp_root(cluster_id), ignore_errors=True)
    state = state_dir(name)
    for file in (PROCESSES_FILE, "controller.json"):
        (state / file).unlink(missing_ok=True)
    return len(procs)


def reap_orphans(name: str) -> int:
    """Stop what a cluster whose controller died left running; returns how many processes."""
    return stop_leftovers(name)


def find(name: str) -> LocalCluster | None:
    """The running cluster called `name` (its controller alive), if any."""
    state = state_dir(name)
    try:
        info = json.loads((state / "controller.json").read_text())
        config = json.loads((state / "cluster.json").read_text())
        secret = (state / SECRET_FILE).read_text().strip()
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
            secret=secret,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no state, or not what a controller writes


def names() -> list[str]:
    """Every cluster name with a state directory of this user's."""
    root = state_root()
    _check_owner(root)
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir()
        and not p.is_symlink()
        and DNS1123_LABEL.match(p.name)
        and p.stat().st_uid == os.getuid()
    )


def up(
    plan: Plan,
    *,
    scale: float | None = None,
    time_scale: float = 1.0,
    provision_seconds: float = DEFAULT_PROVISION_SECONDS,
    idle_timeout_seconds: float | None = None,
    drain_seconds: float | None = None,
    stockout_mode: str = "pending",
    ray_default_timeouts: bool = False,
    timeout: float = 180.0,
) -> LocalCluster:
    """Start the plan's cluster on this machine and wait until the head and the groups'
    minimum nodes are running in Ray.

    `scale` multiplies the Pods' CPUs and memory (default: `default_scale`, which fits the
    machine); `time_scale` divides the Spot shutdown window and Ray's drain timeout;
    `drain_seconds` overrides the drain timeout (the plan's, time-scaled, by default);
    `stockout_mode`: a launch during a stockout stays pending until capacity returns, as a
    Pod on GKE does ("pending"), or is refused at once ("refuse"). The autoscaler gets the
    plan's fallback settings (`Plan.fallback`), time-scaled, as the rendered RayCluster gives
    them to KubeRay's autoscaler; `ray_default_timeouts` leaves Ray's defaults instead (an hour
    before a Pending Pod is given up: no fallback in practice)."""
    require_local_extra()
    if stockout_mode not in ("pending", "refuse"):
        raise InputError(f"--stockout-mode {stockout_mode!r}: pending or refuse")
    time_scale = positive("--time-scale", time_scale, high=1000)
    provision_seconds = finite("--provision-seconds", provision_seconds, low=0, high=3600)
    if scale is not None:
        scale = finite("--scale", scale, low=0, low_open=True, high=1)
    if drain_seconds is not None:
        drain_seconds = finite("drain_seconds", drain_seconds, low=0, high=3600)
    if find(plan.name):
        raise InputError(f"a local cluster {plan.name!r} is already up; `spotray down` it first")
    left = leftovers(plan.name)
    if left:
        raise InputError(
            f"local cluster {plan.name!r}: its controller is dead but {len(left)} of its "
            f"processes still run; stop them first with `spotray down --name {plan.name}`"
        )
    scale = default_scale(plan) if scale is None else scale
    groups = local_groups(plan, scale)
    state = _private_dir(plan.name)
    (state / "logs").mkdir(exist_ok=True)
    _write_secret(state / SECRET_FILE)
    _write_secret(state / TOKEN_FILE)
    idle = idle_timeout_seconds
    if idle is None:
        idle = plan.autoscaler_idle_timeout_seconds or DEFAULT_IDLE_TIMEOUT_SECONDS
    window = plan.shutdown.grace_period_seconds / time_scale
    drain = (
        drain_seconds
        if drain_seconds is not None
        else max(1, int(plan.shutdown.drain_timeout_seconds / time_scale))
    )
    predrain = plan.shutdown.predrain_seconds
    autoscaler_env = local_fallback_env(plan, time_scale, idle, provision_seconds)
    config = {
        "name": plan.name,
        "id": secrets.token_hex(8),
        "scale": scale,
        "time_scale": time_scale,
        "groups": [asdict(g) for g in groups],
        "gcs_port": _free_port(),
        "dashboard_port": _free_port(),
        "client_port": _free_port(),
        "window_seconds": window,
        "notice_seconds": min(1.0 / time_scale, window / 2),
        "drain_seconds": drain,
        # the rendered preStop drain, time-scaled, and before `ray start`'s own drain ends
        "predrain_seconds": None if predrain is None else min(predrain / time_scale, drain * 0.8),
        "provision_seconds": provision_seconds,
        "idle_timeout_seconds": idle,
        "stockout_mode": stockout_mode,
        "autoscaler_env": {} if ray_default_timeouts else autoscaler_env,
        "fallback_routes": [list(r) for r in plan.fallback.routes] if plan.fallback else [],
    }
    write_text(state / "cluster.json", json.dumps(config, indent=1))
    (state / "controller.json").unlink(missing_ok=True)
    log = open(state / "logs" / "controller.log", "ab")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [sys.executable, "-m", "spotray._local._controller", str(state)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **auth_env(state), CLUSTER_ID_ENV: config["id"]},
    )
    log.close()
    try:
        return _wait_up(plan, proc, state, groups, time.monotonic() + timeout, timeout)
    except BaseException:
        with _signals.ignored():  # a second Ctrl-C must not cut the cleanup short
            found = find(plan.name)
            if found:
                found.down()
            if proc.poll() is None:  # SIGTERM: the controller stops what it started, exits
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            stop_leftovers(plan.name)
        raise


# A local worker's normal start: its simulated provisioning, then `ray start` (a few seconds on
# this 2-core machine, more while other raylets start). The time-scaled pending timeout is kept
# above it, or every normal start would be given up as a stockout.
LOCAL_START_MARGIN_SECONDS = 15


def local_fallback_env(
    plan: Plan, time_scale: float, idle_seconds: float, provision_seconds: float
) -> dict[str, str]:
    """The plan's fallback settings for the local cluster's autoscaler: time-scaled, the
    pending timeout kept above a local start, a Pending Pod no work needs dropped after the
    local idle timeout. Empty when the plan has no fallback."""
    if plan.fallback is None:
        return {}
    env = plan.fallback.env(time_scale)
    floor = provision_seconds + LOCAL_START_MARGIN_SECONDS
    timeout = max(int(env[ALLOCATE_TIMEOUT_ENV]), math.ceil(floor))
    env[ALLOCATE_TIMEOUT_ENV] = str(timeout)
    env[PENDING_IDLE_ENV] = str(max(1, round(idle_seconds)))
    return env


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
    with state_api(cluster) as api:
        return api.nodes()


@contextlib.contextmanager
def state_api(cluster: LocalCluster, timeout: int = 30):
    """Ray's state API for the cluster, with its token (`timeout` seconds per request); Ray's
    state API raises many kinds of errors: turn them into one clear error."""
    from ._raybridge import StateClient

    try:
        yield StateClient(cluster.dashboard_url, cluster.token, timeout)
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
