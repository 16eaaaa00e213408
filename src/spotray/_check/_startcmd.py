"""Does the kubelet's SIGTERM reach `ray start`? Reads a Ray container's command as KubeRay runs it.

Ray 2.60's `ray start --block` drains its node with reason PREEMPTION when it gets SIGTERM, so
Ray records the death as a preemption and does not charge the tasks' retries. The kubelet sends
SIGTERM to the container's first process. Whether that is `ray start` depends on the command:

- No `command`/`args` containing `ray start` and no `ray.io/overwrite-container-cmd: "true"`:
  KubeRay runs `/bin/bash -c -- "ulimit -n 65536; [user command;] ray start ..."`. `ray start` is
  the last simple command, and bash >= 5.1 replaces itself with the last command of a `-c`
  string (measured with bash 5.1.4 and 5.2.15, with and without `-l`; Ray's images are
  Ubuntu 22.04, bash 5.1.16). The signal reaches `ray start`.
- Otherwise the container runs the user's command as written, and the signal reaches `ray
  start` only if it is the process itself, or the last command of a bash script that sets no
  trap (bash does not exec when a trap is set), or is started with `exec`. `sh` (dash on Debian
  and Ubuntu) never replaces itself implicitly (measured: dash 0.5.12), and nothing after
  `ray start` (`; sleep infinity`, `&& ...`, `&`) can run if it did.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

OVERWRITE_ANNOTATION = "ray.io/overwrite-container-cmd"
GENERATED_ENV = "KUBERAY_GEN_RAY_START_CMD"
SHELLS = {"bash": "bash", "sh": "sh", "dash": "sh", "zsh": "bash"}
_SEPARATORS = re.compile(r"\n|;|&&|\|\|")
_STARTS_RAY = re.compile(r"\bray\s+start\b|\$\{?" + GENERATED_ENV + r"\b")


@dataclass(frozen=True)
class StartScript:
    """What a Ray container runs when the user, not KubeRay, wrote its command."""

    shell: str | None  # "bash" or "sh" for `SHELL -c SCRIPT`, None for an exec-form command
    text: str  # the script, or the command line of an exec-form command


def user_start_script(container: dict, annotations: dict) -> StartScript | None:
    """The user's start command if KubeRay keeps it as written; None if KubeRay builds it."""
    command = container.get("command")
    args = container.get("args")
    parts = [str(p) for p in (command if isinstance(command, list) else [])]
    parts += [str(p) for p in (args if isinstance(args, list) else [])]
    overwrite = str(annotations.get(OVERWRITE_ANNOTATION, "")).lower() == "true"
    if not parts or not (overwrite or "ray start" in " ".join(parts)):
        return None
    shell = SHELLS.get(parts[0].rsplit("/", 1)[-1])
    if shell is None:
        return StartScript(None, shlex.join(parts))
    rest = parts[1:]
    while rest and rest[0].startswith("-"):
        flags, rest = rest[0], rest[1:]
        if flags == "--" or "c" in flags:
            if rest and rest[0] == "--":
                rest = rest[1:]
            break
    return StartScript(shell, rest[0] if rest else "")


def _commands(script: str) -> list[str]:
    lines = [
        line.split(" #", 1)[0] for line in script.splitlines() if not line.lstrip().startswith("#")
    ]
    return [c.strip() for c in _SEPARATORS.split("\n".join(lines)) if c.strip()]


def sigterm_problem(script: StartScript) -> str | None:
    """Why SIGTERM would not reach `ray start`, or None if it does."""
    if script.shell is None:
        first = script.text.split()[0].rsplit("/", 1)[-1] if script.text.split() else ""
        if first == "ray" and _STARTS_RAY.search(script.text):
            return None
        return f"the container's first process is {first!r}, not `ray start`"
    commands = _commands(script.text)
    starts = [i for i, c in enumerate(commands) if _STARTS_RAY.search(c)]
    if not starts:
        return "its command does not start Ray (no `ray start` or $" + GENERATED_ENV + ")"
    last = commands[-1]
    if starts[-1] != len(commands) - 1:
        return f"`{last}` runs after `ray start`, so the shell, not Ray, gets the signal"
    if last.endswith("&"):
        return "`ray start` runs in the background, so the shell gets the signal"
    if "ray start" in last and "--block" not in last:
        return "`ray start` without --block returns at once, so nothing of Ray gets the signal"
    explicit = re.match(r"(eval\s+[\"']?)?exec\b", last) is not None
    if explicit:
        return None
    if script.shell == "sh":
        return "`sh` does not replace itself with the last command; start Ray with `exec`"
    if re.search(r"(^|[;\s])trap\b", script.text):
        return "the script sets a trap, so bash stays the container's process"
    return None
