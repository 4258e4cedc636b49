"""Nova's host weighers, pure: each a column of raw values over the candidates, clamped to its
minval, normalised and multiplied as `nova.weights` does."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nimbus.placement import engine


def _members_here(
    policy: str, sign: int
) -> Callable[[list[engine.HostState], engine.RequestSpec], list[int]]:
    def column(hosts: list[engine.HostState], spec: engine.RequestSpec) -> list[int]:
        group = spec.server_group
        if group is None or group.policy != policy:
            return [0] * len(hosts)
        members = group.member_set()
        return [sign * len(members & h.instances) if h.instances else 0 for h in hosts]

    return column


@dataclasses.dataclass(frozen=True)
class Weigher:
    """One of Nova's weighers: its raw values over the hosts, multiplier option, and minval
    (None: the smallest value). `sign` -1: Nova applies the option's value negatively."""

    name: str
    raw: Callable[[list[engine.HostState], engine.RequestSpec], list[int] | list[float]]
    option: str
    minval: float | None = None
    sign: float = 1.0


# Nova's most free PCI devices a host counts (nova.scheduler.weights.pci.MAX_DEVS).
MAX_DEVS = 100


def _pci(hosts: list[engine.HostState], spec: engine.RequestSpec) -> list[int]:
    """PCIWeigher: fewer free PCI devices weigh more, so a host's devices are kept for the
    servers that ask for them (and those that do stack up)."""
    return [MAX_DEVS - min(max(sum(h.devices.values()), 0), MAX_DEVS - 1) for h in hosts]


# Nova's all_weighers in Nova's order (the order its sums are made in, which ties can show),
# but for those that weigh every host the same here and so normalise to 0 for all: cross-cell
# (no moves between cells), metrics (none configured) and image properties (multiplier 0 by
# default).
WEIGHERS: tuple[Weigher, ...] = (
    Weigher("NumInstancesWeigher", lambda hs, s: [h.num_instances for h in hs],
            "num_instances_weight_multiplier"),
    Weigher("CPUWeigher",
            lambda hs, s: [h.vcpus * h.cpu_allocation_ratio - h.vcpus_used for h in hs],
            "cpu_weight_multiplier", 0),
    Weigher("BuildFailureWeigher", lambda hs, s: [h.failed_builds for h in hs],
            "build_failure_weight_multiplier", sign=-1.0),
    Weigher("ServerGroupSoftAffinityWeigher", _members_here("soft-affinity", 1),
            "soft_affinity_weight_multiplier"),
    Weigher("ServerGroupSoftAntiAffinityWeigher", _members_here("soft-anti-affinity", -1),
            "soft_anti_affinity_weight_multiplier"),
    Weigher("RAMWeigher", lambda hs, s: [h.free_ram_mb for h in hs], "ram_weight_multiplier", 0),
    Weigher("DiskWeigher", lambda hs, s: [h.free_disk_mb for h in hs],
            "disk_weight_multiplier", 0),
    Weigher("PCIWeigher", _pci, "pci_weight_multiplier"),
    Weigher("IoOpsWeigher", lambda hs, s: [h.num_io_ops for h in hs],
            "io_ops_weight_multiplier", 0),
    Weigher("HypervisorVersionWeigher", lambda hs, s: [h.hypervisor_version or 0 for h in hs],
            "hypervisor_version_weight_multiplier"),
)  # fmt: skip


def clamp(values: list[Any], minval: float | None) -> list[Any]:
    """BaseWeigher.weigh_objects: no value below the weigher's minval."""
    return values if minval is None else [v if v > minval else minval for v in values]


def _scale(values: list[Any], minval: float | None) -> list[float]:
    low = min(values) if minval is None else minval
    high = max(values)
    if low == high:
        return [0.0] * len(values)
    span = float(high - low)
    return [(v - low) / span for v in values]


def normalize(values: list[float], minval: float | None = None) -> list[float]:
    """nova.weights.normalize: to 0..1 between `minval` (the smallest value when None) and the
    largest value; all 0 when those are equal. Values are clamped to `minval` first, as
    BaseWeigher.weigh_objects does (an overcommitted host's negative free RAM counts as 0)."""
    if not values:
        return []
    return _scale(clamp(values, minval), minval)


def multiplier(host: engine.HostState, option: str, config: engine.Config) -> float:
    """Nova's get_weight_multiplier: an aggregate's metadata overrides the option (the
    smallest when aggregates disagree; the option when one is not a number)."""
    return host.weight_multipliers().get(option, float(getattr(config, option)))


@dataclasses.dataclass(frozen=True)
class Weighed:
    """One weigher over the candidates: raw values (clamped), normalised, multipliers."""

    weigher: str
    raw: list[float]
    normalized: list[float]
    multipliers: list[float]


def weigh(
    candidates: list[engine.HostState],
    spec: engine.RequestSpec,
    config: engine.Config,
    adding: bool = False,
) -> list[Weighed]:
    """Each weigher's columns over the candidates, in Nova's order. A weigher whose values all
    normalise to 0 adds nothing, and its multipliers are not looked up (empty). With `adding`,
    only the weighers that can add something: not one whose multiplier is 0 on every host."""
    out = []
    overrides = [h.weight_multipliers() if h.aggregates else None for h in candidates]
    overridden = any(overrides)
    options = {option for o in overrides if o for option in o}
    for weigher in WEIGHERS:
        if adding and not getattr(config, weigher.option) and weigher.option not in options:
            continue
        raw = clamp(list(weigher.raw(candidates, spec)), weigher.minval)
        normalized = _scale(raw, weigher.minval)
        multipliers: list[float] = []
        if any(normalized):
            default = weigher.sign * float(getattr(config, weigher.option))
            if overridden:
                option, sign = weigher.option, weigher.sign
                multipliers = [
                    sign * o[option] if o and option in o else default for o in overrides
                ]
            else:
                multipliers = [default] * len(candidates)
        out.append(Weighed(weigher.name, raw, normalized, multipliers))
    return out
