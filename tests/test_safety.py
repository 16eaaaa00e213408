"""Safe by default, without Ray: files written all or nothing with the usual modes, inputs that
never hang or crash (FIFOs, directories, devices, binary bytes), messages printed verbatim, every
option range-checked with exit 2, and a missing optional dependency named with its extra."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time

import pytest

import spotray
from spotray._io import read_input, write_files
from spotray.cli import main

from .conftest import EXAMPLES

SEED = str(EXAMPLES / "seed.yaml")
CLI = "import sys; from spotray.cli import main; sys.exit(main())"


# --- render: all or nothing ------------------------------------------------------------------


def _old_files(out):
    out.mkdir()
    (out / "node-pools.tf").write_text("old terraform\n")
    return {"node-pools.tf": "old terraform\n"}


def test_render_leaves_the_directory_as_it_was_when_the_second_file_cannot_be_written(tmp_path):
    out = tmp_path / "out"
    _old_files(out)
    (out / "raycluster.yaml").mkdir()  # the second file cannot replace a directory
    (out / "raycluster.yaml" / "keep").write_text("x")
    assert main(["render", SEED, "-o", str(out)]) == 2
    assert (out / "node-pools.tf").read_text() == "old terraform\n"
    assert (out / "raycluster.yaml" / "keep").read_text() == "x"
    assert sorted(os.listdir(out)) == ["node-pools.tf", "raycluster.yaml"]  # no temp files


@pytest.mark.parametrize("when", ["before", "after"])
def test_render_rolls_back_when_interrupted_between_the_renames(when, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "node-pools.tf").write_text("old terraform\n")
    (out / "raycluster.yaml").write_text("old cluster\n")
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # an interrupt at the second rename: before it, or just after
            if when == "after":
                real_replace(src, dst)
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        spotray.render(spotray.load_spec(SEED)).write(out)
    monkeypatch.undo()
    assert (out / "node-pools.tf").read_text() == "old terraform\n"
    assert (out / "raycluster.yaml").read_text() == "old cluster\n"
    assert sorted(os.listdir(out)) == ["node-pools.tf", "raycluster.yaml"]


def test_new_files_get_the_umask_mode_and_replaced_files_keep_theirs(tmp_path):
    old = os.umask(0o022)
    try:
        write_files({tmp_path / "new.txt": "a"})
        (tmp_path / "kept.txt").write_text("old")
        os.chmod(tmp_path / "kept.txt", 0o640)
        write_files({tmp_path / "kept.txt": "new"})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "kept.txt").stat().st_mode) == 0o640
    assert (tmp_path / "kept.txt").read_text() == "new"


def test_bytes_are_written_as_they_are_and_text_as_utf8(tmp_path):
    png = b"\x89PNG\r\n\x1a\n\x00\xff"  # what the simulator's plots are
    written = write_files({tmp_path / "p.png": png, tmp_path / "t.txt": "é\n"})
    assert written == [tmp_path / "p.png", tmp_path / "t.txt"]
    assert (tmp_path / "p.png").read_bytes() == png
    assert (tmp_path / "t.txt").read_bytes() == "é\n".encode()
    assert sorted(os.listdir(tmp_path)) == ["p.png", "t.txt"]  # no temporary file left


# --- inputs that never hang ------------------------------------------------------------------


def _odd_input(kind: str, tmp_path) -> str:
    if kind == "fifo":
        os.mkfifo(tmp_path / "spec.yaml")
        return str(tmp_path / "spec.yaml")
    if kind == "directory":
        (tmp_path / "dir.yaml").mkdir()
        return str(tmp_path / "dir.yaml")
    return "/dev/zero"


COMMANDS = {
    "render": lambda p: ["render", p, "--stdout"],
    "explain": lambda p: ["explain", p],
    "check": lambda p: ["check", p],
    "check --spec": lambda p: ["check", "--spec", p],
    "run --trace": lambda p: ["run", SEED, "--local", "--trace", p, "--", "true"],
}


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_fifos_directories_and_devices_are_refused_at_once(command, kind, tmp_path):
    path = _odd_input(kind, tmp_path)
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", CLI, *COMMANDS[command](path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SPOTRAY_STATE_DIR": str(tmp_path / "state")},
    )
    assert proc.returncode == 2, proc.stderr
    assert path in proc.stderr and "Traceback" not in proc.stderr
    assert time.monotonic() - start < 30  # no hang (the time is Python's start-up)


def test_reading_a_fifo_returns_within_a_second(tmp_path):
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    result = {}

    def read():
        try:
            read_input(fifo)
        except spotray.SpotrayError as exc:
            result["error"] = str(exc)

    thread = threading.Thread(target=read, daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - start < 1
    assert "is a FIFO" in result["error"]


def test_binary_input_is_refused_with_its_location(tmp_path, capsys):
    trace = tmp_path / "trace.csv"
    trace.write_bytes(b"time,group,count\n1,small-group,1\n\xff\xfe\x00\x01")
    assert main(["check", str(trace)]) == 2
    assert f"{trace}:3: not UTF-8 text" in capsys.readouterr().err
    spec = tmp_path / "s.yaml"
    spec.write_bytes(b"name: \x80")
    assert main(["render", str(spec), "--stdout"]) == 2


# --- messages are text, never markup -----------------------------------------------------------


@pytest.mark.parametrize("name", ["nosuch[red]z:x:.yaml", "a[/x]b.yaml", "[bold]:x:[/bold].yaml"])
def test_file_names_are_printed_verbatim(name, tmp_path, capsys):
    path = tmp_path / name
    assert main(["render", str(path)]) == 2
    assert f"error: {path}: no such file" in capsys.readouterr().err


def test_spec_values_are_printed_verbatim(tmp_path, capsys):
    text = (EXAMPLES / "seed.yaml").read_text().replace("e2-standard-2", '"e2-[/x][red]:x:"', 1)
    path = tmp_path / "s.yaml"
    path.write_text(text)
    assert main(["render", str(path)]) == 2
    assert "unknown machine type 'e2-[/x][red]:x:'" in capsys.readouterr().err


# --- options are range-checked; bad input is exit 2 ---------------------------------------------


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["preempt", "small-group", "--share", "2.0"], "--share: must be at most 1"),
        (["preempt", "small-group", "--share", "nan"], "--share: must be a finite number"),
        (["preempt", "small-group", "--count", "-1"], "--count: must be at least 1"),
        (["preempt", "small-group", "--count", "0"], "--count: must be at least 1"),
        (["run", SEED, "--local", "--preempt-rate", "nan", "--", "true"], "--preempt-rate"),
        (["run", SEED, "--local", "--preempt-rate", "0", "--", "true"], "--preempt-rate"),
        (
            ["run", SEED, "--local", "--preempt-rate", "0.001", "--horizon", "1e12", "--", "true"],
            "--horizon: must be at most",
        ),
        (
            ["run", SEED, "--local", "--preempt-rate", "0.001", "--horizon", "3600", "--", "true"],
            "at most 100000",
        ),
        (["run", SEED, "--local", "--time-scale", "inf", "--", "true"], "--time-scale"),
        (["run", SEED, "--local", "--scale", "0", "--", "true"], "--scale"),
        (["run", SEED, "--local", "--stockout", "small-group:nan:5", "--", "true"], "START"),
        (
            ["run", SEED, "--local", "--stockout", "small-group:0:1e7", "--", "true"],
            "--stockout SECONDS: must be at most 604800",
        ),
        (["run", SEED, "--local", "--report", "/nonexistent/r.json", "--", "true"], "no directory"),
        (["status", "--name", "../etc"], "is not a cluster name"),
        (["down", "--name", "/etc"], "is not a cluster name"),
        (["up", SEED, "--local", "--scale", "0"], "--scale: must be greater than 0"),
        (["up", SEED, "--local", "--time-scale", "-1"], "--time-scale"),
        (["up", SEED, "--local", "--provision-seconds", "nan"], "--provision-seconds"),
    ],
)
def test_out_of_range_options_are_bad_input(argv, says, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SPOTRAY_STATE_DIR", str(tmp_path))
    start = time.monotonic()
    assert main(argv) == 2
    assert says in capsys.readouterr().err
    assert time.monotonic() - start < 20  # refused before anything starts


def test_nan_in_a_trace_is_refused(tmp_path, capsys):
    from spotray import local

    for bad in ("nan", "inf", "-1", "1e300"):
        with pytest.raises(spotray.SpotrayError, match="is not a number of seconds in"):
            local.read_trace(f"{bad},small-group,1\n", "t.csv", {"small-group"})
    with pytest.raises(spotray.SpotrayError, match="not a share"):
        local.read_trace("1,small-group,nan%\n", "t.csv", {"small-group"})


def test_a_closed_stdin_is_bad_input(tmp_path):
    proc = subprocess.run(
        ["sh", "-c", f'exec "{sys.executable}" -c "{CLI}" check - <&-'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "standard input is closed" in proc.stderr


def test_a_state_directory_of_another_user_is_refused(tmp_path, monkeypatch, capsys):
    root = tmp_path / "state"
    root.mkdir()
    (root / "ray-cluster").symlink_to(tmp_path)  # planted: a link, not a directory of ours
    monkeypatch.setenv("SPOTRAY_STATE_DIR", str(root))
    assert main(["down", "--name", "ray-cluster"]) == 1
    assert "is a link or belongs to another user" in capsys.readouterr().err


def test_down_with_nothing_up_is_a_no_op(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPOTRAY_STATE_DIR", str(tmp_path))
    assert main(["down"]) == 0
    assert "nothing is running" in capsys.readouterr().out


def test_a_missing_ray_is_named_with_the_extra_that_brings_it(tmp_path):
    block = (
        "import sys; sys.modules['ray'] = None; from spotray.cli import main; "
        f"sys.exit(main(['up', {SEED!r}, '--local']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", block],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SPOTRAY_STATE_DIR": str(tmp_path)},
    )
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'spotray[local]'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


def _cluster_state(root, name: str, cluster_id: str):
    state = root / name
    state.mkdir(mode=0o700, parents=True)
    (state / "cluster.json").write_text(json.dumps({"id": cluster_id}))
    return state


def _sleeper(cluster_id: str) -> subprocess.Popen:
    from spotray._local._cluster import CLUSTER_ID_ENV

    env = {**os.environ, CLUSTER_ID_ENV: cluster_id}
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)


def test_leftovers_are_found_by_cluster_id_and_no_other(tmp_path, monkeypatch):
    from spotray import local

    monkeypatch.setenv("SPOTRAY_STATE_DIR", str(tmp_path))
    _cluster_state(tmp_path, "ours", "id-ours")
    _cluster_state(tmp_path, "theirs", "id-theirs")
    ours, theirs = _sleeper("id-ours"), _sleeper("id-theirs")
    try:
        time.sleep(0.3)  # their environments are readable once they run
        assert [p.pid for p in local.leftovers("ours")] == [ours.pid]
        assert local.stop_leftovers("ours", grace=5) == 1
        assert ours.wait(timeout=10) is not None
        assert theirs.poll() is None  # another cluster's process is never touched
    finally:
        for proc in (ours, theirs):
            proc.kill()
            proc.wait()


def test_leftovers_survive_a_process_that_exits_while_they_look(tmp_path, monkeypatch):
    import psutil

    from spotray import local

    monkeypatch.setenv("SPOTRAY_STATE_DIR", str(tmp_path))
    _cluster_state(tmp_path, "ours", "id-race")
    child = _sleeper("id-race")
    time.sleep(0.3)
    real = psutil.process_iter

    def process_iter(*args, **kwargs):
        yield from real(*args, **kwargs)
        child.kill()  # found, then gone before it is looked at again (as Ray's workers go)
        child.wait()

    monkeypatch.setattr(psutil, "process_iter", process_iter)
    try:
        assert local.leftovers("ours") == []
    finally:
        child.kill()
        child.wait()
