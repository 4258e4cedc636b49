"""Network, Subnet and Port custom resources as Neutron v2.0 documents, the list filters and
`fields=` of Neutron's API, the quota documents from a Project, and the extensions served.

Pure: a body in, the document Neutron would answer out; ids, names and times as documents gives
them. A CR names what it refers to by its Kubernetes name; the maps given here turn those names
into the OpenStack ids (metadata.uid) Neutron shows. Security groups: neutron_security."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from nimbus.identity import api as identity_api
from nimbus.network import api as network_api
from nimbus.network import render as network_render
from nimbus.openstack import documents


def revision(body: Mapping[str, Any]) -> int:
    """Neutron's revision_number: the object's generation (every change of its spec)."""
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
        "revision_number": revision(body),
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
        "revision_number": revision(body),
    }


def ids(bodies: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Kubernetes name -> OpenStack id, for the objects a document refers to."""
    return {str(b["metadata"]["name"]): documents.uid(b) for b in bodies}


def port(
    body: Mapping[str, Any],
    *,
    project_id: str,
    network_ids: Mapping[str, str],
    subnet_ids: Mapping[str, str],
    group_ids: Mapping[str, str],
    server_ids: Mapping[str, str],
) -> dict[str, Any]:
    """A Neutron v2.0 port: its addresses and MAC as the operator allocated them (before it
    has, only the addresses asked for), device_id the server that uses it (status.deviceID)."""
    spec = network_api.PortSpec.model_validate(body.get("spec") or {})
    status = network_api.PortStatus.model_validate(body.get("status") or {})
    device = status.device_id
    return {
        "id": documents.uid(body),
        "name": documents.display_name(body),
        "network_id": network_ids.get(spec.network, ""),
        "tenant_id": project_id,
        "project_id": project_id,
        "mac_address": status.mac_address or spec.mac_address,
        "admin_state_up": spec.admin_state_up,
        "status": status.status or "DOWN",
        "device_id": server_ids.get(device, device) if device else "",
        "device_owner": (status.device_owner or "compute:nova") if device else "",
        "fixed_ips": [
            {
                "subnet_id": subnet_ids.get(f.subnet or "", f.subnet or ""),
                "ip_address": f.ip_address,
            }
            # before the operator has allocated them, the addresses asked for by name
            for f in status.fixed_ips or [f for f in spec.fixed_ips if f.ip_address]
        ],
        "allowed_address_pairs": [
            {"ip_address": p.ip_address, "mac_address": p.mac_address or status.mac_address}
            for p in spec.allowed_address_pairs
        ],
        "extra_dhcp_opts": [],
        "security_groups": [group_ids[g] for g in spec.security_groups if g in group_ids],
        "port_security_enabled": spec.port_security_enabled,
        "binding:vnic_type": spec.vnic_type,
        "description": spec.description,
        "tags": [],
        "created_at": documents.created(body),
        "updated_at": documents.updated(body),
        "revision_number": revision(body),
    }


# --- what GET on a collection takes: filters and fields -------------------------------------

# Query parameters that are not filters: fields (select), pagination and sorting (page).
_NOT_FILTERS = frozenset({"fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir"})


def _equal(have: Any, wanted: str) -> bool:
    if isinstance(have, bool):
        return wanted.lower() in (("true", "1") if have else ("false", "0"))
    if have is None:
        return wanted in ("", "None", "null")
    return str(have) == wanted


def _fixed_ips_match(have: list[dict[str, Any]], wanted: list[str]) -> bool:
    """`fixed_ips=ip_address=10.0.0.5`, `fixed_ips=subnet_id=<id>` (repeatable): a fixed IP
    with one of the addresses and one of the subnets."""
    asked: dict[str, set[str]] = {}
    for entry in wanted:
        key, _, value = entry.partition("=")
        asked.setdefault(key, set()).add(value)
    addresses, subnets = asked.get("ip_address"), asked.get("subnet_id")
    return any(
        (addresses is None or f["ip_address"] in addresses)
        and (subnets is None or f["subnet_id"] in subnets)
        for f in have
    )


def matches(document: Mapping[str, Any], query: Mapping[str, list[str]]) -> bool:
    """Neutron's list filters: each attribute given equals one of its values (a list attribute
    holds one of them); an attribute the document does not have filters nothing."""
    for key, wanted in query.items():
        if key in _NOT_FILTERS or key not in document:
            continue
        have = document[key]
        if key == "fixed_ips":
            if not _fixed_ips_match(have, wanted):
                return False
        elif isinstance(have, list):
            if not any(str(v) in wanted for v in have):
                return False
        elif not any(_equal(have, w) for w in wanted):
            return False
    return True


def _sort_value(key: str, document: Mapping[str, Any]) -> tuple[bool, str]:
    """A document's value of `key` to sort by: absent ones (None) first."""
    value = document.get(key)
    return value is not None, "" if value is None else str(value)


def page(documents: list[dict[str, Any]], query: Mapping[str, list[str]]
         ) -> list[dict[str, Any]]:  # fmt: skip
    """Neutron's sorting and pagination of a list: `sort_key` (repeatable; by `id` when a page
    is asked for and no key is), `sort_dir` (asc or desc, one per key), then what follows the
    `marker` (an id) in that order, `limit` of them. A marker not in the list ends the listing
    (an empty page): clients page until one is empty, and openstacksdk gives up with "Endless
    pagination loop detected" on a marker that is ignored."""
    keys = query.get("sort_key") or (["id"] if "limit" in query or "marker" in query else [])
    directions = query.get("sort_dir") or []
    ordered = list(documents)
    # One stable sort per key, the last key first: the first key decides, the others break ties.
    for index in reversed(range(len(keys))):
        descending = (directions[index] if index < len(directions) else "asc") == "desc"
        ordered.sort(key=functools.partial(_sort_value, keys[index]), reverse=descending)
    marker = (query.get("marker") or [""])[0]
    if marker:
        ids = [str(d.get("id")) for d in ordered]
        ordered = ordered[ids.index(marker) + 1 :] if marker in ids else []
    limit = (query.get("limit") or [""])[0]
    if limit.isdigit() and int(limit) > 0:
        ordered = ordered[: int(limit)]
    return ordered


def select(document: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """`fields=id&fields=name`: only those attributes (all of them when none is asked)."""
    if not fields:
        return document
    return {k: v for k, v in document.items() if k in fields}


# --- quotas ---------------------------------------------------------------------------------

# Neutron's quota resources -> the Project's quota fields.
QUOTAS = {
    "network": "networks", "subnet": "subnets", "port": "ports", "router": "routers",
    "floatingip": "floating_ips", "security_group": "security_groups",
    "security_group_rule": "security_group_rules",
}  # fmt: skip


def quota(project: Mapping[str, Any] | None) -> dict[str, int]:
    """GET /quotas/{project_id}: the Project's spec.quota (its defaults without a Project)."""
    spec = (project or {}).get("spec") or {}
    limits = identity_api.Quota.model_validate(spec.get("quota") or {})
    return {resource: getattr(limits, field) for resource, field in QUOTAS.items()}


def quota_details(project: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """GET /quotas/{project_id}/details: limit, and used as the operator last counted it."""
    limits = quota(project)
    status = identity_api.ProjectStatus.model_validate(project.get("status") or {})
    out = {}
    for resource, field in QUOTAS.items():
        entry = status.usage.get(identity_api.Quota.model_fields[field].alias or field)
        used = entry.in_use if entry is not None else 0
        out[resource] = {"limit": limits[resource], "used": used, "reserved": 0}
    return out


# --- extensions -----------------------------------------------------------------------------

# (alias, name, description, updated) as Neutron describes each: only what is served.
EXTENSIONS = (
    ("security-group", "security-group", "The security groups extension.",
     "2012-10-05T10:00:00-00:00"),
    ("quotas", "Quota management support", "Expose functions for quotas management per project",
     "2012-07-29T10:00:00-00:00"),
    ("quota_details", "Quota details management support",
     "Expose functions for quotas usage statistics per project", "2017-02-10T10:00:00-00:00"),
    ("standard-attr-description", "standard-attr-description",
     "Extension to add descriptions to standard attributes", "2016-02-10T10:00:00-00:00"),
    ("standard-attr-revisions", "Resource revision numbers",
     "This extension will display the revision number of neutron resources.",
     "2016-04-11T10:00:00-00:00"),
    ("standard-attr-timestamp", "Resource timestamps",
     "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
     "standard attributes.", "2016-09-12T10:00:00-00:00"),
    ("project-id", "project_id field enabled",
     "Extension that indicates that project_id field is enabled.", "2016-09-09T09:09:09-09:09"),
    ("port-security", "Port Security", "Provides port security", "2012-07-23T10:00:00-00:00"),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs",
     "2013-07-23T10:00:00-00:00"),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource.",
     "2015-03-25T10:00:00-00:00"),
    ("net-mtu-writable", "Network MTU (writable)",
     "Provides a writable MTU attribute for a network resource.", "2017-07-12T00:00:00-00:00"),
    ("external-net", "Neutron external network",
     "Adds external network attribute to network resource.", "2013-01-14T10:00:00-00:00"),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks",
     "2012-09-07T10:00:00-00:00"),
    ("router", "Neutron L3 Router",
     "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to "
     "external networks via a NAT gateway.", "2012-07-20T10:00:00-00:00"),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode",
     "Extension of the router abstraction for specifying whether SNAT should occur on the "
     "external gateway", "2013-03-28T10:00:00-00:00"),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router",
     "2013-02-01T10:00:00-00:00"),
    ("extraroute-atomic", "Atomically add/remove extra routes",
     "Edit extra routes of a router on server side by atomically adding/removing extra routes",
     "2019-07-10T10:00:00-00:00"),
    ("l3-ha", "HA Router extension", "Adds HA capability to routers.",
     "2014-04-26T00:00:00-00:00"),
)  # fmt: skip


def extensions() -> list[dict[str, Any]]:
    return [
        {"alias": alias, "name": name, "description": description, "updated": updated,
         "links": []}
        for alias, name, description, updated in EXTENSIONS
    ]  # fmt: skip
