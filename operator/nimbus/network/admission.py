"""Subnets' admission, in Neutron's words: no two subnets of a network overlap."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

import kopf


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
