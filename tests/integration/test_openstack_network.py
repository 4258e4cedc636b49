"""Neutron v2.0 through the real `openstack` CLI (python-openstackclient), as a user drives it,
against the session's control plane and operator: networks, subnets, ports, security groups and
their rules made, changed, listed, shown and deleted; the project's network quota; a server on
a port made through the API; another project's objects a 404 and a reader refused a create.

Every call the API makes for a user impersonates that user: Kubernetes RBAC decides."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from tests.integration.conftest import Cloud
from tests.integration.openstack import as_json, needs_cli, openstack

pytestmark = needs_cli


def _kube(cloud: Cloud, kind: str, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(
        cloud.kubectl("get", kind, "-n", namespace, "-o", "json").stdout
    )["items"]
    return items


def _neutron_get(api: str, user: str, project: str, path: str) -> tuple[int, Any]:
    """GET a Neutron path with the user's token: (status, the JSON document)."""
    token = as_json(openstack(api, user, project, "token", "issue", "-f", "json"))["id"]
    request = urllib.request.Request(f"{api}/network/v2.0/{path}", headers={"X-Auth-Token": token})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_network_and_its_subnets_are_made_changed_and_deleted(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    first = tenants["first"]
    made = as_json(openstack(api, "alice", first, "network", "create", "--mtu", "1400",
                             "--description", "blue things", "-f", "json", "Blue Net"))  # fmt: skip
    assert (made["name"], made["mtu"], made["description"]) == ("Blue Net", 1400, "blue things")
    assert made["status"] == "ACTIVE"
    (mine,) = [n for n in _kube(cloud, "osnet", first) if n["metadata"]["uid"] == made["id"]]
    assert mine["metadata"]["annotations"]["openstack.nimbus.dev/name"] == "Blue Net"
    assert mine["spec"]["mtu"] == 1400
    names = {n["Name"] for n in as_json(openstack(api, "alice", first, "network", "list",
                                                "--internal", "-f", "json"))}  # fmt: skip
    assert names == {"private", "Blue Net"}

    openstack(api, "alice", first, "network", "set", "--name", "Green Net", "--disable",
              "Blue Net")  # fmt: skip
    shown = as_json(openstack(api, "alice", first, "network", "show", "-f", "json", "Green Net"))
    assert (shown["id"], shown["admin_state_up"]) == (made["id"], False)

    subnet = as_json(openstack(api, "alice", first, "subnet", "create", "--network", "Green Net",
                               "--subnet-range", "10.20.0.0/24", "--dns-nameserver", "192.0.2.53",
                               "--allocation-pool", "start=10.20.0.10,end=10.20.0.99",
                               "-f", "json", "green-v4"))  # fmt: skip
    assert (subnet["cidr"], subnet["gateway_ip"], subnet["network_id"]) == (
        "10.20.0.0/24", "10.20.0.1", made["id"])  # fmt: skip
    assert subnet["allocation_pools"] == [{"start": "10.20.0.10", "end": "10.20.0.99"}]
    assert subnet["dns_nameservers"] == ["192.0.2.53"]
    overlapping = openstack(api, "alice", first, "subnet", "create", "--network", "Green Net",
                            "--subnet-range", "10.20.0.128/25", "green-again",
                            check=False)  # fmt: skip
    assert overlapping.returncode != 0
    assert "overlaps with another subnet" in overlapping.stderr, overlapping.stderr
    shown = as_json(openstack(api, "alice", first, "subnet", "show", "-f", "json", "green-v4"))
    assert shown["id"] == subnet["id"]
    networks = as_json(openstack(api, "alice", first, "network", "show", "-f", "json",
                                 "Green Net"))  # fmt: skip
    assert networks["subnets"] == [subnet["id"]]

    openstack(api, "alice", first, "subnet", "create", "--network", "Green Net",
              "--subnet-range", "10.21.0.0/24", "--no-dhcp", "green-v4b")  # fmt: skip
    openstack(api, "alice", first, "subnet", "delete", "green-v4")
    # Deleting the network takes its remaining subnet with it, as in Neutron.
    openstack(api, "alice", first, "network", "delete", "Green Net")
    names = {n["Name"] for n in as_json(openstack(api, "alice", first, "network", "list",
                                                "--internal", "-f", "json"))}  # fmt: skip
    assert names == {"private"}
    deadline = time.monotonic() + 30
    while len(_kube(cloud, "ossubnet", first)) > 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [s["metadata"]["name"] for s in _kube(cloud, "ossubnet", first)] == ["private-v4"]


def test_ports_are_made_listed_shown_and_deleted(api: str, tenants: dict[str, str]) -> None:
    first = tenants["first"]
    port = as_json(openstack(api, "alice", first, "port", "create", "--network", "private",
                             "--fixed-ip", "subnet=private-v4,ip-address=10.0.0.50",
                             "-f", "json", "Front Port"))  # fmt: skip
    assert port["name"] == "Front Port"
    assert [f["ip_address"] for f in port["fixed_ips"]] == ["10.0.0.50"]
    assert port["device_id"] == ""
    taken = openstack(api, "alice", first, "port", "create", "--network", "private",
                      "--fixed-ip", "ip-address=10.0.0.50", "again", check=False)  # fmt: skip
    assert taken.returncode != 0
    assert "The IP address 10.0.0.50 is in use" in taken.stderr, taken.stderr

    listed = as_json(openstack(api, "alice", first, "port", "list", "--network", "private",
                               "-f", "json"))  # fmt: skip
    assert "Front Port" in {p["Name"] for p in listed}
    web = as_json(openstack(api, "alice", first, "server", "show", "-f", "json", "web"))
    (used,) = as_json(openstack(api, "alice", first, "port", "list", "--server", "web", "-f",
                                "json"))  # fmt: skip
    shown = as_json(openstack(api, "alice", first, "port", "show", "-f", "json", used["ID"]))
    assert (shown["device_id"], shown["device_owner"], shown["status"]) == (
        web["id"], "compute:nova", "ACTIVE")  # fmt: skip
    by_address = as_json(openstack(api, "alice", first, "port", "list", "--fixed-ip",
                                   "ip-address=10.0.0.50", "-f", "json"))  # fmt: skip
    assert [p["ID"] for p in by_address] == [port["id"]]

    in_use = openstack(api, "alice", first, "port", "delete", used["ID"], check=False)
    assert in_use.returncode != 0
    assert "Port already has an attached device" in in_use.stderr, in_use.stderr
    openstack(api, "alice", first, "port", "delete", "Front Port")
    gone = openstack(api, "alice", first, "port", "show", port["id"], check=False)
    assert gone.returncode != 0


def test_security_groups_and_their_rules(cloud: Cloud, api: str, tenants: dict[str, str]) -> None:
    first = tenants["first"]
    groups = as_json(openstack(api, "alice", first, "security", "group", "list", "-f", "json"))
    assert "default" in {g["Name"] for g in groups}
    group = as_json(openstack(api, "alice", first, "security", "group", "create",
                              "--description", "web servers", "-f", "json", "Web SG"))  # fmt: skip
    assert (group["name"], group["description"]) == ("Web SG", "web servers")
    egress = {(r["direction"], r["ethertype"]) for r in group["rules"]}
    assert egress == {("egress", "IPv4"), ("egress", "IPv6")}

    rule = as_json(openstack(api, "alice", first, "security", "group", "rule", "create",
                             "--protocol", "tcp", "--dst-port", "22", "-f", "json",
                             "Web SG"))  # fmt: skip
    assert (rule["protocol"], rule["port_range_min"], rule["port_range_max"]) == ("tcp", 22, 22)
    assert rule["security_group_id"] == group["id"]
    again = openstack(api, "alice", first, "security", "group", "rule", "create", "--protocol",
                      "tcp", "--dst-port", "22", "Web SG", check=False)  # fmt: skip
    assert again.returncode != 0
    assert f"Rule id is {rule['id']}" in again.stderr, again.stderr
    rules = as_json(openstack(api, "alice", first, "security", "group", "rule", "list",
                              "Web SG", "-f", "json"))  # fmt: skip
    assert len(rules) == 3
    (stored,) = [g for g in _kube(cloud, "ossg", first) if g["metadata"]["uid"] == group["id"]]
    assert stored["metadata"]["annotations"]["openstack.nimbus.dev/name"] == "Web SG"
    assert {"description": "", "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
            "portRangeMin": 22, "portRangeMax": 22,
            "remoteIPPrefix": "0.0.0.0/0"} in stored["spec"]["rules"]  # fmt: skip

    openstack(api, "alice", first, "security", "group", "rule", "delete", rule["id"])
    rules = as_json(openstack(api, "alice", first, "security", "group", "rule", "list",
                              "Web SG", "-f", "json"))  # fmt: skip
    assert len(rules) == 2
    shown = as_json(openstack(api, "alice", first, "security", "group", "show", "-f", "json",
                              "Web SG"))  # fmt: skip
    assert shown["id"] == group["id"]
    openstack(api, "alice", first, "security", "group", "delete", "Web SG")
    refused = openstack(api, "alice", first, "security", "group", "delete", "default",
                        check=False)  # fmt: skip
    assert refused.returncode != 0
    assert "removing default security group" in refused.stderr, refused.stderr


def test_the_network_quota_is_the_project_s(api: str, tenants: dict[str, str]) -> None:
    first = tenants["first"]
    limits = {r["Resource"]: r["Limit"] for r in as_json(openstack(
        api, "alice", first, "quota", "show", "--network", "-f", "json"))}  # fmt: skip
    assert {k: limits[k] for k in ("networks", "subnets", "ports", "security_groups",
                                   "security_group_rules")} == {
        "networks": 100, "subnets": 100, "ports": 500, "security_groups": 10,
        "security_group_rules": 100}  # fmt: skip
    usage = {r["Resource"]: r for r in as_json(openstack(
        api, "alice", first, "quota", "show", "--network", "--usage", "-f", "json"))}  # fmt: skip
    assert usage["networks"]["In Use"] >= 1
    assert usage["networks"]["Limit"] == 100
    status, document = _neutron_get(api, "alice", first, "quotas/someone-else")
    assert (status, document["NeutronError"]["type"]) == (403, "AdminRequired")


def test_a_server_boots_on_a_port_made_through_the_api(api: str, tenants: dict[str, str]) -> None:
    first = tenants["first"]
    port = as_json(openstack(api, "alice", first, "port", "create", "--network", "private",
                             "-f", "json", "vm-port"))  # fmt: skip
    server = as_json(openstack(api, "alice", first, "server", "create", "--flavor",
                               "api1.small", "--image", tenants["first-image"], "--nic",
                               f"port-id={port['id']}", "--wait", "-f", "json",
                               "on-a-port"))  # fmt: skip
    assert server["status"] == "ACTIVE"
    deadline = time.monotonic() + 60
    while True:
        shown = as_json(openstack(api, "alice", first, "port", "show", "-f", "json", port["id"]))
        if shown["device_id"] == server["id"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert (shown["device_id"], shown["status"]) == (server["id"], "ACTIVE")
    address = shown["fixed_ips"][0]["ip_address"]
    assert address in str(server["addresses"])
    openstack(api, "alice", first, "server", "delete", "--wait", "on-a-port")
    openstack(api, "alice", first, "port", "delete", "vm-port")


def test_another_project_s_objects_are_404_and_a_reader_makes_nothing(
    api: str, tenants: dict[str, str]
) -> None:
    first, second = tenants["first"], tenants["second"]
    network = as_json(openstack(api, "alice", first, "network", "show", "-f", "json", "private"))
    subnet = as_json(openstack(api, "alice", first, "subnet", "show", "-f", "json", "private-v4"))
    group = as_json(openstack(api, "alice", first, "security", "group", "show", "-f", "json",
                              "default"))  # fmt: skip
    for kind, ident in (("network", network["id"]), ("subnet", subnet["id"]),
                        ("security group", group["id"])):  # fmt: skip
        missing = openstack(api, "bob", second, *kind.split(), "show", ident, check=False)
        assert missing.returncode != 0, kind
        assert "No " in missing.stderr or "could not be found" in missing.stderr, missing.stderr
    for path, kind in ((f"networks/{network['id']}", "NetworkNotFound"),
                       (f"subnets/{subnet['id']}", "SubnetNotFound"),
                       (f"security-groups/{group['id']}", "SecurityGroupNotFound")):  # fmt: skip
        status, document = _neutron_get(api, "bob", second, path)
        assert (status, document["NeutronError"]["type"]) == (404, kind)
    # (every project's external networks are listed to every project: the session's other
    # modules make some; --internal leaves them out)
    bobs = as_json(openstack(api, "bob", second, "network", "list", "--internal", "-f", "json"))
    assert [n["Name"] for n in bobs] == ["private"]
    assert bobs[0]["ID"] != network["id"]

    seen = as_json(openstack(api, "carol", first, "network", "list", "--internal", "-f",
                             "json"))  # fmt: skip
    assert [n["Name"] for n in seen] == ["private"]
    for command in (("network", "create", "nope"),
                    ("security", "group", "create", "nope"),
                    ("port", "create", "--network", "private", "nope")):  # fmt: skip
        refused = openstack(api, "carol", first, *command, check=False)
        assert refused.returncode != 0, command
        assert "cannot create resource" in refused.stderr, refused.stderr
