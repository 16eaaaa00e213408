"""The preemption agent: a VM's metadata notice becomes a Ray drain with reason PREEMPTION.

    from spotray.agent import Agent, AgentConfig
    Agent(AgentConfig.from_env(notice_seconds=30)).run()   # blocks; exits once drained

Or `spotray agent` on the VM (next to `ray start`). See docs/spot-safe.md for where it runs
(and why not under GKE's Workload Identity).
"""

from __future__ import annotations

from ._resume._agent import Agent, AgentConfig, AgentError, run_agent

__all__ = ["Agent", "AgentConfig", "AgentError", "run_agent"]
