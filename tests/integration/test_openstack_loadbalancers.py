"""Octavia v2 through the real `openstack loadbalancer` CLI (python-octaviaclient) and
openstacksdk, as a user drives them, against the session's control plane and operator: a load
balancer on a project's subnet, a listener, a pool made its default pool, members and a health
monitor, each a Kubernetes object of loadbalancer.nimbus.dev; Octavia's refusals in Octavia's
words; another project's member sees none of it and a reader makes none; a cascade delete.

No amphora pod runs on the local control plane, so the `amphora` fixture stands in for
`nimbus amphora-agent`: it reports each load balancer's configuration as running and every
object ONLINE in status.health, as the agent does once HAProxy has loaded it, and the
operator's statuses follow from that report, so `--wait` sees ACTIVE. HAProxy itself is proven
by test_loadbalancer_datapath.py."""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import openstack as sdk
import pytest

from nimbus.openstack import documents
from tests.integration.conftest import Cloud
from tests.integration.openstack import as_json, call, needs_cli, openstack

pytestmark = needs_cli

KINDS = "loadbalancers.loadbalancer.nimbus.dev"
OBJECTS = ("listeners", "pools", "members", "healthmonitors")


def _items(cloud: Cloud, plural: str, namespace: str) -> list[dict[str, Any]]:
    got = cloud.kubectl("get", f"{plural}.loadbalancer.nimbus.dev", "-n", namespace, "-o",
                        "json", check=False)  # fmt: skip
    return list(json.loads(got.stdout)["items"]) if got.returncode == 0 else []


def _report(cloud: Cloud, namespace: str) -> None:
    """One pass of the stand-in agent: every load balancer whose wanted configuration is not
    the one reported gets it reported, with its objects ONLINE."""
    lbs = _items(cloud, "loadbalancers", namespace)
    if not any((lb.get("status") or {}).get("config") for lb in lbs):
        return
    names = {p: [b["metadata"]["name"] for b in _items(cloud, p, namespace)]
             for p in ("listeners", "pools", "members")}  # fmt: skip
    for lb in lbs:
        status = lb.get("status") or {}
        if not status.get("config") or (status.get("health") or {}).get("config") == \
                status["config"]:  # fmt: skip
            continue
        health = {"config": status["config"], "loadBalancer": "ONLINE",
                  **{p: dict.fromkeys(n, "ONLINE") for p, n in names.items()}}  # fmt: skip
        cloud.kubectl("patch", KINDS, lb["metadata"]["name"], "-n", namespace,
                      "--subresource=status", "--type=merge", "-p",
                      json.dumps({"status": {"health": health}}), check=False)  # fmt: skip


@pytest.fixture(scope="module")
def amphora(cloud: Cloud, tenants: dict[str, str]) -> Iterator[None]:
    """A stand-in for the amphora agents of the first project's load balancers."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.5):
            _report(cloud, tenants["first"])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


def _token(api: str, name: str, project: str) -> str:
    return str(as_json(openstack(api, name, project, "token", "issue", "-f", "json"))["id"])


def _octavia(api: str, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return call(f"{api}/load-balancer/v2/lbaas/{path}", method, token=token, body=body)


def _fault(answer: tuple[int, Any]) -> tuple[int, str]:
    status, document = answer
    assert document["faultcode"] == ("Client" if status < 500 else "Server"), document
    return status, document["faultstring"]


def _one(cloud: Cloud, plural: str, namespace: str, uid: str) -> dict[str, Any]:
    (found,) = [b for b in _items(cloud, plural, namespace) if b["metadata"]["uid"] == uid]
    return found


def _subset(have: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """`have` holds `wanted` (the CLI sends its defaults too: adminStateUp, description, the
    listener's timeouts)."""
    return {k: have.get(k) for k in wanted} == wanted


def _lb(api: str, *args: str, user: str = "alice", project: str) -> Any:
    return as_json(openstack(api, user, project, "loadbalancer", *args, "-f", "json"))


def test_a_load_balancer_is_created_and_waited_for(
    cloud: Cloud, api: str, tenants: dict[str, str], amphora: None
) -> None:
    first = tenants["first"]
    subnet = as_json(openstack(api, "alice", first, "subnet", "show", "-f", "json",
                               "private-v4"))  # fmt: skip
    made = _lb(api, "create", "--vip-subnet-id", "private-v4", "--name", "Web LB",
               "--description", "the web's", "--wait", project=first)  # fmt: skip
    assert (made["name"], made["description"], made["provisioning_status"],
            made["operating_status"], made["provider"], made["vip_subnet_id"],
            made["vip_network_id"]) == ("Web LB", "the web's", "ACTIVE", "ONLINE", "amphora",
                                        subnet["id"], subnet["network_id"])  # fmt: skip
    assert ipaddress.ip_address(made["vip_address"]) in ipaddress.ip_network("10.0.0.0/24")
    stored = _one(cloud, "loadbalancers", first, made["id"])
    assert stored["spec"] == {"vipSubnet": "private-v4", "provider": "amphora",
                              "adminStateUp": True, "description": "the web's"}  # fmt: skip
    assert stored["status"]["vipAddress"] == made["vip_address"]
    port = as_json(openstack(api, "alice", first, "port", "show", "-f", "json",
                             made["vip_port_id"]))  # fmt: skip
    assert port["fixed_ips"][0]["ip_address"] == made["vip_address"]
    listed = _lb(api, "list", project=first)
    assert [(b["id"], b["name"], b["vip_address"], b["provisioning_status"],
             b["operating_status"], b["provider"]) for b in listed] == [
        (made["id"], "Web LB", made["vip_address"], "ACTIVE", "ONLINE", "amphora")]  # fmt: skip
    assert _lb(api, "list", "--vip-subnet-id", "private-v4", "--name", "Web LB",
               project=first)[0]["id"] == made["id"]  # fmt: skip
    assert _lb(api, "list", "--name", "nope", project=first) == []


def test_a_listener_a_pool_members_and_a_monitor(
    cloud: Cloud, api: str, tenants: dict[str, str], amphora: None
) -> None:
    first = tenants["first"]
    made = _lb(api, "show", "Web LB", project=first)
    listener = _lb(api, "listener", "create", "--protocol", "HTTP", "--protocol-port", "80",
                   "--name", "http", "--connection-limit", "1000", "--wait", "Web LB",
                   project=first)  # fmt: skip
    assert (listener["protocol"], listener["protocol_port"], listener["connection_limit"],
            listener["loadbalancers"]) == ("HTTP", 80, 1000, [{"id": made["id"]}])  # fmt: skip
    pool = _lb(api, "pool", "create", "--listener", "http", "--protocol", "HTTP",
               "--lb-algorithm", "LEAST_CONNECTIONS", "--session-persistence",
               "type=APP_COOKIE,cookie_name=sid", "--name", "web-pool", "--wait",
               project=first)  # fmt: skip
    assert (pool["lb_algorithm"], pool["listeners"], pool["loadbalancers"]) == (
        "LEAST_CONNECTIONS", [{"id": listener["id"]}], [{"id": made["id"]}])  # fmt: skip
    members = [_lb(api, "member", "create", "--address", address, "--protocol-port", "8080",
                   "--subnet-id", "private-v4", "--name", name, "--wait", "web-pool",
                   project=first)
               for name, address in (("web-1", "10.0.0.21"), ("web-2", "10.0.0.22"))]  # fmt: skip
    monitor = _lb(api, "healthmonitor", "create", "--delay", "5", "--timeout", "3",
                  "--max-retries", "2", "--type", "HTTP", "--url-path", "/health", "--name",
                  "web-check", "--wait", "web-pool", project=first)  # fmt: skip
    assert (monitor["type"], monitor["url_path"], monitor["pools"]) == (
        "HTTP", "/health", [{"id": pool["id"]}])  # fmt: skip

    # The Kubernetes objects, each naming its parent by name.
    stored_listener = _one(cloud, "listeners", first, listener["id"])
    stored_pool = _one(cloud, "pools", first, pool["id"])
    lb_name = _one(cloud, "loadbalancers", first, made["id"])["metadata"]["name"]
    assert _subset(stored_listener["spec"], {
        "loadBalancer": lb_name, "protocol": "HTTP", "protocolPort": 80,
        "connectionLimit": 1000, "defaultPool": "web-pool"})  # fmt: skip
    assert _subset(stored_pool["spec"], {
        "loadBalancer": lb_name, "protocol": "HTTP", "lbAlgorithm": "LEAST_CONNECTIONS",
        "sessionPersistence": {"type": "APP_COOKIE", "cookieName": "sid"}})  # fmt: skip
    for member, address in zip(members, ("10.0.0.21", "10.0.0.22"), strict=True):
        assert _subset(_one(cloud, "members", first, member["id"])["spec"], {
            "pool": "web-pool", "address": address, "protocolPort": 8080,
            "subnet": "private-v4"})  # fmt: skip
    assert _subset(_one(cloud, "healthmonitors", first, monitor["id"])["spec"], {
        "pool": "web-pool", "type": "HTTP", "delay": 5, "timeout": 3, "maxRetries": 2,
        "urlPath": "/health"})  # fmt: skip


def test_the_cli_shows_it_all_once_the_amphora_runs_it(
    api: str, tenants: dict[str, str], amphora: None
) -> None:
    first = tenants["first"]
    shown, listener, pool = (_lb(api, *what, project=first) for what in (
        ("show", "Web LB"), ("listener", "show", "http"),
        ("pool", "show", "web-pool")))  # fmt: skip
    assert (shown["provisioning_status"], shown["listeners"], shown["pools"]) == (
        "ACTIVE", [{"id": listener["id"]}], [{"id": pool["id"]}])  # fmt: skip
    tree = json.loads(openstack(api, "alice", first, "loadbalancer", "status", "show",
                                shown["id"]).stdout)["loadbalancer"]  # fmt: skip
    (in_tree,) = tree["listeners"]
    (tree_pool,) = in_tree["pools"]
    assert (tree["operating_status"], in_tree["name"], tree_pool["name"],
            tree_pool["healthmonitor"]["name"],
            [(m["name"], m["address"], m["operating_status"]) for m in tree_pool["members"]]) == (
        "ONLINE", "http", "web-pool", "web-check",
        [("web-1", "10.0.0.21", "ONLINE"), ("web-2", "10.0.0.22", "ONLINE")])  # fmt: skip
    listed_members = _lb(api, "member", "list", "web-pool", project=first)
    assert sorted((m["name"], m["address"], m["protocol_port"], m["weight"])
                  for m in listed_members) == [("web-1", "10.0.0.21", 8080, 1),
                                               ("web-2", "10.0.0.22", 8080, 1)]  # fmt: skip
    assert [x["id"] for x in _lb(api, "listener", "list", "--loadbalancer", shown["id"],
                                 project=first)] == [listener["id"]]  # fmt: skip


def test_changes_are_merge_patches_of_the_objects(
    cloud: Cloud, api: str, tenants: dict[str, str], amphora: None
) -> None:
    first = tenants["first"]
    made, pool, web_2 = (_lb(api, *what, project=first) for what in (
        ("show", "Web LB"), ("pool", "show", "web-pool"),
        ("member", "show", "web-pool", "web-2")))  # fmt: skip
    openstack(api, "alice", first, "loadbalancer", "set", "--name", "web", "--description",
              "front door", "--wait", "Web LB")  # fmt: skip
    openstack(api, "alice", first, "loadbalancer", "member", "set", "--weight", "5",
              "--disable", "--wait", "web-pool", "web-2")  # fmt: skip
    openstack(api, "alice", first, "loadbalancer", "pool", "set", "--lb-algorithm",
              "ROUND_ROBIN", "--wait", "web-pool")  # fmt: skip
    assert _subset(_one(cloud, "members", first, web_2["id"])["spec"], {
        "weight": 5, "adminStateUp": False})  # fmt: skip
    assert _one(cloud, "pools", first, pool["id"])["spec"]["lbAlgorithm"] == "ROUND_ROBIN"
    renamed = _lb(api, "show", made["id"], project=first)
    assert (renamed["name"], renamed["description"], renamed["provisioning_status"]) == (
        "web", "front door", "ACTIVE")  # fmt: skip
    annotations = _one(cloud, "loadbalancers", first, made["id"])["metadata"]["annotations"]
    assert annotations[documents.NAME_ANNOTATION] == "web"  # its Kubernetes name is web-lb-…


def test_openstacksdk_sees_the_load_balancer(api: str, tenants: dict[str, str]) -> None:
    """openstacksdk discovers Octavia at /load-balancer and speaks /v2/lbaas."""
    conn = sdk.connect(auth_url=f"{api}/v3", username="alice", password="s3cret-alice",
                       project_name=tenants["first"], user_domain_name="Default",
                       project_domain_name="Default", region_name="RegionOne",
                       interface="public", load_yaml_config=False,
                       load_envvars=False)  # fmt: skip
    balancer: Any = conn.load_balancer
    (found,) = list(balancer.load_balancers())
    assert (found.name, found.provisioning_status, found.provider) == ("web", "ACTIVE", "amphora")
    pools = list(balancer.pools(loadbalancer_id=found.id))
    assert [p.name for p in pools] == ["web-pool"]
    assert sorted(m.address for m in balancer.members(pools[0].id)) == ["10.0.0.21", "10.0.0.22"]
    assert balancer.find_load_balancer("web").id == found.id


def test_octavia_s_refusals_in_octavia_s_words(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    first = tenants["first"]
    token = _token(api, "alice", first)
    status, versions = call(f"{api}/load-balancer/", token=token)
    assert (status, [v["id"] for v in versions["versions"]]) == (200, ["v2.0"])
    lb = _octavia(api, token, "GET", "loadbalancers?name=web")[1]["loadbalancers"][0]
    pool = _octavia(api, token, "GET", "pools?name=web-pool")[1]["pools"][0]

    assert _fault(_octavia(api, token, "GET", "loadbalancers/nope")) == (
        404, "Load Balancer nope not found.")  # fmt: skip
    assert _fault(_octavia(api, token, "POST", "listeners", {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 80}})) == (
        409, "Another Listener on this Load Balancer is already using protocol HTTP and "
             "protocol_port 80")  # fmt: skip
    assert _fault(_octavia(api, token, "DELETE", f"loadbalancers/{lb['id']}")) == (
        400,
        f"Validation failure: Cannot delete Load Balancer {lb['id']} - it has children",
    )
    assert _fault(_octavia(api, token, "POST", "healthmonitors", {"healthmonitor": {
        "pool_id": pool["id"], "type": "TCP", "delay": 5, "timeout": 5, "max_retries": 3}})) == (
        409, "This pool already has a health monitor")  # fmt: skip
    # A member the amphora cannot reach: the admission webhook's words, as kubectl gets them.
    status, said = _fault(_octavia(api, token, "POST", f"pools/{pool['id']}/members", {"member": {
        "address": "192.0.2.7", "protocol_port": 80}}))  # fmt: skip
    assert status == 400
    assert "member address 192.0.2.7 is not on subnet private-v4 (10.0.0.0/24)" in said, said
    refused = openstack(api, "alice", first, "loadbalancer", "listener", "create", "--protocol",
                        "UDP", "--protocol-port", "53", "web", check=False)  # fmt: skip
    assert refused.returncode != 0
    assert ("Invalid input for field/attribute protocol. Value: 'UDP'. Value should be one of: "
            "HTTP, HTTPS, TCP") in refused.stderr, refused.stderr  # fmt: skip
    assert len(_items(cloud, "listeners", first)) == 1


def test_another_project_sees_none_of_it_and_a_reader_makes_none(
    api: str, tenants: dict[str, str]
) -> None:
    first, second = tenants["first"], tenants["second"]
    lb = _lb(api, "show", "web", project=first)
    assert _lb(api, "list", user="bob", project=second) == []
    assert _lb(api, "pool", "list", user="bob", project=second) == []
    missing = openstack(api, "bob", second, "loadbalancer", "show", lb["id"], check=False)
    assert missing.returncode != 0
    # octaviaclient's words, once the API's 404 has sent it looking by name
    assert f"Unable to locate {lb['id']} in loadbalancers" in missing.stderr, missing.stderr
    token = _token(api, "bob", second)
    assert _fault(_octavia(api, token, "GET", f"loadbalancers/{lb['id']}")) == (
        404, f"Load Balancer {lb['id']} not found.")  # fmt: skip
    assert _fault(_octavia(api, token, "POST", "listeners", {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 22}})) == (
        404, f"Load Balancer {lb['id']} not found.")  # fmt: skip

    seen = _lb(api, "list", user="carol", project=first)
    assert [b["id"] for b in seen] == [lb["id"]]
    refused = openstack(api, "carol", first, "loadbalancer", "create", "--vip-subnet-id",
                        "private-v4", "--name", "nope", check=False)  # fmt: skip
    assert refused.returncode != 0
    assert "cannot create resource" in refused.stderr, refused.stderr


def test_a_load_balancer_is_deleted_with_its_objects(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    first = tenants["first"]
    openstack(api, "alice", first, "loadbalancer", "pool", "delete", "--wait", "web-pool")
    listener = _lb(api, "listener", "show", "http", project=first)
    assert listener["default_pool_id"] is None  # a deleted pool is no listener's default pool
    assert _items(cloud, "members", first) == _items(cloud, "healthmonitors", first) == []
    refused = openstack(api, "alice", first, "loadbalancer", "delete", "web", check=False)
    assert "it has children" in refused.stderr, refused.stderr
    openstack(api, "alice", first, "loadbalancer", "delete", "--cascade", "--wait", "web")
    assert _lb(api, "list", project=first) == []
    deadline = time.monotonic() + 60  # the VIP's port goes with its load balancer
    while any(_items(cloud, p, first) for p in ("loadbalancers", *OBJECTS)) or any(
        p["metadata"]["name"].startswith("octavia-lb-")
        for p in json.loads(cloud.kubectl("get", "osport", "-n", first, "-o",
                                          "json").stdout)["items"]):  # fmt: skip
        assert time.monotonic() < deadline, "the load balancer's objects are still there"
        time.sleep(0.5)
