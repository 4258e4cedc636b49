"""Network admission, in Neutron's words: no two subnets of a network overlap; a router's
subnets do not overlap and are no other router's; routers and floating IPs are on external
networks; what Neutron's policy leaves to an admin is set by one."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

import kopf

from nimbus.identity import authz, roles
from nimbus.network import l3

GROUP = "network.nimbus.dev"
# Neutron's policy (neutron/conf/policies): the attributes only an admin sets, by plural, as
# (field, Neutron's rule, whether a spec sets it). Here an admin is whoever may `administer` the
# kind: for a network's, cluster-wide (an external or shared network is every project's, and a
# provider is the hosts' network: the cloud's admin, nimbus-network-admin); for a router's and a
# floating IP's, in the project (its admins, nimbus-project-admin). Cluster admins hold both.
_ADMIN_FIELDS: dict[str, tuple[tuple[str, str, Any], ...]] = {
    "networks": (
        ("spec.external", "network:router:external", lambda s: s.get("external") is True),
        ("spec.shared", "network:shared", lambda s: s.get("shared") is True),
        ("spec.provider", "network:provider:network_type",
         lambda s: (s.get("provider") or {}).get("networkType", "local") != "local"),
        ("spec.provider.physicalNetwork", "network:provider:physical_network",
         lambda s: (s.get("provider") or {}).get("physicalNetwork") is not None),
        ("spec.provider.segmentationID", "network:provider:segmentation_id",
         lambda s: (s.get("provider") or {}).get("segmentationID") is not None),
        # Nimbus's own: macvlan or OVN-Kubernetes put the network on a host interface (eth0
        # without physicalNetwork), which only the cloud's admin hands out
        ("spec.provider.cni", "network:provider:cni",
         lambda s: (s.get("provider") or {}).get("cni", "bridge") != "bridge"),
    ),
    "routers": (
        ("spec.ha", "router:ha", lambda s: s.get("ha") is True),
        ("spec.externalGateway.enableSNAT", "router:external_gateway_info:enable_snat",
         lambda s: (s.get("externalGateway") or {}).get("enableSNAT") is False),
        ("spec.externalGateway.externalFixedIPs",
         "router:external_gateway_info:external_fixed_ips",
         lambda s: bool((s.get("externalGateway") or {}).get("externalFixedIPs"))),
    ),
    "floatingips": (
        ("spec.floatingIPAddress", "floatingip:floating_ip_address",
         lambda s: s.get("floatingIPAddress") is not None),
    ),
}  # fmt: skip
# Whose right it is: cluster-wide (None) or the object's project's.
_CLUSTER_WIDE = frozenset({"networks"})


def admin_fields(
    plural: str, spec: Mapping[str, Any], old: Mapping[str, Any] | None
) -> list[tuple[str, str]]:
    """The admin-only fields (path, Neutron's rule) this spec sets that the old one did not: an
    object an admin made stays editable by its members in every other field."""
    return [
        (path, rule)
        for path, rule, sets in _ADMIN_FIELDS[plural]
        if sets(spec) and not (old is not None and sets(old) and _at(old, path) == _at(spec, path))
    ]


def _at(spec: Mapping[str, Any], path: str) -> Any:
    value: Any = spec
    for key in path.split(".")[1:]:
        value = (value or {}).get(key) if isinstance(value, Mapping) else None
    return value


async def _operator_user(memo: kopf.Memo) -> str:
    if memo.get("operator_user") is None:
        memo.operator_user = await authz.whoami(memo.api)
    return str(memo.operator_user)


async def _admin_only(plural: str, body: kopf.Body, userinfo: kopf.UserInfo, memo: kopf.Memo,
                      old: Mapping[str, Any] | None) -> None:  # fmt: skip
    """Refuse, in Neutron's policy words, an admin-only field set by someone who may not
    `administer` the kind in the object's project. The operator passes: its Heat engine asks
    the stack's requester the same question before it makes anything (orchestration.plan)."""
    setting = admin_fields(plural, body.get("spec") or {}, (old or {}).get("spec"))
    if not setting or userinfo.get("username") == await _operator_user(memo):
        return
    namespace = str(body["metadata"].get("namespace"))
    access = administer(plural, namespace)
    if await authz.denied(memo.api, authz.Requester.of(userinfo), [access]):
        path, rule = setting[0]
        action = "create" if old is None else "update"
        who = (
            f"the cloud's admin sets it (the verb administer on {plural}.{GROUP} cluster-wide, "
            f"in the ClusterRole {roles.NETWORK_ADMIN})"
            if access.namespace is None
            else f"an admin of project {namespace} sets it (the verb administer on "
            f"{plural}.{GROUP}, in the ClusterRole {roles.PROJECT_ADMIN})"
        )
        raise kopf.AdmissionError(
            f"{path}: {_at(body.get('spec') or {}, path)!r}: Forbidden: "
            f"(rule:{action}_{rule}) is disallowed by policy. Only {who}",
            code=403,
        )


def administer(plural: str, namespace: str) -> authz.Access:
    """The right to set the kind's admin-only fields in `namespace`."""
    where = None if plural in _CLUSTER_WIDE else namespace
    return authz.Access("administer", GROUP, plural, where)


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


@kopf.on.validate(GROUP, "v1alpha1", "networks", id="networks",
                  operations=["CREATE", "UPDATE"])  # fmt: skip
async def validate_network(
    body: kopf.Body, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any
) -> None:
    """Only an admin makes a network external or shared (every project may then use it) or
    sets its provider attributes (which host network it is)."""
    await _admin_only("networks", body, userinfo, memo, kwargs.get("old"))


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
async def validate_router(
    body: kopf.Body, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any
) -> None:
    await _admin_only("routers", body, userinfo, memo, kwargs.get("old"))
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
                  operations=["CREATE", "UPDATE"])  # fmt: skip
async def validate_floating_ip(
    body: kopf.Body, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any
) -> None:
    """A floating IP is on an external network, as Neutron's `floating_network_id` must be;
    its address, asked for at create or added later, is an admin's."""
    old = kwargs.get("old")
    await _admin_only("floatingips", body, userinfo, memo, old)
    if old:
        return  # its network cannot change (the CRD's rule)
    namespace = str(body["metadata"].get("namespace"))
    ref = (body.get("spec") or {}).get("floatingNetwork") or {}
    await _external_network(memo, ref, namespace, "spec.floatingNetwork")
