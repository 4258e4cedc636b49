"""Placement's pre-flight in the operator: with placement enabled, a server no node could ever
take is refused with Nova's "No valid host was found" before its VM is made."""

from __future__ import annotations

import os
import pathlib

import yaml

from nimbus.compute import render, status
from nimbus.placement import config as placement_config
from nimbus.placement import engine, hosts
from nimbus.runtime import cache
from nimbus.scheduler import inventory
from nimbus.scheduler import request as scheduler_request


def placement_enabled() -> bool:
    """Servers use the nimbus-scheduler profile when placement is enabled (a setting)."""
    return os.environ.get("NIMBUS_PLACEMENT", "false").lower() in ("1", "true", "yes")


def no_valid_host(view: cache.View, inputs: render.ServerInputs) -> list[str] | None:
    """Placement's pre-flight: Nova's filter results when no node could ever take the server
    (its flavor bigger than every node, say), else None. The request is the server's own."""
    config, defaults = placement_settings()
    return inventory.preflight(
        view.list("nodes"), scheduler_request.server_request(inputs), config, defaults
    )


def placement_settings() -> tuple[engine.Config, hosts.Defaults]:
    """Placement's configuration file ($NIMBUS_PLACEMENT_CONFIG), as the extender reads it."""
    path = os.environ.get("NIMBUS_PLACEMENT_CONFIG")
    if not path:
        return placement_config.parse(None)
    try:
        document = yaml.safe_load(pathlib.Path(path).read_text())
        return placement_config.parse(document)
    except (OSError, yaml.YAMLError, placement_config.ConfigError):
        return placement_config.parse(None)  # the extender reports the bad file


class NoValidHostError(Exception):
    """Placement's pre-flight found no node that could ever take the server."""

    def __init__(self, results: list[str]) -> None:
        super().__init__(status.NO_VALID_HOST)
        self.results = results
