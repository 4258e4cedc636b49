"""Neutron's routers and floating IPs as nimbus api maps them: Router and FloatingIP bodies as
Neutron's documents, and Neutron's router, interface, route and floating IP requests as specs
and merge patches, each refusal Neutron makes before it commits in Neutron's words and codes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nimbus.openstack import documents, neutron_floating_requests, neutron_router_requests
from nimbus.openstack import neutron_router_documents as routers
from nimbus.openstack.faults import Fault

PROJECT = "6f1b2c3d4e5f40718293a4b5c6d7e8f9"
NS = "demo"
STAMP = "2026-03-01T10:00:00Z"
NET, PUBLIC, BLUE = (f"5e6f7a8b-0000-4000-8000-0000000000{n:02d}" for n in (1, 2, 3))
SUBNET, PUBLIC_V4, BLUE_V4, GREEN_V4 = (f"5e6f7a8b-0000-4000-8000-0000000001{n:02d}"
                                        for n in (1, 2, 3, 4))  # fmt: skip
PORT, GATEWAY_PORT, BARE_PORT = (f"5e6f7a8b-0000-4000-8000-0000000002{n:02d}" for n in (1, 2, 3))
ROUTER, OTHER_ROUTER, FIP, SERVER = (f"5e6f7a8b-0000-4000-8000-0000000003{n:02d}"
                                     for n in (1, 2, 3, 4))  # fmt: skip


def _meta(name: str, uid: str, display: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": NS, "uid": uid, "generation": 3,
                                "creationTimestamp": STAMP, "resourceVersion": "7"}  # fmt: skip
    if display is not None:
        metadata["annotations"] = {documents.NAME_ANNOTATION: display}
    return metadata


def _obj(kind: str, name: str, uid: str, spec: dict[str, Any], status: dict[str, Any] | None = None,
         display: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {"kind": kind, "metadata": _meta(name, uid, display), "spec": spec,
            "status": status or {}}  # fmt: skip


NETWORKS = [
    _obj("Network", "private", NET, {}),
    _obj("Network", "public", PUBLIC, {"external": True}),
    _obj("Network", "blue", BLUE, {}),
]
SUBNETS = [
    _obj("Subnet", "private-v4", SUBNET, {"network": "private", "cidr": "10.0.0.0/24"}),
    _obj("Subnet", "public-v4", PUBLIC_V4, {"network": "public", "cidr": "203.0.113.0/24"}),
    _obj("Subnet", "blue-v4", BLUE_V4, {"network": "blue", "cidr": "10.0.0.128/25"}),
    _obj("Subnet", "green-v4", GREEN_V4, {"network": "blue", "cidr": "10.1.0.0/24"}),
]
WEB_PORT = _obj("Port", "web-port", PORT, {"network": "private"},
                {"fixedIPs": [{"subnet": "private-v4", "ipAddress": "10.0.0.10"}],
                 "deviceID": "web"})  # fmt: skip
BARE = _obj("Port", "bare", BARE_PORT, {"network": "blue"},
            {"fixedIPs": [{"subnet": "green-v4", "ipAddress": "10.1.0.7"}]})  # fmt: skip
GATEWAY = _obj("Port", "router-gateway.demo.r1", GATEWAY_PORT, {"network": "public"},
               {"fixedIPs": [{"subnet": "public-v4", "ipAddress": "203.0.113.10"}]})  # fmt: skip
R1 = _obj("Router", "r1", ROUTER,
          {"externalGateway": {"network": "public", "enableSNAT": True},
           "interfaces": [{"subnet": "private-v4"}]},
          {"status": "BUILD", "externalGateway": {
              "device": "qg-x", "network": "public", "project": NS, "subnet": "public-v4",
              "ipAddress": "203.0.113.10", "cidr": "203.0.113.0/24",
              "gatewayIP": "203.0.113.1"}}, display="Edge Router")  # fmt: skip
FLOATING = _obj("FloatingIP", "floatingip-abcde", FIP,
                {"floatingNetwork": {"network": "public"}, "port": "web-port",
                 "fixedIPAddress": "10.0.0.10"},
                {"status": "DOWN", "floatingIPAddress": "203.0.113.20", "port": "web-port",
                 "fixedIPAddress": "10.0.0.10", "router": "r1"})  # fmt: skip


def _project(**changes: list[dict[str, Any]]) -> routers.Project:
    held: dict[str, Any] = {"networks": NETWORKS, "subnets": SUBNETS,
                            "ports": [WEB_PORT, BARE, GATEWAY], "routers": [R1],
                            "floating_ips": [FLOATING],
                            "servers": [_obj("Server", "web", SERVER, {})]}  # fmt: skip
    held.update(changes)
    return routers.Project(NS, **copy.deepcopy(held))


def _refused(call: Any, code: int, kind: str, message: str) -> None:
    with pytest.raises(Fault) as raised:
        call()
    fault = raised.value
    assert (fault.code, fault.style, fault.kind, fault.message) == (code, "neutron", kind, message)


# --- documents ------------------------------------------------------------------------------


def test_a_router_as_neutron_shows_it_its_gateway_as_the_operator_allocated_it() -> None:
    document = routers.router(R1, _project(), project_id=PROJECT)
    assert document == {
        "id": ROUTER, "name": "Edge Router", "tenant_id": PROJECT, "project_id": PROJECT,
        "admin_state_up": True, "status": "ACTIVE",  # Nimbus's BUILD: Neutron's word
        "external_gateway_info": {"network_id": PUBLIC, "enable_snat": True,
                                  "external_fixed_ips": [{"subnet_id": PUBLIC_V4,
                                                          "ip_address": "203.0.113.10"}]},
        "routes": [], "description": "", "availability_zone_hints": [],
        "availability_zones": [], "flavor_id": None, "tags": [], "created_at": STAMP,
        "updated_at": STAMP, "revision_number": 3,
    }  # fmt: skip
    admin = routers.router(R1, _project(), project_id=PROJECT, admin=True)
    assert (admin["ha"], admin["distributed"]) == (False, False)


def test_a_router_before_the_operator_has_reported() -> None:
    fresh = _obj(
        "Router",
        "r2",
        OTHER_ROUTER,
        {
            "adminStateUp": False,
            "externalGateway": {
                "network": "public",
                "enableSNAT": False,
                "externalFixedIPs": [{"subnet": "public-v4", "ipAddress": "203.0.113.9"}],
            },
        },
    )
    document = routers.router(fresh, _project(), project_id=PROJECT)
    assert document["status"] == "DOWN"
    assert document["external_gateway_info"] == {
        "network_id": PUBLIC,
        "enable_snat": False,
        "external_fixed_ips": [{"subnet_id": PUBLIC_V4, "ip_address": "203.0.113.9"}],
    }
    bare = _obj("Router", "r3", OTHER_ROUTER, {})
    assert routers.router(bare, _project(), project_id=PROJECT)["external_gateway_info"] is None
    # another project's external network the caller may not read: no id to show
    foreign = _obj(
        "Router", "r4", OTHER_ROUTER, {"externalGateway": {"network": "public", "project": "admin"}}
    )
    info = routers.router(foreign, _project(), project_id=PROJECT)["external_gateway_info"]
    assert info["network_id"] is None
    seen = routers.Project(
        NS,
        networks=[],
        subnets=[],
        ports=[],
        foreign={("admin", "public"): _obj("Network", "public", "f00d", {"external": True})},
    )
    assert routers.router(foreign, seen, project_id=PROJECT)["external_gateway_info"][
        "network_id"] == "f00d"  # fmt: skip


def test_a_floating_ip_as_the_operator_reported_it() -> None:
    assert routers.floating_ip(FLOATING, _project(), project_id=PROJECT) == {
        "id": FIP, "tenant_id": PROJECT, "project_id": PROJECT, "floating_network_id": PUBLIC,
        "floating_ip_address": "203.0.113.20", "port_id": PORT, "fixed_ip_address": "10.0.0.10",
        "router_id": ROUTER, "status": "DOWN", "description": "", "tags": [],
        "created_at": STAMP, "updated_at": STAMP, "revision_number": 3,
    }  # fmt: skip


def test_a_floating_ip_the_operator_has_not_caught_up_with() -> None:
    """Associated a moment ago: the fixed address the API chose, the router by the specs, DOWN
    whatever the status said of the old association."""
    moved = copy.deepcopy(FLOATING)
    moved["status"] = {"status": "ACTIVE", "floatingIPAddress": "203.0.113.20"}
    document = routers.floating_ip(moved, _project(), project_id=PROJECT)
    assert (document["port_id"], document["fixed_ip_address"], document["router_id"],
            document["status"]) == (PORT, "10.0.0.10", ROUTER, "DOWN")  # fmt: skip
    dissociated = copy.deepcopy(FLOATING)
    del dissociated["spec"]["port"], dissociated["spec"]["fixedIPAddress"]
    document = routers.floating_ip(dissociated, _project(), project_id=PROJECT)
    assert (document["port_id"], document["fixed_ip_address"], document["router_id"],
            document["status"]) == (None, None, None, "DOWN")  # fmt: skip


def test_an_interface_on_a_subnet_has_a_stable_port_id() -> None:
    ident = routers.interface_port_id(ROUTER, SUBNET)
    assert ident == routers.interface_port_id(ROUTER, SUBNET) != routers.interface_port_id(
        OTHER_ROUTER, SUBNET)  # fmt: skip


def test_a_router_s_interface_on_a_subnet_is_listed_as_neutron_s_router_port() -> None:
    """Nimbus makes no Port for a leg on a subnet (the router pod takes the gateway address);
    Neutron lists one, owned by the router, which Horizon's Interfaces tab reads."""
    (port,) = routers.interface_ports(_project(), project_id=PROJECT)
    ident = routers.interface_port_id(ROUTER, SUBNET)
    assert port["id"] == ident
    assert (port["device_id"], port["device_owner"]) == (ROUTER, "network:router_interface")
    assert port["network_id"] == NET
    assert port["fixed_ips"] == [{"subnet_id": SUBNET, "ip_address": "10.0.0.1"}]
    assert port["status"] == "DOWN"  # the router pod has not programmed it yet (BUILD)
    assert port["mac_address"].startswith("fa:16:3e:")
    assert set(port) >= {"admin_state_up", "security_groups", "binding:vnic_type", "tags"}
    active = copy.deepcopy(R1)
    active["status"]["status"] = "ACTIVE"
    active["spec"]["interfaces"].append({"port": "bare"})  # a port interface is a real Port
    (port,) = routers.interface_ports(_project(routers=[active]), project_id=PROJECT)
    assert port["status"] == "ACTIVE"
    assert routers.port_interfaces([active]) == {"bare": ROUTER}


def test_an_admission_refusal_is_said_with_ids() -> None:
    said = ('admission webhook "routers.nimbus.dev" denied the request: spec.interfaces: Bad '
            "router request: Cidr 10.0.0.128/25 of subnet blue-v4 overlaps with cidr "
            "10.0.0.0/24 of subnet private-v4.")  # fmt: skip
    assert routers.translate(said, _project()) == (
        f"Bad router request: Cidr 10.0.0.128/25 of subnet {BLUE_V4} overlaps with cidr "
        f"10.0.0.0/24 of subnet {SUBNET}.")  # fmt: skip


# --- routers --------------------------------------------------------------------------------


def _create(body: dict[str, Any], admin: bool = False) -> tuple[str, dict[str, Any]]:
    return neutron_router_requests.router_create({"router": body}, _project(),
                                                 project_id=PROJECT, admin=admin)  # fmt: skip


def test_a_router_create_is_a_router_spec() -> None:
    assert _create({"name": "Edge", "admin_state_up": True, "description": "out",
                    "external_gateway_info": {"network_id": PUBLIC}}) == ("Edge", {
        "adminStateUp": True, "description": "out",
        "externalGateway": {"network": "public", "enableSNAT": True}})  # fmt: skip
    assert _create(
        {
            "ha": True,
            "external_gateway_info": {
                "network_id": PUBLIC,
                "enable_snat": False,
                "external_fixed_ips": [{"ip_address": "203.0.113.9"}],
            },
        },
        admin=True,
    ) == (
        "",
        {
            "ha": True,
            "externalGateway": {
                "network": "public",
                "enableSNAT": False,
                "externalFixedIPs": [{"subnet": "public-v4", "ipAddress": "203.0.113.9"}],
            },
        },
    )


@pytest.mark.parametrize(
    ("body", "code", "kind", "message"),
    [
        ({"external_gateway_info": {"network_id": NET}}, 400, "BadRequest",
         f"Bad router request: Network {NET} is not an external network."),
        ({"external_gateway_info": {"network_id": "nope"}}, 404, "NetworkNotFound",
         "Network nope could not be found."),
        ({"external_gateway_info": {"network_id": PUBLIC, "enable_snat": False}}, 403,
         "PolicyNotAuthorized",
         "(rule:create_router:external_gateway_info:enable_snat) is disallowed by policy"),
        ({"external_gateway_info": {"network_id": PUBLIC,
                                    "external_fixed_ips": [{"ip_address": "203.0.113.9"}]}},
         403, "PolicyNotAuthorized",
         "(rule:create_router:external_gateway_info:external_fixed_ips) is disallowed by policy"),
        ({"ha": True}, 403, "PolicyNotAuthorized",
         "(rule:create_router:ha) is disallowed by policy"),
        ({"routes": []}, 400, "HTTPBadRequest", "Attribute 'routes' not allowed in POST"),
        ({"distributed": True}, 400, "HTTPBadRequest", "Invalid input for distributed. Reason: "
         "True: Nimbus does not serve distributed; leave it out."),
        ({"status": "ACTIVE"}, 400, "HTTPBadRequest", "Attribute 'status' not allowed in POST"),
    ],
)  # fmt: skip
def test_what_neutron_refuses_of_a_router_create(
    body: dict[str, Any], code: int, kind: str, message: str
) -> None:
    _refused(lambda: _create(body), code, kind, message)


def test_an_admin_s_external_address_is_on_the_network_and_not_its_gateway() -> None:
    _refused(
        lambda: _create(
            {
                "external_gateway_info": {
                    "network_id": PUBLIC,
                    "external_fixed_ips": [{"ip_address": "203.0.113.1"}],
                }
            },
            admin=True,
        ),
        400,
        "BadRequest",
        "Bad router request: External IP 203.0.113.1 is the same as the gateway IP.",
    )
    _refused(
        lambda: _create(
            {
                "external_gateway_info": {
                    "network_id": PUBLIC,
                    "external_fixed_ips": [{"ip_address": "10.0.0.5"}],
                }
            },
            admin=True,
        ),
        400,
        "InvalidIpForNetwork",
        "IP address 10.0.0.5 is not a valid IP for any of the subnets on the specified network.",
    )


def _update(body: dict[str, Any], project: routers.Project | None = None, admin: bool = False,
            router: dict[str, Any] = R1) -> dict[str, Any]:  # fmt: skip
    return neutron_router_requests.router_update({"router": body}, router, project or _project(),
                                                 project_id=PROJECT, admin=admin)  # fmt: skip


def test_a_router_update_replaces_the_gateway_and_routes_whole() -> None:
    unused = _project(floating_ips=[])
    assert _update({"external_gateway_info": {}}, unused) == {"spec": {"externalGateway": None}}
    assert _update({"external_gateway_info": None}, unused) == {"spec": {"externalGateway": None}}
    assert _update({"external_gateway_info": {"network_id": PUBLIC}, "name": "edge"}) == {
        "spec": {"externalGateway": {"network": "public", "project": None, "enableSNAT": True,
                                     "externalFixedIPs": None}},
        "metadata": {"annotations": {documents.NAME_ANNOTATION: "edge"}}}  # fmt: skip
    routes = [{"destination": "192.0.2.0/24", "nexthop": "10.0.0.254"}]
    assert _update({"routes": routes}) == {"spec": {"routes": routes}}
    assert _update({"routes": []}) == {"spec": {"routes": []}}


def test_what_neutron_refuses_of_a_router_update() -> None:
    _refused(lambda: _update({"external_gateway_info": {}}), 409,
             "RouterExternalGatewayInUseByFloatingIp",
             f"Gateway cannot be updated for router {ROUTER}, since a gateway to external "
             f"network {PUBLIC} is required by one or more floating IPs.")  # fmt: skip
    route = {"destination": "192.0.2.0/24", "nexthop": "10.9.0.1"}
    _refused(
        lambda: _update({"routes": [route]}),
        400,
        "InvalidRoutes",
        f"Invalid format for routes: {[route]}, the nexthop is not connected with router",
    )
    own = {"destination": "192.0.2.0/24", "nexthop": "10.0.0.1"}
    _refused(
        lambda: _update({"routes": [own]}),
        400,
        "InvalidRoutes",
        f"Invalid format for routes: {[own]}, the nexthop is used by router",
    )
    _refused(lambda: _update({"ha": True}, admin=True), 400, "HTTPBadRequest",
             "Invalid input for ha. Reason: 'True': a router's ha cannot change in Nimbus; "
             "create a new router.")  # fmt: skip
    _refused(
        lambda: _update({"id": ROUTER}),
        400,
        "HTTPBadRequest",
        "Cannot update read-only attribute id",
    )


def test_extra_routes_are_added_and_removed_atomically() -> None:
    first = {"destination": "192.0.2.0/24", "nexthop": "10.0.0.254"}
    second = {"destination": "198.51.100.0/24", "nexthop": "203.0.113.99"}
    router = copy.deepcopy(R1)
    router["spec"]["routes"] = [first]
    added = neutron_router_requests.extra_routes({"router": {"routes": [first, second]}}, router,
                                                 _project(), add=True)  # fmt: skip
    assert added == [first, second]
    router["spec"]["routes"] = added
    assert neutron_router_requests.extra_routes({"router": {"routes": [first]}}, router,
                                                _project(), add=False) == [second]  # fmt: skip


# --- interfaces -----------------------------------------------------------------------------


def _add(body: dict[str, Any], router: dict[str, Any] = R1, **changes: Any
         ) -> tuple[list[dict[str, str]], dict[str, Any]]:  # fmt: skip
    return neutron_router_requests.add_interface(body, router, _project(**changes))


def test_an_interface_on_a_subnet_or_a_port() -> None:
    bare = _obj("Router", "r2", OTHER_ROUTER, {})
    interfaces, answer = _add({"subnet_id": SUBNET}, bare, routers=[bare])
    assert interfaces == [{"subnet": "private-v4"}]
    assert answer == {"subnet_ids": [SUBNET], "network_id": NET,
                      "port_id": routers.interface_port_id(OTHER_ROUTER, SUBNET)}  # fmt: skip
    interfaces, answer = _add({"port_id": BARE_PORT})
    assert interfaces == [{"subnet": "private-v4"}, {"port": "bare"}]
    assert answer == {"subnet_ids": [GREEN_V4], "network_id": BLUE, "port_id": BARE_PORT}


@pytest.mark.parametrize(
    ("body", "code", "kind", "message"),
    [
        ({}, 400, "BadRequest",
         "Bad router request: Either subnet_id or port_id must be specified."),
        ({"subnet_id": SUBNET, "port_id": PORT}, 400, "BadRequest",
         "Bad router request: Cannot specify both subnet-id and port-id."),
        ({"subnet_id": SUBNET}, 400, "BadRequest",
         f"Bad router request: Router already has a port on subnet {SUBNET}."),
        ({"subnet_id": BLUE_V4}, 400, "BadRequest",
         f"Bad router request: Cidr 10.0.0.128/25 of subnet {BLUE_V4} overlaps with cidr "
         f"10.0.0.0/24 of subnet {SUBNET}."),
        ({"subnet_id": "nope"}, 404, "SubnetNotFound", "Subnet nope could not be found."),
        ({"port_id": PORT}, 409, "PortInUse",
         f"Unable to complete operation on port {PORT} for network {NET}. Port already has an "
         f"attached device {SERVER}."),
    ],
)  # fmt: skip
def test_what_neutron_refuses_of_a_new_interface(
    body: dict[str, Any], code: int, kind: str, message: str
) -> None:
    _refused(lambda: _add(body), code, kind, message)


def test_a_subnet_is_one_router_s_and_needs_a_gateway() -> None:
    bare = _obj("Router", "r2", OTHER_ROUTER, {})
    _refused(lambda: _add({"subnet_id": SUBNET}, bare, routers=[R1, bare]), 409,
             "IpAddressAlreadyAllocated", f"IP address 10.0.0.1 already allocated in subnet "
             f"{SUBNET}")  # fmt: skip
    gatewayless = [*SUBNETS[:3], _obj("Subnet", "green-v4", GREEN_V4,
                                      {"network": "blue", "cidr": "10.1.0.0/24",
                                       "noGateway": True})]  # fmt: skip
    _refused(
        lambda: _add({"subnet_id": GREEN_V4}, subnets=gatewayless),
        400,
        "BadRequest",
        "Bad router request: Subnet for router interface must have a gateway IP.",
    )


def test_an_interface_is_removed_unless_a_floating_ip_or_a_route_needs_it() -> None:
    unused = _project(floating_ips=[])
    interfaces, answer = neutron_router_requests.remove_interface({"subnet_id": SUBNET}, R1, unused)
    assert interfaces == []
    assert answer == {"subnet_ids": [SUBNET], "network_id": NET,
                      "port_id": routers.interface_port_id(ROUTER, SUBNET)}  # fmt: skip
    by_port = {"port_id": routers.interface_port_id(ROUTER, SUBNET)}
    assert neutron_router_requests.remove_interface(by_port, R1, unused)[0] == []
    _refused(lambda: neutron_router_requests.remove_interface({"subnet_id": SUBNET}, R1,
                                                              _project()),
             409, "RouterInterfaceInUseByFloatingIP",
             f"Router interface for subnet {SUBNET} on router {ROUTER} cannot be deleted, as it "
             "is required by one or more floating IPs.")  # fmt: skip
    routed = copy.deepcopy(R1)
    routed["spec"]["routes"] = [{"destination": "192.0.2.0/24", "nexthop": "10.0.0.254"}]
    _refused(lambda: neutron_router_requests.remove_interface({"subnet_id": SUBNET}, routed,
                                                              unused),
             409, "RouterInterfaceInUseByRoute",
             f"Router interface for subnet {SUBNET} on router {ROUTER} cannot be deleted, as it "
             "is required by one or more routes.")  # fmt: skip
    _refused(
        lambda: neutron_router_requests.remove_interface({"subnet_id": BLUE_V4}, R1, unused),
        404,
        "RouterInterfaceNotFoundForSubnet",
        f"Router {ROUTER} has no interface on subnet {BLUE_V4}",
    )
    _refused(
        lambda: neutron_router_requests.remove_interface({"port_id": PORT}, R1, unused),
        404,
        "RouterInterfaceNotFound",
        f"Router {ROUTER} does not have an interface with id {PORT}",
    )


# --- floating IPs ---------------------------------------------------------------------------


def _floating(body: dict[str, Any], admin: bool = False, **changes: Any) -> dict[str, Any]:
    return neutron_floating_requests.floating_ip_create(
        {"floatingip": body}, _project(**changes), project_id=PROJECT, admin=admin
    )


def test_a_floating_ip_create_is_a_floating_ip_spec() -> None:
    assert _floating({"floating_network_id": PUBLIC, "description": "web"}) == {
        "floatingNetwork": {"network": "public"},
        "description": "web",
    }
    assert _floating({"floating_network_id": PUBLIC, "port_id": PORT,
                      "floating_ip_address": "203.0.113.77"}, admin=True,
                     floating_ips=[]) == {
        "floatingNetwork": {"network": "public"}, "floatingIPAddress": "203.0.113.77",
        "port": "web-port", "fixedIPAddress": "10.0.0.10"}  # fmt: skip


UPLINK, UPLINK_V4 = "5e6f7a8b-0000-4000-8000-000000000401", "5e6f7a8b-0000-4000-8000-000000000402"


def _admins() -> routers.Project:
    """The demo project, and the admin project's external network `uplink` (named `public` too
    would not matter: a reference names its project) with its subnet."""
    uplink = _obj("Network", "public", UPLINK, {"external": True})
    uplink_v4 = _obj("Subnet", "public-v4", UPLINK_V4,
                     {"network": "public", "cidr": "198.51.100.0/24"})  # fmt: skip
    for body in (uplink, uplink_v4):
        body["metadata"]["namespace"] = "admin"
    project = _project()
    project.foreign = {("admin", "public"): uplink}
    project.foreign_subnets = [uplink_v4]
    return project


def test_another_project_s_external_network_is_named_with_its_project() -> None:
    project = _admins()
    assert project.subnets_of("public", "admin")[0]["metadata"]["uid"] == UPLINK_V4
    assert project.subnets_of("public")[0]["metadata"]["uid"] == PUBLIC_V4
    assert neutron_router_requests.router_create(
        {"router": {"external_gateway_info": {
            "network_id": UPLINK, "external_fixed_ips": [{"subnet_id": UPLINK_V4}]}}},
        project, project_id=PROJECT, admin=True) == ("", {"externalGateway": {
            "network": "public", "project": "admin", "enableSNAT": True,
            "externalFixedIPs": [{"subnet": "public-v4"}]}})  # fmt: skip
    assert neutron_floating_requests.floating_ip_create(
        {"floatingip": {"floating_network_id": UPLINK}}, project, project_id=PROJECT,
        admin=False) == {"floatingNetwork": {"network": "public", "project": "admin"}}  # fmt: skip
    with pytest.raises(Fault) as raised:  # r1's gateway is on the demo project's public
        neutron_floating_requests.floating_ip_create(
            {"floatingip": {"floating_network_id": UPLINK, "port_id": PORT}}, project,
            project_id=PROJECT, admin=False)  # fmt: skip
    assert raised.value.code == 404
    assert f"External network {UPLINK} is not reachable from subnet {SUBNET}." in str(
        raised.value.message)  # fmt: skip
    with pytest.raises(Fault) as raised:  # its subnets are its own, not the demo project's
        neutron_floating_requests.floating_ip_create(
            {"floatingip": {"floating_network_id": UPLINK,
                            "floating_ip_address": "203.0.113.77"}},
            project, project_id=PROJECT, admin=True)  # fmt: skip
    assert raised.value.code == 400


@pytest.mark.parametrize(
    ("body", "code", "kind", "message"),
    [
        ({}, 400, "HTTPBadRequest",
         "Failed to parse request. Required attribute 'floating_network_id' not specified"),
        ({"floating_network_id": NET}, 400, "BadRequest",
         f"Bad floatingip request: Network {NET} is not a valid external network."),
        ({"floating_network_id": PUBLIC, "floating_ip_address": "203.0.113.77"}, 403,
         "PolicyNotAuthorized",
         "(rule:create_floatingip:floating_ip_address) is disallowed by policy"),
        ({"floating_network_id": PUBLIC, "fixed_ip_address": "10.0.0.10"}, 400, "BadRequest",
         "Bad floatingip request: fixed_ip_address cannot be specified without a port_id."),
        ({"floating_network_id": PUBLIC, "port_id": "nope"}, 404, "PortNotFound",
         "Port nope could not be found."),
        ({"floating_network_id": PUBLIC, "port_id": BARE_PORT}, 404,
         "ExternalGatewayForFloatingIPNotFound",
         f"External network {PUBLIC} is not reachable from subnet {GREEN_V4}. Therefore, "
         f"cannot associate Port {BARE_PORT} with a Floating IP."),
        ({"floating_network_id": PUBLIC, "port_id": PORT}, 409,
         "FloatingIPPortAlreadyAssociated",
         f"Cannot associate floating IP with port {PORT} using fixed IP 10.0.0.10, as that "
         f"fixed IP already has a floating IP on external network {PUBLIC}."),
        ({"floating_network_id": PUBLIC, "port_id": PORT, "fixed_ip_address": "10.0.0.11"},
         400, "BadRequest",
         f"Bad floatingip request: Port {PORT} does not have fixed ip 10.0.0.11."),
        ({"floating_network_id": PUBLIC, "subnet_id": PUBLIC_V4}, 400, "HTTPBadRequest",
         f"Invalid input for subnet_id. Reason: '{PUBLIC_V4}': Nimbus does not serve "
         "subnet_id; leave it out."),
    ],
)  # fmt: skip
def test_what_neutron_refuses_of_a_floating_ip_create(
    body: dict[str, Any], code: int, kind: str, message: str
) -> None:
    _refused(lambda: _floating(body), code, kind, message)


def test_an_admin_s_floating_address_is_free_and_on_the_network() -> None:
    _refused(lambda: _floating({"floating_network_id": PUBLIC,
                                "floating_ip_address": "203.0.113.10"}, admin=True),
             409, "IpAddressInUse", f"Unable to complete operation for network {PUBLIC}. The IP "
             "address 203.0.113.10 is in use.")  # fmt: skip
    _refused(lambda: _floating({"floating_network_id": PUBLIC,
                                "floating_ip_address": "203.0.113.20"}, admin=True),
             409, "IpAddressInUse", f"Unable to complete operation for network {PUBLIC}. The IP "
             "address 203.0.113.20 is in use.")  # fmt: skip
    _refused(lambda: _floating({"floating_network_id": PUBLIC, "floating_ip_address": "10.0.0.3"},
                               admin=True),
             400, "InvalidIpForNetwork",
             "IP address 10.0.0.3 is not a valid IP for any of the subnets on the specified "
             "network.")  # fmt: skip
    v6_only = [
        *SUBNETS[:1],
        _obj(
            "Subnet",
            "public-v6",
            PUBLIC_V4,
            {"network": "public", "cidr": "fd00::/64", "ipVersion": 6},
        ),
    ]
    _refused(
        lambda: _floating({"floating_network_id": PUBLIC}, subnets=v6_only),
        400,
        "BadRequest",
        f"Bad floatingip request: Network {PUBLIC} does not contain any IPv4 subnet.",
    )


def test_a_floating_ip_is_associated_again_and_dissociated() -> None:
    def update(body: dict[str, Any]) -> dict[str, Any]:
        return neutron_floating_requests.floating_ip_update(
            {"floatingip": body}, FLOATING, _project(), project_id=PROJECT
        )

    assert update({"port_id": None}) == {"spec": {"port": None, "fixedIPAddress": None}}
    assert update({"port_id": PORT}) == {"spec": {"port": "web-port",
                                                  "fixedIPAddress": "10.0.0.10"}}  # fmt: skip
    assert update({"description": "x"}) == {"spec": {"description": "x"}}
    _refused(
        lambda: update({"floating_network_id": NET}),
        400,
        "HTTPBadRequest",
        "Cannot update read-only attribute floating_network_id",
    )
    other = _obj(
        "FloatingIP",
        "floatingip-other",
        SERVER,
        {"floatingNetwork": {"network": "public"}},
        {"floatingIPAddress": "203.0.113.21"},
    )
    _refused(
        lambda: neutron_floating_requests.floating_ip_update(
            {"floatingip": {"port_id": PORT}}, other, _project(), project_id=PROJECT
        ),
        409,
        "FloatingIPPortAlreadyAssociated",
        f"Cannot associate floating IP 203.0.113.21 ({SERVER}) with port {PORT} using fixed IP "
        f"10.0.0.10, as that fixed IP already has a floating IP on external network {PUBLIC}.",
    )
