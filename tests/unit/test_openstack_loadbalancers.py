"""Octavia's load balancers as nimbus api maps them: LoadBalancer, Listener, Pool, Member and
HealthMonitor bodies as Octavia's documents (their statuses as the operator reported them for
the spec it saw), and Octavia's requests as specs and merge patches, each refusal Octavia makes
before it commits in Octavia's words and codes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from nimbus.openstack import documents, faults, octavia_pool_requests, octavia_requests
from nimbus.openstack import octavia as octavia_routes
from nimbus.openstack import octavia_documents as octavia
from nimbus.openstack.faults import Fault

PROJECT = "6f1b2c3d4e5f40718293a4b5c6d7e8f9"
NS = "demo"
STAMP = "2026-03-01T10:00:00Z"
NET, OTHER_NET = "5e6f7a8b-0000-4000-8000-000000000001", "5e6f7a8b-0000-4000-8000-000000000002"
V4, V6, OTHER_V4 = (f"5e6f7a8b-0000-4000-8000-0000000001{n:02d}" for n in (1, 2, 3))
VIP_PORT = "5e6f7a8b-0000-4000-8000-000000000201"
LB, LISTENER, POOL, M1, M2, HM = (f"5e6f7a8b-0000-4000-8000-0000000003{n:02d}"
                                  for n in range(1, 7))  # fmt: skip
SPARE_POOL = "5e6f7a8b-0000-4000-8000-000000000307"
OTHER_LB = "5e6f7a8b-0000-4000-8000-000000000308"


def _obj(kind: str, name: str, uid: str, spec: dict[str, Any],
         status: dict[str, Any] | None = None, display: str | None = None,
         generation: int = 2) -> dict[str, Any]:  # fmt: skip
    metadata: dict[str, Any] = {"name": name, "namespace": NS, "uid": uid,
                                "generation": generation, "creationTimestamp": STAMP,
                                "resourceVersion": "7"}  # fmt: skip
    if display is not None:
        metadata["annotations"] = {documents.NAME_ANNOTATION: display}
    return {"kind": kind, "metadata": metadata, "spec": spec, "status": status or {}}


def _reported(provisioning: str = "ACTIVE", operating: str = "ONLINE", generation: int = 2,
              **more: Any) -> dict[str, Any]:  # fmt: skip
    return {"provisioningStatus": provisioning, "operatingStatus": operating,
            "observedGeneration": generation, **more}  # fmt: skip


NETWORKS = [_obj("Network", "private", NET, {}), _obj("Network", "other", OTHER_NET, {})]
SUBNETS = [
    _obj("Subnet", "private-v6", V6, {"network": "private", "cidr": "fd00::/64"}),
    _obj("Subnet", "private-v4", V4, {"network": "private", "cidr": "10.0.0.0/24"}),
    _obj("Subnet", "other-v4", OTHER_V4, {"network": "other", "cidr": "192.0.2.0/24"}),
]
PORTS = [_obj("Port", "octavia-lb-web", VIP_PORT, {"network": "private"})]
WEB = _obj("LoadBalancer", "web", LB, {"vipSubnet": "private-v4", "description": "front"},
           _reported(vipAddress="10.0.0.50", vipPort="octavia-lb-web", network="private"),
           display="Web LB")  # fmt: skip
OTHER = _obj("LoadBalancer", "other", OTHER_LB, {"vipSubnet": "other-v4"})
HTTP = _obj("Listener", "http", LISTENER, {"loadBalancer": "web", "protocol": "HTTP",
                                           "protocolPort": 80, "defaultPool": "web-pool"},
            _reported())  # fmt: skip
WEB_POOL = _obj("Pool", "web-pool", POOL, {"loadBalancer": "web", "protocol": "HTTP",
                                           "lbAlgorithm": "LEAST_CONNECTIONS",
                                           "sessionPersistence": {"type": "APP_COOKIE",
                                                                  "cookieName": "sid"}},
                _reported(operating="DEGRADED"))  # fmt: skip
SPARE = _obj("Pool", "spare", SPARE_POOL, {"loadBalancer": "web", "protocol": "TCP"}, _reported())
MEMBERS = [
    _obj("Member", "m1", M1, {"pool": "web-pool", "address": "10.0.0.11", "protocolPort": 8080},
         _reported()),
    _obj("Member", "m2", M2, {"pool": "web-pool", "address": "10.0.0.12", "protocolPort": 8080,
                              "weight": 0, "subnet": "private-v4", "monitorPort": 9000},
         _reported(operating="ERROR")),
]  # fmt: skip
MONITOR = _obj("HealthMonitor", "hm", HM, {"pool": "web-pool", "type": "HTTP", "delay": 5,
                                           "timeout": 3, "maxRetries": 2, "urlPath": "/health"},
               _reported())  # fmt: skip


def _project(**changes: Any) -> octavia.Project:
    held: dict[str, Any] = {"load_balancers": [WEB, OTHER], "listeners": [HTTP],
                            "pools": [WEB_POOL, SPARE], "members": MEMBERS,
                            "monitors": [MONITOR], "networks": NETWORKS, "subnets": SUBNETS,
                            "ports": PORTS}  # fmt: skip
    held.update(changes)
    return octavia.Project(NS, **copy.deepcopy(held))


def _refused(call: Any, code: int, message: str) -> None:
    with pytest.raises(Fault) as raised:
        call()
    fault = raised.value
    assert (fault.code, fault.style, fault.message) == (code, "octavia", message)


# --- documents ------------------------------------------------------------------------------


def test_a_load_balancer_as_octavia_shows_it() -> None:
    assert octavia.load_balancer(WEB, _project(), project_id=PROJECT) == {
        "id": LB, "name": "Web LB", "description": "front", "project_id": PROJECT,
        "tenant_id": PROJECT, "created_at": "2026-03-01T10:00:00",
        "updated_at": "2026-03-01T10:00:00", "tags": [], "provisioning_status": "ACTIVE",
        "operating_status": "ONLINE", "admin_state_up": True, "vip_address": "10.0.0.50",
        "vip_port_id": VIP_PORT, "vip_subnet_id": V4, "vip_network_id": NET,
        "vip_qos_policy_id": None, "vip_sg_ids": [], "vip_vnic_type": "normal",
        "additional_vips": [], "provider": "amphora", "flavor_id": None,
        "availability_zone": None, "listeners": [{"id": LISTENER}],
        "pools": [{"id": SPARE_POOL}, {"id": POOL}],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("status", "generation", "expected"),
    [
        ({}, 1, "PENDING_CREATE"),  # the operator never reported
        (_reported("PENDING_CREATE", generation=1), 1, "PENDING_CREATE"),
        (_reported("ACTIVE", generation=1), 1, "ACTIVE"),
        (_reported("ACTIVE", generation=1), 2, "PENDING_UPDATE"),  # a spec it has not seen
        (_reported("ERROR", generation=3), 3, "ERROR"),
    ],
)  # fmt: skip
def test_the_provisioning_status_is_the_operator_s_for_the_spec_it_saw(
    status: dict[str, Any], generation: int, expected: str
) -> None:
    body = _obj("Listener", "l", LISTENER, {}, status, generation=generation)
    assert octavia.provisioning(body) == expected


def test_a_load_balancer_is_pending_update_while_one_of_its_objects_is() -> None:
    fresh = _obj("Member", "m3", "5e6f7a8b-0000-4000-8000-000000000399",
                 {"pool": "web-pool", "address": "10.0.0.13", "protocolPort": 8080})  # fmt: skip
    project = _project(members=[*MEMBERS, fresh])
    assert octavia.load_balancer(WEB, project, project_id=PROJECT)["provisioning_status"] == (
        "PENDING_UPDATE")  # fmt: skip
    assert octavia.member(fresh, project, project_id=PROJECT)["provisioning_status"] == (
        "PENDING_CREATE")  # fmt: skip
    # another load balancer's pending object is not this one's
    elsewhere = _obj("Listener", "x", "5e6f7a8b-0000-4000-8000-000000000398",
                     {"loadBalancer": "other", "protocol": "TCP", "protocolPort": 22})  # fmt: skip
    quiet = _project(listeners=[HTTP, elsewhere])
    assert octavia.load_balancer(WEB, quiet, project_id=PROJECT)["provisioning_status"] == "ACTIVE"


def test_a_load_balancer_before_the_operator_has_reported() -> None:
    fresh = _obj("LoadBalancer", "new", "5e6f7a8b-0000-4000-8000-000000000397",
                 {"vipSubnet": "private-v4", "vipAddress": "10.0.0.77"})  # fmt: skip
    document = octavia.load_balancer(fresh, _project(), project_id=PROJECT)
    assert (document["name"], document["provisioning_status"], document["operating_status"],
            document["vip_address"], document["vip_port_id"], document["vip_network_id"],
            document["listeners"]) == ("new", "PENDING_CREATE", "OFFLINE", "10.0.0.77", None,
                                       NET, [])  # fmt: skip


def test_a_listener_pool_member_and_monitor_as_octavia_shows_them() -> None:
    project = _project()
    listener = octavia.listener(HTTP, project, project_id=PROJECT)
    assert {k: listener[k] for k in ("protocol", "protocol_port", "connection_limit",
                                     "default_pool_id", "loadbalancers", "timeout_client_data",
                                     "timeout_member_connect", "allowed_cidrs",
                                     "provisioning_status")} == {
        "protocol": "HTTP", "protocol_port": 80, "connection_limit": -1,
        "default_pool_id": POOL, "loadbalancers": [{"id": LB}], "timeout_client_data": 50000,
        "timeout_member_connect": 5000, "allowed_cidrs": None, "provisioning_status": "ACTIVE",
    }  # fmt: skip
    pool = octavia.pool(WEB_POOL, project, project_id=PROJECT)
    assert {k: pool[k] for k in ("protocol", "lb_algorithm", "session_persistence",
                                 "loadbalancers", "listeners", "members", "healthmonitor_id",
                                 "operating_status")} == {
        "protocol": "HTTP", "lb_algorithm": "LEAST_CONNECTIONS",
        "session_persistence": {"type": "APP_COOKIE", "cookie_name": "sid",
                                "persistence_timeout": None, "persistence_granularity": None},
        "loadbalancers": [{"id": LB}], "listeners": [{"id": LISTENER}],
        "members": [{"id": M1}, {"id": M2}], "healthmonitor_id": HM,
        "operating_status": "DEGRADED",
    }  # fmt: skip
    member = octavia.member(MEMBERS[1], project, project_id=PROJECT)
    assert {k: member[k] for k in ("address", "protocol_port", "weight", "backup", "subnet_id",
                                   "monitor_address", "monitor_port", "operating_status")} == {
        "address": "10.0.0.12", "protocol_port": 8080, "weight": 0, "backup": False,
        "subnet_id": V4, "monitor_address": None, "monitor_port": 9000,
        "operating_status": "ERROR",
    }  # fmt: skip
    assert octavia.member(MEMBERS[0], project, project_id=PROJECT)["subnet_id"] is None
    monitor = octavia.health_monitor(MONITOR, project, project_id=PROJECT)
    assert {k: monitor[k] for k in ("type", "delay", "timeout", "max_retries",
                                    "max_retries_down", "http_method", "url_path",
                                    "expected_codes", "pools")} == {
        "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 2, "max_retries_down": 3,
        "http_method": "GET", "url_path": "/health", "expected_codes": "200",
        "pools": [{"id": POOL}],
    }  # fmt: skip
    tcp = _obj("HealthMonitor", "tcp", HM, {"pool": "spare", "type": "TCP", "delay": 5,
                                            "timeout": 5, "maxRetries": 3})  # fmt: skip
    shown = octavia.health_monitor(tcp, project, project_id=PROJECT)
    assert (shown["http_method"], shown["url_path"], shown["expected_codes"]) == (None,) * 3


def test_the_status_tree() -> None:
    tree = octavia.status_tree(WEB, _project())["loadbalancer"]
    assert (tree["id"], tree["name"], tree["provisioning_status"], tree["operating_status"]) == (
        LB, "Web LB", "ACTIVE", "ONLINE")  # fmt: skip
    (listener,) = tree["listeners"]
    assert (listener["id"], [p["id"] for p in listener["pools"]], listener["l7policies"]) == (
        LISTENER, [POOL], [])  # fmt: skip
    pools = {p["id"]: p for p in tree["pools"]}
    assert set(pools) == {POOL, SPARE_POOL}
    assert pools[POOL]["healthmonitor"] == {"id": HM, "name": "hm", "type": "HTTP",
                                            "provisioning_status": "ACTIVE"}  # fmt: skip
    assert pools[SPARE_POOL]["healthmonitor"] == {}
    assert [(m["id"], m["address"], m["protocol_port"], m["operating_status"])
            for m in pools[POOL]["members"]] == [
        (M1, "10.0.0.11", 8080, "ONLINE"), (M2, "10.0.0.12", 8080, "ERROR")]  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"loadbalancer_id": [LB]}, True),
        ({"loadbalancer_id": [OTHER_LB]}, False),
        ({"name": ["http"], "admin_state_up": ["True"]}, True),
        ({"protocol_port": ["80", "443"]}, True),
        ({"id": [LISTENER], "fields": ["id"], "sort": ["name:asc"], "limit": ["10"]}, True),
        ({"project_id": ["someone-else"]}, False),
        ({"tags": ["blue"]}, False),  # no tags are kept
    ],
)  # fmt: skip
def test_octavia_s_list_filters(query: dict[str, list[str]], expected: bool) -> None:
    document = octavia.listener(HTTP, _project(), project_id=PROJECT)
    assert octavia.matches(document, query) is expected


def test_an_unknown_id_is_octavia_s_404() -> None:
    _refused(lambda: _project().load_balancer("nope"), 404, "Load Balancer nope not found.")
    _refused(lambda: _project().monitor("nope"), 404, "Health Monitor nope not found.")
    _refused(lambda: _project().member(WEB_POOL, HM), 404, f"Member {HM} not found.")


def test_octavia_s_fault_document() -> None:
    assert faults.Fault(404, "Pool x not found.", style="octavia").document() == {
        "faultcode": "Client",
        "faultstring": "Pool x not found.",
        "debuginfo": None,
    }
    assert faults.Fault(500, "oops", style="octavia").document()["faultcode"] == "Server"


# --- load balancers -------------------------------------------------------------------------


def _lb(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return octavia_requests.load_balancer_create({"loadbalancer": body}, _project(),
                                                 project_id=PROJECT)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "Web", "vip_subnet_id": V4, "description": "front"},
         ("Web", {"vipSubnet": "private-v4", "provider": "amphora", "description": "front"})),
        # a network: its IPv4 subnet, as Octavia prefers
        ({"vip_network_id": NET, "admin_state_up": False, "provider": "octavia"},
         ("", {"vipSubnet": "private-v4", "provider": "amphora", "adminStateUp": False})),
        # a network and an address: the subnet holding it
        ({"vip_network_id": NET, "vip_address": "fd00::5"},
         ("", {"vipSubnet": "private-v6", "provider": "amphora", "vipAddress": "fd00::5"})),
        ({"vip_subnet_id": V4, "project_id": PROJECT, "tags": [], "flavor_id": None},
         ("", {"vipSubnet": "private-v4", "provider": "amphora"})),
    ],
)  # fmt: skip
def test_a_load_balancer_create_is_a_load_balancer_spec(
    body: dict[str, Any], expected: tuple[str, dict[str, Any]]
) -> None:
    assert _lb(body) == expected


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"name": "x"}, 400,
         "Validation failure: VIP must contain one of: vip_network_id, vip_subnet_id."),
        ({"vip_subnet_id": LB}, 400, f"Subnet {LB} not found."),
        ({"vip_network_id": LB}, 400, f"Network {LB} not found."),
        ({"vip_network_id": NET, "vip_subnet_id": OTHER_V4}, 400, f"Subnet {OTHER_V4} not found."),
        ({"vip_network_id": NET, "vip_address": "192.0.2.9"}, 400,
         "Validation failure: Supplied network does not contain a subnet for VIP address "
         "specified."),
        ({"vip_subnet_id": V4, "vip_address": "192.0.2.9"}, 400,
         f"Validation failure: VIP address 192.0.2.9 is not on subnet {V4} (10.0.0.0/24)"),
        ({"vip_subnet_id": V4, "vip_address": "ten"}, 400,
         "Invalid input for field/attribute vip_address. Value: 'ten'. Value should be IPv4 or "
         "IPv6 format"),
        ({"vip_subnet_id": "subnet-1"}, 400,
         "Invalid input for field/attribute vip_subnet_id. Value: 'subnet-1'. Value should be "
         "UUID format"),
        ({"vip_port_id": VIP_PORT}, 400,
         f"Invalid input for field/attribute vip_port_id. Value: '{VIP_PORT}'. Nimbus makes the "
         "VIP's port itself; give vip_subnet_id or vip_network_id"),
        ({"vip_subnet_id": V4, "provider": "ovn"}, 400,
         "Provider 'ovn' is not enabled. Enabled: amphora (octavia, its alias)."),
        ({"vip_subnet_id": V4, "colour": "blue", "size": 2}, 400,
         "Unknown attributes for argument loadbalancer: colour, size"),
        ({"vip_subnet_id": V4, "tags": ["blue"]}, 400,
         "Invalid input for field/attribute tags. Value: '['blue']'. Nimbus does not serve "
         "tags; leave it out"),
        ({"vip_subnet_id": V4, "name": "x" * 256}, 400,
         f"Invalid input for field/attribute name. Value: '{'x' * 256}'. Value should have a "
         "maximum character requirement of 255"),
        ({"vip_subnet_id": V4, "admin_state_up": "maybe"}, 400,
         "Invalid input for field/attribute admin_state_up. Value: 'maybe'. Value should be "
         "boolean: true or false"),
        ({"vip_subnet_id": V4, "project_id": "another"}, 403,
         "Policy does not allow this request to be performed."),
    ],
)  # fmt: skip
def test_a_load_balancer_create_refused_in_octavia_s_words(
    body: dict[str, Any], code: int, message: str
) -> None:
    _refused(lambda: _lb(body), code, message)
    _refused(lambda: octavia_requests.load_balancer_create({}, _project(), project_id=PROJECT),
             400, "Invalid input for field/attribute loadbalancer. Value: 'None'. Mandatory "
             "field missing.")  # fmt: skip


def test_a_load_balancer_update_is_a_merge_patch() -> None:
    def update(body: dict[str, Any]) -> dict[str, Any]:
        return octavia_requests.load_balancer_update({"loadbalancer": body}, WEB,
                                                     project_id=PROJECT)  # fmt: skip

    assert update({"name": "web", "admin_state_up": False, "description": None}) == {
        "spec": {"adminStateUp": False, "description": ""},
        "metadata": {"annotations": {documents.NAME_ANNOTATION: None}},  # its Kubernetes name
    }
    assert update({"name": "Web 2"}) == {
        "metadata": {"annotations": {documents.NAME_ANNOTATION: "Web 2"}}
    }
    _refused(
        lambda: update({"vip_address": "10.0.0.9"}),
        400,
        "Invalid input for field/attribute vip_address. Value: '10.0.0.9'. vip_address "
        "cannot be changed once the loadbalancer is made; create a new loadbalancer",
    )


# --- listeners ------------------------------------------------------------------------------


def _listener(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return octavia_requests.listener_create({"listener": {"loadbalancer_id": LB, **body}},
                                            _project(), project_id=PROJECT)  # fmt: skip


def test_a_listener_create_is_a_listener_spec() -> None:
    assert _listener({"name": "https", "protocol": "TCP", "protocol_port": 443,
                      "connection_limit": "1000", "default_pool_id": SPARE_POOL,
                      "timeout_client_data": 1000, "allowed_cidrs": ["192.0.2.7/24"],
                      "insert_headers": {}, "client_authentication": "NONE"}) == ("https", {
        "loadBalancer": "web", "protocol": "TCP", "protocolPort": 443, "connectionLimit": 1000,
        "defaultPool": "spare", "timeoutClientData": 1000, "allowedCIDRs": ["192.0.2.0/24"],
    })  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"protocol": "HTTP", "protocol_port": 80}, 409,
         "Another Listener on this Load Balancer is already using protocol HTTP and "
         "protocol_port 80"),
        ({"protocol": "UDP", "protocol_port": 53}, 400,
         "Invalid input for field/attribute protocol. Value: 'UDP'. Value should be one of: "
         "HTTP, HTTPS, TCP (UDP is not served by Nimbus's amphora (HAProxy): no UDP, SCTP, TLS "
         "termination or Prometheus listeners)"),
        ({"protocol": "HTTP"}, 400,
         "Invalid input for field/attribute protocol_port. Value: 'None'. Mandatory field "
         "missing."),
        ({"protocol": "HTTP", "protocol_port": 70000}, 400,
         "Invalid input for field/attribute protocol_port. Value: '70000'. Value should be "
         "lower or equal to 65535"),
        ({"protocol": "HTTP", "protocol_port": 81, "connection_limit": -2}, 400,
         "Invalid input for field/attribute connection_limit. Value: '-2'. Value should be "
         "greater or equal to -1"),
        ({"protocol": "HTTP", "protocol_port": 81, "default_pool_id": SPARE_POOL}, 400,
         "Validation failure: The pool protocol 'TCP' is invalid while the listener protocol "
         "is 'HTTP'."),
        ({"protocol": "HTTP", "protocol_port": 81, "default_pool_id": LB}, 404,
         f"Pool {LB} not found."),
        ({"protocol": "HTTP", "protocol_port": 81, "allowed_cidrs": ["everyone"]}, 400,
         "Invalid input for field/attribute allowed_cidrs. Value: 'everyone'. Value should be "
         "a CIDR such as 192.0.2.0/24"),
        ({"protocol": "HTTPS", "protocol_port": 443, "default_tls_container_ref": "x"}, 400,
         "Invalid input for field/attribute default_tls_container_ref. Value: 'x'. Nimbus does "
         "not serve default_tls_container_ref; leave it out"),
    ],
)  # fmt: skip
def test_a_listener_create_refused_in_octavia_s_words(
    body: dict[str, Any], code: int, message: str
) -> None:
    _refused(lambda: _listener(body), code, message)


def test_a_listener_update_is_a_merge_patch() -> None:
    def update(body: dict[str, Any]) -> dict[str, Any]:
        return octavia_requests.listener_update({"listener": body}, HTTP, _project(),
                                                project_id=PROJECT)  # fmt: skip

    assert update({"default_pool_id": None, "allowed_cidrs": None, "connection_limit": 5}) == {
        "spec": {"defaultPool": None, "allowedCIDRs": [], "connectionLimit": 5}
    }
    _refused(
        lambda: update({"protocol_port": 8080}),
        400,
        "Invalid input for field/attribute protocol_port. Value: '8080'. protocol_port "
        "cannot be changed once the listener is made; create a new listener",
    )


# --- pools, members and health monitors -----------------------------------------------------


def _pool(body: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    return octavia_pool_requests.pool_create({"pool": body}, _project(listeners=[HTTP, FREE]),
                                             project_id=PROJECT)  # fmt: skip


FREE = _obj("Listener", "tcp", "5e6f7a8b-0000-4000-8000-000000000309",
            {"loadBalancer": "web", "protocol": "TCP", "protocolPort": 22})  # fmt: skip


def test_a_pool_create_is_a_pool_spec_and_perhaps_a_listener_s_default_pool() -> None:
    name, spec, listener = _pool({"name": "ssh", "protocol": "TCP", "lb_algorithm": "SOURCE_IP",
                                  "listener_id": FREE["metadata"]["uid"]})  # fmt: skip
    assert (name, spec, listener and listener["metadata"]["name"]) == (
        "ssh",
        {"loadBalancer": "web", "protocol": "TCP", "lbAlgorithm": "SOURCE_IP"},
        "tcp",
    )
    assert _pool({"loadbalancer_id": LB, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                  "session_persistence": {"type": "HTTP_COOKIE"}}) == ("", {
        "loadBalancer": "web", "protocol": "HTTP", "lbAlgorithm": "ROUND_ROBIN",
        "sessionPersistence": {"type": "HTTP_COOKIE"}}, None)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}, 400,
         "Validation failure: Must provide at least one of: loadbalancer_id, listener_id"),
        ({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "listener_id": LISTENER}, 409,
         "This listener already has a default pool"),
        ({"protocol": "UDP", "lb_algorithm": "ROUND_ROBIN", "loadbalancer_id": LB}, 400,
         "Invalid input for field/attribute protocol. Value: 'UDP'. Value should be one of: "
         "HTTP, HTTPS, PROXY, TCP (UDP is not served by Nimbus's amphora (HAProxy): no UDP, "
         "SCTP or PROXYV2 pools)"),
        ({"protocol": "HTTP", "lb_algorithm": "SOURCE_IP_PORT", "loadbalancer_id": LB}, 400,
         "Invalid input for field/attribute lb_algorithm. Value: 'SOURCE_IP_PORT'. Value should "
         "be one of: ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP (SOURCE_IP_PORT is not served by "
         "Octavia's amphora driver)"),
        ({"protocol": "HTTPS", "lb_algorithm": "ROUND_ROBIN",
          "listener_id": FREE["metadata"]["uid"], "loadbalancer_id": OTHER_LB}, 400,
         f"Validation failure: Listener {FREE['metadata']['uid']} is not on load balancer "
         f"{OTHER_LB}"),
        ({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "loadbalancer_id": LB,
          "session_persistence": {"type": "APP_COOKIE"}}, 400,
         'Validation failure: Field "cookie_name" must be specified when using the '
         '"APP_COOKIE" session persistence type.'),
        ({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "loadbalancer_id": LB,
          "session_persistence": {"type": "SOURCE_IP", "cookie_name": "sid"}}, 400,
         'Validation failure: Field "cookie_name" can only be specified with session '
         'persistence of type "APP_COOKIE".'),
    ],
)  # fmt: skip
def test_a_pool_create_refused_in_octavia_s_words(
    body: dict[str, Any], code: int, message: str
) -> None:
    _refused(lambda: _pool(body), code, message)


def test_a_pool_update_replaces_its_session_persistence() -> None:
    def update(body: dict[str, Any]) -> dict[str, Any]:
        return octavia_pool_requests.pool_update({"pool": body}, WEB_POOL, project_id=PROJECT)

    assert update({"session_persistence": {"type": "SOURCE_IP"}}) == {
        "spec": {"sessionPersistence": {"type": "SOURCE_IP", "cookieName": None}}
    }
    assert update({"session_persistence": None, "lb_algorithm": "ROUND_ROBIN"}) == {
        "spec": {"sessionPersistence": None, "lbAlgorithm": "ROUND_ROBIN"}
    }


def test_a_member_create_is_a_member_spec() -> None:
    def create(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return octavia_pool_requests.member_create({"member": body}, WEB_POOL, _project(),
                                                   project_id=PROJECT)  # fmt: skip

    assert create({"address": "10.0.0.13", "protocol_port": 8080, "weight": 5, "backup": True,
                   "subnet_id": V4, "monitor_port": 9000}) == ("", {
        "pool": "web-pool", "address": "10.0.0.13", "protocolPort": 8080, "weight": 5,
        "backup": True, "monitorPort": 9000, "subnet": "private-v4"})  # fmt: skip
    _refused(
        lambda: create({"address": "10.0.0.11", "protocol_port": 8080}),
        409,
        "Another member on this pool is already using ip 10.0.0.11 on protocol_port 8080",
    )
    _refused(
        lambda: create({"address": "10.0.0.13", "protocol_port": 80, "subnet_id": LB}),
        400,
        f"Subnet {LB} not found.",
    )
    _refused(lambda: create({"address": "10.0.0.13", "protocol_port": 80, "weight": 257}), 400,
             "Invalid input for field/attribute weight. Value: '257'. Value should be lower or "
             "equal to 256")  # fmt: skip
    update = octavia_pool_requests.member_update({"member": {"monitor_port": None, "weight": 0}},
                                                 MEMBERS[1], project_id=PROJECT)  # fmt: skip
    assert update == {"spec": {"weight": 0, "monitorPort": None}}


def test_a_health_monitor_create_is_a_health_monitor_spec() -> None:
    def create(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return octavia_pool_requests.health_monitor_create(
            {"healthmonitor": {"delay": 5, "timeout": 3, "max_retries": 2, **body}}, _project(),
            project_id=PROJECT)  # fmt: skip

    assert create({"pool_id": SPARE_POOL, "type": "TCP", "name": "ssh up"}) == (
        "ssh up",
        {"pool": "spare", "type": "TCP", "delay": 5, "timeout": 3, "maxRetries": 2},
    )
    _refused(
        lambda: create({"pool_id": POOL, "type": "HTTP"}),
        409,
        "This pool already has a health monitor",
    )
    _refused(
        lambda: create({"pool_id": SPARE_POOL, "type": "PING"}),
        400,
        "Invalid input for field/attribute type. Value: 'PING'. Value should be one of: "
        "HTTP, HTTPS, TCP, TLS-HELLO (PING is not served by Nimbus's amphora: no PING, "
        "UDP-CONNECT or SCTP checks)",
    )
    _refused(
        lambda: create({"pool_id": SPARE_POOL, "type": "TCP", "url_path": "/"}),
        400,
        "url_path is not a valid option for health monitors of type TCP",
    )
    _refused(
        lambda: create({"pool_id": SPARE_POOL, "type": "HTTP", "timeout": 9}),
        400,
        "Invalid input for field/attribute timeout. Value: '9'. Value should be lower or "
        "equal to delay (5): a check ends before the next",
    )
    _refused(
        lambda: create({"pool_id": SPARE_POOL, "type": "HTTP", "expected_codes": "2xx"}),
        400,
        "Invalid input for field/attribute expected_codes. Value: '2xx'. Value should "
        r"match the pattern ^(\d{3}(\s*,\s*\d{3})*)$|^(\d{3}-\d{3})$: a code (200), a list "
        "(200, 202) or a range (200-204)",
    )
    _refused(lambda: create({"pool_id": LB, "type": "TCP"}), 404, f"Pool {LB} not found.")


def test_a_health_monitor_update_keeps_timeout_within_delay() -> None:
    def update(body: dict[str, Any]) -> dict[str, Any]:
        return octavia_pool_requests.health_monitor_update({"healthmonitor": body}, MONITOR,
                                                           project_id=PROJECT)  # fmt: skip

    assert update({"delay": 10, "url_path": "/ready"}) == {
        "spec": {"delay": 10, "urlPath": "/ready"}
    }
    _refused(lambda: update({"delay": 2}), 400,
             "Invalid input for field/attribute timeout. Value: '3'. Value should be lower or "
             "equal to delay (2): a check ends before the next")  # fmt: skip


def test_a_list_is_paged_by_marker_and_ends_past_the_last() -> None:
    """openstacksdk pages with limit and marker until a page is short: a marker answered with
    the page after it, never the same page again ("Endless pagination loop detected")."""
    found = [{"id": f"lb-{i}", "name": f"n{i}"} for i in (3, 1, 2)]

    def listed(path: str) -> list[str]:
        answer = octavia_routes.listed("loadbalancers", found, make_mocked_request("GET", path))
        assert answer.text is not None
        return [d["id"] for d in json.loads(answer.text)["loadbalancers"]]

    assert listed("/?limit=2") == ["lb-1", "lb-2"]
    assert listed("/?limit=2&marker=lb-2") == ["lb-3"]
    assert listed("/?limit=2&marker=lb-3") == []
    assert listed("/?sort_key=name&sort_dir=desc") == ["lb-3", "lb-2", "lb-1"]
    assert listed("/") == ["lb-3", "lb-1", "lb-2"]  # unpaged: as found
