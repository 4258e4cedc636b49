"""Heat's Neutron resource types as Nimbus's network kinds, pure: a network, subnet, port,
security group or router is its object; a security group rule and a router interface add an item
to their group's or router's list; a router gateway and a floating IP association set their
router's `externalGateway` and their floating IP's `port`. resources.py dispatches to these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nimbus.orchestration import made
from nimbus.orchestration.hot.template import HotError


def _net(resource: str, p: Mapping[str, Any], stack: made.Stack) -> made.Made:
    spec = {
        "shared": p.get("shared"),
        "adminStateUp": p.get("admin_state_up"),
        "portSecurityEnabled": p.get("port_security_enabled"),
    }
    return _object("Network", resource, stack, spec)


def _subnet(resource: str, p: Mapping[str, Any], stack: made.Stack) -> made.Made:
    spec = {
        "network": p.get("network") or p.get("network_id"),
        "cidr": p.get("cidr"),
        "ipVersion": p.get("ip_version"),
        "gatewayIP": p.get("gateway_ip") or None,
        "noGateway": True if p.get("gateway_ip") == "" else None,
        "allocationPools": p.get("allocation_pools"),
        "dnsNameservers": p.get("dns_nameservers"),
        "enableDhcp": p.get("enable_dhcp"),
        "hostRoutes": p.get("host_routes"),
    }
    return _object("Subnet", resource, stack, spec)


def _fixed_ips(items: Any) -> list[dict[str, Any]] | None:
    """Heat's fixed_ips (a port's, a router gateway's external_fixed_ips) as Nimbus's."""
    fixed = [
        {"subnet": f.get("subnet") or f.get("subnet_id"), "ipAddress": f.get("ip_address")}
        for f in items or []
    ]
    return [{k: v for k, v in f.items() if v} for f in fixed] or None


def _port(resource: str, p: Mapping[str, Any], stack: made.Stack) -> made.Made:
    spec = {
        "network": p.get("network") or p.get("network_id"),
        "fixedIPs": _fixed_ips(p.get("fixed_ips")),
        "macAddress": p.get("mac_address"),
        "securityGroups": p.get("security_groups"),
        "portSecurityEnabled": p.get("port_security_enabled"),
    }
    return _object("Port", resource, stack, spec)


def _rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    out = {
        "direction": rule.get("direction"),
        "ethertype": rule.get("ethertype"),
        "protocol": rule.get("protocol"),
        "portRangeMin": rule.get("port_range_min"),
        "portRangeMax": rule.get("port_range_max"),
        "remoteIPPrefix": rule.get("remote_ip_prefix"),
        "remoteGroup": rule.get("remote_group_id") or rule.get("remote_group"),
    }
    return {k: v for k, v in out.items() if v is not None}


def _security_group(resource: str, p: Mapping[str, Any], stack: made.Stack) -> made.Made:
    spec = {"description": p.get("description"), "rules": [_rule(r) for r in p.get("rules") or []]}
    return _object("SecurityGroup", resource, stack, spec)


def _security_group_rule(resource: str, p: Mapping[str, Any], stack: made.Stack) -> made.Made:
    return made.Append("SecurityGroup", str(p.get("security_group")), "rules", _rule(p))


def external_network(value: Any) -> dict[str, str]:
    """An external network as a template names it: `public` is the stack's project's, and
    `admin/public` the network public of project admin (external networks are usually an
    admin project's; a Kubernetes name has no `/`)."""
    project, _, network = str(value).rpartition("/")
    return {"network": network, "project": project} if project else {"network": network}


def _router(resource: str, p: Mapping[str, Any], stack: made.Stack) -> made.Made:
    spec: dict[str, Any] = {"adminStateUp": p.get("admin_state_up"), "ha": p.get("ha")}
    gateway = p.get("external_gateway_info")
    if gateway:
        where = f"{resource}.properties.external_gateway_info"
        network = made.required(where, gateway, "network")
        wanted = {
            "enableSNAT": gateway.get("enable_snat"),
            "externalFixedIPs": _fixed_ips(gateway.get("external_fixed_ips")),
        }
        spec["externalGateway"] = {
            **external_network(network),
            **{k: v for k, v in wanted.items() if v is not None},
        }
    return _object("Router", resource, stack, spec)


def _router_interface(resource: str, p: Mapping[str, Any], stack: made.Stack) -> made.Made:
    """An interface added to its router's `interfaces`, as Neutron's add_interface_router."""
    router = made.required(f"{resource}.properties", p, "router", "router_id")
    subnet = p.get("subnet") or p.get("subnet_id")
    port = p.get("port") or p.get("port_id")
    if bool(subnet) == bool(port):
        which = (
            "Cannot define the following properties at the same time"
            if subnet
            else "At least one of the following properties must be specified"
        )
        raise HotError(f"Property error: {resource}.properties: {which}: subnet, port.")
    item = {"subnet": str(subnet)} if subnet else {"port": str(port)}
    return made.Append("Router", str(router), "interfaces", item)


def _floating_ip(resource: str, p: Mapping[str, Any], stack: made.Stack) -> made.Made:
    network = made.required(f"{resource}.properties", p, "floating_network", "floating_network_id")
    if p.get("fixed_ip_address") and not p.get("port_id"):
        raise HotError(
            f"Property error: {resource}.properties: fixed_ip_address cannot be specified "
            "without port_id."
        )
    spec = {
        "floatingNetwork": external_network(network),
        "floatingIPAddress": p.get("floating_ip_address"),
        "port": p.get("port_id"),
        "fixedIPAddress": p.get("fixed_ip_address"),
    }
    return _object("FloatingIP", resource, stack, spec)


def _router_gateway(resource: str, p: Mapping[str, Any], stack: made.Stack) -> made.Made:
    """Heat's RouterGateway (deprecated since 2014.1, hidden since Heat 5.0.0, still in older
    templates): its router's `externalGateway`, as Neutron's add_gateway_router. Heat's reference
    id is `<router>:<network>`."""
    where = f"{resource}.properties"
    router = made.required(where, p, "router_id")
    network = made.required(where, p, "network", "network_id")
    gateway = ("network", external_network(network))
    return made.assign(
        "Router", str(router), {"externalGateway": gateway}, resource, f"{router}:{network}"
    )


def _floating_ip_association(resource: str, p: Mapping[str, Any], stack: made.Stack) -> made.Made:
    """Heat's FloatingIPAssociation: its floating IP's `port` and `fixedIPAddress`, as Neutron's
    update_floatingip. With no fixed_ip_address, one an earlier association left is unset: the
    floating IP takes the port's first address, as Neutron picks it."""
    where = f"{resource}.properties"
    floating_ip = made.required(where, p, "floatingip_id")
    fields = {
        "port": ("port_id", str(made.required(where, p, "port_id"))),
        "fixedIPAddress": ("fixed_ip_address", p.get("fixed_ip_address")),
    }
    # Heat's reference id is its own database's id of the resource; Nimbus has none, and names
    # it as an appended item: the object it changes, and the resource.
    reference = f"{floating_ip}/{resource}"
    return made.assign("FloatingIP", str(floating_ip), fields, resource, reference)


# A type that sets a field of another resource's object -> the property naming that resource,
# its type, the property of it that sets the same field, and the field.
_SETS = {
    "OS::Neutron::RouterGateway": (
        "router_id", "OS::Neutron::Router", "external_gateway_info", "externalGateway"),
    "OS::Neutron::FloatingIPAssociation": (
        "floatingip_id", "OS::Neutron::FloatingIP", "port_id", "port"),
}  # fmt: skip


def check_assignments(definitions: Mapping[str, Any]) -> None:
    """Refuse a RouterGateway on a Router of the template that has its external_gateway_info,
    and a FloatingIPAssociation on a FloatingIP that has its port_id: the stack would set one
    field two ways, each pass undoing the other."""
    for name, definition in definitions.items():
        mine = definition.get("properties")
        if definition.get("type") not in _SETS or not isinstance(mine, Mapping):
            continue
        prop, kind, theirs, field = _SETS[definition["type"]]
        named = mine.get(prop)
        target = named.get("get_resource") if isinstance(named, dict) else None
        other = definitions.get(target) if isinstance(target, str) else None
        if not isinstance(other, Mapping) or other.get("type") != kind:
            continue
        properties = other.get("properties")
        if isinstance(properties, Mapping) and properties.get(theirs) is not None:
            raise HotError(
                f"Resource {name}: {target} has {theirs} already, which sets its {field} as "
                f"this {definition['type']} does: write one of them"
            )


def _object(kind: str, resource: str, stack: made.Stack, spec: dict[str, Any]) -> made.Made:
    return made.Apply(
        made.manifest(kind, made.physical_name(stack.name, resource), stack, resource, spec)
    )


TYPES: dict[str, made.Render] = {
    "OS::Neutron::Net": _net,
    "OS::Neutron::Subnet": _subnet,
    "OS::Neutron::Port": _port,
    "OS::Neutron::SecurityGroup": _security_group,
    "OS::Neutron::SecurityGroupRule": _security_group_rule,
    "OS::Neutron::Router": _router,
    "OS::Neutron::RouterInterface": _router_interface,
    "OS::Neutron::RouterGateway": _router_gateway,
    "OS::Neutron::FloatingIP": _floating_ip,
    "OS::Neutron::FloatingIPAssociation": _floating_ip_association,
}
