"""Load balancers' admission, in Octavia's words: a member is where its amphora reaches it, on
the load balancer's VIP subnet."""

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
    """Octavia's refusal of a member its amphora cannot reach: Octavia plugs the amphora into
    a member's subnet; Nimbus's amphora is on the VIP's subnet only, so a member (and its
    monitor address) is there. The operator and the agent hold to it too, for a member let
    through before its load balancer existed."""
    spec = member.get("spec") or {}
    network = vip_subnet["spec"]["network"]
    vip_name = vip_subnet["metadata"]["name"]
    if spec.get("subnet") and spec["subnet"] != vip_name:
        on_network = any(
            s["metadata"]["name"] == spec["subnet"] and s["spec"].get("network") == network
            for s in subnets
        )
        where = f"on network {network}, but" if on_network else f"not on network {network},"
        return (
            f"spec.subnet: Subnet {spec['subnet']} is {where} the amphora is on the VIP's "
            f"subnet {vip_name} only: a member is on it"
        )
    cidr = ipaddress.ip_network(str(vip_subnet["spec"]["cidr"]), strict=False)
    for field in ("address", "monitorAddress"):
        if field == "monitorAddress" and not spec.get(field):
            continue
        try:
            inside = ipaddress.ip_address(str(spec.get(field))) in cidr
        except ValueError:
            continue  # the schema says what is wrong with it
        if not inside:
            return (
                f"spec.{field}: Validation failure: member {field} {spec.get(field)} is not on "
                f"subnet {vip_name} ({cidr}) of network {network}, the load balancer's VIP "
                "subnet: the amphora reaches members there only"
            )
    return None


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
