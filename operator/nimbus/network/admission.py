"""Network admission, in Neutron's words: no two subnets of a network overlap; a router's
subnets do not overlap and are no other router's; routers and floating IPs are on external
networks."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

import kopf

from nimbus.network import l3


def overlapping(subnet: Mapping[str, Any], others: Iterable[Mapping[str, Any]]) -> str | None:
    """Neutron's refusal of a subnet whose cidr overlaps another of its network's."""
    spec = subnet.get("spec") or {}
    try:
        cidr = ipaddress.ip_network(str(spec.get("cidr")), strict=False)
    except ValueError:
        return None  # the schema says what is wrong with it
    for other in others:
        other_spec = other.get("spec") or {}
        if other["metadata"]["name"] == subnet["metadata"]["name"]:
            continue
        if other_spec.get("network") != spec.get("network"):
            continue
        try:
            theirs = ipaddress.ip_network(str(other_spec.get("cidr")), strict=False)
        except ValueError:
            continue
        if theirs.version == cidr.version and cidr.overlaps(theirs):
            return (
                f"spec.cidr: Invalid input for operation: Requested subnet with cidr: {cidr} for "
                f"network: {spec.get('network')} overlaps with another subnet "
                f"({other['metadata']['name']}, {theirs})."
            )
    return None


@kopf.on.validate("network.nimbus.dev", "v1alpha1", "subnets", id="subnets",
                  operations=["CREATE"])  # fmt: skip
async def validate_subnet(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """Neutron refuses overlapping subnets on one network: ports would take addresses from the
    wider one, the other's gateway and DNS server among them. Read from the API server, not
    the index, so a subnet made a moment ago counts."""
    namespace = str(body["metadata"].get("namespace"))
    others = await memo.api.list("network.nimbus.dev/v1alpha1", "Subnet", namespace)
    why = overlapping(dict(body), others)
    if why:
        raise kopf.AdmissionError(why, code=400)


async def _external_network(
    memo: kopf.Memo, ref: Mapping[str, Any], namespace: str, what: str
) -> None:
    """Refuse a reference to a network that is not external (Neutron's 400). One that does not
    exist yet is let through, as every reference is: the object waits for it (an apply of many
    files, or Argo CD's, has no order)."""
    project = ref.get("project") or namespace
    network = await memo.api.get(
        "network.nimbus.dev/v1alpha1", "Network", str(ref.get("network")), project
    )
    if network is not None and not (network.get("spec") or {}).get("external"):
        raise kopf.AdmissionError(
            f"{what}: Bad request: Network {ref.get('network')} is not a valid external network "
            "(create it with external: true, Neutron's router:external).",
            code=400,
        )


def router_refusal(
    router: Mapping[str, Any],
    subnets: Iterable[Mapping[str, Any]],
    routers: Iterable[Mapping[str, Any]],
) -> str | None:
    """Neutron's refusals of a router's interfaces: two of its subnets overlap, or a subnet is
    another router's already (its gateway address is that router's)."""
    name = router["metadata"]["name"]
    named = [i.get("subnet") for i in (router.get("spec") or {}).get("interfaces") or []]
    cidrs = {
        s["metadata"]["name"]: str((s.get("spec") or {}).get("cidr"))
        for s in subnets
        if s["metadata"]["name"] in named
    }
    why = l3.overlapping(cidrs)
    if why:
        return f"spec.interfaces: {why}"
    for other in routers:
        if other["metadata"]["name"] == name:
            continue
        theirs = {i.get("subnet") for i in (other.get("spec") or {}).get("interfaces") or []}
        for subnet in sorted(s for s in named if s and s in theirs):
            return (
                f"spec.interfaces: Router {other['metadata']['name']} already has a port on "
                f"subnet {subnet}: a subnet is routed by one router (its gateway address is "
                "that router's)."
            )
    return None


@kopf.on.validate("network.nimbus.dev", "v1alpha1", "routers", id="routers",
                  operations=["CREATE", "UPDATE"])  # fmt: skip
async def validate_router(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    namespace = str(body["metadata"].get("namespace"))
    gateway = (body.get("spec") or {}).get("externalGateway")
    if gateway:
        await _external_network(memo, gateway, namespace, "spec.externalGateway")
    subnets = await memo.api.list("network.nimbus.dev/v1alpha1", "Subnet", namespace)
    routers = await memo.api.list("network.nimbus.dev/v1alpha1", "Router", namespace)
    why = router_refusal(dict(body), subnets, routers)
    if why:
        raise kopf.AdmissionError(why, code=400)


@kopf.on.validate("network.nimbus.dev", "v1alpha1", "floatingips", id="floatingips",
                  operations=["CREATE"])  # fmt: skip
async def validate_floating_ip(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """A floating IP is on an external network, as Neutron's `floating_network_id` must be."""
    namespace = str(body["metadata"].get("namespace"))
    ref = (body.get("spec") or {}).get("floatingNetwork") or {}
    await _external_network(memo, ref, namespace, "spec.floatingNetwork")
