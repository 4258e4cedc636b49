"""The dependencies between a template's resources, pure: their get_resource and get_attr
references, depends_on, the edges Heat adds itself, and the waves in which they are made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .template import HotError, Template

ROUTER_GATEWAY = "OS::Neutron::RouterGateway"


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


def _key(snippet: Any) -> str | None:
    """A snippet as Heat compares two resources' properties when it adds edges (unresolved:
    `{get_resource: net}` is the same network wherever it is written)."""
    return None if snippet is None else json.dumps(snippet, sort_keys=True)


def _network_key(properties: Any) -> str | None:
    return _key((properties or {}).get("network") or (properties or {}).get("network_id"))


def _gateway_key(properties: Mapping[str, Any]) -> str | None:
    """The network of a Router's external_gateway_info."""
    gateway = properties.get("external_gateway_info")
    return _key(gateway.get("network")) if isinstance(gateway, dict) else None


def _port_on_subnet(
    port: Mapping[str, Any], subnet: str | None, subnet_networks: Mapping[str, str]
) -> bool:
    """Heat's port_on_subnet (FloatingIP.add_dependencies): a fixed IP on the interface's
    subnet; a port with none is on any port interface, and on a subnet of its network (Heat
    asks Neutron; here, a Subnet of the template, `subnet_networks` mapping it to its network)."""
    fixed = port.get("fixed_ips")
    if not isinstance(fixed, list) or not fixed:
        return subnet is None or subnet_networks.get(subnet, "") == _network_key(port)
    return any(
        isinstance(f, dict) and _key(f.get("subnet") or f.get("subnet_id")) == subnet for f in fixed
    )


def _routing(
    resource: Mapping[str, Any],
    properties: Mapping[str, Any],
    definitions: Mapping[str, Mapping[str, Any]],
    subnet_networks: Mapping[str, str],
) -> set[str]:
    """Heat's FloatingIP.add_dependencies (and FloatingIPAssociation's): the Routers with their
    gateway on its floating network, the RouterGateways to that network, and the
    RouterInterfaces on the subnet of a Port it depends on, so that it is routed. An
    association has no floating network of its own: its floating IP waits for the gateway."""
    network = _key(properties.get("floating_network") or properties.get("floating_network_id"))
    depends = resource.get("depends_on") or []
    needs = references(properties) | ({depends} if isinstance(depends, str) else set(depends))
    ports = [
        definitions[n].get("properties") or {}
        for n in sorted(needs)
        if n in definitions and definitions[n].get("type") == "OS::Neutron::Port"
    ]
    out = set()
    for name, other in definitions.items():
        theirs = other.get("properties")
        if not isinstance(theirs, dict):
            continue
        if other.get("type") == "OS::Neutron::Router":
            if network is not None and _gateway_key(theirs) == network:
                out.add(name)
        elif other.get("type") == ROUTER_GATEWAY:
            if network is not None and _network_key(theirs) == network:
                out.add(name)
        elif other.get("type") == "OS::Neutron::RouterInterface":
            subnet = _key(theirs.get("subnet") or theirs.get("subnet_id"))
            if any(
                isinstance(p, dict) and _port_on_subnet(p, subnet, subnet_networks) for p in ports
            ):
                out.add(name)
    return out


def _router_key(properties: Any) -> str | None:
    """The router of a RouterInterface or RouterGateway (Heat's `router`, or `router_id`)."""
    return _key((properties or {}).get("router") or (properties or {}).get("router_id"))


def _gateway(
    properties: Mapping[str, Any], definitions: Mapping[str, Mapping[str, Any]]
) -> set[str]:
    """Heat's RouterGateway.add_dependencies: the RouterInterfaces of its router (Heat gives a
    router its interfaces first, and takes its gateway away first)."""
    router = _router_key(properties)
    return {
        name
        for name, other in definitions.items()
        if other.get("type") == "OS::Neutron::RouterInterface"
        and router is not None
        and isinstance(other.get("properties"), dict)
        and _router_key(other["properties"]) == router
    }


def _implicit(definitions: Mapping[str, Mapping[str, Any]]) -> dict[str, set[str]]:
    """The edges Heat adds itself (its add_dependencies): a Port, and a Server on a network
    (not a port), depend on the Subnets of that network, so that they get an address; a Router
    on the Subnets of its gateway's network, and a RouterGateway on those and on its router's
    RouterInterfaces; a FloatingIP on the Routers and RouterGateways with their gateway on its
    network, and it and a FloatingIPAssociation on the RouterInterfaces on their port's subnet,
    so that it is routed."""
    subnets: dict[str, set[str]] = {}
    # a Subnet of the template, as get_resource names it -> its network
    subnet_networks: dict[str, str] = {}
    for name, resource in definitions.items():
        if resource.get("type") == "OS::Neutron::Subnet":
            key = _network_key(resource.get("properties"))
            if key is not None:
                subnets.setdefault(key, set()).add(name)
                subnet_networks[str(_key({"get_resource": name}))] = key
    out: dict[str, set[str]] = {}
    for name, resource in definitions.items():
        properties = resource.get("properties") or {}
        if not isinstance(properties, dict):
            continue
        kind = resource.get("type")
        if kind == "OS::Neutron::Port":
            keys = [_network_key(properties)]
        elif kind == "OS::Nova::Server":
            networks = properties.get("networks")
            keys = [
                _network_key(net)
                for net in (networks if isinstance(networks, list) else [])
                if isinstance(net, dict) and not net.get("port")
            ]
        elif kind == "OS::Neutron::Router":
            keys = [_gateway_key(properties)]
        elif kind == ROUTER_GATEWAY:  # and on the subnets of its network, as a Router
            keys = [_network_key(properties)]
            out[name] = _gateway(properties, definitions) - {name}
        elif kind in ("OS::Neutron::FloatingIP", "OS::Neutron::FloatingIPAssociation"):
            out[name] = _routing(resource, properties, definitions, subnet_networks) - {name}
            continue
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
