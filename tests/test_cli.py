"""The CLI: render, explain, exit codes, and a fast start (no Ray import)."""

from __future__ import annotations

import subprocess
import sys

from spotray.cli import main

from .conftest import EXAMPLES, raycluster_of


def test_render_writes_both_files(tmp_path, capsys):
    assert main(["render", str(EXAMPLES / "seed.yaml"), "-o", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node-pools.tf", "raycluster.yaml"]
    assert "wrote" in capsys.readouterr().err


def test_render_stdout(capsys, tmp_path):
    assert main(["render", str(EXAMPLES / "seed.yaml"), "--stdout"]) == 0
    out = capsys.readouterr().out
    assert "# ==> node-pools.tf <==" in out and "# ==> raycluster.yaml <==" in out
    cluster_text = out.split("# ==> raycluster.yaml <==")[1]
    assert raycluster_of(cluster_text)["kind"] == "RayCluster"


def test_explain_shows_packing_and_prices(capsys):
    assert main(["explain", str(EXAMPLES / "seed.yaml")]) == 0
    out = capsys.readouterr().out
    assert "small-group: pool small-worker" in out
    assert "1 (limited by cpu)" in out
    assert "1610m CPU / 5632Mi" in out  # the Pod that would fill an e2-standard-2
    assert "$0.0402/node-h" in out
    assert "Ray drains for 10s" in out


def test_usage_error_exits_2(capsys):
    assert main(["render"]) == 2
    assert main(["frobnicate"]) == 2


def test_cli_import_does_not_import_ray():
    code = "import sys, spotray.cli; sys.exit('ray' in sys.modules or 'matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_console_script_runs(tmp_path):
    exe = subprocess.run(
        [
            sys.executable,
            "-m",
            "spotray.cli",
            "render",
            str(EXAMPLES / "recommended.yaml"),
            "-o",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert exe.returncode == 0, exe.stderr


def test_the_console_scripts_check_skips_typer_rich_and_pydantic_and_says_the_same(capsys):
    """`spotray check` goes straight to the checker (issue 10: start-up); what it prints and
    its exit code are those of the typer command (`spotray.cli.main`)."""
    seed = [
        str(EXAMPLES.parent.parent / "shared/seed" / n) for n in ("ray-cluster.yaml", "nodepool.tf")
    ]
    probe = (
        "import sys\n"
        "from spotray._entry import main\n"
        "code = main(sys.argv[1:])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'rich', 'pydantic'})\n"
        "print('heavy:', heavy, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    for args in (["check", *seed, "--output-format", "json"], ["check", "--select", "XX9"]):
        fast = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=False
        )
        assert "heavy: []" in fast.stderr
        code = main(args)
        captured = capsys.readouterr()
        assert (fast.returncode, fast.stdout) == (code, captured.out)
        assert fast.stderr.replace("heavy: []\n", "") == captured.err
    assert main(["check", *seed]) == 1  # the seed's known faults: errors
    bad = subprocess.run(
        [sys.executable, "-c", probe, "check", "--bogus"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--bogus" in bad.stderr


def test_local_commands_need_local_and_a_running_cluster(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SPOTRAY_STATE_DIR", str(tmp_path))
    spec = str(EXAMPLES / "seed.yaml")
    assert main(["up", spec]) == 2
    assert "add --local" in capsys.readouterr().err
    assert main(["run", spec, "--local"]) == 2
    assert "give the job after `--`" in capsys.readouterr().err
    assert main(["status"]) == 2
    assert "no local cluster is running" in capsys.readouterr().err
    assert main(["preempt", "small-group", "--name", "nope"]) == 2
    assert "no local cluster 'nope' is running" in capsys.readouterr().err
    trace = tmp_path / "t.csv"
    trace.write_text("time,group,count\n5,tiny-group,1\n")
    assert main(["run", spec, "--local", "--trace", str(trace), "--", "true"]) == 2
    assert "t.csv:2: group: 'tiny-group' is not a Spot group" in capsys.readouterr().err
