"""`spotray agent` against a metadata endpoint that is down, slow, or answers garbage (a real
HTTP server on loopback whose behaviour the test switches): it logs, retries, stays up, and
reads the notice when it comes; SIGTERM ends it with 0; bad arguments exit 2. Its drain on a
real Ray node is tested with the local cluster in tests/test_resumable.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from spotray.agent import Agent, AgentConfig, AgentError


class FlakyMetadata:
    """A metadata server whose `mode` the test sets: FALSE, TRUE, garbage, error (500),
    no-header (no Metadata-Flavor), slow (answers after `slow_seconds`)."""

    def __init__(self, port: int = 0) -> None:
        self.mode = "FALSE"
        self.slow_seconds = 3.0
        self.requests = 0
        self._changed = threading.Condition()
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                flaky.requests += 1
                query = parse_qs(urlsplit(self.path).query)
                mode = flaky.mode
                if mode == "slow":
                    time.sleep(flaky.slow_seconds)
                elif query.get("wait_for_change") == ["true"] and mode in ("FALSE", "TRUE"):
                    etag = query.get("last_etag", [""])[0]
                    timeout = float(query.get("timeout_sec", ["30"])[0])
                    with flaky._changed:
                        flaky._changed.wait_for(lambda: flaky.mode != etag, timeout)
                    mode = flaky.mode
                if mode == "error":
                    self.send_error(500)
                    return
                body = {"garbage": b"<html>captive portal</html>", "slow": b"FALSE"}.get(
                    mode, mode.encode()
                )
                self.send_response(200)
                if mode != "no-header":
                    self.send_header("Metadata-Flavor", "Google")
                if mode in ("FALSE", "TRUE"):
                    self.send_header("ETag", mode)
                self.end_headers()
                self.wfile.write(body if mode != "no-header" else b"FALSE")

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set(self, mode: str) -> None:
        with self._changed:
            self.mode = mode
            self._changed.notify_all()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_watch_survives_down_slow_and_garbage_then_reads_the_notice():
    port = free_port()
    config = AgentConfig(
        metadata_host=f"127.0.0.1:{port}", long_poll_seconds=1, max_backoff_seconds=0.5
    )
    agent = Agent(config)
    got: list[bool] = []
    watcher = threading.Thread(target=lambda: got.append(agent.wait_for_notice()), daemon=True)
    watcher.start()
    time.sleep(1.5)  # down: nothing listens on the port
    assert watcher.is_alive()
    server = FlakyMetadata(port)
    try:
        for mode in ("garbage", "error", "no-header", "slow", "FALSE"):
            server.set(mode)
            before = server.requests
            time.sleep(3.5)
            assert watcher.is_alive(), mode
            assert server.requests > before, f"no retry while {mode}"
        server.set("TRUE")
        watcher.join(5)
        assert got == [True]
        assert agent.noticed_at is not None
    finally:
        agent.stop()
        server.close()


def test_a_long_poll_wakes_at_the_change_not_at_its_timeout():
    server = FlakyMetadata()
    agent = Agent(AgentConfig(metadata_host=server.host, long_poll_seconds=30))
    try:
        watcher = threading.Thread(target=agent.wait_for_notice, daemon=True)
        watcher.start()
        time.sleep(1.0)  # the agent now waits on ?wait_for_change=true
        flipped = time.time()
        server.set("TRUE")
        watcher.join(5)
        assert not watcher.is_alive()
        assert agent.noticed_at - flipped < 0.5
        assert server.requests == 2  # one plain read, one long-poll: no busy polling
    finally:
        agent.stop()
        server.close()


def test_the_cli_stays_up_through_failures_and_exits_0_on_sigterm(tmp_path):
    port = free_port()  # nothing listens: the metadata server is down throughout
    proc = subprocess.Popen(
        [sys.executable, "-m", "spotray.cli", "agent", "--metadata-host", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "RAY_ADDRESS": "127.0.0.1:1"},
    )
    time.sleep(4)
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out
    assert "metadata server:" in out and "retrying" in out, out


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--margin-seconds", "40"], "margin-seconds"),
        (["--notice-seconds", "0"], "notice-seconds"),
        (["--metadata-host", "http://x/y"], "metadata host"),
    ],
)
def test_bad_arguments_exit_2(argv, says):
    done = subprocess.run(
        [sys.executable, "-m", "spotray.cli", "agent", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert says in done.stderr


def test_config_refuses_a_deadline_after_the_stop():
    with pytest.raises(AgentError):
        AgentConfig(notice_seconds=30, margin_seconds=30)
