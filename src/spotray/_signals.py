"""Signals at the edges: Ctrl-C, SIGTERM and SIGHUP where spotray must not be cut in half.

    as_interrupt()   SIGTERM and SIGHUP raise KeyboardInterrupt, like Ctrl-C (main thread)
    ignored()        Ctrl-C, SIGTERM and SIGHUP are ignored (teardown that must finish)
    deferred()       they wait until the block ends (a few renames that must all happen)

Python lets only the main thread set handlers; elsewhere `as_interrupt` and `ignored` do
nothing. `deferred` blocks the signals for the calling thread (pthread_sigmask), so the kernel
holds them and the interrupt arrives when the block ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def _handlers(handler, signals) -> Iterator[None]:
    if not _main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def as_interrupt() -> contextlib.AbstractContextManager[None]:
    """SIGTERM (`kill`, a CI timeout) and SIGHUP (a closed terminal) handled like Ctrl-C."""
    return _handlers(_raise_interrupt, (signal.SIGTERM, signal.SIGHUP))


def ignored() -> contextlib.AbstractContextManager[None]:
    """Ctrl-C, SIGTERM and SIGHUP ignored: for teardown that must not stop half-way."""
    return _handlers(signal.SIG_IGN, INTERRUPTS)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP held until the block ends, then delivered."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
