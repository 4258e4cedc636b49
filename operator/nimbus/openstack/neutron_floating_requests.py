"""Neutron v2.0 floating IP requests as the spec and merge patch of a FloatingIP, refused in
Neutron's words where Neutron refuses them before it commits: a network that is not external
or has no IPv4 subnet, a port that is not the caller's or has no fixed IPv4 address to take,
no router between the port's subnet and the external network
(ExternalGatewayForFloatingIPNotFound), a fixed IP that has a floating IP on that network
already (FloatingIPPortAlreadyAssociated).

Pure: the request and the caller's project (neutron_router_documents.Project) in. The API
writes the fixed address it chose into spec.fixedIPAddress, as Neutron records it at
association; the operator programs the NAT, asynchronously."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from nimbus.network import api as network_api
from nimbus.openstack import neutron_requests as requests
from nimbus.openstack.faults import Fault
from nimbus.openstack.neutron_router_documents import Project, fixed_address
from nimbus.openstack.neutron_router_requests import bad

_WRITABLE = ("port_id", "fixed_ip_address", "description")
_CREATE_ONLY = ("floating_network_id", "floating_ip_address")
_READ_ONLY = ("id", "status", "router_id", "created_at", "updated_at", "revision_number",
              "port_details")  # fmt: skip
_UNSUPPORTED = ("subnet_id", "qos_policy_id", "qos_network_policy_id", "tags", "dns_name",
                "dns_domain", "port_forwardings")  # fmt: skip


def _ipv4(address: str) -> bool:
    return ipaddress.ip_address(address).version == 4


def _fixed(body: Mapping[str, Any], port: Mapping[str, Any], port_id: str) -> tuple[str, str]:
    """(address, subnet) of the port to take, as Neutron picks it."""
    wanted = body.get("fixed_ip_address")
    if wanted is not None:
        address = requests.ip_address(wanted, "fixed_ip_address")
        if not _ipv4(address):
            raise bad("floatingip", f"Cannot process floating IP association with {address}, "
                      "since that is not an IPv4 address")  # fmt: skip
        found = fixed_address(port, address)
        if found is None:
            raise bad("floatingip", f"Port {port_id} does not have fixed ip {address}")
        return found
    ipv4 = [f for f in Project.fixed_ips(port) if _ipv4(str(f["ipAddress"]))]
    if not ipv4:
        raise bad("floatingip", f"Cannot add floating IP to port {port_id} that has no fixed "
                  "IPv4 addresses")  # fmt: skip
    if len(ipv4) > 1:
        raise bad("floatingip", f"Port {port_id} has multiple fixed IPv4 addresses.  Must "
                  "provide a specific IPv4 address when assigning a floating IP")  # fmt: skip
    return str(ipv4[0]["ipAddress"]), str(ipv4[0].get("subnet") or "")


def association(
    body: Mapping[str, Any], ref: network_api.ExternalNetworkRef, project: Project, *,
    floating: Mapping[str, Any] | None,
) -> dict[str, Any]:  # fmt: skip
    """`port_id` (and `fixed_ip_address`) -> spec.port and spec.fixedIPAddress; {port_id:
    null} dissociates. `floating`: the FloatingIP being changed (none on create)."""
    port_id = body.get("port_id")
    if port_id is None:
        if body.get("fixed_ip_address") is not None:
            raise bad("floatingip", "fixed_ip_address cannot be specified without a port_id")
        return {"port": None, "fixedIPAddress": None}
    port = project.port(str(port_id))
    address, subnet = _fixed(body, port, str(port_id))
    network_id = project.network_id(ref.project, ref.network)
    if project.router_for(ref, subnet) is None:
        subnet_id = project.uid_of(project.subnets, subnet)
        raise Fault(404, f"External network {network_id} is not reachable from subnet "
                    f"{subnet_id}. Therefore, cannot associate Port {port_id} with a Floating "
                    "IP.", style="neutron",
                    kind="ExternalGatewayForFloatingIPNotFound")  # fmt: skip
    name = port["metadata"]["name"]
    mine = floating["metadata"]["name"] if floating is not None else None
    for other in project.floating_ips:
        spec = network_api.FloatingIPSpec.model_validate(other.get("spec") or {})
        if other["metadata"]["name"] == mine or spec.port != name:
            continue
        if (spec.floating_network.network, spec.floating_network.project or project.namespace) \
                != (ref.network, ref.project or project.namespace):  # fmt: skip
            continue
        theirs = fixed_address(port, spec.fixed_ip_address)
        if theirs is not None and theirs[0] == address:
            what = ""
            if floating is not None:
                held = (floating.get("status") or {}).get("floatingIPAddress")
                what = f" {held} ({floating['metadata']['uid']})"
            raise Fault(409, f"Cannot associate floating IP{what} with port {port_id} using "
                        f"fixed IP {address}, as that fixed IP already has a floating IP on "
                        f"external network {network_id}.", style="neutron",
                        kind="FloatingIPPortAlreadyAssociated")  # fmt: skip
    return {"port": name, "fixedIPAddress": address}


def _floating_address(value: Any, network: dict[str, Any], project: Project) -> str:
    """An address asked for (an admin's): on one of the network's subnets, free."""
    address = requests.ip_address(value, "floating_ip_address")
    ident, name = network["metadata"]["uid"], network["metadata"]["name"]
    subnets = [s for s in project.subnets_of(name, project.reference(network))
               if ipaddress.ip_address(address) in project.cidr(s)]  # fmt: skip
    if not subnets:
        raise requests.bad_request(f"IP address {address} is not a valid IP for any of the "
                                   "subnets on the specified network.",
                                   "InvalidIpForNetwork")  # fmt: skip
    held = {project.gateway(s) for s in subnets}
    where = project.reference(network)
    for port in project.ports if where is None else ():  # another project's ports are unseen
        if (port.get("spec") or {}).get("network") == name:
            held |= {str(f.get("ipAddress")) for f in Project.fixed_ips(port)}
    for other in project.floating_ips:
        ref = (other.get("spec") or {}).get("floatingNetwork") or {}
        if (ref.get("network"), ref.get("project")) == (name, where):
            held |= {(other.get("status") or {}).get("floatingIPAddress"),
                     (other.get("spec") or {}).get("floatingIPAddress")}  # fmt: skip
    if address in held:
        raise Fault(409, f"Unable to complete operation for network {ident}. The IP address "
                    f"{address} is in use.", style="neutron", kind="IpAddressInUse")  # fmt: skip
    return address


def floating_ip_create(request: Any, project: Project, *, project_id: str, admin: bool
                       ) -> dict[str, Any]:  # fmt: skip
    """POST /floatingips -> the FloatingIP spec. Choosing the address is an admin's, as in
    Neutron's policy."""
    body = requests.resource(request, "floatingip")
    requests.check_attributes(body, writable=_WRITABLE, create_only=_CREATE_ONLY,
                              read_only=_READ_ONLY, unsupported=_UNSUPPORTED, updating=False,
                              project_id=project_id)  # fmt: skip
    if body.get("floating_network_id") is None:
        raise requests.bad_request("Failed to parse request. Required attribute "
                                   "'floating_network_id' not specified")  # fmt: skip
    ident = str(body["floating_network_id"])
    network = project.network(ident)
    if not (network.get("spec") or {}).get("external"):
        raise bad("floatingip", f"Network {ident} is not a valid external network")
    name, where = network["metadata"]["name"], project.reference(network)
    if not any(project.cidr(s).version == 4 for s in project.subnets_of(name, where)):
        raise bad("floatingip", f"Network {ident} does not contain any IPv4 subnet")
    spec: dict[str, Any] = {"floatingNetwork": {"network": name}}
    if where is not None:
        spec["floatingNetwork"]["project"] = where
    if body.get("floating_ip_address") is not None:
        if not admin:
            raise Fault(403, "(rule:create_floatingip:floating_ip_address) is disallowed by "
                        "policy", style="neutron", kind="PolicyNotAuthorized")  # fmt: skip
        spec["floatingIPAddress"] = _floating_address(body["floating_ip_address"], network,
                                                      project)  # fmt: skip
    requests.put(spec, "description", requests.string(body, "description"))
    ref = network_api.ExternalNetworkRef(network=name, project=where)
    spec.update({k: v for k, v in association(body, ref, project, floating=None).items() if v})
    requests.validated(network_api.FloatingIPSpec, spec, "floatingip")
    return spec


def floating_ip_update(request: Any, floating: Mapping[str, Any], project: Project, *,
                       project_id: str) -> dict[str, Any]:  # fmt: skip
    """PUT /floatingips/{id} -> the merge patch of the FloatingIP: {port_id} associates (again),
    {port_id: null} dissociates, as `floating ip set --port` and `unset --port` send."""
    body = requests.resource(request, "floatingip")
    requests.check_attributes(body, writable=_WRITABLE, create_only=_CREATE_ONLY,
                              read_only=_READ_ONLY, unsupported=_UNSUPPORTED, updating=True,
                              project_id=project_id)  # fmt: skip
    current = network_api.FloatingIPSpec.model_validate(floating.get("spec") or {})
    spec: dict[str, Any] = {}
    requests.put(spec, "description", requests.string(body, "description"))
    if "port_id" in body:
        spec.update(association(body, current.floating_network, project, floating=floating))
    elif body.get("fixed_ip_address") is not None:
        raise bad("floatingip", "fixed_ip_address cannot be specified without a port_id")
    merged = {**(floating.get("spec") or {}), **spec}
    requests.validated(network_api.FloatingIPSpec, {k: v for k, v in merged.items()
                                                    if v is not None}, "floatingip")  # fmt: skip
    return {"spec": spec} if spec else {}
