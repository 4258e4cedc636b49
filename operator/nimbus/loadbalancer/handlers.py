"""kopf handlers of loadbalancer.nimbus.dev: a LoadBalancer becomes its VIP port and amphora pod;
its listeners, pools, members and monitors are its HAProxy configuration; every object's
provisioning and operating statuses follow what the amphora agent reports (Octavia's health
manager)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
from typing import Any

import kopf

from nimbus.api import meta
from nimbus.k8s import client
from nimbus.loadbalancer import amphora, api, render
from nimbus.runtime import cache, handling, reporting
from nimbus.runtime.conditions import Condition

API_VERSION = f"{api.GROUP}/{meta.VERSION}"
NETWORK_API = "network.nimbus.dev/v1alpha1"
CHILD_KINDS = ("Listener", "Pool", "Member", "HealthMonitor")
SECTION = {"Listener": "listeners", "Pool": "pools", "Member": "members"}
_LOCKS: dict[tuple[str, str], asyncio.Lock] = {}
_SEEN_HEALTH: dict[tuple[str, str], str] = {}
_SEEN_GENERATION: dict[str, Any] = {}


class WaitingError(Exception):
    """The VIP's subnet or address is not there yet."""


def vip_port_name(lb: str) -> str:
    return f"octavia-lb-{lb}"[:253]


async def _children(api_client: client.Client, namespace: str) -> dict[str, list[dict[str, Any]]]:
    return {kind: await api_client.list(API_VERSION, kind, namespace) for kind in CHILD_KINDS}


def _vip(view: cache.View, spec: api.LoadBalancerSpec, namespace: str) -> dict[str, Any]:
    subnet = view.get("subnets", spec.vip_subnet, namespace)
    if subnet is None:
        raise WaitingError(f"Subnet {spec.vip_subnet} could not be found.")
    return subnet


async def reconcile_load_balancer(
    memo: kopf.Memo, view: cache.View, namespace: str, name: str
) -> None:
    api_client: client.Client = memo.api
    body = await api_client.get(API_VERSION, "LoadBalancer", name, namespace)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    spec = api.LoadBalancerSpec.model_validate(body["spec"])
    status = body.get("status") or {}
    created = bool((status.get("health") or {}).get("config"))
    try:
        subnet = _vip(view, spec, namespace)
        fixed_ips: list[dict[str, Any]] = [{"subnet": spec.vip_subnet}]
        if spec.vip_address:
            fixed_ips[0]["ipAddress"] = spec.vip_address
        port = await api_client.apply(
            {
                "apiVersion": NETWORK_API,
                "kind": "Port",
                "metadata": {
                    "name": vip_port_name(name),
                    "namespace": namespace,
                    "labels": {render.LB_LABEL: meta.short(name)},
                    "ownerReferences": [client.owner_reference(body)],
                },
                "spec": {
                    "network": subnet["spec"]["network"],
                    "fixedIPs": fixed_ips,
                    "portSecurityEnabled": False,
                    "description": f"the VIP of load balancer {name}",
                },
            }
        )
        held: list[dict[str, Any]] = (port.get("status") or {}).get("fixedIPs") or []
        vip = held[0].get("ipAddress") if held else None
        if not vip:
            raise WaitingError(f"allocating the VIP on subnet {spec.vip_subnet}")
    except WaitingError as error:
        fields = {"provisioningStatus": "PENDING_CREATE", "operatingStatus": "OFFLINE"}
        wanted = [Condition("Provisioned", "False", "AllocatingVIP", str(error))]
        await reporting.report_changed(api_client, body, fields=fields, wanted=wanted)
        raise kopf.TemporaryError(str(error), delay=3) from error
    children = await _children(api_client, namespace)
    cidr = str(ipaddress.ip_network(subnet["spec"]["cidr"], strict=False))
    wanted_model = render.model(
        body, vip, children["Listener"], children["Pool"], children["Member"],
        children["HealthMonitor"],
    )  # fmt: skip
    problem = render.outside(wanted_model, cidr)
    try:
        amphora.validate(wanted_model)
    except ValueError as error:
        problem = problem or str(error)
    digest = render.digest(wanted_model)
    network = view.get("networks", subnet["spec"]["network"], namespace)
    nad = ((network or {}).get("status") or {}).get("networkAttachmentDefinition")
    image = os.environ.get("NIMBUS_AGENT_IMAGE", render.AGENT_IMAGE)
    for child in render.render_pod(
        body, vip_address=vip, prefix=ipaddress.ip_network(cidr).prefixlen, nad=nad,
        image=image, owner=client.owner_reference(body),
    ):  # fmt: skip
        await api_client.apply(child)
    health = status.get("health")
    provisioning = render.provisioning(
        problem is None, digest, (health or {}).get("config"), created
    )
    fields = {
        "vipAddress": vip,
        "vipCIDR": cidr,
        "vipPort": vip_port_name(name),
        "network": subnet["spec"]["network"],
        "config": digest,
        "deployment": render.name_of(name),
        "provisioningStatus": provisioning,
        "operatingStatus": render.operating(
            health, "loadBalancer", name, admin_state_up=spec.admin_state_up
        ),
    }
    if problem:
        condition = Condition("Provisioned", "False", "InvalidConfiguration", problem)
    elif provisioning == "ACTIVE":
        condition = Condition("Provisioned", "True", "AmphoraConfigured")
    else:
        condition = Condition(
            "Provisioned", "False", "AwaitingAmphora",
            f"the amphora has not loaded configuration {digest} yet",
        )  # fmt: skip
    await reporting.report_changed(api_client, body, fields=fields, wanted=[condition])
    await _report_children(api_client, body, children, wanted_model, provisioning, health)


async def _report_children(
    api_client: client.Client,
    lb: dict[str, Any],
    children: dict[str, list[dict[str, Any]]],
    model: amphora.LoadBalancer,
    provisioning: str,
    health: dict[str, Any] | None,
) -> None:
    """Octavia's statuses of the load balancer's objects: its provisioning status (they are
    configured together), and each one's operating status as the amphora reported it."""
    pools = {p.name for p in model.pools}
    monitored = {p.name for p in model.pools if p.health_monitor is not None}
    name = lb["metadata"]["name"]
    for kind, bodies in children.items():
        for child in bodies:
            spec = child["spec"]
            if child["metadata"].get("deletionTimestamp"):
                continue
            mine = (
                spec.get("loadBalancer") == name
                if kind in ("Listener", "Pool")
                else spec.get("pool") in pools
            )
            if not mine:
                continue
            child_name = child["metadata"]["name"]
            admin = bool(spec.get("adminStateUp", True))
            if kind == "HealthMonitor":
                word = "ONLINE" if admin and spec["pool"] in monitored else "OFFLINE"
            elif kind == "Listener" and not admin:
                word = "OFFLINE"
            else:
                word = render.operating(health, SECTION[kind], child_name)
            fields = {"provisioningStatus": provisioning, "operatingStatus": word}
            condition = Condition(
                "Provisioned",
                "True" if provisioning == "ACTIVE" else "False",
                "AmphoraConfigured" if provisioning == "ACTIVE" else "AwaitingAmphora",
            )
            await reporting.report_changed(api_client, child, fields=fields, wanted=[condition])


async def _locked(
    memo: kopf.Memo, view: cache.View, namespace: str, name: str, *, quiet: bool = True
) -> bool:
    """One reconciliation of a load balancer at a time. `quiet`, for a pass another object's
    event asked for: "not yet" is in the status already, and the load balancer's own
    reconciler tries again."""
    async with _LOCKS.setdefault((namespace, name), asyncio.Lock()):
        try:
            await reconcile_load_balancer(memo, view, namespace, name)
        except kopf.TemporaryError:
            if not quiet:
                raise
            return False
        return True


@handling.reconciler(api.LoadBalancer)
async def load_balancer(name: str, namespace: str | None, memo: kopf.Memo, **kwargs: Any) -> None:
    assert namespace is not None, "load balancers are namespaced"
    await _locked(memo, cache.View.of(kwargs, memo), namespace, name, quiet=False)


@handling.follows(api.GROUP, meta.VERSION, "loadbalancers")
async def health_reported(
    type: str | None, body: dict[str, Any], memo: kopf.Memo, view: cache.View
) -> None:
    """The amphora reported its health: every object's statuses follow."""
    key = (body["metadata"]["namespace"], body["metadata"]["name"])
    if type == "DELETED":
        _SEEN_HEALTH.pop(key, None)
        return
    health = json.dumps(
        {k: v for k, v in ((body.get("status") or {}).get("health") or {}).items()
         if k != "reportedAt"}, sort_keys=True,
    )  # fmt: skip
    if _SEEN_HEALTH.get(key) == health:
        return
    if await _locked(memo, view, *key):  # recorded once acted on: a failed pass comes again
        _SEEN_HEALTH[key] = health


async def _load_balancer_of(api_client: client.Client, body: dict[str, Any]) -> str | None:
    spec = body.get("spec") or {}
    if spec.get("loadBalancer"):
        return str(spec["loadBalancer"])
    pool = await api_client.get(
        API_VERSION, "Pool", str(spec.get("pool")), body["metadata"]["namespace"]
    )
    return str(pool["spec"]["loadBalancer"]) if pool else None


def _follow_child(plural: str) -> None:
    async def child_changed(
        type: str | None, body: dict[str, Any], memo: kopf.Memo, view: cache.View
    ) -> None:
        """A listener, pool, member or monitor changed: its load balancer's configuration
        does."""
        uid = body["metadata"]["uid"]
        generation = None if type == "DELETED" else body["metadata"].get("generation")
        if type != "DELETED" and _SEEN_GENERATION.get(uid) == generation:
            return  # a status write: nothing asked of the configuration
        lb = await _load_balancer_of(memo.api, body)
        done = lb is None or await _locked(memo, view, body["metadata"]["namespace"], lb)
        if type == "DELETED":
            _SEEN_GENERATION.pop(uid, None)
        elif done:  # recorded once acted on: a failed pass comes again with the next event
            _SEEN_GENERATION[uid] = generation

    child_changed.__name__ = f"{plural}_changed"
    handling.follows(api.GROUP, meta.VERSION, plural)(child_changed)


for _plural in ("listeners", "pools", "members", "healthmonitors"):
    _follow_child(_plural)
