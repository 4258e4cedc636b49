"""Load balancers' admission, in Octavia's words: a member is on one of the load balancer's
network's subnets; a pool and a listener of one load balancer speak protocols that go together."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

import kopf

API_VERSION = "loadbalancer.nimbus.dev/v1alpha1"
NETWORK_API = "network.nimbus.dev/v1alpha1"


def member_refusal(
    member: Mapping[str, Any], vip_subnet: Mapping[str, Any], subnets: Iterable[Mapping[str, Any]]
) -> str | None:
    """Octavia's refusal of a member outside every subnet of the load balancer's network (or
    outside the subnet it names)."""
    spec = member.get("spec") or {}
    try:
        address = ipaddress.ip_address(str(spec.get("address")))
    except ValueError:
        return None  # the schema says what is wrong with it
    network = vip_subnet["spec"]["network"]
    candidates = [s for s in subnets if s["spec"].get("network") == network]
    if spec.get("subnet"):
        candidates = [s for s in candidates if s["metadata"]["name"] == spec["subnet"]]
        if not candidates:
            return (
                f"spec.subnet: Subnet {spec['subnet']} is not on network {network}, the load "
                "balancer's: a member is on one of its subnets"
            )
    for subnet in candidates:
        if address in ipaddress.ip_network(str(subnet["spec"]["cidr"]), strict=False):
            return None
    where = ", ".join(f"{s['metadata']['name']} ({s['spec']['cidr']})" for s in candidates)
    return (
        f"spec.address: Validation failure: member address {address} is not in any subnet of "
        f"network {network}, the load balancer's: {where}"
    )


@kopf.on.validate("loadbalancer.nimbus.dev", "v1alpha1", "members", id="members",
                  operations=["CREATE", "UPDATE"])  # fmt: skip
async def validate_member(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """A member reachable from the amphora: on the VIP's network. Its pool, load balancer or
    subnet not there yet: let through (it waits), as every reference."""
    namespace = str(body["metadata"].get("namespace"))
    pool = await memo.api.get(API_VERSION, "Pool", str(body["spec"].get("pool")), namespace)
    if pool is None:
        return
    lb = await memo.api.get(API_VERSION, "LoadBalancer", pool["spec"]["loadBalancer"], namespace)
    if lb is None:
        return
    vip_subnet = await memo.api.get(NETWORK_API, "Subnet", lb["spec"]["vipSubnet"], namespace)
    if vip_subnet is None:
        return
    subnets = await memo.api.list(NETWORK_API, "Subnet", namespace)
    why = member_refusal(dict(body), vip_subnet, subnets)
    if why:
        raise kopf.AdmissionError(why, code=400)
