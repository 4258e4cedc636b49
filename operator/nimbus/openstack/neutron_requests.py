"""Neutron v2.0 requests as Neutron reads them (its attribute checks, converters and validators,
its refusals in its words, naming the attribute, the value and what would be accepted), and the
network create and update requests as the spec and merge patch of a Network.

Pure. Subnets: neutron_subnet_requests; ports: neutron_port_requests; security groups:
neutron_security_documents."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import pydantic

from nimbus.api import meta
from nimbus.network import api as network_api
from nimbus.openstack import documents
from nimbus.openstack.faults import Fault

NAME_MAX = 255
_MAC = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")
# Attributes Neutron has and Nimbus does not serve: accepted only empty, as clients send them.
_EMPTY: tuple[Any, ...] = (None, "", [], {}, False)


def bad_request(message: str, kind: str = "HTTPBadRequest") -> Fault:
    return Fault(400, message, style="neutron", kind=kind)


def invalid(attribute: str, reason: str) -> Fault:
    """Neutron's refusal of an attribute's value."""
    return bad_request(f"Invalid input for {attribute}. Reason: {reason}.")


def not_found(kind: str, ident: str) -> Fault:
    """Neutron's 404 for a network, subnet or port that is not the caller's."""
    word = {"Network": "Network", "Subnet": "Subnet", "Port": "Port"}[kind]
    return Fault(404, f"{word} {ident} could not be found.", style="neutron",
                 kind=f"{kind}NotFound")  # fmt: skip


def resource(request: Any, name: str) -> dict[str, Any]:
    """The resource's attributes of a POST or PUT body (`{"network": {...}}`)."""
    if request is None:
        raise bad_request("Resource body required")
    if not isinstance(request, Mapping) or not isinstance(request.get(name), Mapping):
        raise bad_request(f"Unable to find '{name}' in request body")
    return dict(request[name])


def check_attributes(
    body: Mapping[str, Any],
    *,
    writable: Collection[str],
    create_only: Collection[str] = (),
    read_only: Collection[str] = (),
    unsupported: Collection[str] = (),
    updating: bool,
    project_id: str,
) -> None:
    """Neutron's checks of which attributes a request may hold: unknown ones, read-only ones,
    another project's id; and those Nimbus does not serve, unless they are empty."""
    project = {"project_id", "tenant_id"}
    known = {*writable, *create_only, *read_only, *unsupported, *project}
    unknown = sorted(k for k in body if k not in known)
    if unknown:
        raise bad_request(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    for key in body:
        if key in read_only or (updating and key in {*create_only, *project}):
            if updating:
                raise bad_request(f"Cannot update read-only attribute {key}")
            raise bad_request(f"Attribute '{key}' not allowed in POST")
        if key in unsupported and body[key] not in _EMPTY:
            raise invalid(key, f"{body[key]!r}: Nimbus does not serve {key}; leave it out")
    for key in project & set(body):
        if body[key] != project_id:
            raise bad_request("Specifying 'project_id' other than the authenticated project in "
                              "request is not allowed for the current user.")  # fmt: skip


# --- values, read as Neutron's converters and validators read them --------------------------


def boolean(body: Mapping[str, Any], key: str) -> bool | None:
    if key not in body:
        return None
    value = body[key]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise invalid(key, f"'{value}' cannot be converted to boolean: give true or false")


def string(body: Mapping[str, Any], key: str, *, maximum: int = NAME_MAX) -> str | None:
    if key not in body:
        return None
    value = body[key]
    if value is None and key == "description":
        return ""
    if not isinstance(value, str):
        raise invalid(key, f"'{value}' is not a valid string")
    if len(value) > maximum:
        raise invalid(key, f"'{value}' exceeds maximum length of {maximum}")
    return value


def integer(body: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    if body.get(key) is None:
        return None
    value = body[key]
    try:
        number = int(value)
        if isinstance(value, float | bool) or str(number) != str(value).strip():
            raise ValueError
    except (TypeError, ValueError):
        raise invalid(key, f"'{value}' is not an integer") from None
    if not low <= number <= high:
        raise invalid(key, f"'{value}' is not in the range {low} to {high}")
    return number


def ip_address(value: Any, key: str) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip() if isinstance(value, str) else value))
    except ValueError:
        raise invalid(key, f"'{value}' is not a valid IP address") from None


def cidr(value: Any, key: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR, its host bits cleared (Neutron keeps `10.0.0.0/24` for `10.0.0.1/24`)."""
    if not isinstance(value, str) or "/" not in value:
        raise invalid(key, f"'{value}' is not a valid IP subnet: give a CIDR such as 10.0.0.0/24")
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise invalid(
            key, f"'{value}' is not a valid IP subnet: give a CIDR such as 10.0.0.0/24"
        ) from None


def listed(body: Mapping[str, Any], key: str) -> list[Any] | None:
    if body.get(key) is None:
        return None
    value = body[key]
    if not isinstance(value, list):
        raise invalid(key, f"'{value}' is not a list")
    return value


def mac_address(value: Any, key: str) -> str:
    text = str(value)
    if not _MAC.match(text) or int(text[1], 16) % 2:
        raise invalid(key, f"'{value}' is not a valid MAC address: give a unicast MAC such as "
                      "fa:16:3e:12:34:56")  # fmt: skip
    return text.replace("-", ":").lower()


def validated(model: type[pydantic.BaseModel], spec: Mapping[str, Any], what: str) -> None:
    """The whole spec as its kind's model takes it: anything else refused naming the field."""
    try:
        model.model_validate(spec)
    except pydantic.ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(p) for p in problem["loc"])
        raise bad_request(f"Invalid input for {what}: spec.{field}: {problem['msg']}",
                          kind="InvalidInput") from None  # fmt: skip


def put(spec: dict[str, Any], field: str, value: Any) -> None:
    """Set a spec field by its Python name, in the CR's camelCase."""
    if value is not None:
        spec[meta.camel(field)] = value


def name_patch(body: Mapping[str, Any], display: str) -> dict[str, Any]:
    """The metadata patch that renames an object as OpenStack sees it: the name annotation,
    dropped when the new name is its Kubernetes name."""
    kube = str(body["metadata"]["name"])
    return {"annotations": {documents.NAME_ANNOTATION: None if display == kube else display}}


def kube_metadata(display: str, taken: Iterable[str], namespace: str, fallback: str
                  ) -> dict[str, Any]:  # fmt: skip
    """metadata for a new object named `display` in OpenStack (as Nova's server create)."""
    name = documents.kube_name(display, set(taken), fallback=fallback)
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if name != display:
        metadata["annotations"] = {documents.NAME_ANNOTATION: display}
    return metadata


# --- networks -------------------------------------------------------------------------------

_NETWORK_WRITABLE = ("name", "admin_state_up", "shared", "router:external", "mtu",
                     "port_security_enabled", "dns_domain", "description")  # fmt: skip
_NETWORK_CREATE_ONLY = ("provider:network_type", "provider:physical_network",
                        "provider:segmentation_id", "availability_zone_hints")  # fmt: skip
_NETWORK_READ_ONLY = ("id", "status", "subnets", "created_at", "updated_at", "revision_number",
                      "availability_zones", "l2_adjacency", "ipv4_address_scope",
                      "ipv6_address_scope")  # fmt: skip
_NETWORK_UNSUPPORTED = ("qos_policy_id", "tags", "is_default", "segments", "pvlan")
# Neutron's policy: only an admin shares a network, makes it external or sets its provider.
_ADMIN_ONLY = ("shared", "router:external", "provider:network_type",
               "provider:physical_network", "provider:segmentation_id")  # fmt: skip


def _admin_only(body: Mapping[str, Any], admin: bool, action: str) -> None:
    for key in _ADMIN_ONLY:
        if key in body and not admin and body[key] not in (None, False):
            raise Fault(403, f"(rule:{action}:{key}) is disallowed by policy",
                        style="neutron", kind="PolicyNotAuthorized")  # fmt: skip


def _network_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    put(spec, "admin_state_up", boolean(body, "admin_state_up"))
    put(spec, "shared", boolean(body, "shared"))
    put(spec, "external", boolean(body, "router:external"))
    put(spec, "mtu", integer(body, "mtu", 68, 9216))
    put(spec, "port_security_enabled", boolean(body, "port_security_enabled"))
    put(spec, "description", string(body, "description"))
    if "dns_domain" in body:
        spec["dnsDomain"] = string(body, "dns_domain") or None
    return spec


def network_create(request: Any, *, project_id: str, admin: bool) -> tuple[str, dict[str, Any]]:
    """POST /networks -> (the network's OpenStack name, its Network spec)."""
    body = resource(request, "network")
    check_attributes(body, writable=_NETWORK_WRITABLE, create_only=_NETWORK_CREATE_ONLY,
                     read_only=_NETWORK_READ_ONLY, unsupported=_NETWORK_UNSUPPORTED,
                     updating=False, project_id=project_id)  # fmt: skip
    _admin_only(body, admin, "create_network")
    spec = _network_fields(body)
    provider: dict[str, Any] = {}
    kind = string(body, "provider:network_type")
    if kind is not None:
        kinds = ["local", "flat", "vlan", "vxlan", "geneve"]
        if kind not in kinds:
            raise invalid("provider:network_type", f"'{kind}' is not in {kinds}")
        provider["networkType"] = kind
    put(provider, "physical_network", string(body, "provider:physical_network", maximum=64))
    put(provider, "segmentation_id", integer(body, "provider:segmentation_id", 1, 16777215))
    if provider:
        spec["provider"] = provider
    hints = listed(body, "availability_zone_hints")
    if hints:
        if not all(isinstance(h, str) and h for h in hints):
            raise invalid("availability_zone_hints", f"'{hints}' is not a list of zone names")
        spec["availabilityZoneHints"] = list(dict.fromkeys(hints))
    validated(network_api.NetworkSpec, spec, "network")
    return string(body, "name") or "", spec


def network_update(request: Any, network: Mapping[str, Any], *, project_id: str, admin: bool
                   ) -> dict[str, Any]:  # fmt: skip
    """PUT /networks/{id} -> the merge patch of the Network."""
    body = resource(request, "network")
    check_attributes(body, writable=_NETWORK_WRITABLE, create_only=_NETWORK_CREATE_ONLY,
                     read_only=_NETWORK_READ_ONLY, unsupported=_NETWORK_UNSUPPORTED,
                     updating=True, project_id=project_id)  # fmt: skip
    _admin_only(body, admin, "update_network")
    patch: dict[str, Any] = {}
    spec = _network_fields(body)
    if spec:
        validated(network_api.NetworkSpec, {**(network.get("spec") or {}), **spec}, "network")
        patch["spec"] = spec
    name = string(body, "name")
    if name is not None:
        patch["metadata"] = name_patch(network, name)
    return patch
