"""Nova's filter scheduler, pure: resource fit (placement's allocation candidates), host filters
and weighers with Nova's names, semantics, normalisation and multipliers. No kopf, no client.

Nova 34's decision for one server: hosts that fit the flavor (`used + requested <= (total -
reserved) * allocation_ratio` and `requested <= total` (max_unit) for vCPUs, RAM and disk) and
the availability zone, then every enabled filter, then every weigher: each weigher's raw values
clamped to its minval, normalised to 0..1 over the candidates, times its multiplier, summed.
Equal weights keep the hosts' order (Nova's sort is stable and shuffle_best_same_weighed_hosts
is off by default).

Each filter (filters.py) is prepared once per request into a check per host, or into nothing
when the request gives it nothing to check; each weigher (weighers.py) is a column over the
candidates: a decision costs hosts + request, never hosts x request.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from nimbus.placement import filters, weighers

# -- host and request ----------------------------------------------------------------------


# Nova's initial allocation ratios today (cpu, ram, disk): a host's, unless its node says.
CPU_ALLOCATION_RATIO = 4.0
RAM_ALLOCATION_RATIO = 1.0
DISK_ALLOCATION_RATIO = 1.0
# What a libvirt/KVM compute node reports, unless its node says otherwise.
SUPPORTED_INSTANCES = (("x86_64", "kvm", "hvm"), ("x86_64", "qemu", "hvm"))


@dataclasses.dataclass(frozen=True, slots=True)
class HostState:
    """What Nova's HostState knows of a compute host (a Node, for us). `memory_mb_used` and the
    others are what the host's consumers use (placement's usage); reservations are apart."""

    name: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    vcpus_used: float = 0
    memory_mb_used: int = 0
    disk_gb_used: int = 0
    cpu_allocation_ratio: float = CPU_ALLOCATION_RATIO
    ram_allocation_ratio: float = RAM_ALLOCATION_RATIO
    disk_allocation_ratio: float = DISK_ALLOCATION_RATIO
    reserved_vcpus: int = 0
    reserved_memory_mb: int = 0
    reserved_disk_gb: int = 0
    num_instances: int = 0
    num_io_ops: int = 0
    instances: frozenset[str] = frozenset()
    availability_zone: str | None = None
    disabled: bool = False  # the compute service is disabled
    forced_down: bool = False  # the compute service is forced down
    heartbeat_age_s: float = 0.0  # since the compute service was last heard from
    aggregates: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    failed_builds: int = 0
    host_ip: str | None = None
    traits: frozenset[str] = frozenset()
    devices: dict[str, int] = dataclasses.field(default_factory=dict)  # PCI alias -> free
    supported_instances: tuple[tuple[str, str, str], ...] = SUPPORTED_INSTANCES
    hypervisor_type: str = "QEMU"
    hypervisor_version: int | None = None
    stats: dict[str, str] = dataclasses.field(default_factory=dict)  # e.g. cpu_model
    cpu_info: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Made from the aggregates once, when first asked (slots: a thousand hosts stay compact).
    _aggregate_metadata: dict[str, set[str]] | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )
    _weight_multipliers: dict[str, float] | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    # The names Nova's HostState gives (read by ComputeCapabilitiesFilter and JsonFilter).
    @property
    def host(self) -> str:
        return self.name

    @property
    def nodename(self) -> str:
        return self.name

    @property
    def vcpus_total(self) -> int:
        return self.vcpus

    @property
    def total_usable_ram_mb(self) -> int:
        return self.memory_mb

    @property
    def free_ram_mb(self) -> int:
        """Nova's: total less used, where used counts the reserved memory (negative when the
        host is overcommitted)."""
        return self.memory_mb - self.reserved_memory_mb - self.memory_mb_used

    @property
    def free_disk_mb(self) -> int:
        return (self.disk_gb - self.reserved_disk_gb - self.disk_gb_used) * 1024

    @property
    def total_usable_disk_gb(self) -> int:
        return self.disk_gb

    def aggregate_metadata(self) -> dict[str, set[str]]:
        """Nova's aggregate_metadata_get_by_host: each key's values over the host's
        aggregates, comma-separated values split. Made once per HostState (frozen)."""
        found = self._aggregate_metadata
        if found is None:
            found = collections.defaultdict(set)
            for metadata in self.aggregates.values():
                for key, value in metadata.items():
                    found[key].update(v.strip() for v in str(value).split(","))
            object.__setattr__(self, "_aggregate_metadata", found)
        return found

    def weight_multipliers(self) -> dict[str, float]:
        """Nova's get_weight_multiplier overrides from the host's aggregates: each
        `*_weight_multiplier` key's smallest value, left out when a value is not a number (Nova
        then uses the option). Made once per HostState (frozen)."""
        found = self._weight_multipliers
        if found is None:
            values: dict[str, set[str]] = collections.defaultdict(set)
            for metadata in self.aggregates.values():
                for key, value in metadata.items():
                    if key.endswith("_weight_multiplier"):
                        values[key].add(value)
            found = {}
            for key, given in values.items():
                with contextlib.suppress(ValueError):
                    found[key] = min(float(v) for v in given)
            object.__setattr__(self, "_weight_multipliers", found)
        return found


@dataclasses.dataclass(frozen=True)
class ServerGroup:
    policy: str  # affinity, anti-affinity, soft-affinity, soft-anti-affinity
    hosts: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    rules: dict[str, Any] = dataclasses.field(default_factory=dict)

    def member_set(self) -> frozenset[str]:
        """The members as a set, made once per group (frozen)."""
        found: frozenset[str] | None = self.__dict__.get("_member_set")
        if found is None:
            found = self.__dict__["_member_set"] = frozenset(self.members)
        return found


@dataclasses.dataclass(frozen=True)
class RequestSpec:
    """A server to place: its flavor, image properties, hints, zone, project and group."""

    vcpus: int
    memory_mb: int
    disk_gb: int
    extra_specs: dict[str, str] = dataclasses.field(default_factory=dict)
    image_properties: dict[str, str] = dataclasses.field(default_factory=dict)
    hints: dict[str, Any] = dataclasses.field(default_factory=dict)
    availability_zone: str | None = None
    project_id: str = "p1"
    server_group: ServerGroup | None = None
    image: str | None = None  # the image's name (IsolatedHostsFilter)


@dataclasses.dataclass(frozen=True)
class Config:
    """[filter_scheduler] options: Nova's defaults unless set."""

    enabled_filters: tuple[str, ...] = (
        "ComputeFilter",
        "ComputeCapabilitiesFilter",
        "ImagePropertiesFilter",
        "ServerGroupAntiAffinityFilter",
        "ServerGroupAffinityFilter",
    )
    ram_weight_multiplier: float = 1.0
    cpu_weight_multiplier: float = 1.0
    disk_weight_multiplier: float = 1.0
    io_ops_weight_multiplier: float = -1.0
    num_instances_weight_multiplier: float = 0.0
    soft_affinity_weight_multiplier: float = 1.0
    soft_anti_affinity_weight_multiplier: float = 1.0
    build_failure_weight_multiplier: float = 1000000.0
    hypervisor_version_weight_multiplier: float = 1.0
    pci_weight_multiplier: float = 1.0
    max_io_ops_per_host: int = 8
    max_instances_per_host: int = 50
    isolated_images: tuple[str, ...] = ()
    isolated_hosts: tuple[str, ...] = ()
    restrict_isolated_hosts_to_isolated_images: bool = True
    image_properties_default_architecture: str = ""
    service_down_time: int = 60  # [DEFAULT]: seconds without a heartbeat before a host is down
    default_availability_zone: str = "nova"  # [DEFAULT]: the zone of a host in none


# -- resource fit (placement) ----------------------------------------------------------------


def fitter(spec: RequestSpec, default_zone: str = "nova") -> Callable[[HostState], str | None]:
    """Placement's allocation candidates for one request: a check per host, None when placement
    would offer it, else why not in the old filters' words. A flavor bigger than the host's
    whole vCPUs, memory or disk never fits (max_unit)."""
    vcpus, memory_mb, disk_gb = spec.vcpus, spec.memory_mb, spec.disk_gb
    traits = [
        (k.split(":", 1)[1], v) for k, v in spec.extra_specs.items() if k.startswith("trait:")
    ]
    required = frozenset(t for t, v in traits if v == "required")
    forbidden = frozenset(t for t, v in traits if v == "forbidden")
    zone_wanted = spec.availability_zone

    def why_not(host: HostState) -> str:
        if vcpus > host.vcpus:
            return f"CoreFilter: {vcpus} vCPUs requested > the host's {host.vcpus} (max_unit)"
        free = (host.vcpus - host.reserved_vcpus) * host.cpu_allocation_ratio - host.vcpus_used
        if vcpus > free:
            return f"CoreFilter: {_n(free)} vCPUs free < {vcpus} requested"
        if memory_mb > host.memory_mb:
            return (
                f"RamFilter: {memory_mb} MB requested > the host's {host.memory_mb} MB (max_unit)"
            )
        free = (host.memory_mb - host.reserved_memory_mb) * host.ram_allocation_ratio
        free -= host.memory_mb_used
        if memory_mb > free:
            return f"RamFilter: {_n(free)} MB free < {memory_mb} MB requested"
        if disk_gb > host.disk_gb:
            return f"DiskFilter: {disk_gb} GB requested > the host's {host.disk_gb} GB (max_unit)"
        free = (host.disk_gb - host.reserved_disk_gb) * host.disk_allocation_ratio
        free -= host.disk_gb_used
        if disk_gb > free:
            return f"DiskFilter: {_n(free)} GB free < {disk_gb} GB requested"
        for trait in sorted(required - host.traits):
            return f"TraitFilter: the host lacks the required trait {trait}"
        for trait in sorted(forbidden & host.traits):
            return f"TraitFilter: the host has the forbidden trait {trait}"
        zone = host.availability_zone or default_zone
        return f"AvailabilityZoneFilter: host is in {zone}, not {zone_wanted}"

    def check(host: HostState) -> str | None:
        # The common case in one expression; the reason is worked out only for a host left out.
        if (
            vcpus <= host.vcpus
            and memory_mb <= host.memory_mb
            and disk_gb <= host.disk_gb
            and host.vcpus_used + vcpus
            <= (host.vcpus - host.reserved_vcpus) * host.cpu_allocation_ratio
            and host.memory_mb_used + memory_mb
            <= (host.memory_mb - host.reserved_memory_mb) * host.ram_allocation_ratio
            and host.disk_gb_used + disk_gb
            <= (host.disk_gb - host.reserved_disk_gb) * host.disk_allocation_ratio
            and (not required or required <= host.traits)
            and (not forbidden or forbidden.isdisjoint(host.traits))
            and (not zone_wanted or (host.availability_zone or default_zone) == zone_wanted)
        ):
            return None
        return why_not(host)

    return check


def fit(host: HostState, spec: RequestSpec, default_zone: str = "nova") -> str | None:
    """None when placement would offer the host; else why not (fitter, for one host)."""
    return fitter(spec, default_zone)(host)


def _n(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


# -- a decision ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Decision:
    fit: list[str]  # hosts placement would offer
    passed: list[str]  # of those, the hosts every filter passes
    weighed: list[tuple[str, float]]  # the passing hosts, best first, with Nova's weight
    reasons: dict[str, str]  # host -> why it was left out


def _apply(
    check: filters.Check, hosts: list[HostState], reasons: dict[str, str]
) -> list[HostState]:
    verdicts = [check(h) for h in hosts]
    for host, why in zip(hosts, verdicts, strict=True):
        if why is not None:
            reasons[host.name] = why
    return [h for h, why in zip(hosts, verdicts, strict=True) if why is None]


def schedule(hosts: Iterable[HostState], spec: RequestSpec, config: Config) -> Decision:
    reasons: dict[str, str] = {}
    candidates = _apply(fitter(spec, config.default_availability_zone), list(hosts), reasons)
    fitting = [h.name for h in candidates]
    for name in config.enabled_filters:
        prepared = filters.FILTERS[name](spec, config)
        if prepared is not None:
            candidates = _apply(prepared, candidates, reasons)
    weights = [0.0] * len(candidates)
    for column in (
        weighers.weigh(candidates, spec, config, adding=True) if len(candidates) > 1 else ()
    ):
        if column.multipliers:
            weights = [
                w + m * v
                for w, m, v in zip(weights, column.multipliers, column.normalized, strict=True)
            ]
    # Best first; reverse keeps the sort stable, so ties keep the hosts' order, as Nova's do.
    order = sorted(range(len(candidates)), key=weights.__getitem__, reverse=True)
    return Decision(
        fit=fitting,
        passed=sorted(h.name for h in candidates),
        weighed=[(candidates[i].name, weights[i]) for i in order],
        reasons=reasons,
    )
