"""Keystone v3's domain, roles and role assignments, over Project members.

One domain, `Default` (id `default`). Roles are Keystone's three, each its own id: admin, member
and reader. A role assignment is a Project's member: granting one (`openstack role add --user
--project`) writes the Project as the caller, so only who Kubernetes lets update Projects may."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nimbus.k8s import client
from nimbus.openstack import keystone_documents as documents
from nimbus.openstack.faults import Fault
from nimbus.openstack.keystone_admin import (
    caller,
    filtered,
    find_project,
    find_user,
    forbidden,
    may,
    services,
)

routes = web.RouteTableDef()


# --- domains and roles ----------------------------------------------------------------------


def _domain() -> dict[str, Any]:
    return {"id": documents.DOMAIN_ID, "name": "Default", "description": "The default domain",
            "enabled": True, "tags": [], "options": {}, "links": {"self": ""}}  # fmt: skip


@routes.get("/v3/domains")
async def list_domains(request: web.Request) -> web.Response:
    await caller(request)
    return web.json_response({"domains": filtered([_domain()], request.query)})


@routes.get("/v3/domains/{domain_id}")
async def show_domain(request: web.Request) -> web.Response:
    await caller(request)
    if request.match_info["domain_id"] not in (documents.DOMAIN_ID, "Default"):
        raise Fault(404, f"Could not find domain: {request.match_info['domain_id']}.",
                    style="keystone")  # fmt: skip
    return web.json_response({"domain": _domain()})


@routes.get("/v3/roles")
async def list_roles(request: web.Request) -> web.Response:
    await caller(request)
    roles = [documents.role(r) for r in documents.ROLES]
    return web.json_response({"roles": filtered(roles, request.query),
                              "links": {"self": "", "next": None, "previous": None}})  # fmt: skip


@routes.get("/v3/roles/{role_id}")
async def show_role(request: web.Request) -> web.Response:
    await caller(request)
    return web.json_response({"role": documents.role(documents.check_role(
        request.match_info["role_id"]))})  # fmt: skip


async def _grant(request: web.Request, add: bool) -> web.Response:
    identity = await caller(request)
    svc = services(request)
    role_id = documents.check_role(request.match_info["role_id"])
    user = (await find_user(svc, request.match_info["user_id"]))["metadata"]["name"]
    kube = svc.as_user(identity)
    for _ in range(5):  # the members as read, written whole: a concurrent change is a 409
        project = await find_project(svc, request.match_info["project_id"])
        members = list((project.get("spec") or {}).get("members") or [])
        held = any(m.get("user") == user and m.get("role") == role_id for m in members)
        if not add and not held:
            raise Fault(404, f"Could not find role assignment with role: {role_id}, user or "
                        f"group: {request.match_info['user_id']}, project, domain, or system: "
                        f"{request.match_info['project_id']}.", style="keystone")  # fmt: skip
        changed = (documents.with_member if add else documents.without_member)(
            members, user, role_id
        )
        if changed == members:
            return web.Response(status=204)
        project["spec"]["members"] = changed
        try:
            await kube.replace(project)
            return web.Response(status=204)
        except client.ApiError as error:
            if error.status != 409:
                raise
    raise Fault(409, "The project changed while the role was granted; try again.",
                style="keystone")  # fmt: skip


@routes.put("/v3/projects/{project_id}/users/{user_id}/roles/{role_id}")
async def grant(request: web.Request) -> web.Response:
    return await _grant(request, add=True)


@routes.delete("/v3/projects/{project_id}/users/{user_id}/roles/{role_id}")
async def revoke_grant(request: web.Request) -> web.Response:
    return await _grant(request, add=False)


@routes.get("/v3/projects/{project_id}/users/{user_id}/roles/{role_id}")  # and HEAD
async def check_grant(request: web.Request) -> web.Response:
    identity = await caller(request)
    svc = services(request)
    role_id = documents.check_role(request.match_info["role_id"])
    user = await find_user(svc, request.match_info["user_id"])
    project = await find_project(svc, request.match_info["project_id"])
    if user["metadata"]["uid"] != identity.user_id and not await may(
        svc, identity, "get", "projects"
    ):
        raise forbidden("check_grant")
    held = any(m.get("user") == user["metadata"]["name"] and m.get("role") == role_id
               for m in (project.get("spec") or {}).get("members") or [])  # fmt: skip
    if not held:
        raise Fault(404, f"Could not find role assignment with role: {role_id}.",
                    style="keystone")  # fmt: skip
    return web.Response(status=204)


@routes.get("/v3/projects/{project_id}/users/{user_id}/roles")
async def list_grants(request: web.Request) -> web.Response:
    identity = await caller(request)
    svc = services(request)
    user = await find_user(svc, request.match_info["user_id"])
    project = await find_project(svc, request.match_info["project_id"])
    if user["metadata"]["uid"] != identity.user_id and not await may(
        svc, identity, "get", "projects"
    ):
        raise forbidden("list_grants")
    held = sorted({m["role"] for m in (project.get("spec") or {}).get("members") or []
                   if m.get("user") == user["metadata"]["name"]
                   and m.get("role") in documents.ROLES})  # fmt: skip
    return web.json_response({"roles": [documents.role(r) for r in held],
                              "links": {"self": "", "next": None, "previous": None}})  # fmt: skip


@routes.get("/v3/role_assignments")
async def role_assignments(request: web.Request) -> web.Response:
    """Keystone's role assignments: an admin's of anyone; a user's own, of themselves."""
    identity = await caller(request)
    svc = services(request)
    query = request.query
    user_id = query.get("user.id")
    if user_id != identity.user_id and not await may(svc, identity, "list", "projects"):
        raise forbidden("list_role_assignments")
    users = await svc.users()
    ids = {u["metadata"]["name"]: u["metadata"]["uid"] for u in users}
    names = {v: k for k, v in ids.items()}
    if user_id is not None and user_id not in names:
        return web.json_response({"role_assignments": [], "links": {"self": ""}})
    found = documents.assignments(
        await svc.projects(), ids,
        user=names[user_id] if user_id else None,
        project_id=query.get("scope.project.id"),
        role_id=query.get("role.id"),
        names="include_names" in query and query["include_names"].lower() not in ("0", "false"),
    )  # fmt: skip
    return web.json_response({"role_assignments": found,
                              "links": {"self": "", "next": None, "previous": None}})  # fmt: skip
