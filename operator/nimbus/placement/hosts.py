"""A Node as Nova's HostState: capacity, ratios and reservations from labels (or configuration),
its zone, aggregates, traits and devices, and the usage of the servers already placed there.

Labels (prefix `compute.nimbus.dev/` unless said):

- `vcpus`, `memory-mb`, `disk-gb`: capacity (else the node's allocatable);
- `cpu-allocation-ratio`, `ram-allocation-ratio`, `disk-allocation-ratio`: else configuration;
- `reserved-vcpus`, `reserved-memory-mb`, `reserved-disk-gb`: else configuration;
- `disabled: "true"`: Nova's disabled compute service (so is a cordoned node);
- `failed-builds`: Nova's count of recent failed builds on the host;
- `topology.kubernetes.io/zone`: the availability zone;
- `aggregate.compute.nimbus.dev/<aggregate>: "true"`: the node is in the aggregate, whose
  metadata are labels `<aggregate>.aggregate.compute.nimbus.dev/<key>: <value>`;
- `trait.compute.nimbus.dev/<TRAIT>: "true"`: a trait, such as HW_CPU_X86_AVX2;
- `device.compute.nimbus.dev/<alias>: "<count>"`: PCI devices by alias, such as a GPU.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from nimbus.placement import engine

PREFIX = "compute.nimbus.dev/"
AGGREGATE = "aggregate.compute.nimbus.dev/"
AGGREGATE_METADATA = ".aggregate.compute.nimbus.dev/"
TRAIT = "trait.compute.nimbus.dev/"
DEVICE = "device.compute.nimbus.dev/"
ZONE = "topology.kubernetes.io/zone"


@dataclasses.dataclass(frozen=True)
class Defaults:
    """Configuration: allocation ratios (Nova's initial ones today) and reserved resources."""

    cpu_allocation_ratio: float = engine.CPU_ALLOCATION_RATIO
    ram_allocation_ratio: float = engine.RAM_ALLOCATION_RATIO
    disk_allocation_ratio: float = engine.DISK_ALLOCATION_RATIO
    reserved_vcpus: int = 0
    reserved_memory_mb: int = 0
    reserved_disk_gb: int = 0


@dataclasses.dataclass(frozen=True)
class Placed:
    """A server already on the host: what it uses."""

    name: str  # namespace/name
    vcpus: int
    memory_mb: int
    disk_gb: int
    busy: bool = False  # building, resizing, rebuilding or migrating: an I/O operation
    devices: dict[str, int] = dataclasses.field(default_factory=dict)


_UNITS = {"": 1, "k": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4, "P": 1000**5,
          "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5,
          "m": 0.001}  # fmt: skip


def quantity(text: str) -> float:
    """A Kubernetes quantity (16, 1500m, 64Gi, 500G) as a number."""
    found = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(text).strip())
    if found is None or found.group(2) not in _UNITS:
        raise ValueError(f"not a quantity: {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def _number(labels: dict[str, str], key: str, default: float) -> float:
    try:
        return float(labels[PREFIX + key])
    except (KeyError, ValueError):
        return default


def host_state(
    node: dict[str, Any], placed: Iterable[Placed] = (), defaults: Defaults = Defaults()
) -> engine.HostState:
    metadata = node["metadata"]
    labels: dict[str, str] = metadata.get("labels") or {}
    allocatable = (node.get("status") or {}).get("allocatable") or {}
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
    placed = list(placed)
    for server in placed:
        for alias, count in server.devices.items():
            devices[alias] = devices.get(alias, 0) - count
    addresses = (node.get("status") or {}).get("addresses") or []
    host_ip = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), None)
    return engine.HostState(
        name=metadata["name"],
        vcpus=int(vcpus),
        memory_mb=int(memory_mb),
        disk_gb=int(disk_gb),
        vcpus_used=sum(s.vcpus for s in placed),
        memory_mb_used=sum(s.memory_mb for s in placed),
        disk_gb_used=sum(s.disk_gb for s in placed),
        cpu_allocation_ratio=_number(labels, "cpu-allocation-ratio", defaults.cpu_allocation_ratio),
        ram_allocation_ratio=_number(labels, "ram-allocation-ratio", defaults.ram_allocation_ratio),
        disk_allocation_ratio=_number(
            labels, "disk-allocation-ratio", defaults.disk_allocation_ratio
        ),
        reserved_vcpus=int(_number(labels, "reserved-vcpus", defaults.reserved_vcpus)),
        reserved_memory_mb=int(_number(labels, "reserved-memory-mb", defaults.reserved_memory_mb)),
        reserved_disk_gb=int(_number(labels, "reserved-disk-gb", defaults.reserved_disk_gb)),
        num_instances=len(placed),
        num_io_ops=sum(1 for s in placed if s.busy),
        instances=frozenset(s.name for s in placed),
        availability_zone=labels.get(ZONE),
        disabled=bool((node.get("spec") or {}).get("unschedulable"))
        or labels.get(PREFIX + "disabled") == "true",
        aggregates=aggregates,
        failed_builds=int(_number(labels, "failed-builds", 0)),
        host_ip=host_ip,
        traits=frozenset(traits),
        devices=devices,
    )
