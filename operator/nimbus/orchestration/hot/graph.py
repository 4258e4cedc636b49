"""The dependencies between a template's resources, pure: their get_resource and get_attr
references, depends_on, the edges Heat adds itself, and the waves in which they are made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .template import HotError, Template


def references(node: Any) -> set[str]:
    """The resources a snippet refers to with get_resource or get_attr."""
    found: set[str] = set()
    if isinstance(node, list):
        for value in node:
            found |= references(value)
    elif isinstance(node, dict):
        if len(node) == 1 and "get_resource" in node and isinstance(node["get_resource"], str):
            found.add(node["get_resource"])
        elif len(node) == 1 and "get_attr" in node and isinstance(node["get_attr"], list):
            if node["get_attr"] and isinstance(node["get_attr"][0], str):
                found.add(node["get_attr"][0])
            found |= references(node["get_attr"][1:])
        else:
            for value in node.values():
                found |= references(value)
    return found


def dependencies(template: Template) -> dict[str, set[str]]:
    """Each resource's dependencies: its get_resource and get_attr references, and depends_on."""
    return graph(template.resources)


def _network_key(properties: Any) -> str | None:
    network = (properties or {}).get("network") or (properties or {}).get("network_id")
    return None if network is None else json.dumps(network, sort_keys=True)


def _implicit(definitions: Mapping[str, Mapping[str, Any]]) -> dict[str, set[str]]:
    """The edges Heat adds itself: a Port, and a Server on a network (not a port), depend on
    the Subnets of that network, so that they get an address (Heat's add_dependencies)."""
    subnets: dict[str, set[str]] = {}
    for name, resource in definitions.items():
        if resource.get("type") == "OS::Neutron::Subnet":
            key = _network_key(resource.get("properties"))
            if key is not None:
                subnets.setdefault(key, set()).add(name)
    out: dict[str, set[str]] = {}
    for name, resource in definitions.items():
        properties = resource.get("properties") or {}
        if not isinstance(properties, dict):
            continue
        if resource.get("type") == "OS::Neutron::Port":
            keys = [_network_key(properties)]
        elif resource.get("type") == "OS::Nova::Server":
            networks = properties.get("networks")
            keys = [
                _network_key(net)
                for net in (networks if isinstance(networks, list) else [])
                if isinstance(net, dict) and not net.get("port")
            ]
        else:
            continue
        for key in keys:
            if key is not None:
                out.setdefault(name, set()).update(subnets.get(key, set()) - {name})
    return out


def graph(definitions: Mapping[str, Mapping[str, Any]]) -> dict[str, set[str]]:
    """The dependencies of resource definitions (a template's, or a stack's with its groups
    expanded: a group's `members` are its dependencies too); refused when a reference is
    unknown or the dependencies go round."""
    names = set(definitions)
    implicit = _implicit(definitions)
    out: dict[str, set[str]] = {}
    for name, resource in definitions.items():
        needs = references(resource.get("properties")) | references(resource.get("metadata"))
        depends = resource.get("depends_on") or []
        needs |= {depends} if isinstance(depends, str) else set(depends)
        needs |= set(resource.get("members") or [])
        needs |= implicit.get(name, set())
        unknown = needs - names
        if unknown:
            bad = sorted(unknown)[0]
            raise HotError(f'The specified reference "{bad}" (in {name}) is incorrect.')
        out[name] = needs
    order(out)
    return out


def order(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Waves of resources: each wave's dependencies are all in earlier waves."""
    left = {name: set(needs) for name, needs in graph.items()}
    waves: list[list[str]] = []
    done: set[str] = set()
    while left:
        wave = sorted(name for name, needs in left.items() if needs <= done)
        if not wave:
            cycle = ", ".join(sorted(left))
            raise HotError(f"Circular Dependency Found: {cycle}")
        waves.append(wave)
        done |= set(wave)
        for name in wave:
            del left[name]
    return waves
