"""What a GKE node offers to Pods: capacity, kube-reserved, eviction threshold, system DaemonSets.

The model (documented in docs/plan.md), as GKE computes it and as real nodes show it:

* CPU reserved for the kubelet and system: 6% of the first core, 1% of the second, 0.5% of cores
  3-4, 0.25% of every core above 4 (truncated to whole millicores).
* Memory reserved: GKE's published brackets applied to the machine type's memory, with GKE's
  "GB" counted as 1000 MiB (as the cluster-autoscaler's GKE model did, kubernetes/autoscaler
  `cloudprovider/gke/reserved.go`, 2019, and as every real node in tests/test_allocatable.py
  shows): 255 MiB up to 1000 MiB; else 25% of the first 4000 MiB, 20% of the next 4000, 10% of
  the next 8000, 6% of the next 112000 and 2% above 128000, truncated to whole MiB; plus a 100 MiB
  eviction threshold.
* The kernel keeps some memory before Kubernetes sees it (the node's capacity): the
  cluster-autoscaler's model for Container-Optimized OS (`cloudprovider/gce/gce_reserved.go`):
  memory/64 + 16 MiB, + 64 MiB above 3 GiB, + 8 MiB at or below 8 GiB, + 0.175% (at most
  248 MiB). Real nodes keep up to 20 MiB more than that below 128 GiB, so spotray keeps another
  32 MiB: its capacity is never above a real node's.
* System DaemonSets request resources on every node before any Ray Pod: kube-proxy 100m,
  fluentbit-gke 105m/230Mi, ip-masq-agent 10m/16Mi, and gke-metadata-server 100m/100Mi where
  Workload Identity (GKE_METADATA) is on. Override with `gke.daemonset_cpu/memory`.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024
GIB = 1024 * MIB
EVICTION_THRESHOLD_MIB = 100
GKE_GB_MIB = 1000  # GKE's brackets count a "GB" as 1000 MiB
CAPACITY_MARGIN_MIB = 32  # real nodes' kernels keep up to ~20 MiB more than the reference model


@dataclass(frozen=True)
class Resources:
    """A resource vector: millicores, bytes of memory, GPUs."""

    cpu_millis: int
    memory_bytes: int
    gpus: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu_millis + other.cpu_millis,
            self.memory_bytes + other.memory_bytes,
            self.gpus + other.gpus,
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu_millis - other.cpu_millis,
            self.memory_bytes - other.memory_bytes,
            self.gpus - other.gpus,
        )

    @property
    def memory_mib(self) -> float:
        return self.memory_bytes / MIB


@dataclass(frozen=True)
class DaemonSet:
    """A system DaemonSet's requests on every node."""

    name: str
    cpu_millis: int
    memory_mib: int
    workload_identity_only: bool = False


SYSTEM_DAEMONSETS: tuple[DaemonSet, ...] = (
    DaemonSet("kube-proxy", 100, 0),
    DaemonSet("fluentbit-gke", 105, 230),
    DaemonSet("ip-masq-agent", 10, 16),
    DaemonSet("gke-metadata-server", 100, 100, workload_identity_only=True),
)


def _brackets(amount: float, brackets: tuple[tuple[float, float], ...]) -> float:
    """Marginal brackets: (threshold, rate) pairs; each rate applies up to the next threshold."""
    total = 0.0
    for i, (start, rate) in enumerate(brackets):
        end = brackets[i + 1][0] if i + 1 < len(brackets) else amount
        if amount > start:
            total += (min(amount, end) - start) * rate
    return total


def kube_reserved_cpu_millis(vcpus: float) -> int:
    """CPU GKE reserves for the kubelet and system daemons, in millicores."""
    brackets = ((0, 0.06), (1000, 0.01), (2000, 0.005), (4000, 0.0025))
    return int(_brackets(vcpus * 1000, brackets))


def kube_reserved_memory_mib(memory_mib: float) -> int:
    """Memory GKE reserves for the kubelet and system daemons (without eviction), in MiB."""
    if memory_mib <= 0:
        return 0
    if memory_mib <= GKE_GB_MIB:
        return 255
    gb = GKE_GB_MIB
    brackets = ((0, 0.25), (4 * gb, 0.20), (8 * gb, 0.10), (16 * gb, 0.06), (128 * gb, 0.02))
    return int(_brackets(memory_mib, brackets))


def kernel_reserved_bytes(memory_bytes: int) -> int:
    """Memory the Linux kernel keeps on a Container-Optimized OS node (amd64), in bytes."""
    reserved = memory_bytes // 64 + 16 * MIB
    if memory_bytes > 3 * GIB:
        reserved += 64 * MIB
    if memory_bytes <= 8 * GIB:
        reserved += 8 * MIB
    return reserved + int(min(0.00175 * memory_bytes, 248 * MIB))


def capacity(vcpus: int, memory_mib: int, gpus: int = 0) -> Resources:
    """What the node reports as capacity: all vCPUs, memory less what the kernel keeps."""
    total = memory_mib * MIB
    kept = kernel_reserved_bytes(total) + CAPACITY_MARGIN_MIB * MIB
    return Resources(vcpus * 1000, total - kept, gpus)


def allocatable(vcpus: int, memory_mib: int, gpus: int = 0) -> Resources:
    """Node allocatable: capacity less kube-reserved and the eviction threshold."""
    cap = capacity(vcpus, memory_mib, gpus)
    reserved_mib = kube_reserved_memory_mib(memory_mib) + EVICTION_THRESHOLD_MIB
    return Resources(
        cap.cpu_millis - kube_reserved_cpu_millis(vcpus),
        cap.memory_bytes - reserved_mib * MIB,
        gpus,
    )


def daemonset_overhead(*, workload_identity: bool) -> Resources:
    """Requests of the modelled system DaemonSets on one node."""
    chosen = [d for d in SYSTEM_DAEMONSETS if workload_identity or not d.workload_identity_only]
    return Resources(sum(d.cpu_millis for d in chosen), sum(d.memory_mib for d in chosen) * MIB)
