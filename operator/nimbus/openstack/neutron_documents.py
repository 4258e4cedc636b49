"""Network and Subnet custom resources as Neutron v2.0 documents.

Pure: a Network or Subnet body in, the document Neutron would answer out; ids, names and times
as documents gives them."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from nimbus.network import api as network_api
from nimbus.network import render as network_render
from nimbus.openstack import documents


def _revision(body: Mapping[str, Any]) -> int:
    return int((body.get("metadata") or {}).get("generation") or 1)


def network(
    body: Mapping[str, Any], *, subnet_ids: list[str], project_id: str, admin: bool = False
) -> dict[str, Any]:
    """A Neutron v2.0 network; the provider attributes only for admins, as in Neutron."""
    spec = network_api.NetworkSpec.model_validate(body.get("spec") or {})
    status = network_api.NetworkStatus.model_validate(body.get("status") or {})
    document: dict[str, Any] = {
        "id": documents.uid(body),
        "name": documents.display_name(body),
        "status": status.status or ("ACTIVE" if spec.admin_state_up else "DOWN"),
        "admin_state_up": spec.admin_state_up,
        "shared": spec.shared,
        "router:external": spec.external,
        "subnets": list(subnet_ids),
        "mtu": status.mtu or spec.mtu or 1500,
        "tenant_id": project_id,
        "project_id": project_id,
        "port_security_enabled": spec.port_security_enabled,
        "availability_zone_hints": list(spec.availability_zone_hints),
        "availability_zones": [],
        "dns_domain": spec.dns_domain or "",
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "l2_adjacency": True,
        "qos_policy_id": None,
        "is_default": False,
        "description": spec.description,
        "tags": [],
        "created_at": documents.created(body),
        "updated_at": documents.updated(body),
        "revision_number": _revision(body),
    }
    if admin:
        document.update({
            "provider:network_type": spec.provider.network_type,
            "provider:physical_network": spec.provider.physical_network,
            "provider:segmentation_id": spec.provider.segmentation_id,
        })  # fmt: skip
    return document


def _default_pools(spec: network_api.SubnetSpec, gateway: str | None) -> list[dict[str, str]]:
    """Neutron's default allocation pools: the cidr's usable addresses without the gateway."""
    cidr = ipaddress.ip_network(spec.cidr, strict=False)
    first, last = int(cidr.network_address), int(cidr.broadcast_address)
    if cidr.version == 4 and cidr.num_addresses > 2:
        first, last = first + 1, last - 1
    elif cidr.version == 6 and cidr.num_addresses > 1:
        first += 1  # the subnet-router anycast address
    ranges = [(first, last)]
    if gateway is not None and first <= int(ipaddress.ip_address(gateway)) <= last:
        at = int(ipaddress.ip_address(gateway))
        ranges = [(a, b) for a, b in ((first, at - 1), (at + 1, last)) if a <= b]
    return [
        {"start": str(ipaddress.ip_address(a)), "end": str(ipaddress.ip_address(b))}
        for a, b in ranges
    ]


def subnet(body: Mapping[str, Any], *, network_id: str, project_id: str) -> dict[str, Any]:
    """A Neutron v2.0 subnet."""
    spec = network_api.SubnetSpec.model_validate(body.get("spec") or {})
    status = network_api.SubnetStatus.model_validate(body.get("status") or {})
    gateway = None if spec.no_gateway else (status.gateway_ip or network_render.gateway(spec))
    pools = [p.model_dump() for p in status.allocation_pools or spec.allocation_pools]
    return {
        "id": documents.uid(body),
        "name": documents.display_name(body),
        "network_id": network_id,
        "tenant_id": project_id,
        "project_id": project_id,
        "ip_version": spec.ip_version,
        "cidr": spec.cidr,
        "gateway_ip": gateway,
        "allocation_pools": pools or _default_pools(spec, gateway),
        "dns_nameservers": list(spec.dns_nameservers),
        "host_routes": [r.model_dump() for r in spec.host_routes],
        "enable_dhcp": spec.enable_dhcp,
        "ipv6_ra_mode": spec.ipv6_ra_mode,
        "ipv6_address_mode": spec.ipv6_address_mode,
        "subnetpool_id": None,
        "segment_id": None,
        "service_types": [],
        "description": spec.description,
        "tags": [],
        "created_at": documents.created(body),
        "updated_at": documents.updated(body),
        "revision_number": _revision(body),
    }
