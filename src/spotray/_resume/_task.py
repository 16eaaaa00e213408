"""`resumable`: a Ray remote function that keeps its progress through preemptions.

    @resumable(store="/shared/ckpt", max_retries=1, num_cpus=1)
    def total(ckpt, n):
        state = ckpt.load(default={"i": 0, "acc": 0})
        for i in range(state["i"], n):
            state = {"i": i + 1, "acc": state["acc"] + work(i)}
            ckpt.step(state)              # the one line: saved at once when a notice comes
        return state["acc"]

    ray.get(total.remote(1000))

Each attempt records itself in the task's ledger (see `_store`), so the budget knows causes:

* an attempt whose node was preempted (a notice came: the VM's metadata, or Ray's drain) is
  free: Ray retries it (`max_retries=-1` for system failures) and it resumes from the last save;
* an attempt that raised counts against `max_retries`; while budget remains spotray asks Ray to
  retry it (`RetryAttempt`), after that the task fails with the exception;
* an attempt that died without a notice (a crash, `os._exit`, an OOM kill) counts too: the next
  attempt finds it still "running" in the ledger, and fails the task once the budget is spent.

The result is committed once (`OUTPUT`); an attempt that finds it returns it without running.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

from .._errors import SpotrayError
from ._notice import Notice, NoticeWatcher
from ._store import TaskCheckpoints, open_store

SAVE_AFTER_NOTICE_SECONDS = 0.25  # after a notice, `step` saves at most this often


class RetryAttempt(Exception):
    """Raised to ask Ray to run the task again (the budget allows another attempt)."""


class ResumableError(SpotrayError):
    """A resumable task that used up its budget of failures that were not preemptions."""


class Checkpoint:
    """What a resumable task's code gets as its first argument."""

    def __init__(self, tasks: TaskCheckpoints, attempt: int) -> None:
        self._tasks = tasks
        self._lock = threading.RLock()
        self._latest: Any = None
        self._has_latest = False
        self._last_save = time.monotonic()
        self._callbacks: list[Callable[[Notice], None]] = []
        found = tasks.latest()
        self._generation = found[0] if found else 0
        self._loaded = found
        self.attempt = attempt
        self.notice: Notice | None = None
        self.saves = 0

    @property
    def key(self) -> str:
        return self._tasks.key

    @property
    def preempted(self) -> bool:
        """Whether this attempt's node got a preemption notice."""
        return self.notice is not None

    def load(self, default: Any = None) -> Any:
        """The state last saved by any attempt of this task, or `default`."""
        return self._loaded[1] if self._loaded else default

    def save(self, state: Any) -> None:
        """Commit `state` now (a new checkpoint generation)."""
        with self._lock:
            self._generation += 1
            self._tasks.save(self._generation, state)
            self._last_save = time.monotonic()
            self.saves += 1
            self._latest, self._has_latest = state, True

    def step(self, state: Any, *, every: float | None = None) -> None:
        """Note the state after a step (keep it unchanged afterwards: a notice may save it
        from another thread). Saves it at once when a notice has come, and every `every`
        seconds if given; otherwise costs nothing."""
        with self._lock:
            self._latest, self._has_latest = state, True
            since = time.monotonic() - self._last_save
            due = (self.notice is not None and since >= SAVE_AFTER_NOTICE_SECONDS) or (
                every is not None and since >= every
            )
        if due:
            self.save(state)

    def on_notice(self, callback: Callable[[Notice], None]) -> None:
        """Call `callback(notice)` (from a background thread) when a notice comes."""
        self._callbacks.append(callback)

    def _noticed(self, notice: Notice) -> None:
        with self._lock:
            self.notice = notice
            if self._has_latest:
                self.save(self._latest)  # the last stepped state, at once
        for callback in self._callbacks:
            callback(notice)


def default_key(fn: Callable, args: tuple, kwargs: dict) -> str:
    """The function's name and a digest of its arguments: the same for every attempt."""
    try:
        blob = pickle.dumps((args, sorted(kwargs.items())), protocol=5)
    except Exception:
        blob = repr((args, sorted(kwargs.items()))).encode()
    return f"{fn.__module__}.{fn.__qualname__}:{hashlib.sha256(blob).hexdigest()[:20]}"


def _run_attempt(fn, store_url, task_key, max_retries, args, kwargs):
    from .._local._raybridge import current_node_id

    tasks = TaskCheckpoints(open_store(store_url), task_key)
    done, value = tasks.output()
    if done:  # an earlier attempt finished it
        ledger = tasks.ledger()
        if ledger and not any(e.get("status") == "done" for e in ledger):
            # it committed the output and died before it could say so: it was the last one
            ledger[-1].update(status="done", died_after_commit=True)
            tasks.write_ledger(ledger)
        return value
    ledger = tasks.ledger()
    for entry in ledger:
        if entry.get("status") == "running":  # it died, and no notice came: a crash
            entry["status"] = "crashed"
    failures = [e for e in ledger if e.get("status") in ("crashed", "error")]
    if len(failures) > max_retries:
        tasks.write_ledger(ledger)
        last = failures[-1]
        raise ResumableError(
            f"resumable task {task_key!r}: {len(failures)} attempt(s) failed other than by "
            f"preemption (max_retries={max_retries}); the last {last['status']} "
            f"({last.get('error', 'no notice before it died')})"
        )
    node = current_node_id()
    entry = {"attempt": len(ledger), "node": node, "started": time.time(), "status": "running"}
    ledger.append(entry)
    tasks.write_ledger(ledger)
    lock = threading.Lock()

    def record(**changes) -> None:
        with lock:
            entry.update(changes)
            tasks.write_ledger(ledger)

    ckpt = Checkpoint(tasks, entry["attempt"])

    def noticed(notice: Notice) -> None:
        with lock:  # a notice that comes as the attempt ends must not undo its "done"
            if entry["status"] != "running":
                return
            entry.update(status="preempted", notice_at=notice.at, notice_source=notice.source)
            tasks.write_ledger(ledger)
        ckpt._noticed(notice)
        record(saved_after_notice=round(time.time() - notice.at, 3), saves=ckpt.saves)

    watcher = NoticeWatcher(noticed, node_id=node).start()
    try:
        result = fn(ckpt, *args, **kwargs)
    except Exception as exc:
        watcher.stop()
        if ckpt.preempted:  # the node is going anyway: the retry is free
            raise RetryAttempt(f"attempt {entry['attempt']} was preempted") from exc
        record(status="error", error=f"{type(exc).__name__}: {exc}"[:500], ended=time.time())
        if len(failures) + 1 > max_retries:
            raise
        raise RetryAttempt(f"attempt {entry['attempt']} raised {type(exc).__name__}") from exc
    finally:
        watcher.stop()
    won = tasks.commit_output(result)
    record(status="done", ended=time.time(), saves=ckpt.saves)
    return won


def resumable(
    fn: Callable | None = None,
    *,
    store: str,
    key: str | Callable[..., str] | None = None,
    max_retries: int = 3,
    **ray_options: Any,
):
    """Make `fn(ckpt, *args, **kwargs)` a Ray remote function that resumes after preemption.

    Args:
        store: where checkpoints live: a directory every node sees, or an fsspec URL.
        key: the task's key (a string, or a function of the arguments, called in the
            caller's process); default: the function's name and a digest of its arguments.
            A result committed under a key is what later calls with that key return (a
            driver that restarts resumes); put a run id in the key for a fresh run.
        max_retries: attempts that may fail other than by preemption (an exception, a crash).
        ray_options: passed to `ray.remote` (num_cpus, label_selector, ...).
    """
    if not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be a whole number >= 0, not {max_retries!r}")

    def decorate(fn: Callable):
        import ray

        def attempt(task_key, *args, **kwargs):
            return _run_attempt(fn, store, task_key, max_retries, args, kwargs)

        # its name, not its signature: Ray checks calls against the signature, and the
        # callers' arguments lack the checkpoint that spotray passes first
        for name in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(attempt, name, getattr(fn, name, None))
        options = {"max_retries": -1, "retry_exceptions": [RetryAttempt], **ray_options}
        return ResumableFunction(ray.remote(**options)(attempt), fn, key)

    return decorate(fn) if fn is not None else decorate


class ResumableFunction:
    """A resumable remote function: `.remote(*args, **kwargs)` as with Ray. The task's key is
    computed here, in the caller's process, once per call, so every attempt (each in a new
    worker process, with its own hash seed) uses the same key."""

    def __init__(self, remote, fn: Callable, key) -> None:
        self._remote, self._fn, self._key = remote, fn, key

    def key(self, *args, **kwargs) -> str:
        """The key a call with these arguments gets."""
        if callable(self._key):
            return self._key(*args, **kwargs)
        return self._key or default_key(self._fn, args, kwargs)

    def remote(self, *args, **kwargs):
        return self._remote.remote(self.key(*args, **kwargs), *args, **kwargs)

    def options(self, **options) -> ResumableFunction:
        return ResumableFunction(self._remote.options(**options), self._fn, self._key)


class ActorCheckpoint(Checkpoint):
    """A checkpoint handle for an actor (or any long-lived object in a Ray worker): the same
    `load`/`save`/`step`/`on_notice` as a resumable task's, watching its node from creation
    until `close()`. Ray restarts actors (`max_restarts`); this brings their state along."""

    def __init__(self, tasks: TaskCheckpoints) -> None:
        super().__init__(tasks, attempt=len(tasks.ledger()))
        entry = {"attempt": self.attempt, "started": time.time(), "status": "running"}
        self._ledger = [*tasks.ledger(), entry]
        tasks.write_ledger(self._ledger)

        def noticed(notice: Notice) -> None:
            entry.update(status="preempted", notice_at=notice.at, notice_source=notice.source)
            self._noticed(notice)
            entry.update(saved_after_notice=round(time.time() - notice.at, 3), saves=self.saves)
            tasks.write_ledger(self._ledger)

        self._watcher = NoticeWatcher(noticed).start()

    def close(self) -> None:
        """Stop watching (the actor is done)."""
        self._watcher.stop()


def actor_checkpoint(*, store: str, key: str) -> ActorCheckpoint:
    """A checkpoint for an actor, keyed by `key` (give each logical actor its own), to create
    in its `__init__`: `load()` returns what its previous incarnation saved; `step(state)`
    after each unit of work is saved at once when a preemption notice comes.

        class Tally:
            def __init__(self):
                self.ckpt = actor_checkpoint(store="/shared/ckpt", key="tally")
                self.state = self.ckpt.load(default={"rows": 0})
            def __call__(self, batch):
                self.state = {"rows": self.state["rows"] + len(batch)}
                self.ckpt.step(self.state)
                return batch
    """
    return ActorCheckpoint(TaskCheckpoints(open_store(store), key))


def ledger(store: str, key: str) -> list[dict]:
    """A task's attempts, as its ledger records them (for reports and tests)."""
    return TaskCheckpoints(open_store(store), key).ledger()
