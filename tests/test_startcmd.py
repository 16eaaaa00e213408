"""SR508's reading of a Ray container's command, against the real shells: each command runs under
this machine's bash and sh with a stand-in `ray` on PATH, the test sends SIGTERM to the
container's first process as the kubelet does, and whether the stand-in `ray start` got it must
be what `sigterm_problem` said. Also: spotray's rendered command passes KubeRay's generated
`ray start` through with its quoting intact (the JSON of `--resources`)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from spotray._check._startcmd import StartScript, sigterm_problem, user_start_script
from spotray._render._raycluster import OVERWRITE_CMD_ANNOTATION, RAY_ARGS, RAY_COMMAND

# `ray start` without --block returns at once (Ray daemonizes); with it, it waits for SIGTERM.
FAKE_RAY = f"""#!{sys.executable}
import json, os, signal, sys, time
out = os.environ["FAKE_RAY_OUT"]
if "--block" not in sys.argv:
    sys.exit(0)
def term(*_):
    open(out + ".term", "w").write("1")
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
with open(out + ".argv", "w") as f:
    json.dump({{"pid": os.getpid(), "argv": sys.argv[1:]}}, f)
time.sleep(30)
"""
GENERATED = """ray start --address=head-svc:6379 --block --resources='{"CPU": 1, "x": 2}'"""
KUBERAY_DEFAULT = f"ulimit -n 1024; {GENERATED}"  # what KubeRay runs without a user command

CASES = {
    "kuberay default": (["/bin/bash", "-c", "--"], [KUBERAY_DEFAULT]),
    "kuberay default, login shell": (["/bin/bash", "-lc", "--"], [KUBERAY_DEFAULT]),
    "spotray rendered": (RAY_COMMAND, RAY_ARGS),
    "kuberay sample": (["/bin/bash", "-c", "--"], ["echo worker; $KUBERAY_GEN_RAY_START_CMD"]),
    "exec form": (["ray", "start", "--block", "--address=h:6379"], []),
    "sleep after": (["/bin/bash", "-c", "--"], [f"{GENERATED} && sleep 30"]),
    "no block then sleep": (["/bin/bash", "-c"], ["ray start --address=h:6379 && sleep 30"]),
    "background": (["/bin/bash", "-c"], [f"{GENERATED} &\nwait"]),
    "sh last command": (["/bin/sh", "-c"], [f"true; {GENERATED}"]),
    "sh with exec": (["/bin/sh", "-c"], [f"true; exec {GENERATED}"]),
    "bash with trap": (["/bin/bash", "-c"], [f"trap 'echo bye' EXIT; {GENERATED}"]),
    "bash, several lines": (["/bin/bash", "-c"], [f"set -e\n# start Ray\necho hi\n{GENERATED}\n"]),
    "python wrapper": (["python", "-c", "import os; os.system('ray start --block')"], []),
}


@pytest.fixture(scope="module")
def fake_bin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bin")
    (folder / "ray").write_text(FAKE_RAY)
    (folder / "ray").chmod(0o755)
    return folder


def reaches_ray(fake_bin, tmp_path, command: list[str], args: list[str]) -> bool:
    """Run the command as a container's first process and SIGTERM it as the kubelet would."""
    out = str(tmp_path / "ray")
    home = tmp_path / "home"  # a login shell resets PATH from /etc/profile, then reads this
    home.mkdir(exist_ok=True)
    (home / ".bash_profile").write_text(f'export PATH="{fake_bin}:$PATH"\n')
    env = {
        **os.environ,
        "HOME": str(home),
        "PATH": f"{fake_bin}:{os.environ['PATH']}",
        "FAKE_RAY_OUT": out,
        "KUBERAY_GEN_RAY_START_CMD": GENERATED,
    }
    proc = subprocess.Popen([*command, *args], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while not os.path.exists(out + ".argv") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # a shell that would run something after `ray start` has done so
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 1.5
        while not os.path.exists(out + ".term") and time.monotonic() < deadline:
            time.sleep(0.05)
        return os.path.exists(out + ".term")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.skipif(not shutil.which("bash") or not shutil.which("sh"), reason="needs a shell")
@pytest.mark.parametrize("case", sorted(CASES))
def test_verdict_matches_the_real_shell(case, fake_bin, tmp_path):
    command, args = CASES[case]
    annotations = {OVERWRITE_CMD_ANNOTATION: "true"}
    script = user_start_script({"command": command, "args": args}, annotations)
    assert script is not None
    predicted = sigterm_problem(script) is None
    assert reaches_ray(fake_bin, tmp_path, command, args) == predicted, sigterm_problem(script)


def test_rendered_command_keeps_kuberays_quoting(fake_bin, tmp_path):
    """`eval` reads the generated command as KubeRay's own `bash -c` would: the JSON arrives
    as one argument, quotes removed; plain `$KUBERAY_GEN_RAY_START_CMD` would not."""
    assert reaches_ray(fake_bin, tmp_path, RAY_COMMAND, RAY_ARGS)
    seen = json.loads((tmp_path / "ray.argv").read_text())
    assert seen["argv"][-1] == '--resources={"CPU": 1, "x": 2}'
    plain = tmp_path / "plain"
    plain.mkdir()
    reaches_ray(fake_bin, plain, ["/bin/bash", "-c"], ["exec $KUBERAY_GEN_RAY_START_CMD"])
    seen = json.loads((plain / "ray.argv").read_text())
    assert '--resources=\'{"CPU":' in seen["argv"]  # the quote is kept and the JSON split


def test_kuberay_builds_the_command_when_the_user_wrote_none():
    assert user_start_script({"image": "x"}, {}) is None
    # a user command without `ray start` and without the annotation: KubeRay appends its own
    assert user_start_script({"command": ["echo", "hi"]}, {}) is None
    found = user_start_script({"command": ["/bin/bash", "-lc", "--"], "args": ["ray start"]}, {})
    assert found == StartScript("bash", "ray start")


def test_every_rendered_ray_container_execs_ray_start(tmp_path):
    import spotray
    from spotray._check import read_paths, run_checks
    from spotray._render._raycluster import raycluster_document

    from .conftest import ROOT

    for example in ("seed.yaml", "recommended.yaml"):
        spec = spotray.load_spec(ROOT / "examples" / example)
        cluster = raycluster_document(spotray.plan(spec))
        assert cluster["metadata"]["annotations"] == {OVERWRITE_CMD_ANNOTATION: "true"}
        groups = [cluster["spec"]["headGroupSpec"], *cluster["spec"]["workerGroupSpecs"]]
        for group in groups:
            (container,) = group["template"]["spec"]["containers"]
            assert (container["command"], container["args"]) == (RAY_COMMAND, RAY_ARGS)
        spotray.render(spec).write(tmp_path / example)
        docs = read_paths([str(p) for p in sorted((tmp_path / example).iterdir())])
        assert not [f for f in run_checks(docs) if f.code == "SR508"]
