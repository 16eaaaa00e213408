"""Ray tasks that survive Spot preemption without losing their work (needs Ray).

    from spotray.resumable import resumable

    @resumable(store="/shared/ckpt", max_retries=1)
    def total(ckpt, n):
        state = ckpt.load(default={"i": 0, "acc": 0})
        for i in range(state["i"], n):
            state = {"i": i + 1, "acc": state["acc"] + i * i}
            ckpt.step(state)
        return state["acc"]

See docs/spot-safe.md.
"""

from __future__ import annotations

from ._resume._notice import Notice, NoticeWatcher
from ._resume._store import CheckpointError, TaskCheckpoints, open_store
from ._resume._task import (
    ActorCheckpoint,
    Checkpoint,
    ResumableError,
    ResumableFunction,
    RetryAttempt,
    actor_checkpoint,
    ledger,
    resumable,
)

__all__ = [
    "ActorCheckpoint",
    "Checkpoint",
    "CheckpointError",
    "Notice",
    "NoticeWatcher",
    "ResumableError",
    "ResumableFunction",
    "RetryAttempt",
    "TaskCheckpoints",
    "actor_checkpoint",
    "ledger",
    "open_store",
    "resumable",
]
