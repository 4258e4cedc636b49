"""Octavia v2 requests as Octavia reads them (WSME's attribute types and Octavia's validations,
their refusals in their words, naming the attribute, the value and what would be accepted), and
the load balancer and listener requests as the specs and merge patches of LoadBalancer and
Listener.

Pure. Pools, members and health monitors: octavia_pool_requests. What Octavia refuses before it
commits is refused here, from the caller's project as read (octavia_documents.Project); what
only the amphora can tell is the object's ERROR later, as in Octavia."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import pydantic

from nimbus.api import meta
from nimbus.loadbalancer import amphora
from nimbus.loadbalancer import api as lb_api
from nimbus.openstack import neutron_requests
from nimbus.openstack.faults import Fault
from nimbus.openstack.octavia_documents import Body, Project

NAME_MAX = 255
# Attributes Octavia has and Nimbus does not serve: accepted only empty, as clients send them.
_EMPTY: tuple[Any, ...] = (None, "", [], {}, False, "NONE")
PROVIDERS = {"amphora": "amphora", "octavia": "amphora"}  # Octavia's alias of its amphora driver
# Octavia's VALID_LISTENER_POOL_PROTOCOL_MAP, for the protocols HAProxy serves here.
POOL_PROTOCOLS = {
    "HTTP": ("HTTP", "PROXY"),
    "HTTPS": ("HTTPS", "PROXY", "TCP"),
    "TCP": ("HTTP", "HTTPS", "PROXY", "TCP"),
}


# --- Octavia's refusals ---------------------------------------------------------------------


def invalid(attribute: str, value: Any, why: str) -> Fault:
    """WSME's refusal of an attribute's value."""
    return Fault(400, f"Invalid input for field/attribute {attribute}. Value: '{value}'. {why}",
                 style="octavia")  # fmt: skip


def validation(detail: str) -> Fault:
    """Octavia's ValidationException."""
    return Fault(400, f"Validation failure: {detail}", style="octavia")


def conflict(message: str) -> Fault:
    return Fault(409, message, style="octavia")


def missing(resource: str, ident: str) -> Fault:
    """Octavia's InvalidSubresource: a network object a request names is not there (400)."""
    return Fault(400, f"{resource} {ident} not found.", style="octavia")


def resource(request: Any, name: str) -> dict[str, Any]:
    """The object of a POST or PUT body (`{"loadbalancer": {...}}`)."""
    found = request.get(name) if isinstance(request, Mapping) else None
    if not isinstance(found, Mapping):
        raise invalid(name, found, "Mandatory field missing.")
    return dict(found)


def check_attributes(
    body: Mapping[str, Any], *, name: str, writable: Collection[str],
    create_only: Collection[str] = (), unsupported: Collection[str] = (), updating: bool,
    project_id: str,
) -> None:  # fmt: skip
    """Which attributes a request may hold: WSME's refusal of unknown ones, those that cannot
    change once made, another project's id; and those Nimbus does not serve, unless empty."""
    project = {"project_id", "tenant_id"}
    known = {*writable, *create_only, *unsupported, *project}
    unknown = sorted(k for k in body if k not in known)
    if unknown:
        word = "attributes" if len(unknown) > 1 else "attribute"
        raise Fault(400, f"Unknown {word} for argument {name}: {', '.join(unknown)}",
                    style="octavia")  # fmt: skip
    for key in body:
        if updating and key in {*create_only, *project}:
            raise invalid(key, body[key], f"{key} cannot be changed once the {name} is made; "
                          f"create a new {name}")  # fmt: skip
        if key in unsupported and body[key] not in _EMPTY:
            raise invalid(key, body[key], f"Nimbus does not serve {key}; leave it out")
    for key in project & set(body):
        if body[key] != project_id:
            raise Fault(403, "Policy does not allow this request to be performed.",
                        style="octavia")  # fmt: skip


# --- values, as WSME's types read them ------------------------------------------------------


def mandatory(body: Mapping[str, Any], *keys: str) -> None:
    for key in keys:
        if body.get(key) is None:
            raise invalid(key, None, "Mandatory field missing.")


def string(body: Mapping[str, Any], key: str, *, maximum: int = NAME_MAX) -> str | None:
    """A string attribute; null is empty, as Octavia keeps it."""
    if key not in body:
        return None
    value = body[key]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(key, value, "Value should be string")
    if len(value) > maximum:
        raise invalid(key, value, f"Value should have a maximum character requirement of "
                      f"{maximum}")  # fmt: skip
    return value


def boolean(body: Mapping[str, Any], key: str) -> bool | None:
    if body.get(key) is None:
        return None
    value = body[key]
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid(key, value, "Value should be boolean: true or false")


def integer(body: Mapping[str, Any], key: str, low: int | None, high: int | None = None
            ) -> int | None:  # fmt: skip
    """An integer in [low, high]; a string of digits too, as the CLI sends connection_limit."""
    if body.get(key) is None:
        return None
    value = body[key]
    try:
        number = int(value)
        if isinstance(value, float | bool) or str(number) != str(value).strip():
            raise ValueError
    except (TypeError, ValueError):
        raise invalid(key, value, "Value should be an integer") from None
    if low is not None and number < low:
        raise invalid(key, value, f"Value should be greater or equal to {low}")
    if high is not None and number > high:
        raise invalid(key, value, f"Value should be lower or equal to {high}")
    return number


def one_of(body: Mapping[str, Any], key: str, accepted: Iterable[str], why: str = ""
           ) -> str | None:  # fmt: skip
    if body.get(key) is None:
        return None
    value = body[key]
    if value not in accepted:
        extra = f" ({value} {why})" if why else ""
        raise invalid(key, value, f"Value should be one of: {', '.join(accepted)}{extra}")
    return str(value)


def identifier(body: Mapping[str, Any], key: str) -> str | None:
    """A UUID attribute (an object's id)."""
    if body.get(key) is None:
        return None
    value = body[key]
    try:
        uuid.UUID(str(value))
    except ValueError:
        raise invalid(key, value, "Value should be UUID format") from None
    return str(value)


def ip_address(body: Mapping[str, Any], key: str) -> str | None:
    if body.get(key) is None:
        return None
    value = body[key]
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise invalid(key, value, "Value should be IPv4 or IPv6 format") from None


def put(spec: dict[str, Any], field: str, value: Any) -> None:
    """Set a spec field by its Python name, in the CR's camelCase."""
    if value is not None:
        spec[meta.camel(field)] = value


def validated(model: type[pydantic.BaseModel], spec: Mapping[str, Any]) -> None:
    """The whole spec as its kind's model takes it: anything else refused naming the field."""
    try:
        model.model_validate(spec)
    except pydantic.ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(p) for p in problem["loc"])
        raise validation(f"spec.{field}: {problem['msg']}") from None


def _cidr(subnet: Mapping[str, Any]) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(str(subnet["spec"]["cidr"]), strict=False)


# --- load balancers -------------------------------------------------------------------------

_LB_WRITABLE = ("name", "description", "admin_state_up")
_LB_CREATE_ONLY = ("vip_address", "vip_subnet_id", "vip_network_id", "vip_port_id", "provider")
_LB_UNSUPPORTED = ("vip_qos_policy_id", "vip_sg_ids", "additional_vips", "listeners", "pools",
                   "flavor_id", "availability_zone", "tags")  # fmt: skip


def _vip_subnet(body: Mapping[str, Any], project: Project, address: str | None) -> Body:
    """The VIP's subnet: vip_subnet_id, or the subnet of vip_network_id holding vip_address
    (without one, its first IPv4 subnet), as Octavia picks it."""
    port_id = identifier(body, "vip_port_id")
    if port_id is not None:
        raise invalid("vip_port_id", port_id, "Nimbus makes the VIP's port itself; give "
                      "vip_subnet_id or vip_network_id")  # fmt: skip
    subnet_id, network_id = identifier(body, "vip_subnet_id"), identifier(body, "vip_network_id")
    if subnet_id is None and network_id is None:
        raise validation("VIP must contain one of: vip_network_id, vip_subnet_id.")
    if network_id is None:
        assert subnet_id is not None
        subnet = project.by_uid(project.subnets, subnet_id)
        if subnet is None:
            raise missing("Subnet", subnet_id)
        return subnet
    network = project.by_uid(project.networks, network_id)
    if network is None:
        raise missing("Network", network_id)
    subnets = project.subnets_of(network["metadata"]["name"])
    if subnet_id is not None:
        found = project.by_uid(subnets, subnet_id)
        if found is None:
            raise missing("Subnet", subnet_id)
        return found
    if address is not None:
        inside = [s for s in subnets if ipaddress.ip_address(address) in _cidr(s)]
        if not inside:
            raise validation("Supplied network does not contain a subnet for VIP address "
                             "specified.")  # fmt: skip
        return inside[0]
    if not subnets:
        raise validation("Supplied network does not contain a subnet.")
    return sorted(subnets, key=lambda s: _cidr(s).version)[0]


def load_balancer_create(request: Any, project: Project, *, project_id: str
                         ) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """POST /loadbalancers -> (the load balancer's OpenStack name, its LoadBalancer spec)."""
    body = resource(request, "loadbalancer")
    check_attributes(body, name="loadbalancer", writable=_LB_WRITABLE,
                     create_only=_LB_CREATE_ONLY, unsupported=_LB_UNSUPPORTED, updating=False,
                     project_id=project_id)  # fmt: skip
    address = ip_address(body, "vip_address")
    subnet = _vip_subnet(body, project, address)
    if address is not None and ipaddress.ip_address(address) not in _cidr(subnet):
        raise validation(f"VIP address {address} is not on subnet "
                         f"{subnet['metadata']['uid']} ({_cidr(subnet)})")  # fmt: skip
    provider = string(body, "provider", maximum=64) or "amphora"
    if provider not in PROVIDERS:
        raise Fault(400, f"Provider '{provider}' is not enabled. Enabled: amphora (octavia, its "
                    "alias).", style="octavia")  # fmt: skip
    spec: dict[str, Any] = {"vipSubnet": subnet["metadata"]["name"],
                            "provider": PROVIDERS[provider]}  # fmt: skip
    put(spec, "vip_address", address)
    put(spec, "admin_state_up", boolean(body, "admin_state_up"))
    put(spec, "description", string(body, "description"))
    validated(lb_api.LoadBalancerSpec, spec)
    return string(body, "name") or "", spec


def load_balancer_update(request: Any, lb: Mapping[str, Any], *, project_id: str
                         ) -> dict[str, Any]:  # fmt: skip
    """PUT /loadbalancers/{id} -> the merge patch of the LoadBalancer."""
    body = resource(request, "loadbalancer")
    check_attributes(body, name="loadbalancer", writable=_LB_WRITABLE,
                     create_only=_LB_CREATE_ONLY, unsupported=_LB_UNSUPPORTED, updating=True,
                     project_id=project_id)  # fmt: skip
    spec: dict[str, Any] = {}
    put(spec, "admin_state_up", boolean(body, "admin_state_up"))
    put(spec, "description", string(body, "description"))
    return with_name(body, lb, spec, lb_api.LoadBalancerSpec)


def with_name(body: Mapping[str, Any], current: Mapping[str, Any], spec: dict[str, Any],
              model: type[pydantic.BaseModel]) -> dict[str, Any]:  # fmt: skip
    """The merge patch of `spec` (checked merged into the object's) and of a new `name` (the
    name annotation, as every OpenStack rename)."""
    patch: dict[str, Any] = {}
    if spec:
        merged = {**(current.get("spec") or {}), **spec}
        validated(model, {k: v for k, v in merged.items() if v is not None})
        patch["spec"] = spec
    name = string(body, "name")
    if name is not None:
        patch["metadata"] = neutron_requests.name_patch(current, name)
    return patch


# --- listeners ------------------------------------------------------------------------------

_LISTENER_WRITABLE = ("name", "description", "admin_state_up", "connection_limit",
                      "default_pool_id", "timeout_client_data", "timeout_member_connect",
                      "timeout_member_data", "allowed_cidrs")  # fmt: skip
_LISTENER_CREATE_ONLY = ("loadbalancer_id", "protocol", "protocol_port")
_LISTENER_UNSUPPORTED = ("default_tls_container_ref", "sni_container_refs", "insert_headers",
                         "l7policies", "default_pool", "timeout_tcp_inspect",
                         "client_ca_tls_container_ref", "client_authentication",
                         "client_crl_container_ref", "tls_ciphers", "tls_versions",
                         "alpn_protocols", "hsts_max_age", "hsts_include_subdomains",
                         "hsts_preload", "tags")  # fmt: skip
_TIMEOUTS = ("timeout_client_data", "timeout_member_connect", "timeout_member_data")


def check_protocols(listener_protocol: str, pool_protocol: str) -> None:
    """Octavia's _validate_protocol: a pool a listener of that protocol can use."""
    if pool_protocol not in POOL_PROTOCOLS[listener_protocol]:
        raise validation(f"The pool protocol '{pool_protocol}' is invalid while the listener "
                         f"protocol is '{listener_protocol}'.")  # fmt: skip


def _default_pool(body: Mapping[str, Any], project: Project, lb: str, protocol: str
                  ) -> str | None:  # fmt: skip
    """default_pool_id -> the pool's name: a pool of the same load balancer (Octavia's 404 for
    another's) that a listener of the protocol can use."""
    ident = identifier(body, "default_pool_id")
    if ident is None:
        return None
    found = project.by_uid(project.pools_of(lb), ident)
    if found is None:
        raise Fault(404, f"Pool {ident} not found.", style="octavia")
    check_protocols(protocol, found["spec"]["protocol"])
    return str(found["metadata"]["name"])


def _listener_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    put(spec, "admin_state_up", boolean(body, "admin_state_up"))
    put(spec, "description", string(body, "description"))
    put(spec, "connection_limit", integer(body, "connection_limit", -1))
    for key in _TIMEOUTS:
        put(spec, key, integer(body, key, 0, amphora.MAX_TIMEOUT))
    if "allowed_cidrs" in body:
        cidrs = body["allowed_cidrs"] or []
        if not isinstance(cidrs, list):
            raise invalid("allowed_cidrs", cidrs, "Value should be a list of CIDRs")
        out = []
        for cidr in cidrs:
            try:
                out.append(str(ipaddress.ip_network(str(cidr), strict=False)))
            except ValueError:
                raise invalid("allowed_cidrs", cidr, "Value should be a CIDR such as "
                              "192.0.2.0/24") from None  # fmt: skip
        spec["allowedCIDRs"] = sorted(set(out))
    return spec


def listener_create(request: Any, project: Project, *, project_id: str
                    ) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """POST /listeners -> (the listener's OpenStack name, its Listener spec). Refused as Octavia
    does: another listener of the load balancer on the port (409), a default pool of another
    load balancer or of a protocol the listener cannot use."""
    body = resource(request, "listener")
    check_attributes(body, name="listener", writable=_LISTENER_WRITABLE,
                     create_only=_LISTENER_CREATE_ONLY, unsupported=_LISTENER_UNSUPPORTED,
                     updating=False, project_id=project_id)  # fmt: skip
    mandatory(body, "protocol", "protocol_port", "loadbalancer_id")
    protocol = str(one_of(body, "protocol", list(POOL_PROTOCOLS),
                          "is not served by Nimbus's amphora (HAProxy): no UDP, SCTP, "
                          "TLS termination or Prometheus listeners"))  # fmt: skip
    port = integer(body, "protocol_port", 1, 65535)
    lb = project.load_balancer(str(identifier(body, "loadbalancer_id")))
    name = lb["metadata"]["name"]
    for other in project.listeners_of(name):
        if other["spec"].get("protocolPort") == port:
            raise conflict(f"Another Listener on this Load Balancer is already using protocol "
                           f"{other['spec']['protocol']} and protocol_port {port}")  # fmt: skip
    spec = {"loadBalancer": name, "protocol": protocol, "protocolPort": port,
            **_listener_fields(body)}  # fmt: skip
    put(spec, "default_pool", _default_pool(body, project, name, protocol))
    validated(lb_api.ListenerSpec, spec)
    return string(body, "name") or "", spec


def listener_update(request: Any, listener: Mapping[str, Any], project: Project, *,
                    project_id: str) -> dict[str, Any]:  # fmt: skip
    """PUT /listeners/{id} -> the merge patch of the Listener; default_pool_id null takes the
    default pool away, allowed_cidrs null all the CIDRs."""
    body = resource(request, "listener")
    check_attributes(body, name="listener", writable=_LISTENER_WRITABLE,
                     create_only=_LISTENER_CREATE_ONLY, unsupported=_LISTENER_UNSUPPORTED,
                     updating=True, project_id=project_id)  # fmt: skip
    current = listener["spec"]
    spec = _listener_fields(body)
    if "default_pool_id" in body:
        spec["defaultPool"] = _default_pool(body, project, current["loadBalancer"],
                                            current["protocol"])  # fmt: skip
    return with_name(body, listener, spec, lb_api.ListenerSpec)
