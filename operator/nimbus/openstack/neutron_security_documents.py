"""SecurityGroup custom resources as Neutron v2.0 security groups and rules, and Neutron's
security group and rule requests as their specs and merge patches.

Pure. A SecurityGroup holds its rules (spec.rules); a rule's OpenStack id is derived from its
group's uid and what the rule says (a version 5 UUID), so it is stable while the rule exists and
needs no storage. Rules refer to a remote group by its Kubernetes name; the maps given here turn
names into ids. Refusals in Neutron's words."""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from nimbus.network import api as network_api
from nimbus.openstack import documents, neutron_documents
from nimbus.openstack import neutron_requests as requests
from nimbus.openstack.faults import Fault

DEFAULT = "default"
# The namespace of rule ids (uuid5 of the group's uid and the rule).
RULE_IDS = uuid.UUID("6d1f3c2a-9b47-5e0a-8c3d-2f4b6a8e1c05")
PROTOCOLS = [None, "any", "tcp", "udp", "sctp", "icmp", "ipv6-icmp", "icmpv6"]
_PORT_PROTOCOLS = ("tcp", "udp", "sctp")
_ICMP = ("icmp", "ipv6-icmp", "icmpv6")
_IPV6_ONLY = ("ipv6-icmp", "icmpv6", "58")
# What a protocol number means where the kind needs the name (a port range).
_BY_NUMBER = {"6": "tcp", "17": "udp", "132": "sctp", "1": "icmp", "58": "ipv6-icmp"}
_ANYWHERE = ("0.0.0.0/0", "::/0")


def not_found(ident: str, *, rule: bool = False) -> Fault:
    what = "Security group rule" if rule else "Security group"
    kind = "SecurityGroupRuleNotFound" if rule else "SecurityGroupNotFound"
    return Fault(404, f"{what} {ident} does not exist", style="neutron", kind=kind)


def in_use(message: str, kind: str) -> Fault:
    return Fault(409, message, style="neutron", kind=kind)


# --- documents ------------------------------------------------------------------------------


def _key(rule: Mapping[str, Any]) -> str:
    """What a rule says, without its description: equal keys are one rule to Neutron."""
    said = network_api.SecurityGroupRule.model_validate(rule).to_api()
    said.pop("description", None)
    if said.get("remoteIPPrefix") in _ANYWHERE:
        said.pop("remoteIPPrefix")
    return json.dumps(said, sort_keys=True)


def rule_ids(group: Mapping[str, Any]) -> list[str]:
    """The OpenStack ids of the group's rules, in order (a second identical rule, which only
    kubectl can make, gets an id of its own)."""
    seen: dict[str, int] = {}
    out = []
    for rule in (group.get("spec") or {}).get("rules") or []:
        key = _key(rule)
        count = seen[key] = seen.get(key, -1) + 1
        out.append(str(uuid.uuid5(RULE_IDS, f"{documents.uid(group)}\0{key}\0{count}")))
    return out


def _normalized(prefix: str | None) -> str | None:
    return str(ipaddress.ip_network(prefix, strict=False)) if prefix else None


def rules(
    group: Mapping[str, Any], *, project_id: str, group_ids: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The group's rules as Neutron's security group rules."""
    spec = network_api.SecurityGroupSpec.model_validate(group.get("spec") or {})
    out = []
    for ident, rule in zip(rule_ids(group), spec.rules, strict=True):
        out.append({
            "id": ident,
            "tenant_id": project_id,
            "project_id": project_id,
            "security_group_id": documents.uid(group),
            "direction": rule.direction,
            "ethertype": rule.ethertype,
            "protocol": None if rule.protocol == "any" else rule.protocol,
            "port_range_min": rule.port_range_min,
            "port_range_max": rule.port_range_max,
            "remote_ip_prefix": rule.remote_ip_prefix,
            "normalized_cidr": _normalized(rule.remote_ip_prefix),
            "remote_group_id": group_ids.get(rule.remote_group) if rule.remote_group else None,
            "remote_address_group_id": None,
            "description": rule.description,
            "created_at": documents.created(group),
            "updated_at": documents.updated(group),
            "revision_number": neutron_documents.revision(group),
        })  # fmt: skip
    return out


def security_group(
    group: Mapping[str, Any], *, project_id: str, group_ids: Mapping[str, str]
) -> dict[str, Any]:
    """A Neutron v2.0 security group, its rules inside."""
    spec = network_api.SecurityGroupSpec.model_validate(group.get("spec") or {})
    return {
        "id": documents.uid(group),
        "name": documents.display_name(group),
        "description": spec.description,
        "stateful": spec.stateful,
        "shared": False,
        "tenant_id": project_id,
        "project_id": project_id,
        "security_group_rules": rules(group, project_id=project_id, group_ids=group_ids),
        "tags": [],
        "created_at": documents.created(group),
        "updated_at": documents.updated(group),
        "revision_number": neutron_documents.revision(group),
    }


# --- security group requests ----------------------------------------------------------------

_GROUP_WRITABLE = ("name", "description", "stateful")
_GROUP_READ_ONLY = ("id", "security_group_rules", "created_at", "updated_at",
                    "revision_number", "shared")  # fmt: skip
_GROUP_UNSUPPORTED = ("tags",)


def _not_default(name: str) -> None:
    if name.lower() == DEFAULT:
        raise in_use("Default security group already exists.",
                     "SecurityGroupDefaultAlreadyExists")  # fmt: skip


def _group_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    description = requests.string(body, "description")
    if description is not None:
        spec["description"] = description
    stateful = requests.boolean(body, "stateful")
    if stateful is not None:
        spec["stateful"] = stateful
    return spec


def group_create(request: Any, *, project_id: str) -> tuple[str, dict[str, Any]]:
    """POST /security-groups -> (its OpenStack name, the SecurityGroup spec): with Neutron's two
    rules of a new group, all egress over IPv4 and over IPv6."""
    body = requests.resource(request, "security_group")
    requests.check_attributes(body, writable=_GROUP_WRITABLE, read_only=_GROUP_READ_ONLY,
                              unsupported=_GROUP_UNSUPPORTED, updating=False,
                              project_id=project_id)  # fmt: skip
    name = requests.string(body, "name") or ""
    _not_default(name)
    spec = {**_group_fields(body), "rules": [
        {"direction": "egress", "ethertype": "IPv4"}, {"direction": "egress", "ethertype": "IPv6"},
    ]}  # fmt: skip
    return name, spec


def group_update(request: Any, group: Mapping[str, Any], *, project_id: str) -> dict[str, Any]:
    """PUT /security-groups/{id} -> the merge patch of the SecurityGroup."""
    body = requests.resource(request, "security_group")
    requests.check_attributes(body, writable=_GROUP_WRITABLE, read_only=_GROUP_READ_ONLY,
                              unsupported=_GROUP_UNSUPPORTED, updating=True,
                              project_id=project_id)  # fmt: skip
    patch: dict[str, Any] = {}
    spec = _group_fields(body)
    if spec:
        patch["spec"] = spec
    name = requests.string(body, "name")
    if name is not None and name != documents.display_name(group):
        if group["metadata"]["name"] == DEFAULT:
            raise in_use("Updating default security group not allowed.",
                         "SecurityGroupCannotUpdateDefault")  # fmt: skip
        _not_default(name)
        patch["metadata"] = requests.name_patch(group, name)
    return patch


# --- rule requests --------------------------------------------------------------------------

_RULE_WRITABLE = (
    "security_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "description",
)
_RULE_READ_ONLY = ("id", "created_at", "updated_at", "revision_number", "normalized_cidr",
                   "belongs_to_default_sg")  # fmt: skip
_RULE_UNSUPPORTED = ("remote_address_group_id",)


def _protocol(value: Any) -> str:
    """Neutron's convert_protocol, over the protocols a SecurityGroup holds."""
    if value is None or value in ("", "any"):
        return "any"
    text = str(value).lower()
    if text.isdigit() and 0 <= int(text) <= 255:
        return str(int(text))
    if text in PROTOCOLS:
        return text
    raise requests.bad_request(f"Security group rule protocol {value} not supported. Only "
                               f"protocol values {PROTOCOLS} and integer representations "
                               "[0 to 255] are supported.",
                               "SecurityGroupRuleInvalidProtocol")  # fmt: skip


def _port(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        port = int(value)
        if isinstance(value, bool | float) or not 0 <= port <= 65535:
            raise ValueError
    except (TypeError, ValueError):
        raise requests.bad_request(f"Invalid value for port {value}",
                                   "SecurityGroupInvalidPortValue") from None  # fmt: skip
    return port


def _port_range(protocol: str, low: int | None, high: int | None) -> tuple[int | None, int | None]:
    """Neutron's _validate_port_range and _make_canonical_port_range."""
    if low is None and high is None:
        return None, None
    if protocol == "any":
        raise requests.bad_request("Must also specify protocol if port range is given.",
                                   "SecurityGroupProtocolRequiredWithPorts")  # fmt: skip
    name = _BY_NUMBER.get(protocol, protocol)
    if name in _PORT_PROTOCOLS:
        if low == 0 or high == 0:
            raise requests.bad_request("Invalid value for port 0", "SecurityGroupInvalidPortValue")
        if low is None or high is None or low > high:
            raise requests.bad_request(
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                "SecurityGroupInvalidPortRange",
            )
        if (low, high) == (1, 65535):
            return None, None
    elif name in _ICMP:
        for value, field, attr in ((low, "type", "port_range_min"),
                                   (high, "code", "port_range_max")):  # fmt: skip
            if value is not None and not 0 <= value <= 255:
                raise requests.bad_request(f"Invalid value for ICMP {field} ({attr}) {value}. It "
                                           "must be 0 to 255.",
                                           "SecurityGroupInvalidIcmpValue")  # fmt: skip
        if low is None:
            raise requests.bad_request(f"ICMP code (port-range-max) {high} is provided but ICMP "
                                       "type (port-range-min) is missing.",
                                       "SecurityGroupMissingIcmpType")  # fmt: skip
    else:
        raise requests.bad_request(f"Ports cannot be specified for protocol {protocol}. Ports "
                                   "are only supported for TCP, UDP, SCTP, ICMP and IPV6-ICMP.",
                                   "SecurityGroupInvalidProtocolForPort")  # fmt: skip
    return low, high


def _group_named(groups: Iterable[dict[str, Any]], ident: str) -> dict[str, Any]:
    found = next((g for g in groups if documents.uid(g) == ident), None)
    if found is None:
        raise not_found(ident)
    return found


def rule_create(
    request: Any, groups: list[dict[str, Any]], *, project_id: str, limit: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """POST /security-group-rules -> (the SecurityGroup it goes into, the rule in the kind's
    shape). `groups`: the project's SecurityGroups; `limit`: its security_group_rule quota."""
    body = requests.resource(request, "security_group_rule")
    requests.check_attributes(body, writable=_RULE_WRITABLE, read_only=_RULE_READ_ONLY,
                              unsupported=_RULE_UNSUPPORTED, updating=False,
                              project_id=project_id)  # fmt: skip
    for required in ("security_group_id", "direction"):
        if body.get(required) is None:
            raise requests.bad_request(f"Failed to parse request. Required attribute "
                                       f"'{required}' not specified")  # fmt: skip
    group = _group_named(groups, str(body["security_group_id"]))
    direction = body["direction"]
    if direction not in ("ingress", "egress"):
        raise requests.invalid("direction", f"'{direction}' is not in ['ingress', 'egress']")
    ethertype = next((e for e in ("IPv4", "IPv6") if str(body.get("ethertype") or "IPv4").lower()
                      == e.lower()), None)  # fmt: skip
    if ethertype is None:
        raise requests.bad_request(f"Security group rule for ethertype '{body['ethertype']}' not "
                                   "supported. Allowed values are ['IPv4', 'IPv6'].",
                                   "SecurityGroupRuleInvalidEtherType")  # fmt: skip
    protocol = _protocol(body.get("protocol"))
    if ethertype == "IPv4" and protocol in _IPV6_ONLY:
        raise requests.bad_request(f"Invalid ethertype {ethertype} for protocol {protocol}.",
                                   "SecurityGroupEthertypeConflictWithProtocol")  # fmt: skip
    low, high = _port_range(protocol, _port(body, "port_range_min"), _port(body, "port_range_max"))
    if low is not None or high is not None:
        protocol = _BY_NUMBER.get(protocol, protocol)  # the kind names port protocols
    rule: dict[str, Any] = {"direction": direction, "ethertype": ethertype, "protocol": protocol}
    if low is not None:
        rule["portRangeMin"] = low
    if high is not None:
        rule["portRangeMax"] = high
    prefix, remote = body.get("remote_ip_prefix"), body.get("remote_group_id")
    if prefix and remote:
        raise requests.bad_request("Only one of remote_ip_prefix or remote_group_id or "
                                   "remote_address_group_id may be provided.",
                                   "SecurityGroupMultipleRemoteEntites")  # fmt: skip
    if prefix:
        try:
            network = ipaddress.ip_network(str(prefix).strip(), strict=False)
        except ValueError:
            raise requests.bad_request(f"Invalid CIDR {prefix} given as IP prefix.",
                                       "InvalidCIDR") from None  # fmt: skip
        if ethertype != f"IPv{network.version}":
            raise requests.bad_request(
                f"Conflicting value ethertype {ethertype} for CIDR {prefix}",
                "SecurityGroupRuleParameterConflict",
            )
        rule["remoteIPPrefix"] = str(network)
    if remote:
        rule["remoteGroup"] = _group_named(groups, str(remote))["metadata"]["name"]
    description = requests.string(body, "description")
    if description:
        rule["description"] = description
    requests.validated(network_api.SecurityGroupRule, rule, "security_group_rule")
    present = (group.get("spec") or {}).get("rules") or []
    for ident, other in zip(rule_ids(group), present, strict=True):
        if _key(other) == _key(rule):
            raise in_use(f"Security group rule already exists. Rule id is {ident}.",
                         "SecurityGroupRuleExists")  # fmt: skip
    held = sum(len((g.get("spec") or {}).get("rules") or []) for g in groups)
    if limit != -1 and held >= limit:
        raise in_use("Quota exceeded for resources: ['security_group_rule'].", "OverQuota")
    return group, rule


def find_rule(groups: Iterable[Mapping[str, Any]], ident: str) -> tuple[Mapping[str, Any], int]:
    """The group holding the rule of that id, and the rule's index in its spec.rules."""
    for group in groups:
        for index, found in enumerate(rule_ids(group)):
            if found == ident:
                return group, index
    raise not_found(ident, rule=True)


def without_remote(group: Mapping[str, Any], remote: str) -> list[dict[str, Any]] | None:
    """The group's rules without those naming `remote` as their remote group (Neutron deletes
    them with the group they name); None when it has none."""
    present = (group.get("spec") or {}).get("rules") or []
    kept = [r for r in present if r.get("remoteGroup") != remote]
    return kept if len(kept) != len(present) else None
