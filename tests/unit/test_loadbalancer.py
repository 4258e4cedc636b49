"""nimbus.loadbalancer: the objects -> the engine's model, Octavia's statuses, the amphora pod,
the health report's patch, and the member refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nimbus.loadbalancer import admission, agent, amphora, render


def _obj(name: str, spec: dict[str, Any], deleting: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "p"}
    if deleting:
        metadata["deletionTimestamp"] = "2026-12-07T00:00:00Z"
    return {"metadata": metadata, "spec": spec}


LB = _obj("lb", {"vipSubnet": "net-v4"})
LISTENERS = [
    _obj("http", {"loadBalancer": "lb", "protocol": "HTTP", "protocolPort": 80,
                  "defaultPool": "web", "allowedCIDRs": ["10.1.0.0/16", "10.0.0.0/16"]}),
    _obj("down", {"loadBalancer": "lb", "protocol": "TCP", "protocolPort": 81,
                  "adminStateUp": False}),
    _obj("elsewhere", {"loadBalancer": "other", "protocol": "HTTP", "protocolPort": 80}),
]  # fmt: skip
POOLS = [
    _obj("web", {"loadBalancer": "lb", "protocol": "HTTP", "lbAlgorithm": "LEAST_CONNECTIONS",
                 "sessionPersistence": {"type": "APP_COOKIE", "cookieName": "sid"}}),
    _obj("other-pool", {"loadBalancer": "other", "protocol": "HTTP"}),
]  # fmt: skip
MEMBERS = [
    _obj("m2", {"pool": "web", "address": "10.0.0.12", "protocolPort": 8080, "weight": 3,
                "adminStateUp": False}),
    _obj("m1", {"pool": "web", "address": "10.0.0.11", "protocolPort": 8080}),
    _obj("gone", {"pool": "web", "address": "10.0.0.13", "protocolPort": 8080}, deleting=True),
    _obj("theirs", {"pool": "other-pool", "address": "10.0.0.14", "protocolPort": 80}),
]  # fmt: skip
MONITORS = [
    _obj("hm", {"pool": "web", "type": "HTTP", "delay": 5, "timeout": 3, "maxRetries": 2,
                "urlPath": "/healthz", "expectedCodes": "200-204"}),
]  # fmt: skip


def test_the_model_holds_the_load_balancers_objects_only() -> None:
    lb = render.model(LB, "10.0.0.100", LISTENERS, POOLS, MEMBERS, MONITORS)
    assert lb == amphora.LoadBalancer(
        name="lb",
        vip_address="10.0.0.100",
        listeners=(
            amphora.Listener("http", "HTTP", 80, default_pool="web",
                             allowed_cidrs=("10.0.0.0/16", "10.1.0.0/16")),
        ),
        pools=(
            amphora.Pool(
                "web", "HTTP", "LEAST_CONNECTIONS",
                session_persistence=amphora.SessionPersistence("APP_COOKIE", "sid"),
                members=(amphora.Member("m1", "10.0.0.11", 8080),
                         amphora.Member("m2", "10.0.0.12", 8080, weight=3,
                                        admin_state_up=False)),
                health_monitor=amphora.HealthMonitor(
                    "HTTP", 5, 3, 2, url_path="/healthz", expected_codes="200-204"
                ),
            ),
        ),
    )  # fmt: skip
    config = amphora.haproxy_config(lb, stats_socket="/run/amphora/stats.sock")
    assert "server m2 10.0.0.12:8080 weight 3" in config
    assert "disabled" in config


def test_the_digest_changes_with_what_haproxy_runs_only() -> None:
    base = render.model(LB, "10.0.0.100", LISTENERS, POOLS, MEMBERS, MONITORS)
    same = render.model(LB, "10.0.0.100", LISTENERS[::-1], POOLS[::-1], MEMBERS[::-1], MONITORS)
    assert render.digest(base) == render.digest(same)
    heavier = [_obj("m1", {**MEMBERS[1]["spec"], "weight": 2}), *MEMBERS[:1]]
    assert render.digest(base) != render.digest(
        render.model(LB, "10.0.0.100", LISTENERS, POOLS, heavier, MONITORS)
    )


@pytest.mark.parametrize(
    ("spec_ok", "wanted", "running", "created", "expected"),
    [
        (True, "a", None, False, "PENDING_CREATE"),
        (True, "a", "a", True, "ACTIVE"),
        (True, "b", "a", True, "PENDING_UPDATE"),
        (False, "a", "a", True, "ERROR"),
    ],
)
def test_provisioning_status(
    spec_ok: bool, wanted: str, running: str | None, created: bool, expected: str
) -> None:
    assert render.provisioning(spec_ok, wanted, running, created) == expected


HEALTH = {"loadBalancer": "DEGRADED", "members": {"m1": "ONLINE", "m2": "ERROR"},
          "pools": {"web": "DEGRADED"}, "listeners": {"http": "ONLINE"}}  # fmt: skip


@pytest.mark.parametrize(
    ("health", "section", "name", "admin", "expected"),
    [
        (HEALTH, "members", "m2", True, "ERROR"),
        (HEALTH, "loadBalancer", "lb", True, "DEGRADED"),
        (HEALTH, "members", "m9", True, "OFFLINE"),  # not reported (yet)
        (HEALTH, "members", "m1", False, "OFFLINE"),  # admin-down
        (None, "pools", "web", True, "OFFLINE"),  # no amphora has reported
    ],
)
def test_operating_status(
    health: dict[str, Any] | None, section: str, name: str, admin: bool, expected: str
) -> None:
    assert render.operating(health, section, name, admin_state_up=admin) == expected


def test_the_health_patch_nulls_what_is_no_longer_reported() -> None:
    statuses = amphora.OperatingStatuses(
        "ONLINE", {"http": "ONLINE"}, {"web": "ONLINE"}, {"m1": "ONLINE"}
    )
    patch = agent.health_patch(HEALTH, statuses, "digest")
    assert patch["members"] == {"m1": "ONLINE", "m2": None}
    assert not agent.unchanged(HEALTH, patch)
    applied = {**patch, "members": {"m1": "ONLINE"}}
    assert agent.unchanged(applied, patch)


def test_the_amphora_pod_holds_the_vip_and_nothing_more() -> None:
    account, role, binding, deployment = render.render_pod(
        LB, vip_address="10.0.0.100", prefix=24, nad="net", image="nimbus:test",
        owner={"kind": "LoadBalancer"},
    )  # fmt: skip
    template = deployment["spec"]["template"]
    assert json.loads(template["metadata"]["annotations"][render.NETWORKS_ANNOTATION]) == [
        {"name": "net", "interface": "vip0", "ips": ["10.0.0.100/24"]}
    ]
    (container,) = template["spec"]["containers"]
    assert container["securityContext"]["capabilities"] == {
        "drop": ["ALL"], "add": ["NET_ADMIN", "NET_BIND_SERVICE"],
    }  # fmt: skip
    assert container["command"][:2] == ["nimbus", "amphora-agent"]
    writes = [r for r in role["rules"] if set(r["verbs"]) - {"get", "list"}]
    assert writes == [
        {"apiGroups": ["loadbalancer.nimbus.dev"], "resources": ["loadbalancers/status"],
         "resourceNames": ["lb"], "verbs": ["patch"]},
    ]  # fmt: skip
    assert (account["kind"], binding["roleRef"]["name"]) == ("ServiceAccount", "amphora-lb")


SUBNETS = [
    {"metadata": {"name": "net-v4"}, "spec": {"network": "net", "cidr": "10.0.0.0/24"}},
    {"metadata": {"name": "net-b"}, "spec": {"network": "net", "cidr": "10.0.1.0/24"}},
    {"metadata": {"name": "other"}, "spec": {"network": "other", "cidr": "10.9.0.0/24"}},
]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"address": "10.0.0.5"}, None),
        ({"address": "10.0.0.5", "subnet": "net-v4", "monitorAddress": "10.0.0.6"}, None),
        ({"address": "10.0.1.5"},
         "spec.address: Validation failure: member address 10.0.1.5 is not on subnet net-v4 "
         "(10.0.0.0/24) of network net, the load balancer's VIP subnet: the amphora reaches "
         "members there only"),
        ({"address": "10.0.0.5", "monitorAddress": "10.96.0.1"},
         "spec.monitorAddress: Validation failure: member monitorAddress 10.96.0.1 is not on "
         "subnet net-v4 (10.0.0.0/24) of network net, the load balancer's VIP subnet: the "
         "amphora reaches members there only"),
        ({"address": "10.0.1.5", "subnet": "net-b"},
         "spec.subnet: Subnet net-b is on network net, but the amphora is on the VIP's subnet "
         "net-v4 only: a member is on it"),
        ({"address": "10.9.0.5", "subnet": "other"},
         "spec.subnet: Subnet other is not on network net, the amphora is on the VIP's subnet "
         "net-v4 only: a member is on it"),
    ],
)  # fmt: skip
def test_member_refusal(spec: dict[str, Any], expected: str | None) -> None:
    member = {"metadata": {"name": "m"}, "spec": spec}
    assert admission.member_refusal(member, SUBNETS[0], SUBNETS) == expected


def test_a_member_off_the_vip_subnet_is_never_served() -> None:
    """Let through before its load balancer existed, it is still refused by the operator and
    the agent: the amphora's pod network is no way to the cluster."""
    lb = render.model(
        LB, "10.0.0.100", LISTENERS, POOLS,
        [_obj("api", {"pool": "web", "address": "10.96.0.1", "protocolPort": 443})], MONITORS,
    )  # fmt: skip
    assert render.outside(lb, "10.0.0.0/24") == (
        "member api: address 10.96.0.1 is not on the VIP's subnet 10.0.0.0/24, the amphora's "
        "only network"
    )
    assert (
        render.outside(render.model(LB, "10.0.0.100", [], POOLS, MEMBERS, []), "10.0.0.0/24")
        is None
    )


def test_long_names_stay_labels() -> None:
    long = "x" * 200
    assert len(render.name_of(long)) == 63
    assert render.name_of(long) != render.name_of(long[:-1] + "y")
