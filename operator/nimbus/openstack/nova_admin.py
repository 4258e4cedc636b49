"""Nova's os-server-groups, os-quota-sets and os-simple-tenant-usage, over ServerGroup, the
Project's spec.quota and the Servers with their Flavors, with the microversions, identity and
answers of nova (hypervisors and aggregates in nova_hosts).

Every call to Kubernetes acts as the token's user (service.Services.as_user): what RBAC refuses
is Nova's policy 403, and another project's server group is a 404, as in Nova."""

from __future__ import annotations

import asyncio
import datetime
import urllib.parse
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiohttp import web

from nimbus.identity import api as identity_api
from nimbus.k8s import client
from nimbus.openstack import documents, nova, nova_admin_documents
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import IDENTITY, Identity

routes = web.RouteTableDef()
COMPUTE = nova.COMPUTE
BASE = "/compute/v2.1"
MAX_LIMIT = 1000  # Nova's [api] max_limit
T = TypeVar("T")


async def as_policy(call: Awaitable[T], rule: str) -> T:
    """A call made as the caller, whose refusal by Kubernetes is Nova's policy 403."""
    try:
        return await call
    except client.ApiError as error:
        if error.status == 403:
            raise nova_admin_documents.policy_refused(rule) from None
        raise


def project_id(identity: Identity) -> str:
    return str(identity.project["metadata"]["uid"]) if identity.project else ""


def namespace_of(project: dict[str, Any]) -> str:
    return str((project.get("status") or {}).get("namespace") or project["metadata"]["name"])


async def target_project(request: web.Request, identity: Identity, rule: str) -> dict[str, Any]:
    """The project a URL names: the token's own (as the API read it to scope the token), or
    another found by listing Projects as the caller (Nova's policy 403 when RBAC refuses)."""
    wanted = request.match_info["project_id"]
    own = identity.project
    if own is not None and wanted in (own["metadata"]["uid"], own["metadata"]["name"]):
        return own
    kube = nova.services(request).as_user(identity)
    projects = await as_policy(kube.list(IDENTITY, "Project"), rule)
    found = next((p for p in projects if wanted in (p["metadata"]["uid"],
                                                    p["metadata"]["name"])), None)  # fmt: skip
    if found is None:
        raise Fault(404, f"Project {wanted} could not be found.")
    return found


async def project_ids(kube: client.Client) -> dict[str, str]:
    """Namespace -> the id of the Project that holds it, as far as the caller may list them."""
    try:
        projects = await kube.list(IDENTITY, "Project")
    except client.ApiError as error:
        if error.status != 403:
            raise
        return {}
    return {namespace_of(p): str(p["metadata"]["uid"]) for p in projects}


def count(request: web.Request, key: str, default: int) -> int:
    """A non-negative integer query parameter (limit, offset), or Nova's 400."""
    text = request.query.get(key)
    if text is None:
        return default
    if not text.isdigit():
        raise Fault(400, f"{key} param must be an integer" if not text.lstrip("-").isdigit()
                    else f"{key} param must be positive")  # fmt: skip
    return int(text)


def page(
    request: web.Request, items: list[dict[str, Any]], key: str, url: str
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Nova's paging by limit and marker (the `key` of the last item seen): the page and, when
    it is full, the link to the next one."""
    limit = min(count(request, "limit", MAX_LIMIT), MAX_LIMIT)
    marker = request.query.get("marker")
    if marker is not None:
        at = next((i for i, item in enumerate(items) if str(item[key]) == marker), None)
        if at is None:
            raise Fault(400, f"marker [{marker}] not found")
        items = items[at + 1 :]
    shown = items[:limit]
    if not shown or len(shown) < limit:
        return shown, []
    query = {**request.query, "limit": str(limit), "marker": str(shown[-1][key])}
    return shown, [{"rel": "next", "href": f"{url}?{urllib.parse.urlencode(query)}"}]


def empty(version: tuple[int, int], status: int) -> web.Response:
    response = nova.respond(None, version, status=status)
    response.body = b""
    return response


# -- server groups ----------------------------------------------------------------------------


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on", "y", "t")


@routes.get(BASE + "/os-server-groups")
async def list_server_groups(request: web.Request) -> web.Response:
    """The project's server groups; with all_projects, every group the caller may list (a
    cluster admin), as Nova gives an admin; a user who may not gets their own, as in Nova."""
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    kube = nova.services(request).as_user(identity)
    owners = {identity.namespace: project_id(identity)}
    listed: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None
    if _truthy(request.query.get("all_projects")):
        try:
            listed = await asyncio.gather(kube.list(COMPUTE, "ServerGroup"),
                                          kube.list(COMPUTE, "Server"))  # fmt: skip
            owners = {**await project_ids(kube), **owners}
        except client.ApiError as error:
            if error.status != 403:
                raise
    if listed is None:
        listed = await asyncio.gather(kube.list(COMPUTE, "ServerGroup", identity.namespace),
                                      kube.list(COMPUTE, "Server", identity.namespace))  # fmt: skip
    groups, servers = listed
    ordered = sorted(groups, key=lambda g: (str(g["metadata"].get("creationTimestamp")),
                                            documents.uid(g)))  # fmt: skip
    offset = count(request, "offset", 0)
    shown = ordered[offset : offset + min(count(request, "limit", MAX_LIMIT), MAX_LIMIT)]
    return nova.respond({"server_groups": [
        _document(g, servers, owners.get(g["metadata"]["namespace"], g["metadata"]["namespace"]),
                  identity, version) for g in shown]}, version)  # fmt: skip


def _document(
    group: dict[str, Any], servers: list[dict[str, Any]], owner: str, identity: Identity,
    version: tuple[int, int],
) -> dict[str, Any]:  # fmt: skip
    namespace = group["metadata"]["namespace"]
    same = [s for s in servers if s["metadata"].get("namespace") == namespace]
    return nova_admin_documents.server_group(
        group, members=nova_admin_documents.members(group, same), project_id=owner,
        user_id=identity.user_id, version=version,
    )  # fmt: skip


async def _group(request: web.Request, identity: Identity) -> dict[str, Any]:
    wanted = request.match_info["group_id"]
    kube = nova.services(request).as_user(identity)
    found = next((g for g in await kube.list(COMPUTE, "ServerGroup", identity.namespace)
                  if g["metadata"]["uid"] == wanted), None)  # fmt: skip
    if found is None:
        raise Fault(404, f"Server group {wanted} could not be found.")
    return found


@routes.get(BASE + "/os-server-groups/{group_id}")
async def show_server_group(request: web.Request) -> web.Response:
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    group = await _group(request, identity)
    servers = await nova.project_servers(request, identity)
    document = _document(group, servers, project_id(identity), identity, version)
    return nova.respond({"server_group": document}, version)


@routes.post(BASE + "/os-server-groups")
async def create_server_group(request: web.Request) -> web.Response:
    """A ServerGroup made as the caller; Nova's 403 past the project's server_groups quota."""
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    display, spec = nova_admin_documents.server_group_create(await nova.json_body(request), version)
    namespace = identity.namespace
    kube = nova.services(request).as_user(identity)
    groups = await kube.list(COMPUTE, "ServerGroup", namespace)
    assert identity.project is not None  # identity.namespace: project-scoped
    quota = identity_api.Quota.model_validate((identity.project.get("spec") or {}).get("quota")
                                              or {})  # fmt: skip
    if 0 <= quota.server_groups <= len(groups):
        raise Fault(403, "Quota exceeded, too many server groups.")
    name = documents.kube_name(display, {g["metadata"]["name"] for g in groups}, fallback="group")
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if name != display:
        metadata["annotations"] = {documents.NAME_ANNOTATION: display}
    made = await kube.create({"apiVersion": COMPUTE, "kind": "ServerGroup",
                              "metadata": metadata, "spec": spec})  # fmt: skip
    document = _document(made, [], project_id(identity), identity, version)
    return nova.respond({"server_group": document}, version)


@routes.delete(BASE + "/os-server-groups/{group_id}")
async def delete_server_group(request: web.Request) -> web.Response:
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    group = await _group(request, identity)
    kube = nova.services(request).as_user(identity)
    await kube.delete(COMPUTE, "ServerGroup", group["metadata"]["name"], identity.namespace)
    return empty(version, 204)


# -- quota sets -------------------------------------------------------------------------------


@routes.get(BASE + "/os-quota-sets/{project_id}/defaults")
async def quota_defaults(request: web.Request) -> web.Response:
    """The quota a Project gets when its spec names none (identity.api.Quota's defaults)."""
    version = nova.microversion(request)
    await nova.identity_of(request)
    wanted = request.match_info["project_id"]
    document = nova_admin_documents.quota_set(None, version, project_id=wanted)
    return nova.respond(document, version)


@routes.get(BASE + "/os-quota-sets/{project_id}")
@routes.get(BASE + "/os-quota-sets/{project_id}/detail")
async def quota_set(request: web.Request) -> web.Response:
    """The Project's spec.quota; /detail with what it uses (status.usage, as the operator last
    counted it). Another project's is a cluster or identity admin's (who may list Projects)."""
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    detail = request.path.endswith("/detail")
    rule = "os-quota-sets:detail" if detail else "os-quota-sets:show"
    project = await target_project(request, identity, rule)
    document = nova_admin_documents.quota_set(
        project, version, project_id=str(project["metadata"]["uid"]), usage=detail
    )
    return nova.respond(document, version)


@routes.put(BASE + "/os-quota-sets/{project_id}")
async def update_quota_set(request: web.Request) -> web.Response:
    """A merge patch of the Project's spec.quota, as the caller: Kubernetes lets only those who
    may edit Projects (cluster and identity admins) make it."""
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    if "user_id" in request.query:
        raise Fault(400, "user_id: Nimbus keeps quotas per project only; set the project's")
    body = await nova.json_body(request)
    project = await target_project(request, identity, "os-quota-sets:update")
    patch = nova_admin_documents.quota_update(body, version, project)
    if patch:
        kube = nova.services(request).as_user(identity)
        project = await as_policy(
            kube.patch(IDENTITY, "Project", project["metadata"]["name"], None,
                       {"spec": {"quota": patch}}),
            "os-quota-sets:update",
        )  # fmt: skip
    return nova.respond(nova_admin_documents.quota_set(project, version, project_id=None),
                        version)  # fmt: skip


@routes.delete(BASE + "/os-quota-sets/{project_id}")
async def revert_quota_set(request: web.Request) -> web.Response:
    """`openstack quota delete`: the Project's spec.quota back to the defaults."""
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    project = await target_project(request, identity, "os-quota-sets:delete")
    kube = nova.services(request).as_user(identity)
    await as_policy(kube.patch(IDENTITY, "Project", project["metadata"]["name"], None,
                               {"spec": {"quota": None}}), "os-quota-sets:delete")  # fmt: skip
    return empty(version, 202)


# -- simple tenant usage ----------------------------------------------------------------------


async def flavors_by_name(kube: client.Client) -> dict[str, dict[str, Any]]:
    return {f["metadata"]["name"]: f for f in await kube.list(COMPUTE, "Flavor")}


def _usages(
    servers: list[dict[str, Any]], owners: dict[str, str], flavors: dict[str, dict[str, Any]],
    start: datetime.datetime, stop: datetime.datetime,
) -> list[dict[str, Any]]:  # fmt: skip
    now = datetime.datetime.now(datetime.UTC)
    ordered = sorted(servers, key=lambda s: (str(s["metadata"].get("creationTimestamp")),
                                             str(s["metadata"]["uid"])))  # fmt: skip
    usages = []
    for server in ordered:
        namespace = server["metadata"].get("namespace", "")
        built = (server.get("status") or {}).get("built") or {}
        flavor = flavors.get(built.get("flavor") or (server.get("spec") or {}).get("flavor", ""))
        usage = nova_admin_documents.server_usage(
            server, flavor, tenant_id=owners.get(namespace, namespace), start=start, stop=stop,
            now=now,
        )  # fmt: skip
        if usage is not None:
            usages.append(usage)
    return usages


@routes.get(BASE + "/os-simple-tenant-usage")
async def list_usage(request: web.Request) -> web.Response:
    """Every project's usage in the period: for a caller Kubernetes lets list every project's
    servers (Nova's admin); with detailed=1, each server's."""
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    start, stop = nova_admin_documents.period(request.query,
                                              datetime.datetime.now(datetime.UTC))  # fmt: skip
    kube = nova.services(request).as_user(identity)
    servers = await as_policy(kube.list(COMPUTE, "Server"), "os-simple-tenant-usage:list")
    owners, flavors = await asyncio.gather(project_ids(kube), flavors_by_name(kube))
    usages = _usages(servers, owners, flavors, start, stop)
    links: list[dict[str, str]] = []
    if version >= (2, 40):
        url = nova.base_url(request) + "/os-simple-tenant-usage"
        usages, links = page(request, usages, "instance_id", url)
    tenants: dict[str, list[dict[str, Any]]] = {}
    for usage in usages:
        tenants.setdefault(usage["tenant_id"], []).append(usage)
    # Nova reads only detailed=1; openstacksdk sends detailed=True, which Nova then ignores.
    detailed = request.query.get("detailed", "").lower() in ("1", "true", "yes")
    document: dict[str, Any] = {"tenant_usages": [
        nova_admin_documents.tenant_usage(tenant, found, start=start, stop=stop,
                                          detailed=detailed)
        for tenant, found in tenants.items()]}  # fmt: skip
    if links:
        document["tenant_usages_links"] = links
    return nova.respond(document, version)


@routes.get(BASE + "/os-simple-tenant-usage/{project_id}")
async def show_usage(request: web.Request) -> web.Response:
    """A project's usage in the period, with each server's. A project without any is answered
    with zero totals (Nova answers `{}`, which `openstack usage show` cannot print)."""
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    start, stop = nova_admin_documents.period(request.query,
                                              datetime.datetime.now(datetime.UTC))  # fmt: skip
    rule = "os-simple-tenant-usage:show"
    project = await target_project(request, identity, rule)
    tenant = str(project["metadata"]["uid"])
    namespace = namespace_of(project)
    kube = nova.services(request).as_user(identity)
    servers = await as_policy(kube.list(COMPUTE, "Server", namespace), rule)
    usages = _usages(servers, {namespace: tenant}, await flavors_by_name(kube), start, stop)
    links: list[dict[str, str]] = []
    if version >= (2, 40):
        url = f"{nova.base_url(request)}/os-simple-tenant-usage/{tenant}"
        usages, links = page(request, usages, "instance_id", url)
    document: dict[str, Any] = {"tenant_usage": nova_admin_documents.tenant_usage(
        tenant, usages, start=start, stop=stop, detailed=True)}  # fmt: skip
    if links:
        document["tenant_usage_links"] = links
    return nova.respond(document, version)
