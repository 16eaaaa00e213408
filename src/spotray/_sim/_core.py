"""A tiny discrete-event core: a simulated clock and a heap of events (after simpy's, reduced
to what the simulator needs). An event is (time, sequence, kind, data); equal times keep the
order they were scheduled in, so a run is a pure function of its inputs and seed."""

from __future__ import annotations

import heapq


class Sim:
    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, str, object]] = []
        self._seq = 0
        self.events = 0  # events processed

    def clock(self) -> float:
        """The simulated time, for the Spot model's `clock`."""
        return self.now

    def at(self, time: float, kind: str, data: object = None) -> None:
        heapq.heappush(self._heap, (max(time, self.now), self._seq, kind, data))
        self._seq += 1

    def after(self, delay: float, kind: str, data: object = None) -> None:
        self.at(self.now + delay, kind, data)

    def pop(self) -> tuple[str, object]:
        time, _, kind, data = heapq.heappop(self._heap)
        self.now = time
        self.events += 1
        return kind, data

    def __bool__(self) -> bool:
        return bool(self._heap)
