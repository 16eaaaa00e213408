"""Moved to `spotray._spot._schedule` (the Spot model's schedules live next to it); kept so
existing imports keep working."""

from .._spot._schedule import *  # noqa: F403
from .._spot._schedule import MAX_EVENTS, MAX_SCHEDULE_SECONDS, Preemption, Stockout  # noqa: F401
