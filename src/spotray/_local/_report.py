"""Moved to `spotray._spot._report` (the run report's arithmetic lives next to the Spot model);
kept so existing imports keep working."""

from .._spot._report import *  # noqa: F403
from .._spot._report import GroupReport, Report, group_reports, task_summary  # noqa: F401
