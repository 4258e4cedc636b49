"""A LoadBalancer and its listeners, pools, members and monitors -> the amphora engine's model
(nimbus.loadbalancer.amphora), the amphora pod, and Octavia's statuses. Pure."""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
from collections.abc import Iterable, Mapping
from typing import Any

from nimbus.api.meta import short
from nimbus.loadbalancer import amphora

MANAGED = {"app.kubernetes.io/managed-by": "nimbus"}
LB_LABEL = "loadbalancer.nimbus.dev/loadbalancer"
AGENT_IMAGE = "ghcr.io/nimbus-cloud/nimbus:latest"  # the chart sets NIMBUS_AGENT_IMAGE
NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
VIP_DEVICE = "vip0"  # the amphora's interface on the VIP subnet

Body = Mapping[str, Any]


def _live(bodies: Iterable[Body]) -> list[Body]:
    return sorted(
        (b for b in bodies if not b["metadata"].get("deletionTimestamp")),
        key=lambda b: str(b["metadata"]["name"]),
    )


def model(
    lb: Body,
    vip_address: str,
    listeners: Iterable[Body],
    pools: Iterable[Body],
    members: Iterable[Body],
    monitors: Iterable[Body],
) -> amphora.LoadBalancer:
    """The engine's model of a load balancer from its objects (those naming it, directly or by
    their pool). An admin-down listener is left out (its port closed); an admin-down member
    is rendered `disabled`; an admin-down health monitor checks nothing."""
    name = lb["metadata"]["name"]
    mine_pools = [p for p in _live(pools) if p["spec"]["loadBalancer"] == name]
    pool_names = {p["metadata"]["name"] for p in mine_pools}
    monitor_of = {
        m["spec"]["pool"]: m
        for m in _live(monitors)
        if m["spec"]["pool"] in pool_names and m["spec"].get("adminStateUp", True)
    }
    members_of: dict[str, list[amphora.Member]] = {}
    for m in _live(members):
        spec = m["spec"]
        if spec["pool"] not in pool_names:
            continue
        members_of.setdefault(spec["pool"], []).append(
            amphora.Member(
                name=m["metadata"]["name"],
                address=spec["address"],
                protocol_port=int(spec["protocolPort"]),
                weight=int(spec.get("weight", 1)),
                backup=bool(spec.get("backup", False)),
                admin_state_up=bool(spec.get("adminStateUp", True)),
                monitor_address=spec.get("monitorAddress"),
                monitor_port=spec.get("monitorPort"),
            )
        )
    engine_pools = []
    for p in mine_pools:
        spec = p["spec"]
        persistence = spec.get("sessionPersistence")
        monitor = monitor_of.get(p["metadata"]["name"])
        engine_pools.append(
            amphora.Pool(
                name=p["metadata"]["name"],
                protocol=spec["protocol"],
                lb_algorithm=spec.get("lbAlgorithm", "ROUND_ROBIN"),
                session_persistence=amphora.SessionPersistence(
                    persistence["type"], persistence.get("cookieName")
                )
                if persistence
                else None,
                members=tuple(members_of.get(p["metadata"]["name"], [])),
                health_monitor=_monitor(monitor["spec"]) if monitor else None,
            )
        )
    engine_listeners = tuple(
        amphora.Listener(
            name=listener["metadata"]["name"],
            protocol=listener["spec"]["protocol"],
            protocol_port=int(listener["spec"]["protocolPort"]),
            connection_limit=int(listener["spec"].get("connectionLimit", -1)),
            default_pool=listener["spec"].get("defaultPool"),
            timeout_client_data=int(listener["spec"].get("timeoutClientData", 50000)),
            timeout_member_connect=int(listener["spec"].get("timeoutMemberConnect", 5000)),
            timeout_member_data=int(listener["spec"].get("timeoutMemberData", 50000)),
            allowed_cidrs=tuple(sorted(listener["spec"].get("allowedCIDRs") or [])),
        )
        for listener in _live(listeners)
        if listener["spec"]["loadBalancer"] == name and listener["spec"].get("adminStateUp", True)
    )
    return amphora.LoadBalancer(
        name=name, vip_address=vip_address, listeners=engine_listeners, pools=tuple(engine_pools)
    )


def _monitor(spec: Mapping[str, Any]) -> amphora.HealthMonitor:
    return amphora.HealthMonitor(
        type=spec["type"],
        delay=int(spec["delay"]),
        timeout=int(spec["timeout"]),
        max_retries=int(spec["maxRetries"]),
        max_retries_down=int(spec.get("maxRetriesDown", 3)),
        http_method=spec.get("httpMethod", "GET"),
        url_path=spec.get("urlPath", "/"),
        expected_codes=spec.get("expectedCodes", "200"),
    )


def outside(lb: amphora.LoadBalancer, vip_cidr: str) -> str | None:
    """Why the amphora may not serve `lb`: a member (or its monitor address) off the VIP's
    subnet, which is the amphora's only leg: anything else would leave by the pod's own
    network. None when every address is on it."""
    subnet = ipaddress.ip_network(vip_cidr, strict=False)
    for pool in lb.pools:
        for member in pool.members:
            for field, address in (("address", member.address),
                                   ("monitorAddress", member.monitor_address)):  # fmt: skip
                if address is None:
                    continue
                try:
                    inside = ipaddress.ip_address(address) in subnet
                except ValueError:
                    inside = False
                if not inside:
                    return (
                        f"member {member.name}: {field} {address} is not on the VIP's subnet "
                        f"{subnet}, the amphora's only network"
                    )
    return None


def digest(lb: amphora.LoadBalancer) -> str:
    """The digest of what HAProxy must run: the operator's `status.config` and the agent's
    report compare by it."""
    text = json.dumps(dataclasses.asdict(lb), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- statuses ----------------------------------------------------------------------------------


def provisioning(spec_ok: bool, wanted: str | None, running: str | None, created: bool) -> str:
    """Octavia's provisioning_status: ACTIVE once the amphora runs the configuration wanted,
    PENDING_CREATE before it ever ran one, PENDING_UPDATE while it runs an older one, ERROR for
    a configuration that cannot be."""
    if not spec_ok:
        return "ERROR"
    if wanted is not None and running == wanted:
        return "ACTIVE"
    return "PENDING_UPDATE" if created else "PENDING_CREATE"


def operating(
    health: Mapping[str, Any] | None, section: str, name: str, *, admin_state_up: bool = True
) -> str:
    """An object's operating_status as the amphora last reported it: OFFLINE when admin-down
    or not reported (yet)."""
    if not admin_state_up:
        return "OFFLINE"
    if not health:
        return "OFFLINE"
    if section == "loadBalancer":
        return str(health.get("loadBalancer") or "OFFLINE")
    return str((health.get(section) or {}).get(name) or "OFFLINE")


# -- the amphora pod ---------------------------------------------------------------------------


def name_of(lb: str) -> str:
    return short(f"amphora-{lb}")


def render_pod(
    lb: Body,
    *,
    vip_address: str,
    prefix: int,
    nad: str | None,
    image: str = AGENT_IMAGE,
    owner: dict[str, Any],
) -> list[dict[str, Any]]:
    """The amphora's objects: ServiceAccount, Role (read its load balancer's objects, report
    HAProxy's health in its status), RoleBinding and Deployment, Multus-attached to the VIP's
    network at the VIP address."""
    name = lb["metadata"]["name"]
    namespace = lb["metadata"]["namespace"]
    pod = name_of(name)
    labels = {**MANAGED, LB_LABEL: short(name)}
    metadata = {"name": pod, "namespace": namespace, "labels": labels, "ownerReferences": [owner]}
    group = "loadbalancer.nimbus.dev"
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": metadata,
        "rules": [
            {"apiGroups": [group], "resources": ["loadbalancers"], "resourceNames": [name],
             "verbs": ["get"]},
            {"apiGroups": [group], "resources": ["loadbalancers/status"],
             "resourceNames": [name], "verbs": ["patch"]},
            {"apiGroups": [group], "resources": ["listeners", "pools", "members",
                                                 "healthmonitors"], "verbs": ["list"]},
        ],
    }  # fmt: skip
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": pod},
        "subjects": [{"kind": "ServiceAccount", "name": pod, "namespace": namespace}],
    }
    networks = (
        [{"name": nad, "interface": VIP_DEVICE, "ips": [f"{vip_address}/{prefix}"]}] if nad else []
    )
    agent = {
        "name": "amphora-agent",
        "image": image,
        "command": ["nimbus", "amphora-agent", "--namespace", namespace, "--load-balancer", name,
                    "--run-dir", "/run/amphora"],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsUser": 0,  # NET_ADMIN (the VIP's address) and ports below 1024
            "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_BIND_SERVICE"]},
        },
        "volumeMounts": [{"name": "run", "mountPath": "/run/amphora"}],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                      "limits": {"memory": "512Mi"}},
    }  # fmt: skip
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {LB_LABEL: short(name)}},
            "strategy": {"type": "Recreate"},  # one amphora holds the VIP at a time
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {NETWORKS_ANNOTATION: json.dumps(networks, sort_keys=True)},
                },
                "spec": {
                    "serviceAccountName": pod,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [agent],
                    "volumes": [{"name": "run", "emptyDir": {"medium": "Memory"}}],
                },
            },
        },
    }
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}
    return [account, role, binding, deployment]
