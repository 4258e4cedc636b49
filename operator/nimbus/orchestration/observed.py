"""Heat resources read back from the live Nimbus objects, pure: a resource's attributes with
Heat's names (a group's too), whether it is complete, failed or in progress, which of Heat's
actions a pass takes on it, and whether a change to it is one Heat makes by replacing it.
resources.py writes what these objects should be; this module reads what they are.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import pydantic

from nimbus.api import kinds
from nimbus.orchestration import made

# -- attributes ---------------------------------------------------------------------------------


def attributes(kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The resource's attributes, Heat's names, from its Nimbus object's status."""
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    name = obj.get("metadata", {}).get("name")
    if kind == "OS::Nova::Server":
        addresses = status.get("addresses") or {}
        first = next(
            (a["addr"] for entries in addresses.values() for a in entries if a.get("version") == 4),
            None,
        )
        return {
            "name": name,
            "first_address": first or "",
            "addresses": addresses,
            "networks": {net: [a["addr"] for a in entries] for net, entries in addresses.items()},
            "accessIPv4": first or "",
            "instance_name": name,
            "show": status,
        }
    if kind == "OS::Neutron::Port":
        return {
            "fixed_ips": [
                {"subnet_id": f.get("subnet"), "ip_address": f.get("ipAddress")}
                for f in status.get("fixedIPs") or []
            ],
            "mac_address": status.get("macAddress"),
            "name": name,
            "network_id": spec.get("network"),
            "status": status.get("status"),
            "show": status,
        }
    if kind == "OS::Neutron::Net":
        return {"name": name, "status": status.get("status"), "show": status}
    if kind == "OS::Neutron::Subnet":
        return {
            "name": name,
            "cidr": spec.get("cidr"),
            "gateway_ip": status.get("gatewayIP") or spec.get("gatewayIP"),
            "network_id": spec.get("network"),
            "show": status,
        }
    if kind == "OS::Cinder::Volume":
        return {
            "size": status.get("sizeGB") or spec.get("sizeGB"),
            "status": status.get("status"),
            "attachments": status.get("attachments") or [],
            "show": status,
        }
    if kind == "OS::Nova::KeyPair":
        return {"public_key": status.get("publicKey"), "name": name, "show": status}
    if kind in ("OS::Glance::WebImage", "OS::Glance::Image"):
        return {"name": name, "status": status.get("status"), "show": status}
    if kind == "OS::Neutron::Router":
        return {
            "name": name,
            "status": status.get("status"),
            "admin_state_up": spec.get("adminStateUp", True),
            "external_gateway_info": _gateway_info(spec, status),
            "show": status,
        }
    if kind == "OS::Neutron::FloatingIP":
        network = spec.get("floatingNetwork") or {}
        return {
            "floating_ip_address": status.get("floatingIPAddress"),
            "fixed_ip_address": status.get("fixedIPAddress"),
            "port_id": status.get("port") or spec.get("port"),
            "router_id": status.get("router"),
            "floating_network_id": _network_named(network),
            "show": status,
        }
    if kind in OCTAVIA:
        return {"name": name, **OCTAVIA[kind](spec, status), **_octavia_statuses(status),
                "show": status}  # fmt: skip
    if obj.get("kind") == "Stack":  # a nested stack: its outputs are its attributes
        outputs = {o["outputKey"]: o.get("outputValue") for o in status.get("outputs") or []}
        return {**outputs, "outputs": outputs, "name": name, "show": status}
    return {"name": name, "show": status}


def _network_named(ref: Mapping[str, Any]) -> str | None:
    """An external network as a template names it (resources.external_network's inverse)."""
    if not ref.get("network"):
        return None
    return f"{ref['project']}/{ref['network']}" if ref.get("project") else str(ref["network"])


def _gateway_info(spec: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any] | None:
    """Neutron's external_gateway_info: the gateway's network, SNAT, and its address."""
    wanted = spec.get("externalGateway")
    if not wanted:
        return None
    leg = status.get("externalGateway") or {}
    fixed = [{"subnet_id": leg.get("subnet"), "ip_address": leg.get("ipAddress")}]
    return {
        "network_id": _network_named(wanted),
        "enable_snat": wanted.get("enableSNAT", True),
        "external_fixed_ips": fixed if leg.get("ipAddress") else [],
    }


def _octavia_statuses(status: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "provisioning_status": status.get("provisioningStatus"),
        "operating_status": status.get("operatingStatus"),
    }


# Heat's attributes of the Octavia types, each from its object (Heat's `pools`, `listeners`,
# `members` and `healthmonitor_id` are other objects' and not read here).
OCTAVIA: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]] = {
    "OS::Octavia::LoadBalancer": lambda spec, status: {
        "vip_address": status.get("vipAddress"),
        "vip_port_id": status.get("vipPort"),
        "vip_subnet_id": spec.get("vipSubnet"),
    },
    "OS::Octavia::Listener": lambda spec, status: {
        "loadbalancers": [{"id": spec.get("loadBalancer")}],
        "default_pool_id": spec.get("defaultPool"),
    },
    "OS::Octavia::Pool": lambda spec, status: {
        "loadbalancers": [{"id": spec.get("loadBalancer")}],
    },
    "OS::Octavia::PoolMember": lambda spec, status: {
        "address": spec.get("address"),
        "pool_id": spec.get("pool"),
    },
    "OS::Octavia::HealthMonitor": lambda spec, status: {"pools": [{"id": spec.get("pool")}]},
}


def group_attribute(members: list[str], values: Mapping[str, Any], path: list[Any]) -> Any:
    """get_attr on a ResourceGroup: `refs` (the members' references), `resource.<i>.<attr>`,
    `attributes <attr>` (index -> value), or `<attr>` (a list, one per member). `values` maps a
    member's name to its attributes (and `_ref`, its reference)."""
    if not path:
        return {"refs": [values[m].get("_ref") for m in members]}
    first = str(path[0])
    if first == "refs":
        return [values[m].get("_ref") for m in members]
    if first.startswith("resource."):
        parts = first.split(".", 2)
        member = members[int(parts[1])] if int(parts[1]) < len(members) else None
        if member is None:
            return None
        attrs = values[member]
        rest = ([parts[2]] if len(parts) > 2 else []) + list(path[1:])
        return attrs.get(rest[0]) if rest else attrs.get("_ref")
    if first == "attributes" and len(path) > 1:
        return {str(i): values[m].get(str(path[1])) for i, m in enumerate(members)}
    return [values[m].get(first) for m in members]


# -- completion ---------------------------------------------------------------------------------


# Whether a resource is done: its child ACTIVE or available, as Heat waits for it.
READY_WORDS = {"ACTIVE", "active", "available", "in-use", "DOWN"}


def ready(obj: Mapping[str, Any]) -> bool | str:
    """True when done; a reason (str) when failed; False while in progress."""
    status = obj.get("status") or {}
    if obj.get("kind") == "Stack":  # a nested stack is done when it is, failed when it failed
        stack_status = str(status.get("stackStatus") or "")
        generation = (obj.get("metadata") or {}).get("generation")
        if status.get("observedGeneration") != generation:
            return False
        if stack_status.endswith("FAILED") or stack_status.startswith("ROLLBACK"):
            return str(status.get("stackStatusReason") or stack_status)
        return stack_status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    # Octavia's objects have no status word: Heat waits for their provisioning_status ACTIVE.
    word = status.get("status") or status.get("provisioningStatus")
    # Heat takes a floating IP as made once Neutron has given it its address; its association
    # is the router's to program, and an ERROR there is the router not caught up yet, or
    # Neutron's refusal, which the FloatingIP's status says.
    addressed = obj.get("kind") == "FloatingIP" and bool(status.get("floatingIPAddress"))
    if word in ("ERROR", "error", "killed") and not addressed:
        fault = status.get("fault") or {}
        why = next((c.get("message") for c in status.get("conditions") or []
                    if c.get("type") == "Ready" and c.get("message")), None)  # fmt: skip
        return str(fault.get("message") or why or f"the resource is {word}")
    generation = (obj.get("metadata") or {}).get("generation")
    if status.get("observedGeneration", generation) != generation:
        return False  # its controller has not yet seen the change (a resize, say)
    if obj.get("kind") == "FloatingIP":
        return addressed
    if word in READY_WORDS:
        return True
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    ready_condition = conditions.get("Ready")
    # Kinds without a status word (flavors, key pairs, groups) are done once Ready.
    return word is None and ready_condition is not None and ready_condition.get("status") == "True"


def holds(kind_name: str, fields: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    """Whether an object's spec holds the values a resource assigned (None: the field unset),
    the kind's defaults filled in on both sides, as the API server fills them in."""
    return all(
        _as_stored(kind_name, field, value) == _as_stored(kind_name, field, spec.get(field))
        for field, value in fields.items()
    )


def _as_stored(kind_name: str, field: str, value: Any) -> Any:
    adapter = made.spec_field(kind_name, field)
    try:
        parsed = adapter.validate_python(value)
    except pydantic.ValidationError:
        return value
    return adapter.dump_python(parsed, by_alias=True, mode="json", exclude_none=True)


# -- actions ------------------------------------------------------------------------------------


def action(stack_action: str, *, made: bool, changed: bool, before: str | None) -> str:
    """Heat's action word for one resource in a pass of `stack_action`. In an update, a resource
    the update makes (new, or a replacement) is CREATE, one it changes in place UPDATE, and one
    it leaves keeps the action of its last status (`before`): CREATE_COMPLETE stays so."""
    if stack_action != "UPDATE":
        return stack_action
    if not made:
        return "CREATE"
    if changed:
        return "UPDATE"
    kept = (before or "").split("_", 1)[0]
    return kept if kept and kept != "INIT" else "CREATE"


def waiting(before: str | None) -> str:
    """The status of a resource a pass does not reach yet (what it needs is not complete): the
    last complete one it had, as Heat lists a resource an update has not come to, else
    INIT_COMPLETE."""
    word = before or ""
    return word if word.endswith("_COMPLETE") else "INIT_COMPLETE"


# -- replacement --------------------------------------------------------------------------------


@functools.cache
def immutable_fields(kind_name: str) -> frozenset[str]:
    """The spec fields of a kind that cannot change once set (its CRD refuses the change): a
    change to one of them is one Heat makes by replacing the resource."""
    kind = kinds.by_kind(kind_name)
    spec = kind.model_fields["spec"].annotation
    out = set()
    for name, field in spec.model_fields.items():  # type: ignore[union-attr]
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        rules = extra.get("x-kubernetes-validations") or []
        if any(r.get("rule") == "self == oldSelf" for r in rules):
            out.add(field.alias or name)
    return frozenset(out)


def needs_replacement(manifest: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The immutable fields the wanted spec changes on the live object (with the kind's
    defaults applied to both): a non-empty list means Heat's UpdateReplace."""
    kind_name = manifest["kind"]
    kind = kinds.by_kind(kind_name)
    model = kind.model_fields["spec"].annotation

    def full(spec: Any) -> dict[str, Any]:
        try:
            return model.model_validate(spec).model_dump(  # type: ignore[no-any-return,union-attr]
                by_alias=True, mode="json", exclude_none=True
            )
        except pydantic.ValidationError:
            return dict(spec)

    wanted, live = full(manifest["spec"]), full(current.get("spec") or {})
    return sorted(
        field
        for field in immutable_fields(kind_name)
        if wanted.get(field) != live.get(field) and (field in wanted or field in live)
    )
