"""What a GKE node offers to Pods: capacity, kube-reserved, eviction threshold, system DaemonSets.

The model (documented in docs/plan.md), from GKE's published node-allocatable rules:

* CPU reserved for the kubelet and system: 6% of the first core, 1% of the second, 0.5% of cores
  3-4, 0.25% of every core above 4.
* Memory reserved: 255 MiB on machines with less than 1 GiB; otherwise 25% of the first 4 GiB,
  20% of the next 4, 10% of the next 8, 6% of the next 112 and 2% above 128 GiB; plus a 100 MiB
  eviction threshold.
* The kernel keeps some of the machine's memory before Kubernetes sees it: 2.1% here, fitted to
  a real n1-standard-4 node (15 GiB machine, capacity 15399244Ki, allocatable 12699980Ki; this
  model gives 12675379Ki, 0.2% under).
* System DaemonSets request resources on every node before any Ray Pod: kube-proxy 100m,
  fluentbit-gke 105m/230Mi, ip-masq-agent 10m/16Mi, and gke-metadata-server 100m/100Mi where
  Workload Identity (GKE_METADATA) is on. Override with `gke.daemonset_cpu/memory`.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024
KERNEL_RESERVED_FRACTION = 0.021
EVICTION_THRESHOLD_MIB = 100


@dataclass(frozen=True)
class Resources:
    """A resource vector: millicores, bytes of memory, GPUs."""

    cpu_millis: int
    memory_bytes: int
    gpus: int = 0

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


def kube_reserved_cpu_millis(vcpus: int) -> int:
    """CPU GKE reserves for the kubelet and system daemons, in millicores."""
    tiers = ((1, 0.06), (1, 0.01), (2, 0.005))
    left = float(vcpus)
    reserved = 0.0
    for cores, rate in tiers:
        take = min(left, cores)
        reserved += take * 1000 * rate
        left -= take
    reserved += max(left, 0.0) * 1000 * 0.0025
    return round(reserved)


def kube_reserved_memory_mib(memory_mib: float) -> float:
    """Memory GKE reserves for the kubelet and system daemons (without eviction), in MiB."""
    if memory_mib < 1024:
        return 255.0
    tiers = ((4096, 0.25), (4096, 0.20), (8192, 0.10), (112 * 1024, 0.06))
    left = memory_mib
    reserved = 0.0
    for size, rate in tiers:
        take = min(left, size)
        reserved += take * rate
        left -= take
    return reserved + max(left, 0.0) * 0.02


def capacity(vcpus: int, memory_mib: int, gpus: int = 0) -> Resources:
    """What the node reports as capacity: all vCPUs, memory less what the kernel keeps."""
    kernel = memory_mib * KERNEL_RESERVED_FRACTION
    return Resources(vcpus * 1000, int((memory_mib - kernel) * MIB), gpus)


def allocatable(vcpus: int, memory_mib: int, gpus: int = 0) -> Resources:
    """Node allocatable: capacity less kube-reserved and the eviction threshold."""
    cap = capacity(vcpus, memory_mib, gpus)
    reserved_mib = kube_reserved_memory_mib(memory_mib) + EVICTION_THRESHOLD_MIB
    return Resources(
        cap.cpu_millis - kube_reserved_cpu_millis(vcpus),
        cap.memory_bytes - int(reserved_mib * MIB),
        gpus,
    )


def daemonset_overhead(*, workload_identity: bool) -> Resources:
    """Requests of the modelled system DaemonSets on one node."""
    chosen = [d for d in SYSTEM_DAEMONSETS if workload_identity or not d.workload_identity_only]
    return Resources(sum(d.cpu_millis for d in chosen), sum(d.memory_mib for d in chosen) * MIB)
