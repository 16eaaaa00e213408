"""The checkpoint store, without Ray: round trips, refusals, a writer killed between write and
commit, and two attempts racing to commit one output (real processes)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys

import pytest

from spotray._resume._store import (
    CheckpointError,
    LocalStore,
    TaskCheckpoints,
    decode,
    encode,
    open_store,
)


@pytest.fixture(params=["dir", "memory"])
def store(request, tmp_path):
    if request.param == "dir":
        return open_store(str(tmp_path / "ckpt"))
    pytest.importorskip("fsspec")
    return open_store(f"memory://spotray-test-{os.getpid()}-{id(tmp_path)}")


def test_round_trip_and_generations(store):
    tasks = TaskCheckpoints(store, "job:1")
    assert tasks.latest() is None
    tasks.save(1, {"step": 1})
    tasks.save(2, {"step": 2, "blob": b"\x00" * 10})
    assert tasks.latest() == (2, {"step": 2, "blob": b"\x00" * 10})
    assert TaskCheckpoints(store, "job:2").latest() is None  # another key, another folder


def test_output_is_committed_once(store):
    tasks = TaskCheckpoints(store, "job:out")
    assert tasks.commit_output([1, 2, 3]) == [1, 2, 3]
    assert tasks.commit_output("second") == [1, 2, 3]  # the first result wins
    assert tasks.output() == (True, [1, 2, 3])


def test_a_checkpoint_of_another_key_or_version_is_refused():
    data = encode("a", 1, {"x": 1})
    assert decode(data, "a", "w")[1] == {"x": 1}
    with pytest.raises(CheckpointError, match="of task 'a', not of 'b'"):
        decode(data, "b", "w")
    newer = data.replace(b'"version": 1', b'"version": 99')
    with pytest.raises(CheckpointError, match="version 99"):
        decode(newer, "a", "w")
    with pytest.raises(CheckpointError, match="not a spotray checkpoint"):
        decode(b"garbage\n", "a", "w")


def test_a_writer_killed_between_write_and_commit_leaves_the_previous_checkpoint(tmp_path):
    root = tmp_path / "ckpt"
    TaskCheckpoints(LocalStore(str(root)), "job").save(1, "kept")
    # a real process writes generation 2's object, then dies before it moves the pointer
    script = (
        "import os, sys; from spotray._resume._store import LocalStore, TaskCheckpoints, encode\n"
        f"t = TaskCheckpoints(LocalStore({str(root)!r}), 'job')\n"
        "t.store.write(t._name('gen-0000000002-dead.ckpt'), encode('job', 2, 'lost'))\n"
        "os.kill(os.getpid(), 9)\n"
        "t.store.write(t._name('LATEST'), b'gen-0000000002-dead.ckpt')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert proc.returncode == -9
    tasks = TaskCheckpoints(LocalStore(str(root)), "job")
    assert any(p.name.startswith("gen-0000000002") for p in (root / tasks.folder).iterdir())
    assert tasks.latest() == (1, "kept")


def _commit(root: str, value: str, barrier, results) -> None:
    tasks = TaskCheckpoints(LocalStore(root), "race")
    barrier.wait()
    results.put(tasks.commit_output(value * 100_000))


def test_two_attempts_racing_to_commit_one_output(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    for round_ in range(5):
        root = str(tmp_path / f"r{round_}")
        barrier, results = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_commit, args=(root, v, barrier, results)) for v in "ab"]
        for p in procs:
            p.start()
        won = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(60)
        assert won[0] == won[1] and won[0] in ("a" * 100_000, "b" * 100_000)
        assert TaskCheckpoints(LocalStore(root), "race").output() == (True, won[0])


def test_the_notice_watcher_hears_the_metadata_server_and_survives_a_bad_one():
    """Real HTTP: the watcher long-polls `instance/preempted`; a server that is down, then
    answers garbage, then says TRUE, gets one notice and no crash."""
    import http.server
    import threading
    import time

    from spotray._local._metadata import InstanceMetadata, MetadataServer
    from spotray._resume._notice import NoticeWatcher

    meta = InstanceMetadata(
        instance_id="1", name="vm", zone="us-central1-a", machine_type="e2-standard-2", project="p"
    )
    server = MetadataServer(meta).start()
    heard = []
    watcher = NoticeWatcher(heard.append, metadata_host=server.host, node_id="n").start()
    time.sleep(0.5)
    assert heard == []
    start = time.monotonic()
    meta.set_preempted()
    deadline = time.monotonic() + 5
    while not heard and time.monotonic() < deadline:
        time.sleep(0.02)
    watcher.stop()
    server.stop()
    assert [n.source for n in heard] == ["metadata"] and time.monotonic() - start < 1

    answers = iter([b"\xff\xfe garbage", b"FALSE", b"TRUE"])

    class Flaky(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = next(answers, b"TRUE")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    flaky = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=flaky.serve_forever, daemon=True).start()
    heard.clear()
    # first a port where nothing listens (down), then the flaky server
    down = NoticeWatcher(heard.append, metadata_host="127.0.0.1:9", node_id="n").start()
    time.sleep(1.5)
    down.stop()
    assert heard == []
    host = f"127.0.0.1:{flaky.server_address[1]}"
    watcher = NoticeWatcher(heard.append, metadata_host=host, node_id="n").start()
    deadline = time.monotonic() + 10
    while not heard and time.monotonic() < deadline:
        time.sleep(0.05)
    watcher.stop()
    flaky.shutdown()
    assert [n.source for n in heard] == ["metadata"]


def test_output_is_created_once_on_a_file_system_without_hard_links(tmp_path, monkeypatch):
    def no_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    tasks = TaskCheckpoints(LocalStore(str(tmp_path)), "job:nolink")
    assert tasks.commit_output({"n": 1}) == {"n": 1}
    assert tasks.commit_output({"n": 2}) == {"n": 1}  # still the first result, whole
    assert tasks.output() == (True, {"n": 1})


def test_an_attempt_that_committed_and_died_is_recorded_done_by_the_next(tmp_path):
    # seen once in 100 preemptions (tests/test_many_preemptions.py): the output committed, the
    # node killed before the ledger said "done"; the retry returns the output and must say it
    from spotray._resume._task import _run_attempt

    url = str(tmp_path / "ckpt")
    tasks = TaskCheckpoints(open_store(url), "job:died")
    tasks.write_ledger([{"attempt": 0, "status": "running"}])
    tasks.commit_output(42)

    def never(ckpt):  # the retry must not run the task again
        raise AssertionError("ran again")

    assert _run_attempt(never, url, "job:died", 3, (), {}) == 42
    assert [e["status"] for e in tasks.ledger()] == ["done"]
    assert tasks.ledger()[0]["died_after_commit"] is True
