"""Neutron v2.0 security groups and rules over SecurityGroup: groups listed, shown, created,
updated and deleted; rules (held in their group's spec.rules) listed, shown, created and
deleted. The project's `default` group is the one the cluster holds: the operator makes it for
a project's first server, and listing the groups makes it as Neutron does, when the caller may.

Every call to Kubernetes acts as the token's user (service.Services.as_user)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nimbus.identity import api as identity_api
from nimbus.k8s import client
from nimbus.network import render as network_render
from nimbus.openstack import neutron, neutron_documents
from nimbus.openstack import neutron_security_documents as security
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity

routes = web.RouteTableDef()
BASE = neutron.BASE
NETWORKS = neutron.NETWORKS
KIND = "SecurityGroup"


async def ensure_default_group(
    kube: client.Client, namespace: str, groups: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Neutron's `default` group, made as the user when the project has none yet: the group the
    operator makes for a project's first server, with the same rules. A caller who may not make
    it (a reader) sees the groups as they are."""
    if any(g["metadata"]["name"] == security.DEFAULT for g in groups):
        return groups
    body = {"apiVersion": NETWORKS, "kind": KIND,
            "metadata": {"name": security.DEFAULT, "namespace": namespace},
            "spec": network_render.default_security_group().to_api()}  # fmt: skip
    made: dict[str, Any] | None
    try:
        made = await kube.create(body)
    except client.ApiError as error:
        if error.status not in (403, 409):
            raise
        made = await kube.get(NETWORKS, KIND, security.DEFAULT, namespace)
    return [*groups, made] if made is not None else groups


async def _groups(request: web.Request, identity: Identity) -> list[dict[str, Any]]:
    (groups,) = await neutron.held(neutron.kube(request, identity), identity.namespace, KIND)
    return groups


def _documents(identity: Identity, groups: list[dict[str, Any]], shown: list[dict[str, Any]]
               ) -> list[dict[str, Any]]:  # fmt: skip
    group_ids = neutron_documents.ids(groups)
    return [security.security_group(g, project_id=neutron.project_id(identity),
                                     group_ids=group_ids) for g in shown]  # fmt: skip


def _rules(identity: Identity, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    group_ids = neutron_documents.ids(groups)
    return [r for g in groups for r in security.rules(
        g, project_id=neutron.project_id(identity), group_ids=group_ids)]  # fmt: skip


def _find(groups: list[dict[str, Any]], ident: str) -> dict[str, Any]:
    found = next((g for g in groups if g["metadata"]["uid"] == ident), None)
    if found is None:
        raise security.not_found(ident)
    return found


# -- groups -----------------------------------------------------------------------------------


@routes.get(f"{BASE}/security-groups")
async def list_groups(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    groups = await ensure_default_group(neutron.kube(request, identity), identity.namespace,
                                        await _groups(request, identity))  # fmt: skip
    wanted = neutron.query(request)
    found = [g for g in _documents(identity, groups, groups)
             if neutron_documents.matches(g, wanted)]  # fmt: skip
    return neutron.respond("security_groups", found, request)


@routes.get(BASE + "/security-groups/{group_id}")
async def show_group(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    groups = await _groups(request, identity)
    group = _find(groups, request.match_info["group_id"])
    return neutron.respond("security_group", _documents(identity, groups, [group])[0], request)


@routes.post(f"{BASE}/security-groups")
async def create_group(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    body = await neutron.json_body(request)
    display, spec = security.group_create(body, project_id=neutron.project_id(identity))
    groups = await _groups(request, identity)
    made = await neutron.create(neutron.kube(request, identity), KIND, display, spec,
                                namespace=identity.namespace, taken=groups,
                                resource="security_group")  # fmt: skip
    document = _documents(identity, [*groups, made], [made])[0]
    return neutron.respond("security_group", document, request, status=201)


@routes.put(BASE + "/security-groups/{group_id}")
async def update_group(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    body = await neutron.json_body(request)
    groups = await _groups(request, identity)
    group = _find(groups, request.match_info["group_id"])
    patch = security.group_update(body, group, project_id=neutron.project_id(identity))
    if patch:
        group = await neutron.kube(request, identity).patch(
            NETWORKS, KIND, group["metadata"]["name"], identity.namespace, patch
        )
    return neutron.respond("security_group", _documents(identity, groups, [group])[0], request)


@routes.delete(BASE + "/security-groups/{group_id}")
async def delete_group(request: web.Request) -> web.Response:
    """Refused for `default` and while a server or port uses the group; the rules of other
    groups that name it as their remote group go with it, as in Neutron."""
    identity = await neutron.identity_of(request)
    kube = neutron.kube(request, identity)
    groups, ports, servers = await neutron.held(kube, identity.namespace, KIND, "Port", "Server")
    ident = request.match_info["group_id"]
    name = _find(groups, ident)["metadata"]["name"]
    if name == security.DEFAULT:
        raise security.in_use("Insufficient rights for removing default security group.",
                              "SecurityGroupCannotRemoveDefault")  # fmt: skip
    if any(name in ((o.get("spec") or {}).get("securityGroups") or []) for o in ports + servers):
        raise security.in_use(f"Security Group {ident} in use.", "SecurityGroupInUse")
    for other in groups:
        kept = security.without_remote(other, name)
        if kept is not None and other["metadata"]["name"] != name:
            await _write_rules(kube, other, kept)
    await kube.delete(NETWORKS, KIND, name, identity.namespace)
    return neutron.no_content()


# -- rules ------------------------------------------------------------------------------------


async def _write_rules(kube: client.Client, group: dict[str, Any], rules: list[dict[str, Any]]
                       ) -> dict[str, Any]:  # fmt: skip
    """Replace the group's rules, as read: a change made meanwhile is Kubernetes' 409."""
    metadata = group["metadata"]
    return await kube.patch(NETWORKS, KIND, metadata["name"], metadata["namespace"], {
        "metadata": {"resourceVersion": metadata["resourceVersion"]}, "spec": {"rules": rules},
    })  # fmt: skip


@routes.get(f"{BASE}/security-group-rules")
async def list_rules(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    wanted = neutron.query(request)
    found = [r for r in _rules(identity, await _groups(request, identity))
             if neutron_documents.matches(r, wanted)]  # fmt: skip
    return neutron.respond("security_group_rules", found, request)


@routes.get(BASE + "/security-group-rules/{rule_id}")
async def show_rule(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    ident = request.match_info["rule_id"]
    found = next((r for r in _rules(identity, await _groups(request, identity))
                  if r["id"] == ident), None)  # fmt: skip
    if found is None:
        raise security.not_found(ident, rule=True)
    return neutron.respond("security_group_rule", found, request)


def _rule_limit(identity: Identity) -> int:
    spec = (identity.project or {}).get("spec") or {}
    return identity_api.Quota.model_validate(spec.get("quota") or {}).security_group_rules


@routes.post(f"{BASE}/security-group-rules")
async def create_rule(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    body = await neutron.json_body(request)
    kube = neutron.kube(request, identity)
    for attempt in range(3):
        groups = await _groups(request, identity)
        group, rule = security.rule_create(body, groups, project_id=neutron.project_id(identity),
                                           limit=_rule_limit(identity))  # fmt: skip
        rules = [*((group.get("spec") or {}).get("rules") or []), rule]
        try:
            written = await _write_rules(kube, group, rules)
        except client.ApiError as error:
            if error.status != 409 or attempt == 2:
                raise
            continue  # the group changed meanwhile: read it again
        document = security.rules(
            written,
            project_id=neutron.project_id(identity),
            group_ids=neutron_documents.ids(groups),
        )[-1]
        return neutron.respond("security_group_rule", document, request, status=201)
    raise Fault(409, "Security group: it kept changing; try again", style="neutron")


@routes.delete(BASE + "/security-group-rules/{rule_id}")
async def delete_rule(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    kube = neutron.kube(request, identity)
    ident = request.match_info["rule_id"]
    for attempt in range(3):
        group, index = security.find_rule(await _groups(request, identity), ident)
        rules = list((group.get("spec") or {}).get("rules") or [])
        del rules[index]
        try:
            await _write_rules(kube, dict(group), rules)
        except client.ApiError as error:
            if error.status != 409 or attempt == 2:
                raise
            continue
        return neutron.no_content()
    raise Fault(409, f"Security group rule {ident}: its group kept changing", style="neutron")
