"""A Node as Nova's HostState: capacity, ratios and reservations from labels (or configuration),
its zone, aggregates, traits and devices, what KubeVirt's node-labeller says of its CPU, whether
its kubelet is alive, and the usage of every pod on it (on Kubernetes every pod consumes).

Labels (prefix `compute.nimbus.dev/` unless said):

- `vcpus`, `memory-mb`, `disk-gb`: capacity (else the node's allocatable);
- `cpu-allocation-ratio`, `ram-allocation-ratio`, `disk-allocation-ratio`: else configuration;
- `reserved-vcpus`, `reserved-memory-mb`, `reserved-disk-gb`: else configuration (Nova's
  defaults: 0 vCPUs, 512 MB, 0 GB);
- `disabled: "true"`: Nova's disabled compute service (so is a cordoned node, and one KubeVirt
  labels `kubevirt.io/schedulable: "false"`);
- `failed-builds`: Nova's count of recent failed builds on the host;
- `hypervisor-version`: Nova's hypervisor_version, as Nova's integer (8002000) or dotted (8.2.0);
- `stats.compute.nimbus.dev/<key>: <value>`: a key of Nova's host stats;
- `topology.kubernetes.io/zone`: the availability zone;
- `aggregate.compute.nimbus.dev/<aggregate>: "true"`: the node is in the aggregate, whose
  metadata are labels `<aggregate>.aggregate.compute.nimbus.dev/<key>: <value>`;
- `trait.compute.nimbus.dev/<TRAIT>: "true"`: a trait, such as HW_CPU_X86_AVX2;
- `device.compute.nimbus.dev/<alias>: "<count>"`: PCI devices by alias, such as a GPU.

KubeVirt's node-labeller and Kubernetes itself:

- `host-model-cpu.node.kubevirt.io/<model>`: stats `cpu_model` and cpu_info `model`;
- `cpu-model.node.kubevirt.io/<model>`: stats `cpu_models`, the CPU models the host can run,
  comma-separated (for `capabilities:cpu_models: "<in> Skylake-Server"`);
- `cpu-vendor.node.kubevirt.io/<vendor>`: stats `cpu_vendor` and cpu_info `vendor`;
- `cpu-feature.node.kubevirt.io/<feature>`: cpu_info `features`, and on x86 the trait
  `HW_CPU_X86_<FEATURE>` as Nova's libvirt driver reports it;
- `kubernetes.io/arch`: the architecture of supported_instances (amd64 is x86_64); the
  hypervisor is `kvm` when the node offers `devices.kubevirt.io/kvm`, and `qemu` always;
- the Ready condition: not `True` is a compute service that is down (forced down); the node
  lifecycle controller sets it once the node's Lease has gone unrenewed for its grace period;
- the node's Lease (`kube-node-lease/<node>`), when given: its `renewTime` is the last
  heartbeat, to which Nova's `service_down_time` applies.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from nimbus.placement import engine, filters

PREFIX = "compute.nimbus.dev/"
AGGREGATE = "aggregate.compute.nimbus.dev/"
AGGREGATE_METADATA = ".aggregate.compute.nimbus.dev/"
TRAIT = "trait.compute.nimbus.dev/"
DEVICE = "device.compute.nimbus.dev/"
STATS = "stats.compute.nimbus.dev/"
ZONE = "topology.kubernetes.io/zone"
ARCH = "kubernetes.io/arch"
HOST_MODEL = "host-model-cpu.node.kubevirt.io/"
CPU_MODEL = "cpu-model.node.kubevirt.io/"
CPU_VENDOR = "cpu-vendor.node.kubevirt.io/"
CPU_FEATURE = "cpu-feature.node.kubevirt.io/"
SCHEDULABLE = "kubevirt.io/schedulable"
KVM = "devices.kubevirt.io/kvm"


@dataclasses.dataclass(frozen=True)
class Defaults:
    """Configuration: allocation ratios (Nova's initial ones today) and reserved resources
    (Nova's reserved_host_* defaults)."""

    cpu_allocation_ratio: float = engine.CPU_ALLOCATION_RATIO
    ram_allocation_ratio: float = engine.RAM_ALLOCATION_RATIO
    disk_allocation_ratio: float = engine.DISK_ALLOCATION_RATIO
    reserved_vcpus: int = 0
    reserved_memory_mb: int = 512
    reserved_disk_gb: int = 0


@dataclasses.dataclass(frozen=True)
class Placed:
    """A consumer on the host, and what it uses: a Server (an instance, for Nova), or any other
    pod (its requests count; it is no instance)."""

    name: str  # namespace/name
    vcpus: float
    memory_mb: float
    disk_gb: float
    busy: bool = False  # building, resizing, rebuilding or migrating: an I/O operation
    devices: dict[str, int] = dataclasses.field(default_factory=dict)
    instance: bool = True


_UNITS = {"": 1, "k": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4, "P": 1000**5,
          "E": 1000**6, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5,
          "Ei": 1024**6, "m": 0.001, "n": 1e-9, "u": 1e-6}  # fmt: skip


def quantity(text: str) -> float:
    """A Kubernetes quantity (16, 1500m, 64Gi, 500G, 129e6) as a number."""
    found = re.fullmatch(r"([0-9.]+)(?:([eE][+-]?[0-9]+)|([a-zA-Z]*))", str(text).strip())
    if found is None or (found.group(3) or "") not in _UNITS:
        raise ValueError(f"not a quantity: {text!r}")
    if found.group(2):
        return float(found.group(1) + found.group(2))
    return float(found.group(1)) * _UNITS[found.group(3) or ""]


def _request(requests: Mapping[str, Any], resource: str) -> float:
    try:
        return quantity(requests.get(resource, "0"))
    except ValueError:  # the API server accepted it: a form we do not read counts nothing
        return 0.0


def _requests(resources: Mapping[str, Any] | None) -> tuple[float, float, float]:
    requests = (resources or {}).get("requests") or {}
    return (
        _request(requests, "cpu"),
        _request(requests, "memory") / 2**20,
        _request(requests, "ephemeral-storage") / 2**30,
    )


def pod_usage(pod: Mapping[str, Any]) -> Placed | None:
    """What a pod that is no Server asks of its node: the larger of its containers' summed
    requests and its largest init container's, plus its overhead, as kube-scheduler counts.
    None for a pod that is done."""
    if ((pod.get("status") or {}).get("phase")) in ("Succeeded", "Failed"):
        return None
    spec = pod.get("spec") or {}
    containers = [_requests(c.get("resources")) for c in spec.get("containers") or []]
    inits = [_requests(c.get("resources")) for c in spec.get("initContainers") or []]
    overhead = _requests({"requests": spec.get("overhead") or {}})
    used = [
        max(sum(c[i] for c in containers), max((c[i] for c in inits), default=0.0)) + overhead[i]
        for i in range(3)
    ]
    metadata = pod.get("metadata") or {}
    name = f"pod:{metadata.get('namespace')}/{metadata.get('name')}"
    return Placed(name, used[0], used[1], used[2], instance=False)


def _number(labels: Mapping[str, str], key: str, default: float) -> float:
    try:
        return float(labels[PREFIX + key])
    except (KeyError, ValueError):
        return default


def hypervisor_version(text: str | None) -> int | None:
    """Nova's integer hypervisor version from a label: 8002000 or 8.2.0 (convert_version_to_int)."""
    if not text:
        return None
    if text.isdigit():
        return int(text)
    parts = text.split(".")
    if len(parts) > 3 or not all(p.isdigit() for p in parts):
        return None
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    return numbers[0] * 1000000 + numbers[1] * 1000 + numbers[2]


def _time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def liveness(
    node: Mapping[str, Any], lease: Mapping[str, Any] | None, now: datetime.datetime | None
) -> tuple[bool, float]:
    """(down, heartbeat age in seconds): down when the Ready condition is not True (the node
    lifecycle controller's verdict, once the Lease went unrenewed for its grace period); the
    age from the Lease's renewTime (0 without a Lease or `now`). Not from the condition's
    lastHeartbeatTime: with Leases the kubelet refreshes it only every few minutes."""
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    down = ready is not None and ready.get("status") != "True"
    beat = _time(((lease or {}).get("spec") or {}).get("renewTime"))
    if beat is None or now is None:
        return down, 0.0
    return down, (now - beat).total_seconds()


def _labelled(labels: Mapping[str, str], prefix: str) -> list[str]:
    return sorted(
        k[len(prefix) :] for k, v in labels.items() if k.startswith(prefix) and v == "true"
    )


def _cpu(labels: Mapping[str, str], arch: str) -> tuple[dict[str, str], dict[str, Any], set[str]]:
    """stats, cpu_info and traits from KubeVirt's node-labeller and our stats labels."""
    stats = {k[len(STATS) :]: v for k, v in labels.items() if k.startswith(STATS)}
    cpu_info: dict[str, Any] = {}
    host_model = _labelled(labels, HOST_MODEL)
    vendor = _labelled(labels, CPU_VENDOR)
    models = _labelled(labels, CPU_MODEL)
    features = _labelled(labels, CPU_FEATURE)
    if host_model:
        stats.setdefault("cpu_model", host_model[0])
        cpu_info["model"] = host_model[0]
    if vendor:
        stats.setdefault("cpu_vendor", vendor[0])
        cpu_info["vendor"] = vendor[0]
    if models:
        stats.setdefault("cpu_models", ",".join(models))
    if features:
        cpu_info["features"] = features
    if cpu_info:
        cpu_info["arch"] = arch
    traits = set()
    if arch in ("x86_64", "i686"):
        traits = {"HW_CPU_X86_" + re.sub(r"[^A-Z0-9]", "_", f.upper()) for f in features}
    return stats, cpu_info, traits


def host_state(
    node: Mapping[str, Any],
    placed: Iterable[Placed] = (),
    defaults: Defaults = Defaults(),
    lease: Mapping[str, Any] | None = None,
    now: datetime.datetime | None = None,
) -> engine.HostState:
    """The node as Nova's HostState, with `placed` on it; `lease` and `now` date its
    heartbeat."""
    metadata = node["metadata"]
    labels: Mapping[str, str] = metadata.get("labels") or {}
    status = node.get("status") or {}
    allocatable = status.get("allocatable") or {}
    vcpus = _number(labels, "vcpus", quantity(allocatable.get("cpu", "0")))
    memory_mb = _number(labels, "memory-mb", quantity(allocatable.get("memory", "0")) / 2**20)
    disk_gb = _number(
        labels, "disk-gb", quantity(allocatable.get("ephemeral-storage", "0")) / 2**30
    )
    aggregates: dict[str, dict[str, str]] = {}
    traits, devices = set(), {}
    for key, value in labels.items():
        if key.startswith(AGGREGATE) and value == "true":
            aggregates.setdefault(key[len(AGGREGATE) :], {})
        elif AGGREGATE_METADATA in key:
            name, meta_key = key.split(AGGREGATE_METADATA, 1)
            aggregates.setdefault(name, {})[meta_key] = value
        elif key.startswith(TRAIT) and value == "true":
            traits.add(key[len(TRAIT) :])
        elif key.startswith(DEVICE):
            devices[key[len(DEVICE) :]] = int(value) if value.isdigit() else 0
    arch = filters.canonical_architecture(labels.get(ARCH) or "amd64")
    stats, cpu_info, cpu_traits = _cpu(labels, arch)
    kvm = quantity(allocatable.get(KVM, "0")) > 0
    supported = ((arch, "kvm", "hvm"),) if kvm else ()
    placed = list(placed)
    servers = [p for p in placed if p.instance]
    for server in servers:
        for alias, count in server.devices.items():
            devices[alias] = devices.get(alias, 0) - count
    addresses = status.get("addresses") or []
    host_ip = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), None)
    down, heartbeat_age = liveness(node, lease, now)
    disabled = (
        bool((node.get("spec") or {}).get("unschedulable"))
        or labels.get(PREFIX + "disabled") == "true"
        or labels.get(SCHEDULABLE) == "false"
    )
    vcpus_used = sum(p.vcpus for p in placed)
    return engine.HostState(
        name=metadata["name"],
        vcpus=int(vcpus),
        memory_mb=int(memory_mb),
        disk_gb=int(disk_gb),
        vcpus_used=int(vcpus_used) if float(vcpus_used).is_integer() else vcpus_used,
        memory_mb_used=math.ceil(sum(p.memory_mb for p in placed)),
        disk_gb_used=math.ceil(sum(p.disk_gb for p in placed)),
        cpu_allocation_ratio=_number(labels, "cpu-allocation-ratio", defaults.cpu_allocation_ratio),
        ram_allocation_ratio=_number(labels, "ram-allocation-ratio", defaults.ram_allocation_ratio),
        disk_allocation_ratio=_number(
            labels, "disk-allocation-ratio", defaults.disk_allocation_ratio
        ),
        reserved_vcpus=int(_number(labels, "reserved-vcpus", defaults.reserved_vcpus)),
        reserved_memory_mb=int(_number(labels, "reserved-memory-mb", defaults.reserved_memory_mb)),
        reserved_disk_gb=int(_number(labels, "reserved-disk-gb", defaults.reserved_disk_gb)),
        num_instances=len(servers),
        num_io_ops=sum(1 for s in servers if s.busy),
        instances=frozenset(s.name for s in servers),
        availability_zone=labels.get(ZONE),
        disabled=disabled,
        forced_down=down,
        heartbeat_age_s=heartbeat_age,
        aggregates=aggregates,
        failed_builds=int(_number(labels, "failed-builds", 0)),
        host_ip=host_ip,
        traits=frozenset(traits | cpu_traits),
        devices=devices,
        supported_instances=(*supported, (arch, "qemu", "hvm")),
        hypervisor_version=hypervisor_version(labels.get(PREFIX + "hypervisor-version")),
        stats=stats,
        cpu_info=cpu_info,
    )
