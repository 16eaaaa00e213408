"""PNG plots of simulations (matplotlib, the `plot` extra): VMs per pool over one run, and cost
against makespan over the runs of each strategy. Each returns the PNG's bytes; the caller
writes them (atomically, with `_io.write_files`)."""

from __future__ import annotations

import io

from .._errors import InputError


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no display
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'spotray[plot]'") from None
    return plt


def _png(plt, fig) -> bytes:
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
    return out.getvalue()


def vms_over_time(result) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    groups = sorted({g for _, counts in result.vms_over_time for g in counts})
    times = [t / 3600 for t, _ in result.vms_over_time]
    for g in groups:
        ax.step(times, [c.get(g, 0) for _, c in result.vms_over_time], where="post", label=g)
    ax.set_xlabel("hours")
    ax.set_ylabel("VMs running")
    ax.set_title("VMs per pool, one run")
    ax.legend()
    return _png(plt, fig)


def cost_vs_makespan(results: dict) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, runs in results.items():
        ax.scatter([r.makespan / 3600 for r in runs], [r.usd for r in runs], label=name, s=12)
    ax.set_xlabel("makespan (hours)")
    ax.set_ylabel("cost (USD)")
    ax.set_title("cost against makespan, per strategy")
    ax.legend()
    return _png(plt, fig)
