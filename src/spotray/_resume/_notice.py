"""Learning, inside a Ray worker process, that its own node is being taken away.

Two sources, whichever speaks first:

* the VM's metadata server, where the process can see it (`GCE_METADATA_HOST`, which the local
  cluster sets for every node, or a GCE VM outside GKE): `instance/preempted` turns `TRUE` at
  the preemption notice, before any signal; the watcher long-polls it;
* Ray's own drain state in the GCS: a node that got SIGTERM (GKE's graceful node shutdown, the
  local cluster's kill path) or a drain request is listed with its deadline; the watcher polls
  it every `poll_seconds`.

Ray tells running tasks nothing (Ray 2.60): this is what does.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

PREEMPTED_PATH = "/computeMetadata/v1/instance/preempted"
POLL_SECONDS = 0.2
LONG_POLL_SECONDS = 30


@dataclass(frozen=True)
class Notice:
    """A preemption notice: when it came (time.time()), from where, and the deadline if known."""

    at: float
    source: str  # "metadata" | "drain"
    deadline: float | None = None  # time.time() by which the node is gone, if known


class NoticeWatcher:
    """Calls `on_notice(Notice)` once, from a background thread, when this node is preempted
    or drained. `stop()` ends the watch."""

    def __init__(
        self,
        on_notice: Callable[[Notice], None],
        *,
        poll_seconds: float = POLL_SECONDS,
        metadata_host: str | None = None,
        node_id: str | None = None,
    ) -> None:
        self._on_notice = on_notice
        self._poll = poll_seconds
        self._host = (
            metadata_host if metadata_host is not None else os.environ.get("GCE_METADATA_HOST")
        )
        self._node_id = node_id
        self._stop = threading.Event()
        self._fired = threading.Lock()
        self.notice: Notice | None = None

    def start(self) -> NoticeWatcher:
        threading.Thread(target=self._watch_drain, daemon=True, name="spotray-drain").start()
        if self._host:
            threading.Thread(
                target=self._watch_metadata, daemon=True, name="spotray-metadata"
            ).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _fire(self, notice: Notice) -> None:
        if self._stop.is_set() or not self._fired.acquire(blocking=False):
            return
        self.notice = notice
        self._stop.set()
        self._on_notice(notice)

    def _watch_drain(self) -> None:
        from .._local._raybridge import current_node_id, draining_nodes

        node = self._node_id or current_node_id()
        while not self._stop.wait(self._poll):
            with contextlib.suppress(Exception):  # the GCS may be briefly unreachable
                draining = draining_nodes()
                if node in draining:
                    deadline_ms = draining[node]
                    deadline = deadline_ms / 1000 if deadline_ms else None
                    self._fire(Notice(time.time(), "drain", deadline))
                    return

    def _watch_metadata(self) -> None:
        etag = None
        while not self._stop.is_set():
            query = (
                ""
                if etag is None
                else (f"?wait_for_change=true&last_etag={etag}&timeout_sec={LONG_POLL_SECONDS}")
            )
            request = urllib.request.Request(
                f"http://{self._host}{PREEMPTED_PATH}{query}",
                headers={"Metadata-Flavor": "Google"},
            )
            try:
                with urllib.request.urlopen(request, timeout=LONG_POLL_SECONDS + 5) as answer:
                    value = answer.read().decode().strip()
                    etag = answer.headers.get("ETag") or etag or "none"
            except (OSError, ValueError):  # down, slow, garbage: try again shortly
                self._stop.wait(1.0)
                continue
            if value == "TRUE":
                self._fire(Notice(time.time(), "metadata"))
                return
