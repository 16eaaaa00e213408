"""The local cluster's controller: a background process that is the emulated cloud.

It starts the head raylet (with Ray's autoscaler v2 and spotray's node provider), serves the
cloud's HTTP API on loopback (used by the provider, `spotray status/preempt/down` and
`spotray run`), hosts each worker's metadata server and plays the preemption schedule.
`spotray up` starts it with `python -m spotray._local._controller STATE_DIR`.
"""

from __future__ import annotations

import hmac
import json
import os
import random
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .._bounds import count, finite, share
from .._errors import SpotrayError
from .._spot._schedule import MAX_SCHEDULE_SECONDS
from ._cloud import MAX_STOCKOUT_SECONDS, Cloud, Instance, Stockout, ray_command
from ._cluster import PROCESSES_FILE, SECRET_FILE, auth_env, node_temp_root
from ._raybridge import (
    ENV_AUTOSCALER_V2,
    ENV_CLOUD_INSTANCE_ID,
    ENV_NODE_TYPE_NAME,
    ENV_START_HOOK,
    ENV_UPDATE_INTERVAL,
    START_HOOK,
    alive_nodes,
    drain_node,
    tags,
)
from ._shape import HEAD_OBJECT_STORE_BYTES, OBJECT_STORE_BYTES, LocalGroup

HEAD_TYPE = "ray.head.default"

# Ray settings for every process of the local cluster, chosen for a machine that fakes many:
# token auth on (the token file and mode come from `auth_env`), every node kept on 127.0.0.1
# (the start hook); failure detection in ~3 s instead of ~14 s (health checks every 1 s,
# 3 misses), and gRPC keepalives that give up on a frozen node in ~10 s instead of minutes.
RAY_ENV = {
    ENV_START_HOOK: START_HOOK,
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
    "RAY_grpc_client_keepalive_time_ms": "5000",
    "RAY_grpc_client_keepalive_timeout_ms": "5000",
    ENV_AUTOSCALER_V2: "1",
    ENV_UPDATE_INTERVAL: "1",
    # A launch whose instance is preempted before Ray's autoscaler has matched it to its request
    # (a Pod lost while starting) leaves the request waiting 10 minutes (Ray 2.60,
    # autoscaler/v2/instance_manager/config.py); the local provider lists every instance at
    # once, so 15 s is ample. (How this plays on GKE is issue 11's subject.)
    "RAY_AUTOSCALER_RECONCILE_REQUEST_STATUS_TIMEOUT_S": "15",
    "RAY_USAGE_STATS_ENABLED": "0",
}


def node_temp_dir(cluster_id: str, instance_id: str) -> str:
    """A temp dir of each worker's own. In one shared dir, `ray start`s launched together pick
    the same "next free" socket name (ray/_private/node.py, `_make_inc_temp`), and both raylets
    die with "bind: Address already in use" (seen when a group scaled up by two at once)."""
    folder = node_temp_root(cluster_id) / instance_id.rsplit("-", 1)[-1]
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return str(folder)


def launcher(config: dict, state: Path):
    """Start a raylet for an instance: the head, or a worker of `group`."""
    logs = state / "logs"
    logs.mkdir(exist_ok=True)
    gcs = f"127.0.0.1:{config['gcs_port']}"

    def launch(inst: Instance, group: LocalGroup | None) -> subprocess.Popen:
        env = {**os.environ, **RAY_ENV, **auth_env(state), ENV_CLOUD_INSTANCE_ID: inst.id}
        if group is None:
            env.update(config.get("autoscaler_env") or {})  # the head runs the autoscaler
            env[ENV_NODE_TYPE_NAME] = HEAD_TYPE
            cmd = [
                *ray_command(),
                "start",
                "--head",
                "--block",
                "--node-ip-address=127.0.0.1",
                f"--port={config['gcs_port']}",
                "--num-cpus=0",
                f"--object-store-memory={HEAD_OBJECT_STORE_BYTES}",
                "--include-dashboard=true",
                "--dashboard-host=127.0.0.1",
                f"--dashboard-port={config['dashboard_port']}",
                f"--ray-client-server-port={config['client_port']}",
                "--dashboard-agent-listen-port=0",
                f"--autoscaling-config={state / 'autoscaler.yaml'}",
                "--disable-usage-stats",
            ]
        else:
            env[ENV_NODE_TYPE_NAME] = group.name
            env["GCE_METADATA_HOST"] = inst.metadata_host or ""
            env["GCE_METADATA_IP"] = inst.metadata_host or ""
            env["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] = str(config["drain_seconds"])
            if group.spot:
                env["RAY_NODE_MARKET_TYPE"] = "spot"
            labels = ",".join(f"{k}={v}" for k, v in group.labels.items())
            cmd = [
                *ray_command(),
                "start",
                "--block",
                "--node-ip-address=127.0.0.1",
                f"--address={gcs}",
                f"--num-cpus={group.cpus}",
                f"--num-gpus={group.gpus}",
                f"--memory={group.memory_bytes}",
                f"--object-store-memory={OBJECT_STORE_BYTES}",
                f"--labels={labels}",
                "--dashboard-agent-listen-port=0",
                f"--temp-dir={node_temp_dir(config['id'], inst.id)}",
            ]
        out = open(logs / f"{inst.id}.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            return subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            out.close()

    return launch


def autoscaler_config(config: dict, controller_url: str, state: Path) -> dict:
    """Ray's cluster config: one node type per worker group, spotray's provider."""
    types = {
        HEAD_TYPE: {"resources": {"CPU": 0}, "node_config": {}, "max_workers": 0},
    }
    for g in config["groups"]:
        group = LocalGroup(**g)
        types[group.name] = {
            "resources": group.resources,
            "labels": group.labels,
            "node_config": {},
            "min_workers": group.min_nodes,
            "max_workers": group.max_nodes,
            "priority": group.priority,
        }
        if group.idle_timeout_seconds is not None:
            types[group.name]["idle_timeout_s"] = group.idle_timeout_seconds
    return {
        "cluster_name": config["name"],
        "max_workers": sum(g["max_nodes"] for g in config["groups"]),
        "upscaling_speed": 10.0,
        "idle_timeout_minutes": config["idle_timeout_seconds"] / 60,
        "provider": {
            "type": "external",
            "module": "spotray._local._provider.LocalSpotProvider",
            "controller": controller_url,
            "secret_file": str(state / SECRET_FILE),
            "disable_node_updaters": True,
            "disable_launch_config_check": True,
        },
        "auth": {"ssh_user": "ray"},
        "available_node_types": types,
        "head_node_type": HEAD_TYPE,
        "docker": {},
        "file_mounts": {},
        "cluster_synced_files": [],
        "file_mounts_sync_continuously": False,
        "rsync_exclude": [],
        "rsync_filter": [],
        "initialization_commands": [],
        "setup_commands": [],
        "head_setup_commands": [],
        "worker_setup_commands": [],
        "head_start_ray_commands": [],
        "worker_start_ray_commands": [],
    }


def predrainer(config: dict):
    """The Pods' preStop drain (see _render.predrain_hook): reason PREEMPTION, deadline
    `predrain_seconds` away, for the node of the instance being stopped."""
    gcs = f"127.0.0.1:{config['gcs_port']}"
    seconds = float(config["predrain_seconds"])

    def pre_stop(inst: Instance) -> None:
        nodes = [n for n in alive_nodes(gcs, timeout=5) if n["instance_id"] == inst.id]
        for node in nodes:
            deadline_ms = int((time.time() + seconds) * 1000)
            drain_node(gcs, node["node_id"], "preemption", "Pod terminating (preStop)", deadline_ms)

    return pre_stop


class Controller:
    def __init__(self, config: dict, state: Path) -> None:
        self.config = config
        self.state = state
        groups = {g["name"]: LocalGroup(**g) for g in config["groups"]}
        self.cloud = Cloud(
            groups=groups,
            launch=launcher(config, state),
            window_seconds=config["window_seconds"],
            notice_seconds=config["notice_seconds"],
            pre_stop=predrainer(config) if config.get("predrain_seconds") else None,
            provision_seconds=config["provision_seconds"],
            stockout_mode=config.get("stockout_mode", "pending"),
        )
        self.secret = (state / SECRET_FILE).read_text().strip()
        self.done = threading.Event()
        self._schedule_cancelled = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _api(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def serve(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        cfg = autoscaler_config(self.config, self.url, self.state)
        (self.state / "autoscaler.yaml").write_text(json.dumps(cfg, indent=1))
        t = tags()
        self.cloud.add_head(
            {
                t.TAG_RAY_NODE_KIND: t.NODE_KIND_HEAD,
                t.TAG_RAY_USER_NODE_TYPE: HEAD_TYPE,
                t.TAG_RAY_NODE_NAME: "head",
                t.TAG_RAY_NODE_STATUS: t.STATUS_UP_TO_DATE,
            }
        )
        import psutil

        started = psutil.Process().create_time()
        _write_json(
            self.state / "controller.json",
            {"pid": os.getpid(), "started": started, "url": self.url},
        )
        threading.Thread(target=self._record_processes, daemon=True).start()
        self.done.wait()
        self.cloud.shutdown()
        self.server.shutdown()
        (self.state / PROCESSES_FILE).unlink(missing_ok=True)

    def _record_processes(self) -> None:
        """Keep `processes.json` (PID and start time of every live instance) current, so that
        `spotray down` can still stop them if this controller dies."""
        import psutil

        while not self.done.wait(1.0):
            live = {}
            for inst in self.cloud.alive():
                try:
                    live[inst.id] = [inst.pid, psutil.Process(inst.pid).create_time()]
                except (psutil.Error, TypeError, ValueError):
                    continue
            _write_json(self.state / PROCESSES_FILE, live)

    def cancel(self) -> None:
        """Stop the schedule being played, if any."""
        self._schedule_cancelled.set()

    def play(self, schedule: dict) -> None:
        """Run a schedule: {"preemptions": [...], "stockouts": [...], "seed": N}; raises
        BadRequest (before anything runs) for malformed items and for groups that are
        unknown or not Spot."""
        for item in schedule.get("preemptions") or []:
            _fields(
                item,
                at=(int, float),
                group=str,
                count=(int, type(None)),
                share=(int, float, type(None)),
                slot=(int, type(None)),
            )
            group = self.cloud.groups.get(item["group"])
            if group is None or not group.spot:
                raise BadRequest(f"preemption of {item['group']!r}: not a Spot group")
            finite("at", item["at"], low=0, high=MAX_SCHEDULE_SECONDS)
            if item.get("share") is not None:
                share("share", item["share"])
            elif item.get("slot") is None:
                count("count", item.get("count", 1))
            else:
                count("slot", item["slot"], low=0)
        for item in schedule.get("stockouts") or []:
            _fields(item, at=(int, float), group=str, seconds=(int, float))
            if item["group"] not in self.cloud.groups:
                raise BadRequest(f"stockout of {item['group']!r}: no such group")
            finite("at", item["at"], low=0, high=MAX_SCHEDULE_SECONDS)
            finite("seconds", item["seconds"], low=0, high=MAX_STOCKOUT_SECONDS)
        self._schedule_cancelled.set()  # one schedule at a time
        cancelled = self._schedule_cancelled = threading.Event()
        rng = random.Random(schedule.get("seed", 0))
        start = time.monotonic()
        items = [("stockout", s) for s in schedule.get("stockouts") or []]
        items += [("preempt", p) for p in schedule.get("preemptions") or []]
        items.sort(key=lambda item: item[1]["at"])

        def run() -> None:
            for kind, item in items:
                delay = start + item["at"] - time.monotonic()
                if cancelled.wait(max(0.0, delay)) or self.done.is_set():
                    return
                try:
                    if kind == "stockout":
                        self.cloud.stockout(item["group"], item["seconds"])
                    else:
                        self.cloud.preempt(
                            item["group"],
                            count=item.get("count", 1),
                            share=item.get("share"),
                            slot=item.get("slot"),
                            rng=rng,
                        )
                except Exception as exc:  # one bad event must not end the schedule
                    print(f"controller: schedule {kind} {item}: {exc!r}", flush=True)

        threading.Thread(target=run, daemon=True).start()


MAX_BODY_BYTES = 1 << 20


class BadRequest(Exception):
    """A request the controller refuses (400), with the reason."""


def _fields(body, **types) -> dict:
    """`body` as a dict whose listed keys have the listed types (`None` in a tuple: optional)."""
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object, not {type(body).__name__}")
    for key, kind in types.items():
        value = body.get(key)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        optional = type(None) in kinds
        if value is None and optional:
            continue
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok:
            names = "/".join(k.__name__ for k in kinds if k is not type(None))
            raise BadRequest(f"{key!r} must be {names}, not {value!r}")
    return body


def _api(controller: Controller):
    cloud = controller.cloud
    expected = f"Bearer {controller.secret}".encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _reply(self, code: int, value) -> None:
            data = json.dumps(value).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            """The bearer secret, checked before anything of the request is read."""
            given = self.headers.get("Authorization", "").encode()
            if hmac.compare_digest(given, expected):
                return True
            self.close_connection = True
            self._reply(401, {"error": "missing or wrong bearer secret"})
            return False

        def _body(self):
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise BadRequest("bad Content-Length") from None
            if not 0 <= length <= MAX_BODY_BYTES:
                raise BadRequest(f"the body must be at most {MAX_BODY_BYTES} bytes")
            try:
                return json.loads(self.rfile.read(length) or b"{}")
            except (ValueError, UnicodeDecodeError):
                raise BadRequest("the body is not JSON") from None

        def _handle(self, action) -> None:
            if not self._authorized():
                return
            try:
                action()
            except BadRequest as exc:
                self._reply(400, {"error": str(exc)})
            except Stockout as exc:
                self._reply(503, {"error": str(exc)})
            except (KeyError, ValueError, SpotrayError) as exc:
                self._reply(400, {"error": str(exc.args[0]) if exc.args else str(exc)})
            except Exception as exc:  # a bug: answer, log one line, keep serving
                print(f"controller: {self.command} {self.path}: {exc!r}", flush=True)
                self._reply(500, {"error": f"internal error: {type(exc).__name__}"})

        def do_GET(self) -> None:
            self._handle(self._get)

        def do_POST(self) -> None:
            self._handle(self._post)

        def do_DELETE(self) -> None:
            self._handle(self._delete)

        def _get(self) -> None:
            if self.path == "/instances":
                self._reply(200, cloud.snapshot())
            elif self.path == "/events":
                self._reply(200, list(cloud.events))
            elif self.path == "/now":
                self._reply(200, cloud.now())
            elif self.path == "/config":
                self._reply(200, controller.config)
            else:
                self._reply(404, {"error": "not found"})

        def _post(self) -> None:
            body = self._body()
            if self.path == "/instances":
                b = _fields(body, group=str, count=(int, type(None)), tags=dict)
                n = 1 if b.get("count") is None else b["count"]
                self._reply(200, cloud.create(b["group"], n, b["tags"]))
            elif self.path.startswith("/instances/") and self.path.endswith("/tags"):
                tags = _fields(body)
                if not all(isinstance(v, str) for v in tags.values()):
                    raise BadRequest("tags must map names to strings")
                self._reply(200, cloud.update_tags(self.path.split("/")[2], tags))
            elif self.path == "/preempt":
                b = _fields(
                    body, group=str, count=(int, type(None)), share=(float, int, type(None))
                )
                self._reply(
                    200,
                    cloud.preempt(
                        b["group"],
                        count=1 if b.get("count") is None else b["count"],
                        share=b.get("share"),
                    ),
                )
            elif self.path == "/freeze":
                b = _fields(body, group=str, count=(int, type(None)))
                n = 1 if b.get("count") is None else b["count"]
                self._reply(200, cloud.freeze(b["group"], n))
            elif self.path == "/stockout":
                b = _fields(body, group=str, seconds=(float, int))
                cloud.stockout(b["group"], b["seconds"])
                self._reply(200, {"ok": True})
            elif self.path == "/schedule/cancel":
                controller.cancel()
                self._reply(200, {"ok": True})
            elif self.path == "/schedule":
                controller.play(
                    _fields(
                        body,
                        preemptions=(list, type(None)),
                        stockouts=(list, type(None)),
                        seed=(int, type(None)),
                    )
                )
                self._reply(200, {"ok": True})
            elif self.path == "/shutdown":
                self._reply(200, {"ok": True})
                controller.done.set()
            else:
                self._reply(404, {"error": "not found"})

        def _delete(self) -> None:
            if self.path.startswith("/instances/"):
                node_id = self.path.split("/")[2]
                threading.Thread(target=cloud.terminate, args=(node_id,), daemon=True).start()
                self._reply(200, {"ok": True})
            else:
                self._reply(404, {"error": "not found"})

    return Handler


def _write_json(path: Path, value: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value))
    tmp.replace(path)


def main(argv: list[str]) -> int:
    state = Path(argv[0])
    config = json.loads((state / "cluster.json").read_text())
    controller = Controller(config, state)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: controller.done.set())
    controller.serve()
    (state / "controller.json").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
