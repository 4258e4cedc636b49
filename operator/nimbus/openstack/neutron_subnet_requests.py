"""Neutron v2.0 subnet create and update requests as the spec and merge patch of a Subnet.

Pure: the request body and the project's networks and subnets in; the OpenStack name and the
Subnet spec (create), or the merge patch (update), out; or Neutron's refusal in Neutron's words:
an overlapping cidr, allocation pools outside the cidr, overlapping or holding the gateway."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from nimbus.api import meta
from nimbus.network import api as network_api
from nimbus.openstack import neutron_requests as requests
from nimbus.openstack.faults import Fault

_SUBNET_WRITABLE = (
    "name",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "description",
)
_SUBNET_CREATE_ONLY = ("network_id", "ip_version", "cidr", "ipv6_ra_mode", "ipv6_address_mode")
_SUBNET_READ_ONLY = ("id", "created_at", "updated_at", "revision_number")
_SUBNET_UNSUPPORTED = (
    "subnetpool_id",
    "prefixlen",
    "use_default_subnetpool",
    "segment_id",
    "service_types",
    "tags",
    "dns_publish_fixed_ip",
)
_IPV6_MODES = ["slaac", "dhcpv6-stateful", "dhcpv6-stateless"]


def _pool_text(start: str, end: str) -> str:
    return f"{start}-{end}"


def _pools(
    value: list[Any], network: ipaddress.IPv4Network | ipaddress.IPv6Network, gateway: str | None
) -> list[dict[str, str]]:
    """allocation_pools, checked as Neutron checks them: inside the cidr, start <= end, no two
    overlapping, the gateway in none of them."""
    pools: list[tuple[int, int, str]] = []
    out = []
    for entry in value:
        if not isinstance(entry, Mapping) or not {"start", "end"} <= set(entry):
            raise requests.invalid(
                "allocation_pools", f"'{entry}' is not a pool: give {{start, end}}"
            )
        start = requests.ip_address(entry["start"], "allocation_pools")
        end = requests.ip_address(entry["end"], "allocation_pools")
        text = _pool_text(start, end)
        first, last = ipaddress.ip_address(start), ipaddress.ip_address(end)
        if {first.version, last.version} != {network.version} or int(first) > int(last):
            raise requests.bad_request(
                f"The allocation pool {text} is not valid.", "InvalidAllocationPool"
            )
        if first not in network or last not in network:
            raise requests.bad_request(
                f"The allocation pool {text} spans beyond the subnet cidr {network}.",
                "OutOfBoundsAllocationPool",
            )
        for low, high, other in pools:
            if int(first) <= high and low <= int(last):
                raise Fault(
                    409,
                    f"Found overlapping allocation pools: {other} {text} for subnet {network}.",
                    style="neutron",
                    kind="OverlappingAllocationPools",
                )
        if gateway is not None and int(first) <= int(ipaddress.ip_address(gateway)) <= int(last):
            raise Fault(
                409,
                f"Gateway ip {gateway} conflicts with allocation pool {text}.",
                style="neutron",
                kind="GatewayConflictWithAllocationPools",
            )
        pools.append((int(first), int(last), text))
        out.append({"start": start, "end": end})
    return out


def _subnet_fields(
    body: Mapping[str, Any],
    network: ipaddress.IPv4Network | ipaddress.IPv6Network,
    current: Mapping[str, Any],
) -> dict[str, Any]:
    """The writable attributes of a subnet of `network` (current: its spec, when updating)."""
    spec: dict[str, Any] = {}
    if "gateway_ip" in body:
        if body["gateway_ip"] is None:
            spec.update(noGateway=True, gatewayIP=None)
        else:
            gateway = requests.ip_address(body["gateway_ip"], "gateway_ip")
            if ipaddress.ip_address(gateway) not in network:
                raise requests.invalid(
                    "gateway_ip",
                    f"'{gateway}' is not inside the subnet's cidr "
                    f"{network}: give an address of it, or null for no gateway",
                )
            spec.update(gatewayIP=gateway, noGateway=False)
    pools = requests.listed(body, "allocation_pools")
    if pools is not None or "gatewayIP" in spec:
        given = spec.get("gatewayIP") if "gatewayIP" in spec else current.get("gatewayIP")
        if given is None and not spec.get("noGateway", current.get("noGateway")):
            given = str(next(network.hosts(), network.network_address))
        checked = (current.get("allocationPools") or []) if pools is None else pools
        spec_pools = _pools(checked, network, given)
        if pools is not None:
            spec["allocationPools"] = spec_pools
    servers = requests.listed(body, "dns_nameservers")
    if servers is not None:
        if len(servers) > 5:
            raise requests.bad_request(
                "Unable to complete operation for subnet. The number of DNS "
                "nameservers exceeds the limit 5.",
                "DNSNameServersExhausted",
            )
        addresses = [requests.ip_address(s, "dns_nameservers") for s in servers]
        if len(set(addresses)) != len(addresses):
            raise requests.invalid("dns_nameservers", f"'{servers}' holds a nameserver twice")
        spec["dnsNameservers"] = addresses
    routes = requests.listed(body, "host_routes")
    if routes is not None:
        if len(routes) > 20:
            raise requests.bad_request(
                "Unable to complete operation for subnet. The number of host "
                "routes exceeds the limit 20.",
                "HostRoutesExhausted",
            )
        out = []
        for route in routes:
            if not isinstance(route, Mapping) or not {"destination", "nexthop"} <= set(route):
                raise requests.invalid(
                    "host_routes", f"'{route}' is not a route: give {{destination, nexthop}}"
                )
            out.append(
                {
                    "destination": str(requests.cidr(route["destination"], "host_routes")),
                    "nexthop": requests.ip_address(route["nexthop"], "host_routes"),
                }
            )
        spec["hostRoutes"] = out
    requests.put(spec, "enable_dhcp", requests.boolean(body, "enable_dhcp"))
    requests.put(spec, "description", requests.string(body, "description"))
    return spec


def overlap(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network, others: Iterable[Mapping[str, Any]]
) -> bool:
    """Whether `network` overlaps the cidr of one of the network's other subnets."""
    for other in others:
        try:
            theirs = ipaddress.ip_network(str((other.get("spec") or {}).get("cidr")), strict=False)
        except ValueError:
            continue
        if theirs.version == network.version and theirs.overlaps(network):
            return True
    return False


def subnet_create(
    request: Any,
    *,
    project_id: str,
    networks: Mapping[str, str],
    subnets: Iterable[Mapping[str, Any]],
) -> tuple[str, dict[str, Any]]:
    """POST /subnets -> (the subnet's OpenStack name, its Subnet spec). `networks`: the
    project's networks, id -> Kubernetes name; `subnets`: its Subnets."""
    body = requests.resource(request, "subnet")
    requests.check_attributes(
        body,
        writable=_SUBNET_WRITABLE,
        create_only=_SUBNET_CREATE_ONLY,
        read_only=_SUBNET_READ_ONLY,
        unsupported=_SUBNET_UNSUPPORTED,
        updating=False,
        project_id=project_id,
    )
    for required in ("network_id", "ip_version", "cidr"):
        if body.get(required) is None:
            raise requests.bad_request(
                f"Failed to parse request. Required attribute '{required}' not specified"
            )
    network_id = str(body["network_id"])
    if network_id not in networks:
        raise requests.not_found("Network", network_id)
    version = requests.integer(body, "ip_version", 4, 6)
    if version not in (4, 6):
        raise requests.invalid("ip_version", f"'{body['ip_version']}' is not in [4, 6]")
    block = requests.cidr(body["cidr"], "cidr")
    if block.version != version:
        raise requests.invalid(
            "cidr",
            f"'{body['cidr']}' is an IPv{block.version} cidr and ip_version "
            f"is {version}: give ip_version {block.version}",
        )
    if block.prefixlen == 0:
        raise requests.bad_request(
            "Invalid input for operation: 0 is not allowed as CIDR prefix length.", "InvalidInput"
        )
    name = networks[network_id]
    if overlap(block, [s for s in subnets if (s.get("spec") or {}).get("network") == name]):
        raise requests.bad_request(
            f"Invalid input for operation: Requested subnet with cidr: {block} for "
            f"network: {network_id} overlaps with another subnet.",
            "InvalidInput",
        )
    spec: dict[str, Any] = {"network": name, "ipVersion": version, "cidr": str(block)}
    spec.update(_subnet_fields(body, block, {}))
    for mode in ("ipv6_ra_mode", "ipv6_address_mode"):
        if body.get(mode) is not None:
            if version != 6:
                raise requests.invalid(
                    mode, f"'{body[mode]}' is for ip_version 6 only; this subnet is ip_version 4"
                )
            if body[mode] not in _IPV6_MODES:
                raise requests.invalid(mode, f"'{body[mode]}' is not in {_IPV6_MODES}")
            spec[meta.camel(mode)] = body[mode]
    requests.validated(network_api.SubnetSpec, spec, "subnet")
    return requests.string(body, "name") or "", spec


def subnet_update(request: Any, subnet: Mapping[str, Any], *, project_id: str) -> dict[str, Any]:
    """PUT /subnets/{id} -> the merge patch of the Subnet."""
    body = requests.resource(request, "subnet")
    requests.check_attributes(
        body,
        writable=_SUBNET_WRITABLE,
        create_only=_SUBNET_CREATE_ONLY,
        read_only=_SUBNET_READ_ONLY,
        unsupported=_SUBNET_UNSUPPORTED,
        updating=True,
        project_id=project_id,
    )
    current = subnet.get("spec") or {}
    block = ipaddress.ip_network(str(current.get("cidr")), strict=False)
    patch: dict[str, Any] = {}
    spec = _subnet_fields(body, block, current)
    if spec:
        merged = {k: v for k, v in {**current, **spec}.items() if v is not None}
        requests.validated(network_api.SubnetSpec, merged, "subnet")
        patch["spec"] = spec
    name = requests.string(body, "name")
    if name is not None:
        patch["metadata"] = requests.name_patch(subnet, name)
    return patch
