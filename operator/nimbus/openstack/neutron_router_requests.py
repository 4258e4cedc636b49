"""Neutron v2.0 router and floating IP requests as the specs and merge patches of Router and
FloatingIP, with Neutron's refusals in Neutron's words: what Neutron refuses before it commits
anything is refused here, synchronously, from the caller's project as read
(neutron_router_documents.Project), not left to the operator's status.

Pure. A reference to another project's network is the operator's to resolve: a request names
networks, subnets and ports of the caller's own project, as every other Neutron request of
this API does."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from nimbus.network import api as network_api
from nimbus.openstack import neutron_requests as requests
from nimbus.openstack.faults import Fault
from nimbus.openstack.neutron_router_documents import Project, fixed_address, interface_port_id

_WRITABLE = ("name", "admin_state_up", "external_gateway_info", "routes", "description", "ha")
_READ_ONLY = ("id", "status", "created_at", "updated_at", "revision_number",
              "availability_zones")  # fmt: skip
_UNSUPPORTED = ("distributed", "availability_zone_hints", "flavor_id", "tags", "enable_ndp_proxy",
                "conntrack_helpers", "external_gateways", "enable_default_route_bfd",
                "enable_default_route_ecmp")  # fmt: skip
_GATEWAY_KEYS = ("network_id", "enable_snat", "external_fixed_ips", "qos_policy_id")
MAX_ROUTES = 30  # Neutron's max_routes


def bad(resource: str, message: str) -> Fault:
    """Neutron's BadRequest of a resource: `Bad router request: ….`"""
    return Fault(400, f"Bad {resource} request: {message}.", style="neutron", kind="BadRequest")


def _policy(action: str, key: str) -> Fault:
    return Fault(403, f"(rule:{action}:{key}) is disallowed by policy", style="neutron",
                 kind="PolicyNotAuthorized")  # fmt: skip


def _conflict(message: str, kind: str) -> Fault:
    return Fault(409, message, style="neutron", kind=kind)


def _external(project: Project, ident: str, resource: str) -> dict[str, Any]:
    network = project.network(ident)
    if not (network.get("spec") or {}).get("external"):
        why = "is not an external network" if resource == "router" else \
            "is not a valid external network"  # fmt: skip
        raise bad(resource, f"Network {ident} {why}")
    return network


# --- routers --------------------------------------------------------------------------------


def _external_fixed_ips(value: list[Any], network: dict[str, Any], project: Project
                        ) -> list[dict[str, str]]:  # fmt: skip
    subnets = project.subnets_of(network["metadata"]["name"], project.reference(network))
    out = []
    for entry in value:
        if not isinstance(entry, Mapping) or not ({"subnet_id", "ip_address"} & set(entry)):
            raise requests.invalid("external_fixed_ips", f"'{entry}' is not a fixed IP: give "
                                   "subnet_id, ip_address or both")  # fmt: skip
        subnet = project.subnet(str(entry["subnet_id"])) if entry.get("subnet_id") else None
        if subnet is not None and subnet not in subnets:
            raise requests.bad_request(
                f"Invalid input for operation: Failed to create port on network "
                f"{network['metadata']['uid']}, because fixed_ips included invalid subnet "
                f"{subnet['metadata']['uid']}.", "InvalidInput")  # fmt: skip
        fixed: dict[str, str] = {}
        if entry.get("ip_address") is not None:
            address = requests.ip_address(entry["ip_address"], "external_fixed_ips")
            inside = [s for s in ([subnet] if subnet else subnets)
                      if ipaddress.ip_address(address) in project.cidr(s)]  # fmt: skip
            if not inside:
                raise requests.bad_request(f"IP address {address} is not a valid IP for any of the "
                                           "subnets on the specified network.",
                                           "InvalidIpForNetwork")  # fmt: skip
            subnet = inside[0]
            if address == project.gateway(subnet):
                raise bad("router", f"External IP {address} is the same as the gateway IP")
            fixed["ipAddress"] = address
        assert subnet is not None
        fixed["subnet"] = subnet["metadata"]["name"]
        out.append(fixed)
    return out


def _gateway(value: Any, project: Project, *, current: Mapping[str, Any] | None, admin: bool,
             action: str) -> dict[str, Any] | None:  # fmt: skip
    """external_gateway_info -> spec.externalGateway, every key given (a merge patch replaces
    the whole gateway); None (or {}) clears it. Without enable_snat, SNAT is on, as Neutron
    resets it; without external_fixed_ips, a gateway kept on its network keeps its address."""
    if value is None or value == {}:
        return None
    if not isinstance(value, Mapping) or "network_id" not in value or set(value) - {
            *_GATEWAY_KEYS}:  # fmt: skip
        given = set(value) if isinstance(value, Mapping) else value
        raise requests.invalid("external_gateway_info", f"Validation of dictionary's keys "
                               f"failed. Expected keys: {{'network_id'}} Provided keys: "
                               f"{given}")  # fmt: skip
    if value.get("qos_policy_id") is not None:
        raise requests.invalid("external_gateway_info", "qos_policy_id: Nimbus does not serve "
                               "QoS policies; leave it out")  # fmt: skip
    network = _external(project, str(value["network_id"]), "router")
    snat = requests.boolean(value, "enable_snat")
    fixed = requests.listed(value, "external_fixed_ips")
    if not admin and snat is False:
        raise _policy(action, "external_gateway_info:enable_snat")
    if not admin and fixed:
        raise _policy(action, "external_gateway_info:external_fixed_ips")
    name, where = network["metadata"]["name"], project.reference(network)
    gateway: dict[str, Any] = {"network": name, "project": where,
                               "enableSNAT": True if snat is None else snat,
                               "externalFixedIPs": None}  # fmt: skip
    if fixed:
        gateway["externalFixedIPs"] = _external_fixed_ips(fixed, network, project)
    elif fixed is None and current and (current.get("network"), current.get("project")) == (
        name, where
    ):  # fmt: skip
        gateway["externalFixedIPs"] = current.get("externalFixedIPs") or None
    return gateway


def _own_addresses(router: Mapping[str, Any], project: Project) -> set[str]:
    addresses = {a for _, a in project.interface_subnets(router)}
    leg = ((router.get("status") or {}).get("externalGateway") or {}).get("ipAddress")
    return addresses | ({leg} if leg else set())


def _routes(value: Any, router: Mapping[str, Any], gateway: Mapping[str, Any] | None,
            project: Project) -> list[dict[str, str]]:  # fmt: skip
    """Neutron's extra routes: each nexthop on one of the router's subnets (its legs' and the
    external network's), none of them the router's own address."""
    routes = requests.listed({"routes": value}, "routes") or []
    if len(routes) > MAX_ROUTES:
        raise requests.bad_request(f"Unable to complete operation for {router['metadata']['uid']}. "
                                   f"The number of routes exceeds the maximum {MAX_ROUTES}.",
                                   "RoutesExhausted")  # fmt: skip
    parsed: list[dict[str, str]] = []
    for route in routes:
        if not isinstance(route, Mapping) or set(route) != {"destination", "nexthop"}:
            raise requests.invalid(
                "routes",
                f"Validation of dictionary's keys failed. Expected "
                f"keys: {{'destination', 'nexthop'}} Provided keys: {route}",
            )
        entry = {"destination": str(requests.cidr(route["destination"], "routes")),
                 "nexthop": requests.ip_address(route["nexthop"], "routes")}  # fmt: skip
        if entry in parsed:
            raise requests.invalid("routes", f"Duplicate hostroute '{entry}'")
        parsed.append(entry)
    connected = [project.cidr(s) for s, _ in project.interface_subnets(router)]
    if gateway and not gateway.get("project"):
        connected += [
            project.cidr(s) for s in project.subnets_of(gateway["network"], gateway.get("project"))
        ]
    own = _own_addresses(router, project)
    for entry in parsed:
        nexthop = ipaddress.ip_address(entry["nexthop"])
        reason = ("the nexthop is used by router" if entry["nexthop"] in own else
                  None if any(nexthop in c for c in connected) else
                  "the nexthop is not connected with router")  # fmt: skip
        if reason:
            raise requests.bad_request(f"Invalid format for routes: {parsed}, {reason}",
                                       "InvalidRoutes")  # fmt: skip
    return parsed


def _common(body: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    requests.put(spec, "admin_state_up", requests.boolean(body, "admin_state_up"))
    requests.put(spec, "description", requests.string(body, "description"))
    return spec


def router_create(request: Any, project: Project, *, project_id: str, admin: bool
                  ) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """POST /routers -> (the router's OpenStack name, its Router spec)."""
    body = requests.resource(request, "router")
    requests.check_attributes(body, writable=_WRITABLE, read_only=_READ_ONLY,
                              unsupported=_UNSUPPORTED, updating=False,
                              project_id=project_id)  # fmt: skip
    if "routes" in body:  # extraroute's routes are PUT only
        raise requests.bad_request("Attribute 'routes' not allowed in POST")
    spec = _common(body)
    ha = requests.boolean(body, "ha")
    if ha and not admin:
        raise _policy("create_router", "ha")
    requests.put(spec, "ha", ha)
    gateway = _gateway(body.get("external_gateway_info"), project, current=None, admin=admin,
                       action="create_router")  # fmt: skip
    if gateway is not None:
        spec["externalGateway"] = {k: v for k, v in gateway.items() if v is not None}
    requests.validated(network_api.RouterSpec, spec, "router")
    return requests.string(body, "name") or "", spec


def router_update(request: Any, router: Mapping[str, Any], project: Project, *, project_id: str,
                  admin: bool) -> dict[str, Any]:  # fmt: skip
    """PUT /routers/{id} -> the merge patch of the Router (`external_gateway_info` and
    `routes` replaced whole)."""
    body = requests.resource(request, "router")
    requests.check_attributes(body, writable=_WRITABLE, read_only=_READ_ONLY,
                              unsupported=_UNSUPPORTED, updating=True,
                              project_id=project_id)  # fmt: skip
    current = dict(router.get("spec") or {})
    spec = _common(body)
    ha = requests.boolean(body, "ha")
    if ha is not None and not admin:
        raise _policy("update_router", "ha")
    if ha is not None and ha != bool(current.get("ha", False)):
        raise requests.invalid("ha", f"'{ha}': a router's ha cannot change in Nimbus; create a "
                               "new router")  # fmt: skip
    gateway = current.get("externalGateway")
    if "external_gateway_info" in body:
        gateway = _gateway(body["external_gateway_info"], project,
                           current=current.get("externalGateway"), admin=admin,
                           action="update_router")  # fmt: skip
        held = current.get("externalGateway") or {}
        moved = gateway is None or (gateway["network"], gateway["project"]) != (
            held.get("network"), held.get("project"))  # fmt: skip
        if held and moved and project.serving(router):
            network = project.network_id(held.get("project"), str(held.get("network")))
            raise _conflict(f"Gateway cannot be updated for router {router['metadata']['uid']}, "
                            f"since a gateway to external network {network} is required by one "
                            "or more floating IPs.",
                            "RouterExternalGatewayInUseByFloatingIp")  # fmt: skip
        spec["externalGateway"] = gateway
    if "routes" in body:
        spec["routes"] = _routes(body["routes"], router, gateway, project)
    merged = {**current, **{k: v for k, v in spec.items() if v is not None}}
    if gateway is not None:
        merged["externalGateway"] = {k: v for k, v in gateway.items() if v is not None}
    requests.validated(network_api.RouterSpec, merged, "router")
    patch: dict[str, Any] = {"spec": spec} if spec else {}
    name = requests.string(body, "name")
    if name is not None:
        patch["metadata"] = requests.name_patch(router, name)
    return patch


def extra_routes(request: Any, router: Mapping[str, Any], project: Project, *, add: bool
                 ) -> list[dict[str, str]]:  # fmt: skip
    """PUT add_extraroutes / remove_extraroutes (extraroute-atomic) -> the router's routes."""
    body = requests.resource(request, "router")
    if set(body) != {"routes"}:
        raise requests.bad_request("Only the 'routes' attribute is allowed in this request")
    spec = router.get("spec") or {}
    asked = requests.listed(body, "routes") or []
    kept = [dict(r) for r in spec.get("routes") or []]
    if add:
        wanted = kept + [r for r in asked if r not in kept]
    else:
        wanted = [r for r in kept if r not in asked]
    return _routes(wanted, router, spec.get("externalGateway"), project)


# --- interfaces -----------------------------------------------------------------------------


def _interface_request(body: Any, *, removing: bool) -> tuple[str | None, str | None]:
    if not isinstance(body, Mapping) or not ({"subnet_id", "port_id"} & set(body)):
        raise bad("router", "Either subnet_id or port_id must be specified")
    if not removing and "subnet_id" in body and "port_id" in body:
        raise bad("router", "Cannot specify both subnet-id and port-id")
    subnet, port = body.get("subnet_id"), body.get("port_id")
    return (str(subnet) if subnet else None), (str(port) if port else None)


def add_interface(request: Any, router: Mapping[str, Any], project: Project
                  ) -> tuple[list[dict[str, str]], dict[str, Any]]:  # fmt: skip
    """PUT add_router_interface -> (the router's interfaces, what Neutron answers of the new
    one: subnet_ids, network_id, port_id)."""
    subnet_id, port_id = _interface_request(request, removing=False)
    router_id = str(router["metadata"]["uid"])
    if subnet_id is not None:
        subnet = project.subnet(subnet_id)
        gateway = project.gateway(subnet)
        if gateway is None:
            raise bad("router", "Subnet for router interface must have a gateway IP")
        legs = [(subnet, gateway)]
        entry = {"subnet": subnet["metadata"]["name"]}
        port_id = interface_port_id(router_id, subnet_id)
    else:
        assert port_id is not None
        port = project.port(port_id)
        network_id = project.uid_of(project.networks, port["spec"]["network"])
        device = project.device_of(port)
        if device:
            raise _conflict(f"Unable to complete operation on port {port_id} for network "
                            f"{network_id}. Port already has an attached device {device}.",
                            "PortInUse")  # fmt: skip
        legs = [(s, str(f["ipAddress"])) for f in Project.fixed_ips(port)
                if (s := project.subnet_named(f.get("subnet"))) is not None]  # fmt: skip
        if not legs:
            raise bad("router", "Router port must have at least one fixed IP")
        if sum(1 for s, _ in legs if project.cidr(s).version == 4) > 1:
            raise bad("router", "Cannot have multiple IPv4 subnets on router port")
        entry = {"port": port["metadata"]["name"]}
    _check_new_legs(router, legs, project, by_subnet=subnet_id is not None)
    interfaces = [*((router.get("spec") or {}).get("interfaces") or []), entry]
    network = legs[0][0]["spec"]["network"]
    return interfaces, {"subnet_ids": [s["metadata"]["uid"] for s, _ in legs],
                        "network_id": project.uid_of(project.networks, network) or "",
                        "port_id": port_id}  # fmt: skip


def _check_new_legs(router: Mapping[str, Any], legs: list[tuple[dict[str, Any], str]],
                    project: Project, *, by_subnet: bool) -> None:  # fmt: skip
    """Neutron's refusals of a new interface: a subnet the router is on already, one that
    overlaps the router's others (its external network's too), or another router's."""
    held = [s for s, _ in project.interface_subnets(router)]
    gateway = (router.get("spec") or {}).get("externalGateway") or {}
    if gateway and not gateway.get("project"):
        held += project.subnets_of(gateway["network"], gateway.get("project"))
    for subnet, address in legs:
        ident = subnet["metadata"]["uid"]
        if any(h["metadata"]["uid"] == ident for h in held):
            raise bad("router", f"Router already has a port on subnet {ident}")
        cidr = project.cidr(subnet)
        for other in held:
            theirs = project.cidr(other)
            if theirs.version == cidr.version and cidr.overlaps(theirs):
                raise bad("router", f"Cidr {cidr} of subnet {ident} overlaps with cidr {theirs} "
                          f"of subnet {other['metadata']['uid']}")  # fmt: skip
        if not by_subnet:
            continue
        name = subnet["metadata"]["name"]
        for other_router in project.routers:
            if other_router["metadata"]["uid"] != router["metadata"]["uid"] and any(
                i.get("subnet") == name
                for i in (other_router.get("spec") or {}).get("interfaces") or []
            ):
                raise _conflict(f"IP address {address} already allocated in subnet {ident}",
                                "IpAddressAlreadyAllocated")  # fmt: skip


def remove_interface(request: Any, router: Mapping[str, Any], project: Project
                     ) -> tuple[list[dict[str, str]], dict[str, Any]]:  # fmt: skip
    """PUT remove_router_interface -> (the router's interfaces left, what Neutron answers of
    the one removed). Refused while a floating IP or a route needs it, as in Neutron."""
    subnet_id, port_id = _interface_request(request, removing=True)
    router_id = str(router["metadata"]["uid"])
    interfaces = [dict(i) for i in (router.get("spec") or {}).get("interfaces") or []]
    found: tuple[dict[str, str], list[dict[str, Any]], str] | None = None
    for entry in interfaces:
        if entry.get("subnet"):
            subnet = project.subnet_named(entry["subnet"])
            if subnet is None:
                continue
            ident = interface_port_id(router_id, subnet["metadata"]["uid"])
            if (port_id or ident) == ident and (subnet_id or subnet["metadata"]["uid"]) == \
                    subnet["metadata"]["uid"]:  # fmt: skip
                found = (entry, [subnet], ident)
        else:
            port = project.port_named(entry.get("port"))
            if port is None or (port_id and port["metadata"]["uid"] != port_id):
                continue
            subnets = [s for f in Project.fixed_ips(port)
                       if (s := project.subnet_named(f.get("subnet"))) is not None]  # fmt: skip
            if subnet_id and subnet_id not in {s["metadata"]["uid"] for s in subnets}:
                if port_id:
                    raise requests.bad_request(f"Subnet {subnet_id} could not be found on port "
                                               f"{port_id}.", "SubnetMismatchForPort")  # fmt: skip
                continue
            found = (entry, subnets, str(port["metadata"]["uid"]))
        if found is not None:
            break
    if found is None:
        if port_id:
            raise Fault(404, f"Router {router_id} does not have an interface with id {port_id}",
                        style="neutron", kind="RouterInterfaceNotFound")  # fmt: skip
        assert subnet_id is not None
        project.subnet(subnet_id)  # Neutron's 404 for a subnet that is not there at all
        raise Fault(404, f"Router {router_id} has no interface on subnet {subnet_id}",
                    style="neutron", kind="RouterInterfaceNotFoundForSubnet")  # fmt: skip
    entry, subnets, ident = found
    _check_unused(router, subnets, project)
    network = subnets[0]["spec"]["network"] if subnets else ""
    return [i for i in interfaces if i is not entry], {
        "subnet_ids": [s["metadata"]["uid"] for s in subnets],
        "network_id": project.uid_of(project.networks, network) or "",
        "port_id": ident,
    }


def _check_unused(router: Mapping[str, Any], subnets: list[dict[str, Any]], project: Project
                  ) -> None:  # fmt: skip
    router_id = router["metadata"]["uid"]
    routes = (router.get("spec") or {}).get("routes") or []
    for subnet in subnets:
        cidr, ident = project.cidr(subnet), subnet["metadata"]["uid"]
        for floating in project.serving(router):
            port = project.port_named(floating["spec"]["port"])
            fixed = fixed_address(port, floating["spec"].get("fixedIPAddress")) if port else None
            if fixed is not None and ipaddress.ip_address(fixed[0]) in cidr:
                raise _conflict(f"Router interface for subnet {ident} on router {router_id} "
                                "cannot be deleted, as it is required by one or more floating "
                                "IPs.", "RouterInterfaceInUseByFloatingIP")  # fmt: skip
        if any(ipaddress.ip_address(r["nexthop"]) in cidr for r in routes):
            raise _conflict(f"Router interface for subnet {ident} on router {router_id} cannot be "
                            "deleted, as it is required by one or more routes.",
                            "RouterInterfaceInUseByRoute")  # fmt: skip
