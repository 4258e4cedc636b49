"""Nova's filter scheduler, pure: resource fit (placement's allocation candidates), host filters
and weighers with Nova's names, semantics, normalisation and multipliers. No kopf, no client.

Nova 34's decision for one server: hosts that fit the flavor (`used + requested <= (total -
reserved) * allocation_ratio` for vCPUs, RAM and disk) and the availability zone, then every
enabled filter, then every weigher: each weigher's raw values normalised to 0..1 over the
candidates, times its multiplier, summed. Equal weights keep the hosts' order (Nova's sort is
stable and shuffle_best_same_weighed_hosts is off by default).
"""

from __future__ import annotations

import collections
import dataclasses
import ipaddress
import itertools
import json
import operator
from collections.abc import Callable, Iterable
from typing import Any

# -- host and request ----------------------------------------------------------------------


# Nova's initial allocation ratios today (cpu, ram, disk): a host's, unless its node says.
CPU_ALLOCATION_RATIO = 4.0
RAM_ALLOCATION_RATIO = 1.0
DISK_ALLOCATION_RATIO = 1.0


@dataclasses.dataclass(frozen=True)
class HostState:
    """What Nova's HostState knows of a compute host (a Node, for us)."""

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
    disabled: bool = False
    aggregates: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    failed_builds: int = 0
    host_ip: str | None = None
    traits: frozenset[str] = frozenset()
    devices: dict[str, int] = dataclasses.field(default_factory=dict)  # PCI alias -> free
    architectures: tuple[str, ...] = ("x86_64",)
    hypervisor_type: str = "kvm"
    vm_mode: str = "hvm"

    # The names Nova's HostState gives (read by ComputeCapabilitiesFilter and JsonFilter).
    @property
    def host(self) -> str:
        return self.name

    @property
    def vcpus_total(self) -> int:
        return self.vcpus

    @property
    def total_usable_ram_mb(self) -> int:
        return self.memory_mb

    @property
    def free_ram_mb(self) -> int:
        return self.memory_mb - self.memory_mb_used

    @property
    def free_disk_mb(self) -> int:
        return (self.disk_gb - self.disk_gb_used) * 1024

    @property
    def total_usable_disk_gb(self) -> int:
        return self.disk_gb

    def aggregate_metadata(self) -> dict[str, set[str]]:
        """Nova's aggregate_metadata_get_by_host: each key's values over the host's
        aggregates, comma-separated values split. Made once per HostState (frozen)."""
        found: dict[str, set[str]] | None = self.__dict__.get("_aggregate_metadata")
        if found is None:
            found = collections.defaultdict(set)
            for metadata in self.aggregates.values():
                for key, value in metadata.items():
                    found[key].update(v.strip() for v in str(value).split(","))
            self.__dict__["_aggregate_metadata"] = found
        return found


@dataclasses.dataclass(frozen=True)
class ServerGroup:
    policy: str  # affinity, anti-affinity, soft-affinity, soft-anti-affinity
    hosts: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    rules: dict[str, Any] = dataclasses.field(default_factory=dict)


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
    max_io_ops_per_host: int = 8
    max_instances_per_host: int = 50
    isolated_images: tuple[str, ...] = ()
    isolated_hosts: tuple[str, ...] = ()
    restrict_isolated_hosts_to_isolated_images: bool = True


# -- Nova's extra_specs_ops ------------------------------------------------------------------

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda x, y: float(x) >= float(y),
    "<in>": lambda x, y: y in x,
    "<all-in>": lambda x, y: all(v in x for v in y),
    "==": lambda x, y: float(x) == float(y),
    "!=": lambda x, y: float(x) != float(y),
    ">=": lambda x, y: float(x) >= float(y),
    "<=": lambda x, y: float(x) <= float(y),
    "s==": operator.eq,
    "s!=": operator.ne,
    "s<": operator.lt,
    "s<=": operator.le,
    "s>": operator.gt,
    "s>=": operator.ge,
}


def match(value: str | None, requirement: str) -> bool:
    """nova.scheduler.filters.extra_specs_ops.match."""
    words = requirement.split()
    op = method = None
    if words:
        op = words.pop(0)
        method = _OPS.get(op)
    if op != "<or>" and method is None:
        return value == requirement
    if value is None:
        return False
    if op == "<or>":  # <or> v1 <or> v2 <or> v3
        while words:
            if words.pop(0) == value:
                return True
            if not words:
                break
            words.pop(0)  # the next <or>
        return False
    if words:
        try:
            return method(value, words if op == "<all-in>" else words[0])  # type: ignore[misc]
        except ValueError:
            return False
    return False


# -- resource fit (placement) ----------------------------------------------------------------


def fit(host: HostState, spec: RequestSpec) -> str | None:
    """None when placement would offer the host; else why not, in the old filters' words."""
    vcpus = (host.vcpus - host.reserved_vcpus) * host.cpu_allocation_ratio - host.vcpus_used
    if spec.vcpus > vcpus:
        return f"CoreFilter: {_n(vcpus)} vCPUs free < {spec.vcpus} requested"
    ram = (host.memory_mb - host.reserved_memory_mb) * host.ram_allocation_ratio
    ram -= host.memory_mb_used
    if spec.memory_mb > ram:
        return f"RamFilter: {_n(ram)} MB free < {spec.memory_mb} MB requested"
    disk = (host.disk_gb - host.reserved_disk_gb) * host.disk_allocation_ratio - host.disk_gb_used
    if spec.disk_gb > disk:
        return f"DiskFilter: {_n(disk)} GB free < {spec.disk_gb} GB requested"
    for key, value in spec.extra_specs.items():  # placement's required and forbidden traits
        if not key.startswith("trait:"):
            continue
        trait = key.split(":", 1)[1]
        if value == "required" and trait not in host.traits:
            return f"TraitFilter: the host lacks the required trait {trait}"
        if value == "forbidden" and trait in host.traits:
            return f"TraitFilter: the host has the forbidden trait {trait}"
    if spec.availability_zone and host.availability_zone != spec.availability_zone:
        return (
            f"AvailabilityZoneFilter: host is in {host.availability_zone}, "
            f"not {spec.availability_zone}"
        )
    return None


def _n(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


# -- filters ---------------------------------------------------------------------------------

Filter = Callable[[HostState, RequestSpec, Config], str | None]  # None: passes; else why not


def compute_filter(host: HostState, spec: RequestSpec, config: Config) -> str | None:
    return "ComputeFilter: the host's compute service is disabled" if host.disabled else None


def _capability(host: HostState, path: list[str]) -> Any:
    cap: Any = host
    for part in path:
        if isinstance(cap, str):
            try:
                cap = json.loads(cap)
            except ValueError:
                return None
        cap = cap.get(part) if isinstance(cap, dict) else getattr(cap, part, None)
        if cap is None:
            return None
    return cap


def compute_capabilities_filter(host: HostState, spec: RequestSpec, config: Config) -> str | None:
    for key, requirement in spec.extra_specs.items():
        scope = key.split(":")
        if len(scope) > 1:
            if scope[0] != "capabilities":
                continue
            scope = scope[1:]
        cap = _capability(host, scope)
        if cap is None or not match(str(cap), requirement):
            return f"ComputeCapabilitiesFilter: {key} is {cap}, not {requirement}"
    return None


def image_properties_filter(host: HostState, spec: RequestSpec, config: Config) -> str | None:
    props = spec.image_properties
    arch = props.get("hw_architecture") or props.get("architecture")
    hv_type = props.get("img_hv_type") or props.get("hypervisor_type")
    vm_mode = props.get("hw_vm_mode") or props.get("vm_mode")
    if arch and arch not in host.architectures:
        return f"ImagePropertiesFilter: architecture {arch} is not among {list(host.architectures)}"
    if hv_type and hv_type != host.hypervisor_type:
        return f"ImagePropertiesFilter: hypervisor {hv_type} is not {host.hypervisor_type}"
    if vm_mode and vm_mode != host.vm_mode:
        return f"ImagePropertiesFilter: vm mode {vm_mode} is not {host.vm_mode}"
    return None


def server_group_anti_affinity_filter(
    host: HostState, spec: RequestSpec, config: Config
) -> str | None:
    group = spec.server_group
    if group is None or group.policy != "anti-affinity":
        return None
    most = int(group.rules.get("max_server_per_host", 1))
    on_host = len(host.instances & set(group.members))
    if on_host < most:
        return None
    return f"ServerGroupAntiAffinityFilter: {on_host} of the group's servers already here"


def server_group_affinity_filter(host: HostState, spec: RequestSpec, config: Config) -> str | None:
    group = spec.server_group
    if group is None or group.policy != "affinity" or not group.hosts:
        return None
    if host.name in group.hosts:
        return None
    return f"ServerGroupAffinityFilter: the group is on {', '.join(group.hosts)}"


def aggregate_instance_extra_specs_filter(
    host: HostState, spec: RequestSpec, config: Config
) -> str | None:
    if not spec.extra_specs:
        return None
    metadata = host.aggregate_metadata()
    for key, requirement in spec.extra_specs.items():
        scope = key.split(":", 1)
        if len(scope) > 1:
            if scope[0] != "aggregate_instance_extra_specs":
                continue
            scope = scope[1:]
        values = metadata.get(scope[0])
        if not values or not any(match(v, requirement) for v in values):
            return f"AggregateInstanceExtraSpecsFilter: no aggregate with {scope[0]}={requirement}"
    return None


def num_instances_filter(host: HostState, spec: RequestSpec, config: Config) -> str | None:
    most = config.max_instances_per_host
    if host.num_instances < most:
        return None
    return f"NumInstancesFilter: {host.num_instances} instances, at most {most}"


def io_ops_filter(host: HostState, spec: RequestSpec, config: Config) -> str | None:
    most = config.max_io_ops_per_host
    if host.num_io_ops < most:
        return None
    return f"IoOpsFilter: {host.num_io_ops} I/O operations, at most {most}"


def _json_value(value: Any, host: HostState) -> Any:
    if isinstance(value, list):
        return _json_query(value, host)
    if isinstance(value, str) and value.startswith("$"):
        found: Any = host
        for index, part in enumerate(value[1:].split(".")):
            found = getattr(found, part, None) if index == 0 else (found or {}).get(part)
        return found
    return value


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[list[Any]], bool]:
    def check(args: list[Any]) -> bool:
        if len(args) < 2:
            return False
        return all(compare(a, b) for a, b in itertools.pairwise(args))

    return check


_JSON_COMMANDS: dict[str, Callable[[list[Any]], Any]] = {
    "=": _ordered(operator.eq),
    "<": _ordered(operator.lt),
    ">": _ordered(operator.gt),
    "<=": _ordered(operator.le),
    ">=": _ordered(operator.ge),
    "in": lambda args: len(args) >= 2 and args[0] in args[1:],
    "not": lambda args: [not a for a in args],
    "or": any,
    "and": all,
}


def _json_query(query: list[Any], host: HostState) -> Any:
    if not query:
        return True
    command = _JSON_COMMANDS.get(query[0])
    if command is None:
        return False
    args = [v for v in (_json_value(a, host) for a in query[1:]) if v is not None]
    return command(args)


def json_filter(host: HostState, spec: RequestSpec, config: Config) -> str | None:
    query = spec.hints.get("query")
    if not query:
        return None
    result = _json_query(json.loads(query) if isinstance(query, str) else query, host)
    if isinstance(result, list):
        result = any(result)
    return None if result else f"JsonFilter: {query} is false here"


def _hint_list(spec: RequestSpec, name: str) -> list[str]:
    value = spec.hints.get(name) or []
    return [value] if isinstance(value, str) else list(value)


def same_host_filter(host: HostState, spec: RequestSpec, config: Config) -> str | None:
    wanted = _hint_list(spec, "same_host")
    if not wanted or any(i in host.instances for i in wanted):
        return None
    return "SameHostFilter: none of the named instances runs here"


def different_host_filter(host: HostState, spec: RequestSpec, config: Config) -> str | None:
    avoided = [i for i in _hint_list(spec, "different_host") if i in host.instances]
    return f"DifferentHostFilter: {', '.join(avoided)} runs here" if avoided else None


def aggregate_multi_tenancy_isolation(
    host: HostState, spec: RequestSpec, config: Config
) -> str | None:
    tenants: set[str] = set()
    for key, values in host.aggregate_metadata().items():
        if key.startswith("filter_tenant_id"):
            tenants |= values
    if not tenants or spec.project_id in tenants:
        return None
    return f"AggregateMultiTenancyIsolation: the host is reserved for {', '.join(sorted(tenants))}"


def simple_cidr_affinity_filter(host: HostState, spec: RequestSpec, config: Config) -> str | None:
    near = spec.hints.get("build_near_host_ip")
    if not near:
        return None
    cidr = str(spec.hints.get("cidr", "/24"))
    network = ipaddress.ip_network(f"{near}{cidr}", strict=False)
    if host.host_ip and ipaddress.ip_address(host.host_ip) in network:
        return None
    return f"SimpleCIDRAffinityFilter: host address {host.host_ip} is not in {network}"


def isolated_hosts_filter(host: HostState, spec: RequestSpec, config: Config) -> str | None:
    isolated_host = host.name in config.isolated_hosts
    if not config.isolated_images:
        passes = not config.restrict_isolated_hosts_to_isolated_images or not isolated_host
    else:
        isolated_image = spec.image in config.isolated_images
        if config.restrict_isolated_hosts_to_isolated_images:
            passes = isolated_image == isolated_host
        else:
            passes = not isolated_image or isolated_host
    if passes:
        return None
    return "IsolatedHostsFilter: isolated hosts take isolated images only, and those only there"


def pci_requests(spec: RequestSpec) -> dict[str, int]:
    """pci_passthrough:alias = "a1:2,a2:1" -> {a1: 2, a2: 1}."""
    wanted: dict[str, int] = {}
    for item in spec.extra_specs.get("pci_passthrough:alias", "").split(","):
        if item.strip():
            alias, _, count = item.strip().partition(":")
            wanted[alias] = wanted.get(alias, 0) + int(count or 1)
    return wanted


def pci_passthrough_filter(host: HostState, spec: RequestSpec, config: Config) -> str | None:
    for alias, count in pci_requests(spec).items():
        free = host.devices.get(alias, 0)
        if free < count:
            return f"PciPassthroughFilter: {free} {alias} free < {count} requested"
    return None


FILTERS: dict[str, Filter] = {
    "ComputeFilter": compute_filter,
    "ComputeCapabilitiesFilter": compute_capabilities_filter,
    "ImagePropertiesFilter": image_properties_filter,
    "ServerGroupAntiAffinityFilter": server_group_anti_affinity_filter,
    "ServerGroupAffinityFilter": server_group_affinity_filter,
    "AggregateInstanceExtraSpecsFilter": aggregate_instance_extra_specs_filter,
    "NumInstancesFilter": num_instances_filter,
    "IoOpsFilter": io_ops_filter,
    "JsonFilter": json_filter,
    "SameHostFilter": same_host_filter,
    "DifferentHostFilter": different_host_filter,
    "AggregateMultiTenancyIsolation": aggregate_multi_tenancy_isolation,
    "SimpleCIDRAffinityFilter": simple_cidr_affinity_filter,
    "IsolatedHostsFilter": isolated_hosts_filter,
    "PciPassthroughFilter": pci_passthrough_filter,
}

# -- weighers --------------------------------------------------------------------------------


def _members_here(host: HostState, spec: RequestSpec, policy: str) -> int:
    group = spec.server_group
    if group is None or group.policy != policy:
        return 0
    return len(host.instances & set(group.members))


# (name, raw value, multiplier option, minval): Nova's all_weighers that can differ between our
# hosts. The resource weighers normalise from 0 (Nova's `minval = 0`), the others from the
# smallest value. The rest (PCI, cross-cell, hypervisor version, image properties) weigh every
# host the same here, which normalises to 0 for all.
WEIGHERS: tuple[tuple[str, Callable[[HostState, RequestSpec], float], str, float | None], ...] = (
    ("RAMWeigher", lambda h, s: h.free_ram_mb, "ram_weight_multiplier", 0),
    ("CPUWeigher", lambda h, s: h.vcpus * h.cpu_allocation_ratio - h.vcpus_used,
     "cpu_weight_multiplier", 0),
    ("DiskWeigher", lambda h, s: h.free_disk_mb, "disk_weight_multiplier", 0),
    ("IoOpsWeigher", lambda h, s: h.num_io_ops, "io_ops_weight_multiplier", 0),
    ("NumInstancesWeigher", lambda h, s: h.num_instances, "num_instances_weight_multiplier", 0),
    ("ServerGroupSoftAffinityWeigher", lambda h, s: _members_here(h, s, "soft-affinity"),
     "soft_affinity_weight_multiplier", None),
    ("ServerGroupSoftAntiAffinityWeigher",
     lambda h, s: -_members_here(h, s, "soft-anti-affinity"),
     "soft_anti_affinity_weight_multiplier", None),
    # Nova applies its (positive) multiplier negatively: a failed build costs a host.
    ("BuildFailureWeigher", lambda h, s: h.failed_builds, "build_failure_weight_multiplier",
     None),
)  # fmt: skip


def normalize(values: list[float], minval: float | None = None) -> list[float]:
    """nova.weights.normalize: to 0..1 between `minval` (the smallest value when None) and the
    largest value; all 0 when those are equal."""
    if not values:
        return []
    low = float(min(values) if minval is None else min(minval, min(values)))
    high = float(max(values))
    if low == high:
        return [0.0] * len(values)
    return [(v - low) / (high - low) for v in values]


def _multiplier(host: HostState, option: str, config: Config) -> float:
    """Nova's get_weight_multiplier: an aggregate's metadata overrides the option (the
    smallest when aggregates disagree)."""
    values = host.aggregate_metadata().get(option)
    if values:
        try:
            return min(float(v) for v in values)
        except ValueError:
            pass
    return float(getattr(config, option))


# -- a decision ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Decision:
    fit: list[str]  # hosts placement would offer
    passed: list[str]  # of those, the hosts every filter passes
    weighed: list[tuple[str, float]]  # the passing hosts, best first, with Nova's weight
    reasons: dict[str, str]  # host -> why it was left out


def schedule(hosts: Iterable[HostState], spec: RequestSpec, config: Config) -> Decision:
    hosts = list(hosts)
    reasons: dict[str, str] = {}
    candidates = []
    for host in hosts:
        why = fit(host, spec)
        if why is None:
            candidates.append(host)
        else:
            reasons[host.name] = why
    fitting = [h.name for h in candidates]
    for name in config.enabled_filters:
        check = FILTERS[name]
        passing = []
        for host in candidates:
            why = check(host, spec, config)
            if why is None:
                passing.append(host)
            else:
                reasons[host.name] = why
        candidates = passing
    weights = [0.0] * len(candidates)
    for name, weigh, option, minval in WEIGHERS if len(candidates) > 1 else ():  # one: 0.0
        normalized = normalize([float(weigh(h, spec)) for h in candidates], minval)
        if not any(normalized):
            continue  # every host weighs the same: nothing to add
        sign = -1.0 if name == "BuildFailureWeigher" else 1.0
        default = float(getattr(config, option))
        for i, value in enumerate(normalized):
            if value:
                host = candidates[i]
                multiplier = _multiplier(host, option, config) if host.aggregates else default
                weights[i] += sign * multiplier * value
    order = sorted(range(len(candidates)), key=lambda i: -weights[i])  # stable: ties keep order
    return Decision(
        fit=fitting,
        passed=sorted(h.name for h in candidates),
        weighed=[(candidates[i].name, weights[i]) for i in order],
        reasons=reasons,
    )
