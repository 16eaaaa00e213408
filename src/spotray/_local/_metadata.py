"""An emulated GCE metadata server, one per local worker node (one logical VM instance each).

It answers like `metadata.google.internal`: requests need the `Metadata-Flavor: Google` header
(else 403), answers carry it back, and `instance/preempted` reads `FALSE` until the node gets
its preemption notice, then `TRUE`. `?wait_for_change=true` long-polls until the value changes
(or, with `last_etag=E`, answers at once if the value's ETag is no longer E), up to
`timeout_sec`. Code written for GKE finds it through `GCE_METADATA_HOST`, which the local
cluster sets for each worker raylet, so it runs unchanged.
"""

from __future__ import annotations

import hashlib
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PREFIX = "/computeMetadata/v1/"
MAX_WAIT_SECONDS = 3600


class InstanceMetadata:
    """What one instance's metadata says; `set_preempted` wakes long-polls."""

    def __init__(self, *, instance_id: str, name: str, zone: str, machine_type: str, project: str):
        self._changed = threading.Condition()
        self._closed = False
        self._values = {
            "instance/id": instance_id,
            "instance/name": name,
            "instance/hostname": name,
            "instance/zone": f"projects/{project}/zones/{zone}",
            "instance/machine-type": f"projects/{project}/machineTypes/{machine_type}",
            "instance/preempted": "FALSE",
            "instance/maintenance-event": "NONE",
            "project/project-id": project,
        }

    def get(self, key: str) -> str | None:
        """A value, or a directory listing for `instance/`, `project/` or the root."""
        with self._changed:
            if key in self._values:
                return self._values[key]
            prefix = f"{key}/" if key else ""
            children = sorted(
                {
                    k[len(prefix) :].split("/")[0] + ("/" if "/" in k[len(prefix) :] else "")
                    for k in self._values
                    if k.startswith(prefix)
                }
            )
            return "\n".join(children) + "\n" if children else None

    def close(self) -> None:
        """Release every long-poll (the instance is gone)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def set_preempted(self) -> None:
        with self._changed:
            self._values["instance/preempted"] = "TRUE"
            self._values["instance/maintenance-event"] = "TERMINATE_ON_HOST_MAINTENANCE"
            self._changed.notify_all()

    def wait_for_change(self, key: str, last_etag: str | None, timeout: float) -> str | None:
        """The value once it differs from `last_etag` (or from now), or the same on timeout."""
        with self._changed:
            start = self._values.get(key)
            if start is None:
                return None
            baseline = last_etag or etag(start)
            self._changed.wait_for(
                lambda: self._closed or etag(self._values[key]) != baseline, timeout
            )
            return self._values[key]


def etag(value: str) -> str:
    return hashlib.sha1(value.encode()).hexdigest()[:16]


def _handler(meta: InstanceMetadata):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, code: int, body: str, value_etag: str | None = None) -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Metadata-Flavor", "Google")
            self.send_header("Content-Type", "application/text")
            self.send_header("Content-Length", str(len(data)))
            if value_etag:
                self.send_header("ETag", value_etag)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.headers.get("Metadata-Flavor") != "Google":
                self._send(403, "Missing required header: Metadata-Flavor: Google\n")
                return
            url = urlsplit(self.path)
            if url.path in ("/", "/computeMetadata/", "/computeMetadata/v1"):
                self._send(200, "computeMetadata/\n" if url.path == "/" else "v1/\n")
                return  # google-auth's ping() checks the root for the header
            if not url.path.startswith(PREFIX):
                self._send(404, "not found\n")
                return
            key = url.path[len(PREFIX) :].strip("/")
            query = parse_qs(url.query)
            if query.get("wait_for_change", ["false"])[0].lower() == "true":
                try:
                    timeout = float(query.get("timeout_sec", [MAX_WAIT_SECONDS])[0])
                except ValueError:
                    timeout = math.nan
                if not 0 <= timeout < math.inf:  # NaN fails this too
                    self._send(400, "timeout_sec must be a non-negative number of seconds\n")
                    return
                timeout = min(timeout, MAX_WAIT_SECONDS)
                value = meta.wait_for_change(key, query.get("last_etag", [None])[0], timeout)
            else:
                value = meta.get(key)
            if value is None:
                self._send(404, "not found\n")
            else:
                self._send(200, value, etag(value))

    return Handler


class MetadataServer:
    """A real HTTP server on 127.0.0.1 (port 0: any free port) for one instance."""

    def __init__(self, meta: InstanceMetadata, port: int = 0) -> None:
        self.meta = meta
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(meta))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        """`host:port`, the value for GCE_METADATA_HOST."""
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> MetadataServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.meta.close()
        self._server.shutdown()
        self._server.server_close()
