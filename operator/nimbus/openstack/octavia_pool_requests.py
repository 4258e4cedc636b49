"""Octavia v2 pool, member and health monitor requests as the specs and merge patches of Pool,
Member and HealthMonitor, refused in Octavia's words (octavia_requests reads the values).

Pure. A pool made with `listener_id` is that listener's default pool, on its load balancer, as
in Octavia: pool_create names the listener, and the route sets its defaultPool."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from nimbus.loadbalancer import api as lb_api
from nimbus.openstack import octavia_requests as requests
from nimbus.openstack.faults import Fault
from nimbus.openstack.octavia_documents import Body, Project

_ALGORITHMS = ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP")
_PERSISTENCE = ("SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE")
_COOKIE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")  # an RFC 6265 token, as the Pool takes it
_MONITOR_TYPES = ("HTTP", "HTTPS", "TCP", "TLS-HELLO")
_HTTP_METHODS = ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE")
_EXPECTED_CODES = re.compile(r"^(\d{3}(\s*,\s*\d{3})*)$|^(\d{3}-\d{3})$")


# --- pools ----------------------------------------------------------------------------------

_POOL_WRITABLE = ("name", "description", "admin_state_up", "lb_algorithm", "session_persistence")
_POOL_CREATE_ONLY = ("loadbalancer_id", "listener_id", "protocol")
_POOL_UNSUPPORTED = ("healthmonitor", "members", "tags", "tls_enabled", "tls_container_ref",
                     "ca_tls_container_ref", "crl_container_ref", "tls_ciphers", "tls_versions",
                     "alpn_protocols")  # fmt: skip


def _session_persistence(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """session_persistence -> spec.sessionPersistence, whole (a merge patch replaces it);
    Octavia's check_session_persistence."""
    value = body["session_persistence"]
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) - {
            "type", "cookie_name", "persistence_timeout", "persistence_granularity"}:  # fmt: skip
        raise requests.invalid("session_persistence", value, "Value should be an object with "
                               "type and, for APP_COOKIE, cookie_name")  # fmt: skip
    requests.mandatory(value, "type")
    kind = requests.one_of(value, "type", _PERSISTENCE)
    if value.get("persistence_timeout") is not None or \
            value.get("persistence_granularity") is not None:  # fmt: skip
        raise requests.validation("persistence_timeout and persistence_granularity is only for "
                                  "UDP and SCTP protocol pools.")  # fmt: skip
    cookie = requests.string(value, "cookie_name") or None
    if cookie is not None and kind != "APP_COOKIE":
        raise requests.validation('Field "cookie_name" can only be specified with session '
                                  'persistence of type "APP_COOKIE".')  # fmt: skip
    if cookie is not None and not _COOKIE.match(cookie):
        raise requests.validation('Supplied "cookie_name" is invalid.')
    if kind == "APP_COOKIE" and cookie is None:
        raise requests.validation('Field "cookie_name" must be specified when using the '
                                  '"APP_COOKIE" session persistence type.')  # fmt: skip
    return {"type": kind, "cookieName": cookie}


def _pool_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    requests.put(spec, "admin_state_up", requests.boolean(body, "admin_state_up"))
    requests.put(spec, "description", requests.string(body, "description"))
    algorithm = requests.one_of(body, "lb_algorithm", _ALGORITHMS,
                                "is not served by Octavia's amphora driver")  # fmt: skip
    requests.put(spec, "lb_algorithm", algorithm)
    if "session_persistence" in body:
        spec["sessionPersistence"] = _session_persistence(body)
    return spec


def pool_create(request: Any, project: Project, *, project_id: str
                ) -> tuple[str, dict[str, Any], Body | None]:  # fmt: skip
    """POST /pools -> (the pool's OpenStack name, its Pool spec, the listener it is to be the
    default pool of). Octavia's refusals: no load balancer or listener (400), a listener with
    a default pool already (409), a protocol the listener cannot use."""
    body = requests.resource(request, "pool")
    requests.check_attributes(body, name="pool", writable=_POOL_WRITABLE,
                              create_only=_POOL_CREATE_ONLY, unsupported=_POOL_UNSUPPORTED,
                              updating=False, project_id=project_id)  # fmt: skip
    requests.mandatory(body, "protocol", "lb_algorithm")
    protocol = str(requests.one_of(body, "protocol", ("HTTP", "HTTPS", "PROXY", "TCP"),
                                   "is not served by Nimbus's amphora (HAProxy): no UDP, SCTP "
                                   "or PROXYV2 pools"))  # fmt: skip
    lb_id = requests.identifier(body, "loadbalancer_id")
    listener_id = requests.identifier(body, "listener_id")
    if lb_id is None and listener_id is None:
        raise requests.validation("Must provide at least one of: loadbalancer_id, listener_id")
    listener = project.listener(listener_id) if listener_id is not None else None
    if lb_id is not None:
        lb: Body | None = project.load_balancer(lb_id)
    else:
        assert listener is not None
        lb = project.load_balancer_named(listener["spec"]["loadBalancer"])
    if lb is None:
        raise requests.validation(f"Listener {listener_id} is on no load balancer")
    if listener is not None:
        if listener["spec"]["loadBalancer"] != lb["metadata"]["name"]:
            raise requests.validation(f"Listener {listener_id} is not on load balancer "
                                      f"{lb['metadata']['uid']}")  # fmt: skip
        requests.check_protocols(listener["spec"]["protocol"], protocol)
        if listener["spec"].get("defaultPool"):
            raise requests.conflict("This listener already has a default pool")
    spec = {"loadBalancer": lb["metadata"]["name"], "protocol": protocol, **_pool_fields(body)}
    if spec.get("sessionPersistence") is None:
        spec.pop("sessionPersistence", None)
    else:
        spec["sessionPersistence"] = {k: v for k, v in spec["sessionPersistence"].items()
                                      if v is not None}  # fmt: skip
    requests.validated(lb_api.PoolSpec, spec)
    return requests.string(body, "name") or "", spec, listener


def pool_update(request: Any, pool: Mapping[str, Any], *, project_id: str) -> dict[str, Any]:
    """PUT /pools/{id} -> the merge patch of the Pool; session_persistence null takes it away."""
    body = requests.resource(request, "pool")
    requests.check_attributes(body, name="pool", writable=_POOL_WRITABLE,
                              create_only=_POOL_CREATE_ONLY, unsupported=_POOL_UNSUPPORTED,
                              updating=True, project_id=project_id)  # fmt: skip
    return requests.with_name(body, pool, _pool_fields(body), lb_api.PoolSpec)


# --- members --------------------------------------------------------------------------------

_MEMBER_WRITABLE = ("name", "admin_state_up", "weight", "backup", "monitor_address",
                    "monitor_port")  # fmt: skip
_MEMBER_CREATE_ONLY = ("address", "protocol_port", "subnet_id")
_MEMBER_UNSUPPORTED = ("tags", "request_sriov", "vnic_type")


def _member_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    requests.put(spec, "admin_state_up", requests.boolean(body, "admin_state_up"))
    requests.put(spec, "weight", requests.integer(body, "weight", 0, 256))
    requests.put(spec, "backup", requests.boolean(body, "backup"))
    if "monitor_address" in body:  # null takes it away
        spec["monitorAddress"] = requests.ip_address(body, "monitor_address")
    if "monitor_port" in body:
        spec["monitorPort"] = requests.integer(body, "monitor_port", 1, 65535)
    return spec


def member_create(request: Any, pool: Mapping[str, Any], project: Project, *, project_id: str
                  ) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """POST /pools/{id}/members -> (the member's OpenStack name, its Member spec); Octavia's
    409 for another member of the pool on the same address and port. Where the amphora
    reaches a member (the VIP's subnet) is the admission webhook's to say."""
    body = requests.resource(request, "member")
    requests.check_attributes(body, name="member", writable=_MEMBER_WRITABLE,
                              create_only=_MEMBER_CREATE_ONLY, unsupported=_MEMBER_UNSUPPORTED,
                              updating=False, project_id=project_id)  # fmt: skip
    requests.mandatory(body, "address", "protocol_port")
    address = str(requests.ip_address(body, "address"))
    port = requests.integer(body, "protocol_port", 1, 65535)
    for other in project.members_of(pool["metadata"]["name"]):
        if (other["spec"].get("address"), other["spec"].get("protocolPort")) == (address, port):
            raise requests.conflict(f"Another member on this pool is already using ip {address} "
                                    f"on protocol_port {port}")  # fmt: skip
    spec = {"pool": pool["metadata"]["name"], "address": address, "protocolPort": port,
            **{k: v for k, v in _member_fields(body).items() if v is not None}}  # fmt: skip
    subnet_id = requests.identifier(body, "subnet_id")
    if subnet_id is not None:
        subnet = project.by_uid(project.subnets, subnet_id)
        if subnet is None:
            raise requests.missing("Subnet", subnet_id)
        spec["subnet"] = subnet["metadata"]["name"]
    requests.validated(lb_api.MemberSpec, spec)
    return requests.string(body, "name") or "", spec


def member_update(request: Any, member: Mapping[str, Any], *, project_id: str) -> dict[str, Any]:
    """PUT /pools/{id}/members/{id} -> the merge patch of the Member."""
    body = requests.resource(request, "member")
    requests.check_attributes(body, name="member", writable=_MEMBER_WRITABLE,
                              create_only=_MEMBER_CREATE_ONLY, unsupported=_MEMBER_UNSUPPORTED,
                              updating=True, project_id=project_id)  # fmt: skip
    return requests.with_name(body, member, _member_fields(body), lb_api.MemberSpec)


# --- health monitors ------------------------------------------------------------------------

_MONITOR_WRITABLE = ("name", "delay", "timeout", "max_retries", "max_retries_down",
                     "http_method", "url_path", "expected_codes", "admin_state_up")  # fmt: skip
_MONITOR_CREATE_ONLY = ("pool_id", "type")
_MONITOR_UNSUPPORTED = ("tags", "http_version", "domain_name")
_HTTP_ONLY = ("http_method", "url_path", "expected_codes")


def _monitor_fields(body: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The health monitor's fields; the HTTP ones only for HTTP and HTTPS monitors (Octavia's
    InvalidOption otherwise)."""
    if kind not in ("HTTP", "HTTPS"):
        for key in _HTTP_ONLY:
            if body.get(key) is not None:
                raise Fault(400, f"{key} is not a valid option for health monitors of "
                                     f"type {kind}", style="octavia")  # fmt: skip
    spec: dict[str, Any] = {}
    requests.put(spec, "delay", requests.integer(body, "delay", 0, 2147483647))
    requests.put(spec, "timeout", requests.integer(body, "timeout", 0, 2147483647))
    requests.put(spec, "max_retries", requests.integer(body, "max_retries", 1, 10))
    requests.put(spec, "max_retries_down", requests.integer(body, "max_retries_down", 1, 10))
    requests.put(spec, "http_method", requests.one_of(body, "http_method", _HTTP_METHODS))
    path = requests.string(body, "url_path", maximum=2048)
    if path is not None and not re.fullmatch(r"/\S*", path):
        raise Fault(400, f"Not a valid URLPath: {path}: give a path starting with / "
                             "and without spaces", style="octavia")  # fmt: skip
    requests.put(spec, "url_path", path)
    codes = requests.string(body, "expected_codes", maximum=64)
    if codes is not None and not _EXPECTED_CODES.match(codes):
        raise requests.invalid("expected_codes", codes, "Value should match the pattern "
                               f"{_EXPECTED_CODES.pattern}: a code (200), a list (200, 202) or "
                               "a range (200-204)")  # fmt: skip
    requests.put(spec, "expected_codes", codes)
    requests.put(spec, "admin_state_up", requests.boolean(body, "admin_state_up"))
    return spec


def _timeout_within_delay(spec: Mapping[str, Any]) -> None:
    timeout, delay = spec["timeout"], spec["delay"]
    if int(timeout) > int(delay):
        raise requests.invalid("timeout", timeout, f"Value should be lower or equal to delay "
                               f"({delay}): a check ends before the next")  # fmt: skip


def health_monitor_create(request: Any, project: Project, *, project_id: str
                          ) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """POST /healthmonitors -> (the monitor's OpenStack name, its HealthMonitor spec); Octavia's
    409 for a pool that has a health monitor already."""
    body = requests.resource(request, "healthmonitor")
    requests.check_attributes(body, name="healthmonitor", writable=_MONITOR_WRITABLE,
                              create_only=_MONITOR_CREATE_ONLY, unsupported=_MONITOR_UNSUPPORTED,
                              updating=False, project_id=project_id)  # fmt: skip
    requests.mandatory(body, "pool_id", "type", "delay", "timeout", "max_retries")
    kind = str(requests.one_of(body, "type", _MONITOR_TYPES, "is not served by Nimbus's "
                               "amphora: no PING, UDP-CONNECT or SCTP checks"))  # fmt: skip
    pool = project.pool(str(requests.identifier(body, "pool_id")))
    if project.monitor_of(pool["metadata"]["name"]) is not None:
        raise requests.conflict("This pool already has a health monitor")
    spec = {"pool": pool["metadata"]["name"], "type": kind, **_monitor_fields(body, kind)}
    _timeout_within_delay(spec)
    requests.validated(lb_api.HealthMonitorSpec, spec)
    return requests.string(body, "name") or "", spec


def health_monitor_update(request: Any, monitor: Mapping[str, Any], *, project_id: str
                          ) -> dict[str, Any]:  # fmt: skip
    """PUT /healthmonitors/{id} -> the merge patch of the HealthMonitor."""
    body = requests.resource(request, "healthmonitor")
    requests.check_attributes(body, name="healthmonitor", writable=_MONITOR_WRITABLE,
                              create_only=_MONITOR_CREATE_ONLY, unsupported=_MONITOR_UNSUPPORTED,
                              updating=True, project_id=project_id)  # fmt: skip
    spec = _monitor_fields(body, str(monitor["spec"]["type"]))
    _timeout_within_delay({**monitor["spec"], **spec})
    return requests.with_name(body, monitor, spec, lb_api.HealthMonitorSpec)
