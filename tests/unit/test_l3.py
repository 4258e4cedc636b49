"""nimbus.network.l3: a Router and its FloatingIPs -> the router's data path; and the refusals of
a router's interfaces (nimbus.network.admission.router_refusal)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from nimbus.network import admission, agent, l3, render, router_pod

BLUE = l3.Leg("qr-blue", "10.0.0.1", "10.0.0.0/24")
GREEN = l3.Leg("qr-green", "10.0.1.1", "10.0.1.0/24")
GATEWAY = l3.Gateway("qg-public", "203.0.113.10", "203.0.113.0/24", nexthop="203.0.113.1")


def _router(
    *,
    snat: bool = True,
    admin: bool = True,
    routes: list[dict[str, str]] | None = None,
    gateway: bool = True,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"adminStateUp": admin, "routes": routes or []}
    status: dict[str, Any] = {
        "interfaces": [
            {"device": "qr-blue", "network": "blue", "ipAddress": "10.0.0.1",
             "cidr": "10.0.0.0/24"},
            {"device": "qr-green", "network": "green", "ipAddress": "10.0.1.1",
             "cidr": "10.0.1.0/24"},
            {"device": "qr-v6", "network": "v6", "ipAddress": "fd00::1", "cidr": "fd00::/64"},
        ],
    }  # fmt: skip
    if gateway:
        spec["externalGateway"] = {"network": "public", "project": "admin", "enableSNAT": snat}
        status["externalGateway"] = {
            "device": "qg-public", "network": "public", "project": "admin",
            "ipAddress": "203.0.113.10", "cidr": "203.0.113.0/24", "gatewayIP": "203.0.113.1",
        }  # fmt: skip
    return {"metadata": {"name": "r1", "namespace": "p"}, "spec": spec, "status": status}


def _floating(
    name: str, floating: str, fixed: str | None, router: str | None = "r1", deleting: bool = False
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if deleting:
        metadata["deletionTimestamp"] = "2026-12-07T00:00:00Z"
    return {
        "metadata": metadata,
        "status": {"floatingIPAddress": floating, "fixedIPAddress": fixed, "router": router},
    }


FLOATING = [
    _floating("web", "203.0.113.20", "10.0.0.5"),
    _floating("db", "203.0.113.21", "10.0.1.5"),
    _floating("unassociated", "203.0.113.22", None, router=None),
    _floating("other-router", "203.0.113.23", "10.0.0.6", router="r2"),
    _floating("going", "203.0.113.24", "10.0.0.7", deleting=True),
]


@pytest.mark.parametrize(
    ("router", "floating", "expected"),
    [
        pytest.param(
            _router(), FLOATING,
            l3.Plan(legs=(BLUE, GREEN), gateway=GATEWAY,
                    floating=(("203.0.113.20", "10.0.0.5"), ("203.0.113.21", "10.0.1.5"))),
            id="IPv4 legs, the gateway, this router's associated floating IPs",
        ),
        pytest.param(_router(admin=False), FLOATING, l3.Plan(), id="admin down: nothing"),
        pytest.param(
            _router(gateway=False), FLOATING, l3.Plan(legs=(BLUE, GREEN)),
            id="no gateway: no floating IPs",
        ),
        pytest.param(
            _router(snat=False), [],
            l3.Plan(legs=(BLUE, GREEN), gateway=l3.Gateway(
                "qg-public", "203.0.113.10", "203.0.113.0/24", nexthop="203.0.113.1", snat=False)),
            id="enable_snat off",
        ),
        pytest.param(
            _router(routes=[{"destination": "192.168.9.0/24", "nexthop": "10.0.1.9"}]), [],
            l3.Plan(legs=(BLUE, GREEN), gateway=GATEWAY,
                    routes=(("192.168.9.0/24", "10.0.1.9"),)),
            id="static routes",
        ),
    ],
)  # fmt: skip
def test_plan_of(router: dict[str, Any], floating: list[dict[str, Any]], expected: l3.Plan) -> None:
    assert l3.plan_of(router, floating) == expected


def test_equal_plans_have_equal_digests_and_any_change_shows() -> None:
    plan = l3.plan_of(_router(), FLOATING)
    assert plan.digest() == l3.plan_of(_router(), list(reversed(FLOATING))).digest()
    assert plan.digest() != l3.plan_of(_router(), FLOATING[:1]).digest()
    assert plan.digest() != l3.plan_of(_router(snat=False), FLOATING).digest()


@pytest.mark.parametrize(
    ("plan", "present", "absent"),
    [
        pytest.param(
            l3.Plan(legs=(BLUE, GREEN), gateway=GATEWAY,
                    floating=(("203.0.113.20", "10.0.0.5"),)),
            ['iifname { "qr-blue", "qr-green" } oifname { "qr-blue", "qr-green" } accept',
             'iifname { "qr-blue", "qr-green" } oifname "qg-public" accept',
             'iifname "qg-public" ct status dnat accept',
             "elements = { 203.0.113.20 : 10.0.0.5 }",
             "elements = { 10.0.0.5 : 203.0.113.20 }",
             'iifname "qg-public" dnat to ip daddr map @floating_dnat',
             'oifname "qg-public" snat to ip saddr map @floating_snat',
             'oifname "qg-public" ip saddr { 10.0.0.0/24, 10.0.1.0/24 } snat to 203.0.113.10',
             "type filter hook forward priority filter; policy drop;"],
            ['ip daddr { 10.0.0.0/24, 10.0.1.0/24 } accept'],
            id="SNAT and a floating IP; the outside reaches only what is DNATed",
        ),
        pytest.param(
            l3.Plan(legs=(BLUE,), gateway=l3.Gateway(
                "qg-public", "203.0.113.10", "203.0.113.0/24", snat=False)),
            ['iifname "qg-public" ip daddr { 10.0.0.0/24 } accept'],
            ["snat to 203.0.113.10", "elements"],
            id="SNAT off: the subnets are routed from the outside, not hidden",
        ),
        pytest.param(
            l3.Plan(legs=(BLUE, GREEN)),
            ['oifname { "qr-blue", "qr-green" } accept'],
            ["qg-", "dnat to", "snat to"],
            id="no gateway: east-west only",
        ),
        pytest.param(
            l3.Plan(), ["policy drop;", "ct state established,related accept"],
            ["iifname", "oifname"], id="nothing: forwards nothing",
        ),
    ],
)  # fmt: skip
def test_ruleset(plan: l3.Plan, present: list[str], absent: list[str]) -> None:
    text = l3.ruleset(plan)
    assert text.startswith("table ip nimbus\ndelete table ip nimbus\ntable ip nimbus {\n")
    for line in present:
        assert line in text
    for line in absent:
        assert line not in text


def test_a_thousand_floating_ips_are_two_map_entries_each_not_rules() -> None:
    floating = tuple((f"203.0.{i // 250}.{i % 250 + 1}", f"10.0.{i // 250}.{i % 250 + 2}")
                     for i in range(1000))  # fmt: skip
    text = l3.ruleset(l3.Plan(legs=(BLUE,), gateway=GATEWAY, floating=floating))
    assert text.count("dnat to") == 1
    assert text.count(" : ") == 2 + 2000  # the maps' types, then one entry each way per IP


def test_addresses_and_routes() -> None:
    plan = l3.Plan(
        legs=(BLUE, GREEN), gateway=GATEWAY, floating=(("203.0.113.20", "10.0.0.5"),),
        routes=(("192.168.9.0/24", "10.0.1.9"), ("198.51.100.0/24", "172.16.0.1")),
    )  # fmt: skip
    assert l3.addresses(plan) == {
        "qr-blue": {"10.0.0.1/24"},
        "qr-green": {"10.0.1.1/24"},
        "qg-public": {"203.0.113.10/24", "203.0.113.20/32"},
    }
    assert [" ".join(r.arguments()) for r in l3.routes(plan)] == [
        "10.0.0.0/24 dev qr-blue src 10.0.0.1",
        "10.0.1.0/24 dev qr-green src 10.0.1.1",
        "192.168.9.0/24 via 10.0.1.9 dev qr-green",  # a nexthop on no leg is left out
        "203.0.113.0/24 dev qg-public src 203.0.113.10",
        "default via 203.0.113.1 dev qg-public",
        f"unreachable default metric {l3.UNREACHABLE_METRIC}",
    ]
    # Without a gateway the table still ends: the pod's own routes are never a tenant's.
    assert [" ".join(r.arguments()) for r in l3.routes(l3.Plan(legs=(BLUE,)))][-1].startswith(
        "unreachable default"
    )


def test_device_names_are_neutrons_length() -> None:
    assert len(l3.internal_device("subnet/" + "x" * 253)) == 14
    assert l3.external_device("admin", "public").startswith("qg-")
    assert l3.internal_device("subnet/a") != l3.internal_device("port/a")


def _subnet(name: str, cidr: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"cidr": cidr}}


def _named(name: str, *subnets: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"interfaces": [{"subnet": s} for s in subnets]}}


SUBNETS = [_subnet("a", "10.0.0.0/24"), _subnet("b", "10.0.0.128/25"), _subnet("c", "10.1.0.0/24")]


@pytest.mark.parametrize(
    ("router", "others", "expected"),
    [
        (_named("r", "a", "c"), [], None),
        (_named("r", "a", "b"), [],
         "spec.interfaces: Bad router request: Cidr 10.0.0.128/25 of subnet b overlaps with cidr "
         "10.0.0.0/24 of subnet a."),
        (_named("r", "c"), [_named("r0", "c")],
         "spec.interfaces: Router r0 already has a port on subnet c: a subnet is routed by one "
         "router (its gateway address is that router's)."),
        (_named("r", "c"), [_named("r", "c")], None),  # itself, on update
    ],
)  # fmt: skip
def test_router_refusal(
    router: dict[str, Any], others: list[dict[str, Any]], expected: str | None
) -> None:
    assert admission.router_refusal(router, SUBNETS, others) == expected


@pytest.mark.parametrize(
    ("plural", "spec", "old", "expected"),
    [
        ("networks", {"external": True}, None, ["spec.external"]),
        ("networks", {"external": False, "shared": False}, None, []),
        ("networks", {"shared": True, "provider": {"networkType": "vlan",
                      "physicalNetwork": "eth1", "segmentationID": 7}}, None,
         ["spec.shared", "spec.provider", "spec.provider.physicalNetwork",
          "spec.provider.segmentationID"]),
        ("networks", {"provider": {"networkType": "local", "cni": "bridge"}}, None, []),
        ("networks", {"provider": {"cni": "macvlan"}}, None, ["spec.provider.cni"]),
        # an admin's external network stays editable by members in its other fields
        ("networks", {"external": True, "description": "x"}, {"external": True}, []),
        ("networks", {"external": True}, {"external": False}, ["spec.external"]),
        ("routers", {"ha": True}, None, ["spec.ha"]),
        ("routers", {"externalGateway": {"network": "ext"}}, None, []),
        ("routers", {"externalGateway": {"network": "ext", "enableSNAT": True}}, None, []),
        ("routers", {"externalGateway": {"network": "ext", "enableSNAT": False}}, None,
         ["spec.externalGateway.enableSNAT"]),
        ("routers", {"externalGateway": {"network": "ext", "enableSNAT": False}},
         {"externalGateway": {"network": "ext", "enableSNAT": False}}, []),
        ("routers", {"externalGateway": {"network": "ext",
                                         "externalFixedIPs": [{"ipAddress": "10.0.0.5"}]}},
         {"externalGateway": {"network": "ext",
                              "externalFixedIPs": [{"ipAddress": "10.0.0.4"}]}},
         ["spec.externalGateway.externalFixedIPs"]),
        ("routers", {"externalGateway": {"network": "ext", "externalFixedIPs": []}}, None, []),
        ("floatingips", {"floatingNetwork": {"network": "ext"}}, None, []),
        ("floatingips", {"floatingNetwork": {"network": "ext"},
                         "floatingIPAddress": "10.0.0.9"}, None, ["spec.floatingIPAddress"]),
    ],
)  # fmt: skip
def test_admin_only_fields(
    plural: str, spec: dict[str, Any], old: dict[str, Any] | None, expected: list[str]
) -> None:
    assert [path for path, _ in admission.admin_fields(plural, spec, old)] == expected


def test_router_pod_is_attached_to_each_leg_and_holds_net_admin_and_raw_only() -> None:
    body = _router()
    status = body["status"]
    nads = {("", "blue"): "blue", ("", "green"): "green", ("admin", "public"): "public"}
    for leg in status["interfaces"]:
        leg.setdefault("project", "")
    account, role, binding, deployment = router_pod.render(
        {**body, "spec": {**body["spec"], "ha": True}}, status, nads,
        image="nimbus:test", owner={"kind": "Router"},
    )  # fmt: skip
    assert (account["kind"], role["kind"], binding["kind"]) == (
        "ServiceAccount", "Role", "RoleBinding",
    )  # fmt: skip
    pod = deployment["spec"]["template"]
    networks = json.loads(pod["metadata"]["annotations"][router_pod.NETWORKS_ANNOTATION])
    assert networks == [
        {"name": "blue", "interface": "qr-blue", "ips": ["10.0.0.1/24"]},
        {"name": "green", "interface": "qr-green", "ips": ["10.0.1.1/24"]},
        {"name": "public", "namespace": "admin", "interface": "qg-public",
         "ips": ["203.0.113.10/24"]},
    ]  # fmt: skip
    container = pod["spec"]["containers"][0]
    # HA: keepalived's raw VRRP sockets too; the two pods apart.
    assert container["securityContext"]["capabilities"] == {
        "drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"],
    }  # fmt: skip
    assert "podAntiAffinity" in pod["spec"]["affinity"]
    assert container["command"][:2] == ["nimbus", "router-agent"]
    assert deployment["spec"]["replicas"] == 2
    verbs = {(tuple(r["resources"]), tuple(r["verbs"])) for r in role["rules"]}
    assert verbs == {(("routers",), ("get",)), (("routers/status",), ("patch",)),
                     (("floatingips",), ("list",))}  # fmt: skip


class FakeKernel:
    """What `ip -j` answers, and the commands the agent runs: the agent's decisions alone."""

    def __init__(self, links: list[str], addresses: dict[str, list[str]]) -> None:
        self.links = links
        self.addresses = addresses
        self.commands: list[tuple[list[str], str | None]] = []

    def __call__(self, argv: Any, stdin: str | None) -> str:
        self.commands.append((list(argv), stdin))
        argv = list(argv)[4:] if list(argv)[:3] == ["ip", "netns", "exec"] else list(argv)
        if argv[:4] == ["ip", "-j", "link", "show"]:
            return json.dumps([{"ifname": name} for name in self.links])
        if argv[:5] == ["ip", "-j", "-4", "address", "show"]:
            return json.dumps([
                {"ifname": name, "addr_info": [
                    {"local": a.split("/")[0], "prefixlen": int(a.split("/")[1])} for a in held
                ]} for name, held in self.addresses.items()
            ])  # fmt: skip
        if argv[:5] == ["ip", "-j", "-4", "rule", "show"]:
            return json.dumps([{"priority": l3.RULE_PRIORITY, "iif": "qr-gone"}])
        if argv[:5] == ["ip", "-j", "-4", "route", "show"]:
            return json.dumps([{"dst": "10.9.0.0/24", "dev": "qr-gone"}])
        return ""


def test_agent_adds_what_is_missing_and_removes_what_is_not_its_plan() -> None:
    kernel = FakeKernel(
        ["lo", "eth0", "qr-blue", "qg-public"],
        {"eth0": ["10.244.0.7/24"], "qr-blue": ["10.0.0.1/24", "10.0.0.99/24"]},
    )
    path = agent.DataPath(netns="rt", runner=kernel)
    path.apply(l3.Plan(legs=(BLUE,), gateway=GATEWAY))
    assert all(argv[:4] == ["ip", "netns", "exec", "rt"] for argv, _ in kernel.commands)
    batch = next(stdin for argv, stdin in kernel.commands if "-batch" in argv)
    assert batch is not None
    lines = batch.splitlines()
    assert "address del 10.0.0.99/24 dev qr-blue" in lines
    assert "address add 203.0.113.10/24 dev qg-public" in lines
    assert not any("eth0" in line for line in lines)  # the pod's own interface is not its
    assert "rule del iif qr-gone priority 1000 table 100" in lines
    assert "rule add iif qr-blue priority 1000 table 100" in lines
    assert "route del 10.9.0.0/24 table 100" in lines
    assert kernel.commands[-1][0][-3:] == ["nft", "-f", "-"]


def test_agent_says_which_interfaces_are_missing() -> None:
    kernel = FakeKernel(["lo", "qr-blue"], {})
    with pytest.raises(agent.AgentError, match="interfaces qg-public are not in the router"):
        agent.DataPath(netns="rt", runner=kernel).apply(l3.Plan(legs=(BLUE,), gateway=GATEWAY))


def test_a_servers_floating_ip_follows_its_fixed_ip_in_its_addresses() -> None:
    from nimbus.compute import status

    fixed = {
        "private": [
            {"addr": "10.0.0.5", "version": 4, "type": "fixed", "mac": "02:00:00:00:00:05"},
            {"addr": "fd00::5", "version": 6, "type": "fixed", "mac": "02:00:00:00:00:05"},
        ],
        "other": [{"addr": "10.1.0.5", "version": 4, "type": "fixed"}],
    }
    found = status.with_floating(fixed, {"10.0.0.5": "203.0.113.20"})
    assert found["private"][1] == {
        "addr": "203.0.113.20", "version": 4, "type": "floating", "mac": "02:00:00:00:00:05",
    }  # fmt: skip
    assert found["other"] == fixed["other"]
    assert status.networks_column(found) == (
        "private=10.0.0.5, 203.0.113.20, fd00::5; other=10.1.0.5"
    )


def test_an_ha_routers_keepalived_holds_every_address_of_the_plan() -> None:
    plan = dataclasses.replace(
        l3.Plan(legs=(BLUE,), gateway=GATEWAY, floating=(("203.0.113.20", "10.0.0.5"),)),
        ha="p/r1",
    )
    text = l3.keepalived_config(plan)
    for line in ("interface qg-public", "state BACKUP", "nopreempt",
                 f"virtual_router_id {l3.virtual_router_id('p/r1')}",
                 "10.0.0.1/24 dev qr-blue", "203.0.113.10/24 dev qg-public",
                 "203.0.113.20/32 dev qg-public"):  # fmt: skip
        assert line in text
    # The table stands on the backup too: no route names an address it does not hold.
    assert all(r.source is None for r in l3.routes(plan))
    assert l3.ha_address("router-r1-a").startswith("169.254.")
    assert l3.ha_address("router-r1-a") != l3.ha_address("router-r1-b")


def test_an_external_network_is_readable_by_every_signed_in_user_and_nothing_else_is() -> None:
    role, binding = render.render_external_readers("public", "admin", ["public-v4"], None)
    assert role["metadata"] == binding["metadata"]
    assert (role["metadata"]["name"], role["metadata"]["namespace"]) == (
        "nimbus-external-public", "admin")  # fmt: skip
    assert role["rules"] == [
        {"apiGroups": ["network.nimbus.dev"], "resources": ["networks"],
         "resourceNames": ["public"], "verbs": ["get"]},
        {"apiGroups": ["network.nimbus.dev"], "resources": ["subnets"],
         "resourceNames": ["public-v4"], "verbs": ["get"]},
    ]  # fmt: skip
    assert [s["name"] for s in binding["subjects"]] == [
        "system:authenticated", "system:serviceaccounts"]  # fmt: skip
    assert binding["roleRef"]["name"] == "nimbus-external-public"
    (only,) = render.render_external_readers("public", "admin", [], None)[0]["rules"]
    assert only["resources"] == ["networks"]
