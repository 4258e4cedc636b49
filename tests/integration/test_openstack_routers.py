"""Neutron's layer 3 through the real `openstack` CLI (python-openstackclient), as a user drives
it, against the session's control plane and operator: an external network made by an admin, a
router with a gateway on it and an interface on a subnet, its routes, a floating IP associated
with a port and dissociated; Neutron's refusals in Neutron's words; another project's member
sees none of it and a reader makes none.

No router pod runs on the local control plane, so no agent programs a data path: routers stay
BUILD (ACTIVE to Neutron's clients, as Neutron answers a new router) and floating IPs DOWN,
and nothing here waits for the data path (test_router_datapath.py proves
the data path with real packets)."""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Cloud
from tests.integration.openstack import as_json, call, hashed, needs_cli, openstack, user

pytestmark = needs_cli

PROJECT = "projects.identity.nimbus.dev"
POOL = ("203.0.113.10", "203.0.113.12")  # the external subnet's pool: three addresses


@pytest.fixture(scope="module")
def admin(cloud: Cloud, api: str, tenants: dict[str, str]) -> Iterator[str]:
    """dave: an admin of the first project and the cloud's network admin (the ClusterRole
    nimbus-network-admin), who alone may make a network external. The
    external network the tests make is deleted at the end: every project sees one (the
    session's other modules list their projects' networks)."""
    cloud.kubectl("create", "clusterrolebinding", "os-network-admin-dave",
                  "--clusterrole=nimbus-network-admin", "--user=dave")  # fmt: skip
    yield _admin(cloud, api, tenants)
    cloud.kubectl("delete", "subnets.network.nimbus.dev,networks.network.nimbus.dev",
                  "uplink-v4", "uplink", "-n", tenants["first"], "--ignore-not-found",
                  "--wait=false", check=False)  # fmt: skip
    cloud.kubectl("delete", "clusterrolebinding", "os-network-admin-dave", "--ignore-not-found",
                  check=False)  # fmt: skip


def _admin(cloud: Cloud, api: str, tenants: dict[str, str]) -> str:
    first = tenants["first"]
    user(cloud, "dave", "s3cret-dave")
    cloud.kubectl(
        "patch",
        PROJECT,
        first,
        "--type=json",
        "-p",
        json.dumps(
            [{"op": "add", "path": "/spec/members/-", "value": {"user": "dave", "role": "admin"}}]
        ),
    )
    hashed(cloud, "dave", "s3cret-dave")
    deadline = time.monotonic() + 60
    while True:  # until the operator has bound dave's role and lets the API impersonate dave
        may = cloud.kubectl("auth", "can-i", "create", "networks.network.nimbus.dev", "-n", first,
                            "--as=dave", "--as-group=system:authenticated",
                            check=False).stdout.strip()  # fmt: skip
        if may == "yes" and openstack(api, "dave", first, "network", "list",
                                      check=False).returncode == 0:  # fmt: skip
            return "dave"
        assert time.monotonic() < deadline, f"dave is no admin of {first} after 60 s"
        time.sleep(1)


def _token(api: str, name: str, project: str) -> str:
    return str(as_json(openstack(api, name, project, "token", "issue", "-f", "json"))["id"])


def _neutron(api: str, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return call(f"{api}/network/v2.0/{path}", method, token=token, body=body)


def _fault(answer: tuple[int, Any]) -> tuple[int, str, str]:
    status, document = answer
    return status, document["NeutronError"]["type"], document["NeutronError"]["message"]


def _eventually(api: str, project: str, command: tuple[str, ...], got: Any) -> Any:
    """What `got` finds in alice's show, once it finds something (the operator's part, when
    it took longer than the API waits), failing after 60 s."""
    return _eventually_as(api, "alice", project, command, got)


def _eventually_as(api: str, who: str, project: str, command: tuple[str, ...], got: Any) -> Any:
    deadline = time.monotonic() + 60
    while True:
        found = got(as_json(openstack(api, who, project, *command, "-f", "json")))
        if found:
            return found
        assert time.monotonic() < deadline, f"{command}: nothing after 60 s"
        time.sleep(1)


def _in_pool(address: str) -> bool:
    low, high = (ipaddress.IPv4Address(a) for a in POOL)
    return low <= ipaddress.IPv4Address(address) <= high


def test_an_external_network_and_a_router_with_a_gateway_and_an_interface(
    cloud: Cloud, api: str, tenants: dict[str, str], admin: str
) -> None:
    first = tenants["first"]
    refused = openstack(api, "alice", first, "network", "create", "--external", "nope",
                        check=False)  # fmt: skip
    assert "(rule:create_network:router:external) is disallowed by policy" in refused.stderr
    public = as_json(openstack(api, admin, first, "network", "create", "--external", "-f",
                               "json", "uplink"))  # fmt: skip
    assert public["router:external"] is True
    openstack(api, admin, first, "subnet", "create", "--network", "uplink", "--subnet-range",
              "203.0.113.0/24", "--allocation-pool", f"start={POOL[0]},end={POOL[1]}",
              "uplink-v4")  # fmt: skip

    made = as_json(openstack(api, "alice", first, "router", "create", "--external-gateway",
                             "uplink", "--description", "the way out", "-f", "json",
                             "Edge Router"))  # fmt: skip
    assert (made["name"], made["description"], made["status"]) == (
        "Edge Router", "the way out", "ACTIVE")  # fmt: skip
    gateway = made["external_gateway_info"]
    assert (gateway["network_id"], gateway["enable_snat"]) == (public["id"], True)
    (fixed,) = gateway["external_fixed_ips"] or _eventually(
        api, first, ("router", "show", made["id"]),
        lambda shown: shown["external_gateway_info"]["external_fixed_ips"])  # fmt: skip
    assert _in_pool(fixed["ip_address"]), fixed
    openstack(api, "alice", first, "router", "add", "subnet", "Edge Router", "private-v4")

    shown = as_json(openstack(api, "alice", first, "router", "show", "-f", "json",
                              "Edge Router"))  # fmt: skip
    assert (shown["id"], shown["status"], shown["routes"]) == (made["id"], "ACTIVE", [])
    assert "ha" not in shown  # an admin's attribute, as in Neutron's policy
    (stored,) = json.loads(cloud.kubectl("get", "osrouter", "-n", first, "-o",
                                         "json").stdout)["items"]  # fmt: skip
    assert stored["metadata"]["uid"] == made["id"]
    assert stored["spec"]["interfaces"] == [{"subnet": "private-v4"}]
    assert stored["spec"]["externalGateway"] == {"network": "uplink", "enableSNAT": True}
    listed = as_json(openstack(api, "alice", first, "router", "list", "-f", "json"))
    assert [(r["Name"], r["Status"], r["State"]) for r in listed] == [
        ("Edge Router", "ACTIVE", True)]  # fmt: skip
    as_admin = as_json(openstack(api, admin, first, "router", "show", "-f", "json", made["id"]))
    assert (as_admin["ha"], as_admin["distributed"]) == (False, False)
    # The interface is Neutron's router port (Nimbus makes no Port for it), owned by the router.
    (leg,) = as_json(openstack(api, "alice", first, "port", "list", "--router", "Edge Router",
                               "-f", "json", "--long"))  # fmt: skip
    assert leg["Device Owner"] == "network:router_interface"
    assert [f["ip_address"] for f in leg["Fixed IP Addresses"]] == ["10.0.0.1"]
    port = as_json(openstack(api, "alice", first, "port", "show", "-f", "json", leg["ID"]))
    private = as_json(openstack(api, "alice", first, "network", "show", "-f", "json", "private"))
    assert (port["device_id"], port["network_id"]) == (made["id"], private["id"])
    refused = openstack(api, "alice", first, "port", "delete", leg["ID"], check=False)
    assert f"Port {leg['ID']} cannot be deleted directly via the port API: has device owner " \
        "network:router_interface." in refused.stderr, refused.stderr  # fmt: skip

    openstack(api, "alice", first, "router", "set", "--route",
              "destination=192.0.2.0/24,gateway=10.0.0.254", "Edge Router")  # fmt: skip
    token = _token(api, "alice", first)
    status, document = _neutron(api, token, "GET", f"routers/{made['id']}")
    assert (status, document["router"]["routes"]) == (
        200, [{"destination": "192.0.2.0/24", "nexthop": "10.0.0.254"}])  # fmt: skip
    openstack(api, "alice", first, "router", "unset", "--route",
              "destination=192.0.2.0/24,gateway=10.0.0.254", "Edge Router")  # fmt: skip
    openstack(api, "alice", first, "router", "unset", "--external-gateway", "Edge Router")
    status, document = _neutron(api, token, "GET", f"routers/{made['id']}")
    assert (document["router"]["routes"], document["router"]["external_gateway_info"]) == ([], None)
    openstack(api, "alice", first, "router", "set", "--external-gateway", "uplink",
              "Edge Router")  # fmt: skip
    status, document = _neutron(api, token, "GET", f"routers/{made['id']}?fields=id&fields="
                                "external_gateway_info")  # fmt: skip
    assert document["router"]["external_gateway_info"]["network_id"] == public["id"]
    assert set(document["router"]) == {"id", "external_gateway_info"}


def test_a_floating_ip_is_associated_with_a_port_and_dissociated(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    first = tenants["first"]
    port = as_json(openstack(api, "alice", first, "port", "create", "--network", "private",
                             "-f", "json", "fip-port"))  # fmt: skip
    address = port["fixed_ips"][0]["ip_address"]
    public = as_json(openstack(api, "alice", first, "network", "show", "-f", "json", "uplink"))
    made = as_json(openstack(api, "alice", first, "floating", "ip", "create", "--description",
                             "web's", "-f", "json", "uplink"))  # fmt: skip
    allocated = made["floating_ip_address"] or _eventually(
        api, first, ("floating", "ip", "show", made["id"]),
        lambda shown: shown["floating_ip_address"])  # fmt: skip
    assert _in_pool(allocated), made
    made["floating_ip_address"] = allocated
    assert (made["floating_network_id"], made["port_id"], made["status"],
            made["description"]) == (public["id"], None, "DOWN", "web's")  # fmt: skip

    openstack(api, "alice", first, "floating", "ip", "set", "--port", "fip-port", made["id"])
    router = as_json(openstack(api, "alice", first, "router", "show", "-f", "json",
                               "Edge Router"))  # fmt: skip
    shown = as_json(openstack(api, "alice", first, "floating", "ip", "show", "-f", "json",
                              made["floating_ip_address"]))  # fmt: skip
    assert (shown["id"], shown["port_id"], shown["fixed_ip_address"], shown["router_id"],
            shown["status"]) == (made["id"], port["id"], address, router["id"],
                                 "DOWN")  # fmt: skip
    stored = cloud.get("floatingips.network.nimbus.dev", _kube_name(cloud, first, made["id"]),
                       first)  # fmt: skip
    assert (stored["spec"]["port"], stored["spec"]["fixedIPAddress"]) == ("fip-port", address)
    listed = as_json(openstack(api, "alice", first, "floating", "ip", "list", "--port",
                               "fip-port", "-f", "json"))  # fmt: skip
    assert [(f["ID"], f["Floating IP Address"], f["Fixed IP Address"]) for f in listed] == [
        (made["id"], made["floating_ip_address"], address)]  # fmt: skip

    token = _token(api, "alice", first)
    again = _neutron(api, token, "POST", "floatingips", {"floatingip": {
        "floating_network_id": public["id"], "port_id": port["id"]}})  # fmt: skip
    assert _fault(again) == (409, "FloatingIPPortAlreadyAssociated",
                             f"Cannot associate floating IP with port {port['id']} using fixed IP "
                             f"{address}, as that fixed IP already has a floating IP on external "
                             f"network {public['id']}.")  # fmt: skip
    in_use = _neutron(
        api,
        token,
        "PUT",
        f"routers/{router['id']}/remove_router_interface",
        {
            "subnet_id": as_json(
                openstack(api, "alice", first, "subnet", "show", "-f", "json", "private-v4")
            )["id"]
        },
    )
    assert _fault(in_use)[:2] == (409, "RouterInterfaceInUseByFloatingIP")

    openstack(api, "alice", first, "floating", "ip", "unset", "--port", made["id"])
    shown = as_json(openstack(api, "alice", first, "floating", "ip", "show", "-f", "json",
                              made["id"]))  # fmt: skip
    assert (shown["port_id"], shown["fixed_ip_address"], shown["router_id"]) == (None, None, None)
    openstack(api, "alice", first, "floating", "ip", "delete", made["floating_ip_address"])
    gone = openstack(api, "alice", first, "floating", "ip", "show", made["id"], check=False)
    assert gone.returncode != 0
    deadline = time.monotonic() + 60  # the operator releases its address on the network
    while cloud.kubectl("get", "osfip,osport", "-n", first, "-o", "name").stdout.count(
            "floatingip"):  # fmt: skip
        assert time.monotonic() < deadline, "the floating IP's address is still held"
        time.sleep(0.5)
    openstack(api, "alice", first, "port", "delete", "fip-port")


def _kube_name(cloud: Cloud, namespace: str, uid: str) -> str:
    items = json.loads(cloud.kubectl("get", "osfip", "-n", namespace, "-o", "json").stdout)["items"]
    (name,) = [f["metadata"]["name"] for f in items if f["metadata"]["uid"] == uid]
    return str(name)


def test_neutron_s_refusals_in_neutron_s_words(api: str, tenants: dict[str, str]) -> None:
    first = tenants["first"]
    token = _token(api, "alice", first)
    ids = {
        name: document["id"]
        for name, document in (
            (n["name"], n) for n in _neutron(api, token, "GET", "networks")[1]["networks"]
        )
    }
    router = _neutron(api, token, "GET", "routers?name=Edge%20Router")[1]["routers"][0]

    assert _fault(_neutron(api, token, "DELETE", f"routers/{router['id']}")) == (
        409, "RouterInUse", f"Router {router['id']} still has ports")  # fmt: skip
    assert _fault(_neutron(api, token, "POST", "routers", {"router": {
        "name": "inside", "external_gateway_info": {"network_id": ids["private"]}}})) == (
        400, "BadRequest",
        f"Bad router request: Network {ids['private']} is not an external network.")  # fmt: skip
    assert _fault(
        _neutron(
            api,
            token,
            "POST",
            "routers",
            {
                "router": {
                    "external_gateway_info": {"network_id": ids["uplink"], "enable_snat": False}
                }
            },
        )
    ) == (
        403,
        "PolicyNotAuthorized",
        "(rule:create_router:external_gateway_info:enable_snat) is disallowed by policy",
    )
    assert _fault(
        _neutron(
            api,
            token,
            "POST",
            "floatingips",
            {"floatingip": {"floating_network_id": ids["private"]}},
        )
    ) == (
        400,
        "BadRequest",
        f"Bad floatingip request: Network {ids['private']} is not a valid external network.",
    )

    # A subnet overlapping the router's, and a port no router joins to the external network.
    blue = _neutron(api, token, "POST", "networks", {"network": {"name": "blue"}})[1]["network"]
    status, made = _neutron(
        api,
        token,
        "POST",
        "subnets",
        {
            "subnet": {
                "network_id": blue["id"],
                "cidr": "10.0.0.128/25",
                "ip_version": 4,
                "name": "blue-v4",
            }
        },
    )
    assert status == 201, made
    subnet = made["subnet"]
    private_v4 = _neutron(api, token, "GET", "subnets?name=private-v4")[1]["subnets"][0]
    assert _fault(_neutron(api, token, "PUT", f"routers/{router['id']}/add_router_interface",
                           {"subnet_id": subnet["id"]})) == (
        400, "BadRequest",
        f"Bad router request: Cidr 10.0.0.128/25 of subnet {subnet['id']} overlaps with cidr "
        f"10.0.0.0/24 of subnet {private_v4['id']}.")  # fmt: skip
    status, made = _neutron(api, token, "POST", "ports", {"port": {"network_id": blue["id"]}})
    assert status == 201, made
    port = made["port"]
    assert _fault(_neutron(api, token, "POST", "floatingips", {"floatingip": {
        "floating_network_id": ids["uplink"], "port_id": port["id"]}})) == (
        404, "ExternalGatewayForFloatingIPNotFound",
        f"External network {ids['uplink']} is not reachable from subnet {subnet['id']}. "
        f"Therefore, cannot associate Port {port['id']} with a Floating IP.")  # fmt: skip
    assert _neutron(api, token, "DELETE", f"ports/{port['id']}")[0] == 204
    assert _neutron(api, token, "DELETE", f"networks/{blue['id']}")[0] == 204

    # The pool has three addresses: the gateway's, and two floating IPs.
    made_ips = [_neutron(api, token, "POST", "floatingips", {"floatingip": {
        "floating_network_id": ids["uplink"]}}) for _ in range(2)]  # fmt: skip
    assert [status for status, _ in made_ips] == [201, 201], made_ips
    assert _fault(_neutron(api, token, "POST", "floatingips", {"floatingip": {
        "floating_network_id": ids["uplink"]}})) == (
        409, "IpAddressGenerationFailure",
        f"No more IP addresses available on network {ids['uplink']}.")  # fmt: skip
    for _, document in made_ips:
        ident = document["floatingip"]["id"]
        assert _neutron(api, token, "DELETE", f"floatingips/{ident}")[0] == 204
    assert len(_neutron(api, token, "GET", "floatingips")[1]["floatingips"]) == 0


def test_another_project_sees_none_of_it_and_a_reader_makes_none(
    api: str, tenants: dict[str, str]
) -> None:
    first, second = tenants["first"], tenants["second"]
    router = as_json(openstack(api, "alice", first, "router", "show", "-f", "json",
                               "Edge Router"))  # fmt: skip
    assert as_json(openstack(api, "bob", second, "router", "list", "-f", "json")) == []
    assert as_json(openstack(api, "bob", second, "floating", "ip", "list", "-f", "json")) == []
    missing = openstack(api, "bob", second, "router", "show", router["id"], check=False)
    assert missing.returncode != 0
    assert "No Router found" in missing.stderr, missing.stderr
    token = _token(api, "bob", second)
    assert _fault(_neutron(api, token, "GET", f"routers/{router['id']}")) == (
        404, "RouterNotFound", f"Router {router['id']} could not be found")  # fmt: skip
    assert _fault(_neutron(api, token, "PUT", f"routers/{router['id']}/add_router_interface",
                           {"subnet_id": "x"}))[:2] == (404, "RouterNotFound")  # fmt: skip

    seen = as_json(openstack(api, "carol", first, "router", "list", "-f", "json"))
    assert [r["ID"] for r in seen] == [router["id"]]
    for command in (("router", "create", "nope"), ("floating", "ip", "create", "uplink")):
        refused = openstack(api, "carol", first, *command, check=False)
        assert refused.returncode != 0, command
        assert "cannot create resource" in refused.stderr, refused.stderr


def test_another_project_s_external_network_is_every_project_s_way_out(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    """Neutron shows an external network to every project: bob, of the second project, lists
    the first project's `uplink` (and none of its other networks), puts a router's gateway on
    it and takes a floating IP from it, as from an admin project's in any OpenStack cloud."""
    first, second = tenants["first"], tenants["second"]
    public = as_json(openstack(api, "alice", first, "network", "show", "-f", "json", "uplink"))
    listed = as_json(openstack(api, "bob", second, "network", "list", "--external", "-f",
                               "json"))  # fmt: skip
    assert public["id"] in [n["ID"] for n in listed]  # (the session's others' too, if any)
    internal = as_json(openstack(api, "bob", second, "network", "list", "--internal", "-f",
                                 "json"))  # fmt: skip
    assert [n["Name"] for n in internal] == ["private"]  # first's private: never bob's
    shown = as_json(openstack(api, "bob", second, "network", "show", "-f", "json", public["id"]))
    assert (shown["router:external"], shown["project_id"]) == (True, public["project_id"])
    assert shown["subnets"] == public["subnets"]

    router = as_json(openstack(api, "bob", second, "router", "create", "--external-gateway",
                               "uplink", "-f", "json", "bobs-edge"))  # fmt: skip
    assert router["external_gateway_info"]["network_id"] == public["id"]
    stored = cloud.get("routers.network.nimbus.dev", "bobs-edge", second)
    assert stored["spec"]["externalGateway"]["network"] == "uplink"
    assert stored["spec"]["externalGateway"]["project"] == first
    floating = as_json(openstack(api, "bob", second, "floating", "ip", "create", "-f", "json",
                                 "uplink"))  # fmt: skip
    assert floating["floating_network_id"] == public["id"]
    (made,) = json.loads(cloud.kubectl("get", "osfip", "-n", second, "-o",
                                       "json").stdout)["items"]  # fmt: skip
    assert made["spec"]["floatingNetwork"] == {"network": "uplink", "project": first}
    address = floating["floating_ip_address"] or _eventually_as(
        api, "bob", second, ("floating", "ip", "show", floating["id"]),
        lambda shown: shown["floating_ip_address"])  # fmt: skip
    assert _in_pool(address), address
    openstack(api, "bob", second, "floating", "ip", "delete", floating["id"])
    openstack(api, "bob", second, "router", "delete", "bobs-edge")

    # no longer external: no longer anyone else's
    cloud.kubectl("patch", "networks.network.nimbus.dev", "uplink", "-n", first, "--type=merge",
                  "-p", '{"spec": {"external": false}}')  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while public["id"] in [n["ID"] for n in as_json(openstack(
                api, "bob", second, "network", "list", "--external", "-f", "json"))]:  # fmt: skip
            assert time.monotonic() < deadline, "uplink is still bob's to see after 30 s"
            time.sleep(1)
    finally:
        cloud.kubectl("patch", "networks.network.nimbus.dev", "uplink", "-n", first,
                      "--type=merge", "-p", '{"spec": {"external": true}}')  # fmt: skip


def test_a_router_is_taken_apart_and_deleted(api: str, tenants: dict[str, str]) -> None:
    first = tenants["first"]
    openstack(api, "alice", first, "router", "remove", "subnet", "Edge Router", "private-v4")
    openstack(api, "alice", first, "router", "delete", "Edge Router")
    assert as_json(openstack(api, "alice", first, "router", "list", "-f", "json")) == []
    servers = as_json(openstack(api, "alice", first, "server", "list", "-f", "json"))
    assert [(s["Name"], s["Status"]) for s in servers] == [("web", "ACTIVE")]
