"""Placement's configuration, in Nova's option names: a mapping (YAML) with the sections
`filter_scheduler` (enabled filters, weight multipliers, per-host limits, isolated hosts) and
`compute` (allocation ratios and reserved host resources, unless a node's labels say). What is
not set is Nova's default."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from nimbus.placement import engine, filters, hosts

# [DEFAULT] options of nova.conf -> hosts.Defaults fields (reserved disk is in MB in Nova).
_COMPUTE = {
    "cpu_allocation_ratio": "cpu_allocation_ratio",
    "ram_allocation_ratio": "ram_allocation_ratio",
    "disk_allocation_ratio": "disk_allocation_ratio",
    "reserved_host_cpus": "reserved_vcpus",
    "reserved_host_memory_mb": "reserved_memory_mb",
    "reserved_host_disk_mb": "reserved_disk_gb",
}


class ConfigError(ValueError):
    """The configuration names something placement does not know."""


def _convert(option: str, value: Any, default: Any) -> Any:
    try:
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            return tuple(str(v) for v in value)
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        return type(default)(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{option}: {value!r} is not a {type(default).__name__}") from None


def parse(document: Mapping[str, Any] | None) -> tuple[engine.Config, hosts.Defaults]:
    """The engine's Config and the hosts' Defaults from a configuration document."""
    document = dict(document or {})
    unknown = set(document) - {"filter_scheduler", "compute"}
    if unknown:
        raise ConfigError(
            f"unknown section {', '.join(sorted(unknown))}: accepted are filter_scheduler, compute"
        )
    config = engine.Config()
    options = dict(document.get("filter_scheduler") or {})
    fields = {f.name for f in dataclasses.fields(engine.Config)}
    for option, value in options.items():
        if option not in fields:
            accepted = ", ".join(sorted(fields))
            raise ConfigError(f"filter_scheduler.{option}: unknown option; accepted are {accepted}")
        options[option] = _convert(f"filter_scheduler.{option}", value, getattr(config, option))
    for name in options.get("enabled_filters", ()):
        if name not in filters.FILTERS:
            raise ConfigError(
                f"filter_scheduler.enabled_filters: unknown filter {name!r}; "
                f"accepted are {', '.join(sorted(filters.FILTERS))}"
            )
    defaults = hosts.Defaults()
    given: dict[str, Any] = {}
    for option, value in (document.get("compute") or {}).items():
        if option not in _COMPUTE:
            raise ConfigError(
                f"compute.{option}: unknown option; accepted are {', '.join(sorted(_COMPUTE))}"
            )
        number = _convert(f"compute.{option}", value, 0.0)
        field = _COMPUTE[option]
        if option == "reserved_host_disk_mb":
            number = number / 1024
        given[field] = type(getattr(defaults, field))(number)
    return dataclasses.replace(config, **options), dataclasses.replace(defaults, **given)
