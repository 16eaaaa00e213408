"""Facts about Compute Engine: machine types, GPUs that attach to them, zones, prices.

Machine shapes and prices come from `spotray/_data/gce_machines.json`, derived from the public
`pricing.yml` of google-cloud-pricing-cost-calculator (see `_data/SOURCE.md` for date, source and
licence; refresh with `tools/refresh_gce_data.py`, which also writes the shapes alone to
`gce_machine_shapes.json`: `check` loads only those, prices load when first asked for). GPU attachment rules and zone lists are public
Compute Engine documentation facts, written down here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "_data"


@dataclass(frozen=True)
class Price:
    """USD per hour of one VM (or one GPU) in one region."""

    on_demand: float | None
    spot: float | None


def format_usd(value: float | None) -> str:
    """A price or cost as shown to users: `$0.0402`, or `n/a` where the price is unknown."""
    return "n/a" if value is None else f"${value:.4f}"


@dataclass(frozen=True)
class MachineType:
    """A Compute Engine machine type."""

    name: str
    family: str  # e.g. "e2-standard"
    vcpus: int
    memory_mib: int
    bundled_gpus: tuple[tuple[str, int], ...]  # A2/G2: GPUs that come with the machine
    documented_at: str | None = None  # the Google page its numbers come from, if not priced

    @property
    def prices(self) -> dict[str, Price]:
        """Region -> price ({} for types known only from the docs)."""
        return {} if self.documented_at else _prices().get(self.name, {})

    @property
    def series(self) -> str:
        """`e2`, `n1`, `a2` ... (GKE's `cloud.google.com/machine-family` label)."""
        return self.family.split("-", 1)[0]


@dataclass(frozen=True)
class GpuRule:
    """Which machine series a GPU type attaches to, and with how many vCPUs per GPU count."""

    gpu: str
    series: str
    max_vcpus_by_count: dict[int, int]  # allowed count -> most vCPUs a VM with that count may have
    bundled: bool = False  # comes with the machine type (A2, G2); cannot be chosen freely


# N1 attachable GPUs: allowed counts and the largest N1 machine (vCPUs) for each count.
GPU_RULES: dict[str, GpuRule] = {
    rule.gpu: rule
    for rule in (
        GpuRule("nvidia-tesla-t4", "n1", {1: 48, 2: 48, 4: 96}),
        GpuRule("nvidia-tesla-v100", "n1", {1: 12, 2: 24, 4: 48, 8: 96}),
        GpuRule("nvidia-tesla-p4", "n1", {1: 24, 2: 48, 4: 96}),
        GpuRule("nvidia-tesla-p100", "n1", {1: 16, 2: 32, 4: 64}),
        GpuRule("nvidia-l4", "g2", {}, bundled=True),
        GpuRule("nvidia-tesla-a100", "a2", {}, bundled=True),
        GpuRule("nvidia-a100-80gb", "a2", {}, bundled=True),
        GpuRule("nvidia-h100-80gb", "a3", {}, bundled=True),
        GpuRule("nvidia-h100-mega-80gb", "a3", {}, bundled=True),
        GpuRule("nvidia-rtx-pro-6000", "g4", {}, bundled=True),
        GpuRule("nvidia-gb200", "a4x", {}, bundled=True),
    )
}

# GPU list prices per GPU-hour (us-central1), from ../shared/prices/SOURCE.md (date unknown:
# verify before relying on them). Used only where the machine price excludes the GPU (N1).
GPU_PRICES: dict[str, Price] = {
    "nvidia-tesla-t4": Price(on_demand=0.35, spot=0.14),
}
GPU_PRICE_NOTE = "N1 GPU list prices: ../shared/prices/SOURCE.md, us-central1, date unknown"

ZONES: dict[str, tuple[str, ...]] = {
    region: tuple(f"{region}-{z}" for z in letters)
    for region, letters in {
        "us-central1": "abcf",
        "us-east1": "bcd",
        "us-east4": "abc",
        "us-east5": "abc",
        "us-south1": "abc",
        "us-west1": "abc",
        "us-west2": "abc",
        "us-west3": "abc",
        "us-west4": "abc",
        "northamerica-northeast1": "abc",
        "southamerica-east1": "abc",
        "europe-west1": "bcd",
        "europe-west2": "abc",
        "europe-west3": "abc",
        "europe-west4": "abc",
        "europe-north1": "abc",
        "asia-east1": "abc",
        "asia-northeast1": "abc",
        "asia-southeast1": "abc",
        "asia-south1": "abc",
        "australia-southeast1": "abc",
    }.items()
}


@dataclass(frozen=True)
class Catalog:
    """Machine types by name, and where the documented ones came from (prices: see
    `price_source()`)."""

    machines: dict[str, MachineType]
    source: dict[str, object]

    def machine(self, name: str) -> MachineType | None:
        return self.machines.get(name)


@cache
def catalog() -> Catalog:
    """The packaged machine catalog (read once per process): every type of the Compute Engine
    price data, then the unpriced types Google documents (TPU VMs, A4X), each citing its page."""
    shapes = json.loads((DATA / "gce_machine_shapes.json").read_text())
    documented = json.loads((DATA / "gce_machines_docs.json").read_text())
    machines = {
        name: MachineType(
            name=name,
            family=m["family"],
            vcpus=int(m["vcpus"]),
            memory_mib=round(float(m["memory_gib"]) * 1024),
            bundled_gpus=tuple(sorted(m["bundled_gpus"].items())),
            documented_at=m["documented_at"],
        )
        for name, m in documented["machines"].items()
    }
    for name, (family, vcpus, memory_gib, gpus) in shapes.items():
        machines[name] = MachineType(
            name=name,
            family=family,
            vcpus=int(vcpus),
            memory_mib=round(float(memory_gib) * 1024),
            bundled_gpus=tuple(sorted(gpus.items())),
        )
    return Catalog(machines=machines, source={"documented": documented["source"]})


@cache
def _priced() -> dict:
    return json.loads((DATA / "gce_machines.json").read_text())


@cache
def _prices() -> dict[str, dict[str, Price]]:
    """Every priced machine's prices by region (read on first use: `check` never needs them)."""
    return {
        name: {
            region: Price(p.get("on_demand"), p.get("spot"))
            for region, p in m["usd_per_hour"].items()
        }
        for name, m in _priced()["machines"].items()
    }


def price_source() -> dict[str, object]:
    """Where the prices come from (the price data's `source` block)."""
    return _priced()["source"]


def gpu_problem(machine: MachineType, gpu: str, count: int) -> tuple[str, str] | None:
    """Why `count` GPUs of type `gpu` cannot go on `machine`, as (field, message) where field
    is `type` or `count` (what to change), or None if they can."""
    rule = GPU_RULES.get(gpu)
    if rule is None:
        return "type", f"unknown GPU type {gpu!r}; known: {', '.join(sorted(GPU_RULES))}"
    if count == 0:
        return None
    if rule.bundled or machine.bundled_gpus:
        bundled = dict(machine.bundled_gpus)
        if gpu not in bundled:
            where = f"{rule.series.upper()} machine types" if rule.bundled else "N1 machine types"
            if machine.bundled_gpus:
                have = ", ".join(f"{n} x {g}" for g, n in machine.bundled_gpus)
                return "type", f"{machine.name} comes with {have}; {gpu} is not available on it"
            return "type", f"{gpu} comes only with {where}, not with {machine.name}"
        if bundled[gpu] != count:
            return "count", f"{machine.name} comes with exactly {bundled[gpu]} x {gpu}, not {count}"
        return None
    if machine.series != rule.series:
        return (
            "type",
            f"{gpu} attaches only to {rule.series.upper()} machine types, not to {machine.name}",
        )
    if count not in rule.max_vcpus_by_count:
        allowed = ", ".join(str(c) for c in rule.max_vcpus_by_count)
        return "count", f"{gpu} count {count} is not allowed; allowed counts: {allowed}"
    if machine.vcpus > rule.max_vcpus_by_count[count]:
        return "count", (
            f"{count} x {gpu} allows at most {rule.max_vcpus_by_count[count]} vCPUs, "
            f"but {machine.name} has {machine.vcpus}"
        )
    return None
