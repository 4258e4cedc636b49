"""Keystone v3's users, projects, roles and role assignments, over User and Project objects.

Kubernetes RBAC is the one authority, as for every other call: creating, changing or deleting
a user or a project, granting a role, or listing them all is done as the token's user, so only
someone Kubernetes lets edit Users and Projects (a cluster admin, or a user bound to the
ClusterRole `nimbus-identity-admin`) may. Keystone lets every user read themselves and the
projects they hold a role on; so does the API, with its own rights.

A password set through the API (`openstack user create --password`, `openstack user set
--password`, `openstack user password set`) is kept as the operator keeps one: a salted hash in
the Secret `nimbus-password-<user>` of the system namespace, owned by the User; the API writes
it only after Kubernetes said the caller may update that User (or the caller is the user, with
their current password). A user whose password comes from `spec.passwordSecret` changes it
there."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from aiohttp import web

from nimbus.identity import render as identity_render
from nimbus.k8s import client
from nimbus.openstack import keystone_documents as documents
from nimbus.openstack import passwords
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import IDENTITY, Identity, Services

routes = web.RouteTableDef()
FIELD_MANAGER = "nimbus-api"


def services(request: web.Request) -> Services:
    found: Services = request.app["services"]
    return found


async def caller(request: web.Request) -> Identity:
    return await services(request).verify(request.headers.get("X-Auth-Token"))


async def _body(request: web.Request, key: str) -> dict[str, Any]:
    try:
        body = await request.json()
        found = body[key]
    except (ValueError, KeyError, TypeError):
        raise documents.bad(f"Invalid input for field '{key}': expected {{\"{key}\": {{...}}}}"
                            ) from None  # fmt: skip
    if not isinstance(found, dict):
        raise documents.bad(f"Invalid input for field '{key}': expected an object")
    return found


def forbidden(action: str) -> Fault:
    return Fault(403, "You are not authorized to perform the requested action: "
                 f"identity:{action}.", style="keystone")  # fmt: skip


async def may(svc: Services, identity: Identity, verb: str, resource: str, name: str = "") -> bool:
    """Whether Kubernetes lets the token's user `verb` the identity `resource` (named): a
    SelfSubjectAccessReview made as them."""
    review = await svc.as_user(identity).create({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "metadata": {"name": ""},
        "spec": {"resourceAttributes": {"group": "identity.nimbus.dev", "resource": resource,
                                        "verb": verb, "name": name}},
    })  # fmt: skip
    return bool((review.get("status") or {}).get("allowed"))


# --- lookups --------------------------------------------------------------------------------


async def find_user(svc: Services, user_id: str) -> dict[str, Any]:
    found = await svc.user_by_id(user_id)
    if found is None:
        raise Fault(404, f"Could not find user: {user_id}.", style="keystone")
    return found


async def find_project(svc: Services, project_id: str) -> dict[str, Any]:
    found = await svc.project(id=project_id)
    if found is None:
        raise Fault(404, f"Could not find project: {project_id}.", style="keystone")
    return found


def filtered(items: list[dict[str, Any]], query: Any) -> list[dict[str, Any]]:
    wanted = {k: v for k, v in query.items() if k in ("name", "domain_id", "enabled", "id")}
    return [i for i in items if all(str(i.get(k)).lower() == v.lower() for k, v in wanted.items())]


async def _user_document(svc: Services, body: dict[str, Any]) -> dict[str, Any]:
    default = (body.get("spec") or {}).get("defaultProject")
    project = await svc.project(name=default) if default else None
    return documents.user(body, default_project_id=project["metadata"]["uid"] if project else None)


async def _projects_by_id(svc: Services) -> dict[str, str]:
    return {p["metadata"]["uid"]: p["metadata"]["name"] for p in await svc.projects()}


# --- passwords ------------------------------------------------------------------------------


async def set_password(svc: Services, user: dict[str, Any], password: str) -> None:
    """Keep the password's hash as the operator keeps one, then move passwordChangedAt: every
    token issued before it stops working."""
    name = user["metadata"]["name"]
    ref = (user.get("spec") or {}).get("passwordSecret")
    if ref:
        raise Fault(409, f"The password of user {name} is kept in Secret {ref.get('namespace')}/"
                    f"{ref.get('name')} (spec.passwordSecret): change it there.",
                    style="keystone")  # fmt: skip
    hashed = await asyncio.to_thread(passwords.hash_password, password)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    secret = identity_render.render_password_hash(
        name,
        svc.config.system_namespace,
        hashed,
        f"openstack-api:{now}",
        client.owner_reference(user),
    )
    await svc.api.apply(secret, field_manager=FIELD_MANAGER)
    await svc.api.patch_status(IDENTITY, "User", name, None, {"passwordChangedAt": now})


async def _create(
    svc: Services, identity: Identity, kind: str, name: str, spec: dict[str, Any]
) -> dict[str, Any]:
    """The User or Project made as the caller; Keystone's 409 for a name taken."""
    body = {"apiVersion": IDENTITY, "kind": kind, "metadata": {"name": name}, "spec": spec}
    try:
        return await svc.as_user(identity).create(body)
    except client.ApiError as error:
        if error.status == 409:
            raise Fault(409, f"Conflict occurred attempting to store {kind.lower()} - Duplicate "
                        f"entry found with name {name} at domain ID default.", style="keystone"
                        ) from None  # fmt: skip
        raise


# --- users ----------------------------------------------------------------------------------


def _deleting(body: dict[str, Any]) -> bool:
    return bool(body["metadata"].get("deletionTimestamp"))


@routes.get("/v3/users")
async def list_users(request: web.Request) -> web.Response:
    identity = await caller(request)
    svc = services(request)
    users = await svc.as_user(identity).list(IDENTITY, "User")
    # A user being deleted (the operator still cleaning up after them) is gone at once, as
    # Keystone's delete is.
    documents_ = [await _user_document(svc, u) for u in users if not _deleting(u)]
    return web.json_response({"users": filtered(documents_, request.query),
                              "links": {"self": "", "next": None, "previous": None}})  # fmt: skip


@routes.get("/v3/users/{user_id}")
async def show_user(request: web.Request) -> web.Response:
    identity = await caller(request)
    svc = services(request)
    user_id = request.match_info["user_id"]
    if user_id != identity.user_id and not await may(svc, identity, "get", "users"):
        raise forbidden("get_user")
    found = await find_user(svc, user_id)
    if _deleting(found):
        raise Fault(404, f"Could not find user: {user_id}.", style="keystone")
    return web.json_response({"user": await _user_document(svc, found)})


@routes.post("/v3/users")
async def create_user(request: web.Request) -> web.Response:
    identity = await caller(request)
    svc = services(request)
    asked = await _body(request, "user")
    name = documents.check_name("user", asked.get("name"))
    password = documents.password(asked["password"]) if asked.get("password") else None
    spec = documents.user_spec(asked, projects_by_id=await _projects_by_id(svc))
    spec = {k: v for k, v in spec.items() if v is not None}
    made = await _create(svc, identity, "User", name, spec)
    if password is not None:
        await set_password(svc, made, password)
    return web.json_response({"user": await _user_document(svc, made)}, status=201)


@routes.patch("/v3/users/{user_id}")
async def update_user(request: web.Request) -> web.Response:
    identity = await caller(request)
    svc = services(request)
    user = await find_user(svc, request.match_info["user_id"])
    asked = await _body(request, "user")
    name = user["metadata"]["name"]
    documents.check_rename("user", asked, name, "its Kubernetes identity")
    password = documents.password(asked["password"]) if "password" in asked else None
    spec = documents.user_spec(asked, projects_by_id=await _projects_by_id(svc), partial=True)
    if spec:
        user = await svc.as_user(identity).patch(IDENTITY, "User", name, None, {"spec": spec})
    if password is not None:
        if not await may(svc, identity, "update", "users", name):
            raise forbidden("update_user")
        await set_password(svc, user, password)
        user = await find_user(svc, user["metadata"]["uid"])
    return web.json_response({"user": await _user_document(svc, user)})


@routes.delete("/v3/users/{user_id}")
async def delete_user(request: web.Request) -> web.Response:
    identity = await caller(request)
    svc = services(request)
    user = await find_user(svc, request.match_info["user_id"])
    await svc.as_user(identity).delete(IDENTITY, "User", user["metadata"]["name"])
    return web.Response(status=204)


@routes.post("/v3/users/{user_id}/password")
async def change_own_password(request: web.Request) -> web.Response:
    """A user changing their own password: they prove it with the current one."""
    identity = await caller(request)
    svc = services(request)
    if request.match_info["user_id"] != identity.user_id:
        raise forbidden("change_password")
    asked = await _body(request, "user")
    new = documents.password(asked.get("password"))
    original = documents.password(asked.get("original_password"), "user/original_password")
    if not await svc.check_password(identity.user, original):
        raise Fault(401, "The request you have made requires authentication.", style="keystone")
    await set_password(svc, identity.user, new)
    return web.Response(status=204)


# --- projects -------------------------------------------------------------------------------


@routes.get("/v3/projects")
async def list_projects(request: web.Request) -> web.Response:
    identity = await caller(request)
    svc = services(request)
    # Only who may list every Project lists them (Keystone's identity:list_projects): a member
    # gets the 403 on which the CLI falls back to the user's own projects, or to an id as given.
    projects = await svc.as_user(identity).list(IDENTITY, "Project")
    # A project being deleted (its namespace emptied, then removed) is gone to Keystone's
    # clients at once, as Keystone's delete is: Horizon's table no longer lists it.
    found = filtered([documents.project(p) for p in projects if not _deleting(p)], request.query)
    return web.json_response({"projects": found,
                              "links": {"self": "", "next": None, "previous": None}})  # fmt: skip


@routes.get("/v3/projects/{project_id}")
async def show_project(request: web.Request) -> web.Response:
    identity = await caller(request)
    svc = services(request)
    project = await svc.project(id=request.match_info["project_id"])
    project = None if project is None or _deleting(project) else project
    held = project is not None and svc.roles_on(project, identity.token.user)
    if not held and not await may(svc, identity, "get", "projects"):
        raise forbidden("get_project")
    if project is None:
        raise Fault(404, f"Could not find project: {request.match_info['project_id']}.",
                    style="keystone")  # fmt: skip
    return web.json_response({"project": documents.project(project)})


@routes.post("/v3/projects")
async def create_project(request: web.Request) -> web.Response:
    identity = await caller(request)
    svc = services(request)
    asked = await _body(request, "project")
    name = documents.check_name("project", asked.get("name"))
    spec = documents.project_spec(asked)
    made = await _create(svc, identity, "Project", name, spec)
    return web.json_response({"project": documents.project(made)}, status=201)


@routes.patch("/v3/projects/{project_id}")
async def update_project(request: web.Request) -> web.Response:
    identity = await caller(request)
    svc = services(request)
    project = await find_project(svc, request.match_info["project_id"])
    asked = await _body(request, "project")
    name = project["metadata"]["name"]
    documents.check_rename("project", asked, name, "its namespace's")
    spec = documents.project_spec(asked, partial=True)
    if spec:
        project = await svc.as_user(identity).patch(IDENTITY, "Project", name, None,
                                                    {"spec": spec})  # fmt: skip
    return web.json_response({"project": documents.project(project)})


@routes.delete("/v3/projects/{project_id}")
async def delete_project(request: web.Request) -> web.Response:
    identity = await caller(request)
    svc = services(request)
    project = await find_project(svc, request.match_info["project_id"])
    await svc.as_user(identity).delete(IDENTITY, "Project", project["metadata"]["name"])
    return web.Response(status=204)
