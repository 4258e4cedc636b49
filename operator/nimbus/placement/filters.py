"""Nova's host filters, pure: each prepared once per request into a check per host (its extra
specs and their operators parsed, its JSON query compiled, its group's members made a set), or
into nothing when the request gives it nothing to check. They read a host as Nova's HostState
does (`nova_attribute`), so ComputeCapabilitiesFilter and JsonFilter see the attributes Nova's
have, and only those."""

from __future__ import annotations

import functools
import ipaddress
import json
import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from nimbus.placement import engine

# Every attribute a Nova 34 HostState has (methods too): an unscoped extra-spec key
# ComputeCapabilitiesFilter checks when it is one of these or a stats key, and ignores otherwise.
NOVA_HOST_ATTRIBUTES = frozenset({
    "_lock_name", "_locked_consume_from_request", "_update_from_compute_node", "aggregates",
    "allocation_candidates", "cell_uuid", "consume_from_request", "cpu_allocation_ratio",
    "cpu_info", "disk_allocation_ratio", "disk_mb_used", "failed_builds", "free_disk_mb",
    "free_ram_mb", "host", "host_ip", "hypervisor_hostname", "hypervisor_type",
    "hypervisor_version", "instances", "limits", "metrics", "nodename", "num_instances",
    "num_io_ops", "numa_topology", "pci_stats", "ram_allocation_ratio", "stats",
    "supported_instances", "total_usable_disk_gb", "total_usable_ram_mb", "update", "updated",
    "uuid", "vcpus_total", "vcpus_used",
})  # fmt: skip

# The Nova attributes a Node gives a value; the others read as None on Kubernetes.
_NOVA_VIEW: dict[str, Callable[[engine.HostState], Any]] = {
    "host": lambda h: h.name,
    "nodename": lambda h: h.name,
    "hypervisor_hostname": lambda h: h.name,
    "vcpus_total": lambda h: h.vcpus,
    "vcpus_used": lambda h: int(h.vcpus_used) if float(h.vcpus_used).is_integer() else h.vcpus_used,
    "total_usable_ram_mb": lambda h: h.memory_mb,
    "free_ram_mb": lambda h: h.free_ram_mb,
    "total_usable_disk_gb": lambda h: h.disk_gb,
    "free_disk_mb": lambda h: h.free_disk_mb,
    "disk_mb_used": lambda h: h.disk_gb_used * 1024,
    "cpu_allocation_ratio": lambda h: h.cpu_allocation_ratio,
    "ram_allocation_ratio": lambda h: h.ram_allocation_ratio,
    "disk_allocation_ratio": lambda h: h.disk_allocation_ratio,
    "num_instances": lambda h: h.num_instances,
    "num_io_ops": lambda h: h.num_io_ops,
    "failed_builds": lambda h: h.failed_builds,
    "host_ip": lambda h: h.host_ip,
    "hypervisor_type": lambda h: h.hypervisor_type,
    "hypervisor_version": lambda h: h.hypervisor_version,
    "supported_instances": lambda h: [list(s) for s in h.supported_instances],
    "stats": lambda h: dict(h.stats),
    "cpu_info": lambda h: dict(h.cpu_info) or None,
    "instances": lambda h: dict.fromkeys(h.instances),
}


def nova_attribute(host: engine.HostState, name: str) -> Any:
    """`getattr(host_state, name, None)` on Nova's HostState for the same host."""
    view = _NOVA_VIEW.get(name)
    return view(host) if view is not None else None


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


@functools.lru_cache(maxsize=4096)
def matcher(requirement: str) -> Callable[[str | None], bool]:
    """nova.scheduler.filters.extra_specs_ops.match with the requirement parsed once."""
    words = requirement.split()
    op = words[0] if words else None
    method = _OPS.get(op) if op is not None else None
    if op != "<or>" and method is None:
        return lambda value: value == requirement
    if op == "<or>":  # <or> v1 <or> v2 <or> v3: every other word, from the second
        choices = frozenset(words[1::2])
        return lambda value: value is not None and value in choices
    if len(words) < 2:
        return lambda value: False
    argument: Any = words[1:] if op == "<all-in>" else words[1]
    assert method is not None

    def check(value: str | None) -> bool:
        if value is None:
            return False
        try:
            return bool(method(value, argument))
        except ValueError:
            return False

    return check


def match(value: str | None, requirement: str) -> bool:
    """nova.scheduler.filters.extra_specs_ops.match."""
    return matcher(requirement)(value)


# -- filters ---------------------------------------------------------------------------------

Check: TypeAlias = "Callable[[engine.HostState], str | None]"  # None: passes; else why not
# A filter, prepared for one request: a check per host, or None when it passes every host.
Filter: TypeAlias = "Callable[[engine.RequestSpec, engine.Config], Check | None]"


def compute_filter(spec: engine.RequestSpec, config: engine.Config) -> Check | None:
    down_after = config.service_down_time

    def check(host: engine.HostState) -> str | None:
        if host.disabled:
            return "ComputeFilter: the host's compute service is disabled"
        if host.forced_down:
            return "ComputeFilter: the host's compute service is forced down"
        if abs(host.heartbeat_age_s) > down_after:
            return (
                f"ComputeFilter: the host was last heard from {host.heartbeat_age_s:g} s ago "
                f"(service_down_time {down_after})"
            )
        return None

    return check


def _capability(host: engine.HostState, path: list[str]) -> Any:
    """ComputeCapabilitiesFilter's lookup: a HostState attribute, else a stats key, then into
    dicts (a JSON string is read as one)."""
    cap = nova_attribute(host, path[0])
    if cap is None:
        cap = host.stats.get(path[0])
    for part in path[1:]:
        if cap is None:
            return None
        if isinstance(cap, str):
            try:
                cap = json.loads(cap)
            except ValueError:
                return None
        cap = cap.get(part) if isinstance(cap, dict) else None
    return cap


def compute_capabilities_filter(spec: engine.RequestSpec, config: engine.Config) -> Check | None:
    extra_specs = dict(spec.extra_specs)
    bits = extra_specs.pop("hw:maxphysaddr_bits", None)
    if bits is not None:
        extra_specs["capabilities:cpu_info:maxphysaddr:bits"] = ">= " + bits
    # (key, path, requirement, stats_only): an unscoped key counts only where Nova's HostState
    # has the attribute or the host's stats the key; other scopes are not this filter's.
    wanted: list[tuple[str, list[str], Callable[[str | None], bool], bool]] = []
    for key, requirement in extra_specs.items():
        scope = key.split(":")
        stats_only = False
        if len(scope) > 1:
            if scope[0] != "capabilities":
                continue
            scope = scope[1:]
        else:
            stats_only = key not in NOVA_HOST_ATTRIBUTES
        wanted.append((key, scope, matcher(requirement), stats_only))
    if not wanted:
        return None

    def check(host: engine.HostState) -> str | None:
        for key, path, matches, stats_only in wanted:
            if stats_only and key not in host.stats:
                continue
            cap = _capability(host, path)
            if cap is None or not matches(str(cap)):
                return f"ComputeCapabilitiesFilter: {key} is {cap}, not {extra_specs[key]}"
        return None

    return check


_ARCHITECTURE_ALIASES = {"i386": "i686", "i486": "i686", "i586": "i686", "x86_32": "i686",
                         "x86_32p": "i686", "amd64": "x86_64"}  # fmt: skip
_VM_MODE_ALIASES = {"pv": "xen", "hv": "hvm", "baremetal": "hvm"}


def canonical_architecture(name: str) -> str:
    """nova.objects.fields.Architecture.canonicalize (Kubernetes says amd64, arm64)."""
    name = name.lower()
    return "aarch64" if name == "arm64" else _ARCHITECTURE_ALIASES.get(name, name)


def image_properties_filter(spec: engine.RequestSpec, config: engine.Config) -> Check | None:
    props = spec.image_properties
    arch = props.get("hw_architecture") or props.get("architecture")
    arch = arch or config.image_properties_default_architecture or None
    hv_type = props.get("img_hv_type") or props.get("hypervisor_type")
    vm_mode = props.get("hw_vm_mode") or props.get("vm_mode")
    wanted = (
        canonical_architecture(arch) if arch else None,
        ("xen" if hv_type.lower() == "xapi" else hv_type.lower()) if hv_type else None,
        _VM_MODE_ALIASES.get(vm_mode.lower(), vm_mode.lower()) if vm_mode else None,
    )
    if not any(wanted):
        return None
    described = ", ".join(
        f"{name} {value}"
        for name, value in zip(("architecture", "hypervisor", "vm mode"), wanted, strict=True)
        if value
    )

    asked = [w for w in wanted if w]
    requested = props.get("img_hv_requested_version")
    bits = _integer(props.get("hw_maxphysaddr_bits"))
    # Nova reads the predicate only for a host that reports a hypervisor version, and fails the
    # request when it is not one: here such a host is left out, saying why.
    try:
        predicate = version_predicate(str(requested)) if requested else None
        refused = None
    except ValueError as error:
        predicate, refused = None, f"ImagePropertiesFilter: img_hv_requested_version: {error}"
    # Hosts share their lists; the version and maxphysaddr checks are the host's own.
    verdicts: dict[tuple[tuple[str, str, str], ...], str | None] = {}

    def check(host: engine.HostState) -> str | None:
        offered = host.supported_instances
        if offered not in verdicts:
            verdict = None
            if not any(all(w in supported for w in asked) for supported in offered):
                listed = [list(s) for s in offered]
                verdict = f"ImagePropertiesFilter: {described} is not among the host's {listed}"
            verdicts[offered] = verdict
        if verdicts[offered] is not None:
            return verdicts[offered]
        # Nova's: a host that reports no hypervisor version, or no maxphysaddr, passes them.
        if requested and host.hypervisor_version:
            if refused is not None or predicate is None:
                return refused
            version = version_string(host.hypervisor_version)
            if not predicate(version):
                return (f"ImagePropertiesFilter: hypervisor version {version} does not satisfy "
                        f"img_hv_requested_version {requested}")  # fmt: skip
        have = _integer((host.cpu_info.get("maxphysaddr") or {}).get("bits"))
        if bits and have and have < bits:
            return (f"ImagePropertiesFilter: the host's {have} physical address bits are fewer "
                    f"than hw_maxphysaddr_bits {bits}")  # fmt: skip
        return None

    return check


def _integer(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


_PREDICATE = re.compile(r"^\s*(<=|>=|<|>|!=|==)\s*([^\s]+)\s*$")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, "==": operator.eq, ">": operator.gt,
    ">=": operator.ge, "!=": operator.ne,
}  # fmt: skip


def _release(text: str) -> tuple[int, ...]:
    """A release version (`8.0`, `8.0.0`) as PEP 440 compares it: trailing zeros do not count."""
    if not re.fullmatch(r"\d+(\.\d+)*", text):
        raise ValueError(f"bad version: {text}")
    numbers = [int(n) for n in text.split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def version_predicate(text: str) -> Callable[[str], bool]:
    """oslo.utils' VersionPredicate, which Nova's img_hv_requested_version is: conditions
    (`>=6.0`, `>= 6.0, < 9`) separated by commas, each met by the version; release versions."""
    conditions = []
    for part in text.split(","):
        found = _PREDICATE.match(part)
        if not found:
            raise ValueError(f"bad package restriction syntax: {part}")
        conditions.append((_COMPARE[found[1]], _release(found[2])))
    return lambda version: all(met(_release(version), wanted) for met, wanted in conditions)


def version_string(number: int) -> str:
    """oslo.utils' convert_version_to_str: Nova's hypervisor version integer (major * 1000000 +
    minor * 1000 + patch) as text, `8000000` -> `8.0.0`."""
    parts: list[str] = []
    while number:
        parts.insert(0, str(number % 1000))
        number //= 1000
    return ".".join(parts)


def server_group_anti_affinity_filter(
    spec: engine.RequestSpec, config: engine.Config
) -> Check | None:
    group = spec.server_group
    if group is None or group.policy != "anti-affinity":
        return None
    most = int(group.rules.get("max_server_per_host", 1))
    members = group.member_set()

    def check(host: engine.HostState) -> str | None:
        on_host = len(members & host.instances) if host.instances else 0
        if on_host < most:
            return None
        return f"ServerGroupAntiAffinityFilter: {on_host} of the group's servers already here"

    return check


def server_group_affinity_filter(spec: engine.RequestSpec, config: engine.Config) -> Check | None:
    group = spec.server_group
    if group is None or group.policy != "affinity" or not group.hosts:
        return None
    group_hosts = frozenset(group.hosts)
    reason = f"ServerGroupAffinityFilter: the group is on {', '.join(group.hosts)}"
    return lambda host: None if host.name in group_hosts else reason


def aggregate_instance_extra_specs_filter(
    spec: engine.RequestSpec, config: engine.Config
) -> Check | None:
    wanted: list[tuple[str, str, Callable[[str | None], bool]]] = []
    for key, requirement in spec.extra_specs.items():
        scope = key.split(":", 1)
        if len(scope) > 1:
            if scope[0] != "aggregate_instance_extra_specs":
                continue
            scope = scope[1:]
        wanted.append((scope[0], requirement, matcher(requirement)))
    if not wanted:
        return None

    def check(host: engine.HostState) -> str | None:
        metadata = host.aggregate_metadata()
        for key, requirement, matches in wanted:
            values = metadata.get(key)
            if not values or not any(matches(v) for v in values):
                return f"AggregateInstanceExtraSpecsFilter: no aggregate with {key}={requirement}"
        return None

    return check


def _at_most(name: str, count: str, option: str, what: str) -> Filter:
    """A filter that passes a host while its `count` is below the option's limit."""
    read = operator.attrgetter(count)

    def prepare(spec: engine.RequestSpec, config: engine.Config) -> Check | None:
        most = getattr(config, option)

        def check(host: engine.HostState) -> str | None:
            value = read(host)
            return None if value < most else f"{name}: {value} {what}, at most {most}"

        return check

    return prepare


num_instances_filter = _at_most(
    "NumInstancesFilter", "num_instances", "max_instances_per_host", "instances"
)
io_ops_filter = _at_most("IoOpsFilter", "num_io_ops", "max_io_ops_per_host", "I/O operations")


def _json_lookup(value: str) -> Callable[[engine.HostState], Any] | None:
    """JsonFilter's _parse_string for `$attribute.key...`, read from Nova's HostState; None
    when the attribute never has a value here (the argument is then always dropped)."""
    path = value[1:].split(".")
    view = _NOVA_VIEW.get(path[0])
    if view is None:
        return None
    keys = path[1:]

    def lookup(host: engine.HostState) -> Any:
        found = view(host)
        for key in keys:
            if found is None:
                return None
            found = found.get(key) if isinstance(found, dict) else None
        return found

    return lookup


def _compare(compare: Callable[[Any, Any], bool]) -> Callable[[list[Any]], bool]:
    """The first argument against every other one (JsonFilter's _op_compare)."""

    def check(args: list[Any]) -> bool:
        if len(args) < 2:
            return False
        try:
            return all(compare(args[0], other) for other in args[1:])
        except TypeError:  # Nova's query fails the host when it compares unlike things
            return False

    return check


_JSON_COMMANDS: dict[str, Callable[[list[Any]], Any]] = {
    "=": _compare(operator.eq),
    "<": _compare(operator.lt),
    ">": _compare(operator.gt),
    "<=": _compare(operator.le),
    ">=": _compare(operator.ge),
    "in": lambda args: len(args) >= 2 and args[0] in args[1:],
    "not": lambda args: [not a for a in args],
    "or": any,
    "and": all,
}


def _constant(value: Any) -> Callable[[engine.HostState], Any]:
    return lambda host: value


def _json_compile(query: Any) -> Callable[[engine.HostState], Any]:
    """JsonFilter's _process_filter, with the query read once: a function of the host. An
    argument that is None (or an empty string) is dropped, as Nova drops it."""
    if not query:
        return lambda host: True
    command = _JSON_COMMANDS.get(query[0])
    if command is None:
        return lambda host: False
    parts: list[Callable[[engine.HostState], Any]] = []
    for arg in query[1:]:
        if isinstance(arg, list):
            parts.append(_json_compile(arg))
        elif isinstance(arg, str) and arg.startswith("$"):
            lookup = _json_lookup(arg)
            if lookup is not None:
                parts.append(lookup)
        elif arg is not None and arg != "":
            parts.append(_constant(arg))

    def evaluate(host: engine.HostState) -> Any:
        return command([v for part in parts if (v := part(host)) is not None])

    return evaluate


def json_filter(spec: engine.RequestSpec, config: engine.Config) -> Check | None:
    query = spec.hints.get("query")
    if not query:
        return None
    evaluate = _json_compile(json.loads(query) if isinstance(query, str) else query)
    reason = f"JsonFilter: {query} is false here"

    def check(host: engine.HostState) -> str | None:
        result = evaluate(host)
        if isinstance(result, list):
            result = any(result)
        return None if result else reason

    return check


def _hint_list(spec: engine.RequestSpec, name: str) -> list[str]:
    value = spec.hints.get(name) or []
    return [value] if isinstance(value, str) else list(value)


def same_host_filter(spec: engine.RequestSpec, config: engine.Config) -> Check | None:
    wanted = frozenset(_hint_list(spec, "same_host"))
    if not wanted:
        return None
    reason = "SameHostFilter: none of the named instances runs here"
    return lambda host: None if not wanted.isdisjoint(host.instances) else reason


def different_host_filter(spec: engine.RequestSpec, config: engine.Config) -> Check | None:
    avoided = _hint_list(spec, "different_host")
    if not avoided:
        return None

    def check(host: engine.HostState) -> str | None:
        here = [i for i in avoided if i in host.instances]
        return f"DifferentHostFilter: {', '.join(here)} runs here" if here else None

    return check


def aggregate_multi_tenancy_isolation(
    spec: engine.RequestSpec, config: engine.Config
) -> Check | None:
    def check(host: engine.HostState) -> str | None:
        if not host.aggregates:
            return None
        tenants: set[str] = set()
        for key, values in host.aggregate_metadata().items():
            if key.startswith("filter_tenant_id"):
                tenants |= values
        if not tenants or spec.project_id in tenants:
            return None
        reserved = ", ".join(sorted(tenants))
        return f"AggregateMultiTenancyIsolation: the host is reserved for {reserved}"

    return check


def simple_cidr_affinity_filter(spec: engine.RequestSpec, config: engine.Config) -> Check | None:
    near = spec.hints.get("build_near_host_ip")
    if not near:
        return None
    cidr = str(spec.hints.get("cidr", "/24"))
    network = ipaddress.ip_network(f"{near}{cidr}", strict=False)

    def check(host: engine.HostState) -> str | None:
        if host.host_ip and ipaddress.ip_address(host.host_ip) in network:
            return None
        return f"SimpleCIDRAffinityFilter: host address {host.host_ip} is not in {network}"

    return check


def isolated_hosts_filter(spec: engine.RequestSpec, config: engine.Config) -> Check | None:
    isolated = frozenset(config.isolated_hosts)
    restrict = config.restrict_isolated_hosts_to_isolated_images
    isolated_image = spec.image in config.isolated_images
    reason = "IsolatedHostsFilter: isolated hosts take isolated images only, and those only there"

    def check(host: engine.HostState) -> str | None:
        isolated_host = host.name in isolated
        if not config.isolated_images:
            passes = not restrict or not isolated_host
        elif restrict:
            passes = isolated_image == isolated_host
        else:
            passes = not isolated_image or isolated_host
        return None if passes else reason

    return check


def pci_requests(spec: engine.RequestSpec) -> dict[str, int]:
    """pci_passthrough:alias = "a1:2,a2:1" -> {a1: 2, a2: 1}."""
    wanted: dict[str, int] = {}
    for item in spec.extra_specs.get("pci_passthrough:alias", "").split(","):
        if item.strip():
            alias, _, count = item.strip().partition(":")
            wanted[alias] = wanted.get(alias, 0) + int(count or 1)
    return wanted


def pci_passthrough_filter(spec: engine.RequestSpec, config: engine.Config) -> Check | None:
    wanted = pci_requests(spec)
    if not wanted:
        return None

    def check(host: engine.HostState) -> str | None:
        for alias, count in wanted.items():
            free = host.devices.get(alias, 0)
            if free < count:
                return f"PciPassthroughFilter: {free} {alias} free < {count} requested"
        return None

    return check


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


def check(
    name: str, host: engine.HostState, spec: engine.RequestSpec, config: engine.Config
) -> str | None:
    """One filter's verdict on one host: None when it passes, else why not."""
    prepared = FILTERS[name](spec, config)
    return None if prepared is None else prepared(host)
