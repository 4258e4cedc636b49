"""Keystone v3: authentication, tokens and the catalog, over User and Project objects.

Password and token (rescoping) methods; unscoped, domain-scoped and project-scoped tokens (a
user's default project scopes a token that asks for no scope, as Keystone does); `GET`, `HEAD`
and `DELETE /v3/auth/tokens` with `X-Subject-Token`, so that a service with keystonemiddleware
validates Nimbus's tokens; the projects a token's user may scope to. One domain: `Default`
(id `default`)."""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from nimbus.openstack import keystone_credentials, tokens
from nimbus.openstack.faults import UNAUTHORIZED, Fault
from nimbus.openstack.service import DOMAIN, Identity, Services, iso

routes = web.RouteTableDef()

# The services of the catalog: (type, name, path under the public URL; {project_id} filled).
CATALOG = (
    ("identity", "keystone", "/v3"),
    ("compute", "nova", "/compute/v2.1"),
    ("image", "glance", "/image"),
    ("network", "neutron", "/network"),
    ("volumev3", "cinderv3", "/volume/v3/{project_id}"),
    ("block-storage", "cinder", "/volume/v3/{project_id}"),
    ("orchestration", "heat", "/heat/v1/{project_id}"),
    ("load-balancer", "octavia", "/load-balancer"),
)


def services(request: web.Request) -> Services:
    found: Services = request.app["services"]
    return found


def catalog(public_url: str, region: str, project_id: str | None) -> list[dict[str, Any]]:
    """The token's catalog: every service's public, internal and admin endpoint (one URL)."""
    entries = []
    for kind, name, path in CATALOG:
        if "{project_id}" in path and project_id is None:
            continue
        url = public_url.rstrip("/") + path.format(project_id=project_id)
        entries.append({
            "type": kind, "name": name, "id": f"{name}-{kind}",
            "endpoints": [{"id": f"{name}-{interface}", "interface": interface,
                           "region": region, "region_id": region, "url": url}
                          for interface in ("public", "internal", "admin")],
        })  # fmt: skip
    return entries


def version_document(public_url: str) -> dict[str, Any]:
    return {
        "id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": public_url.rstrip("/") + "/v3/"}],
        "media-types": [{"base": "application/json",
                         "type": "application/vnd.openstack.identity-v3+json"}],
    }  # fmt: skip


@routes.get("/v3")
@routes.get("/v3/")
async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": version_document(services(request).config.public_url)})


@routes.get("/")
async def versions(request: web.Request) -> web.Response:
    document = version_document(services(request).config.public_url)
    return web.json_response({"versions": {"values": [document]}}, status=300)


def _user_document(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["metadata"]["uid"], "name": user["metadata"]["name"],
            "domain": DOMAIN, "password_expires_at": None}  # fmt: skip


def _project_document(project: dict[str, Any]) -> dict[str, Any]:
    return {"id": project["metadata"]["uid"], "name": project["metadata"]["name"],
            "domain": DOMAIN}  # fmt: skip


async def _password_user(svc: Services, auth: dict[str, Any]) -> dict[str, Any]:
    """The user a password method names (by id, or by name in the Default domain), if the
    password is theirs; Keystone's 401 otherwise, the same whatever was wrong."""
    given = (auth.get("password") or {}).get("user") or {}
    password = given.get("password")
    if not isinstance(password, str):
        raise Fault(400, "Invalid input for field 'identity/password/user/password'.",
                    style="keystone")  # fmt: skip
    domain = given.get("domain") or {}
    if given.get("name") and domain.get("id", "default") != "default":
        raise Fault(401, UNAUTHORIZED, style="keystone")
    if given.get("name") and domain.get("name", "Default") != "Default":
        raise Fault(401, UNAUTHORIZED, style="keystone")
    if given.get("id"):
        user = await svc.user_by_id(str(given["id"]))
    elif given.get("name"):
        user = await svc.user_named(str(given["name"]))
    else:
        raise Fault(400, "Invalid input for field 'identity/password/user': a user needs an "
                    "id or a name", style="keystone")  # fmt: skip
    if user is None or not (user.get("spec") or {}).get("enabled", True):
        raise Fault(401, UNAUTHORIZED, style="keystone")
    name = user["metadata"]["name"]
    if await svc.locked(name):  # even the right password: Keystone's AccountLocked
        raise Fault(401, f"The account is locked for user: {user['metadata']['uid']}.",
                    style="keystone")  # fmt: skip
    if not await svc.check_password(user, password):
        await svc.failed_login(name)
        raise Fault(401, UNAUTHORIZED, style="keystone")
    await svc.login_succeeded(name)
    return user


async def _scope_project(
    svc: Services, scope: dict[str, Any], user: str
) -> tuple[dict[str, Any], tuple[str, ...]]:
    wanted = scope.get("project") or {}
    if wanted.get("id"):
        project = await svc.project(id=str(wanted["id"]))
    else:
        domain = wanted.get("domain") or {}
        if domain.get("id", "default") != "default" or domain.get("name", "Default") != "Default":
            raise Fault(401, UNAUTHORIZED, style="keystone")
        project = await svc.project(name=str(wanted.get("name") or ""))
    roles = svc.roles_on(project, user) if project is not None else ()
    if project is None or not roles:
        # Keystone says the same whether the project is missing or the user has no role on it.
        raise Fault(401, f"User {user} has no access to project "
                    f"{wanted.get('id') or wanted.get('name')}", style="keystone")  # fmt: skip
    return project, roles


@routes.post("/v3/auth/tokens")
async def authenticate(request: web.Request) -> web.Response:
    svc = services(request)
    try:
        body = await request.json()
        auth = body["auth"]
        identity = auth["identity"]
        methods = list(identity["methods"])
    except (ValueError, KeyError, TypeError):
        raise Fault(400, "Invalid input for field 'auth': expected {\"auth\": {\"identity\": "
                    "{\"methods\": [...], ...}}}", style="keystone") from None  # fmt: skip
    now = datetime.datetime.now(datetime.UTC)
    expires = now + svc.config.expiration
    issued, chain = now, None
    credential: dict[str, Any] | None = None
    if "application_credential" in methods:
        user, credential = await keystone_credentials.authenticate(
            svc, identity.get("application_credential") or {}
        )
    elif "password" in methods:
        user = await _password_user(svc, identity)
    elif "token" in methods:  # rescoping: the same user, no later expiry
        given = (identity.get("token") or {}).get("id")
        prior = await svc.verify(given)
        user, expires, issued = prior.user, prior.token.expires_at, prior.token.issued_at
        chain = prior.token.audit_id
    else:
        raise Fault(401, f"Unsupported authentication method: {', '.join(methods)}",
                    style="keystone")  # fmt: skip
    name = user["metadata"]["name"]
    scope = auth.get("scope")
    project: dict[str, Any] | None = None
    domain: str | None = None
    roles: tuple[str, ...] = ()
    if credential is not None:  # its own project, with its roles the user still holds
        project = await svc.project(name=credential["project_name"])
        if project is None or project["metadata"]["uid"] != credential["project_id"]:
            raise Fault(401, UNAUTHORIZED, style="keystone")
        kept = keystone_credentials.implied(credential["roles"])
        roles = tuple(r for r in svc.roles_on(project, name) if r in kept)
        if not roles:
            raise Fault(401, UNAUTHORIZED, style="keystone")
    elif scope == "unscoped":
        pass
    elif isinstance(scope, dict) and "project" in scope:
        project, roles = await _scope_project(svc, scope, name)
    elif isinstance(scope, dict) and "domain" in scope:
        wanted = scope["domain"]
        if wanted.get("id", "default") != "default" or wanted.get("name", "Default") != "Default":
            raise Fault(401, UNAUTHORIZED, style="keystone")
        domain = "default"
    elif scope is None and (user.get("spec") or {}).get("defaultProject"):
        default = await svc.project(name=user["spec"]["defaultProject"])
        if default is not None and svc.roles_on(default, name):
            project, roles = default, svc.roles_on(default, name)
    token = tokens.Token(
        user=name, methods=tuple(methods), issued_at=issued, expires_at=expires,
        audit_id=tokens.new_audit_id(), project_id=project["metadata"]["uid"] if project else None,
        project_name=project["metadata"]["name"] if project else None,
        domain_id=domain, audit_chain=chain,
        application_credential=credential["id"] if credential else None,
        roles=keystone_credentials.implied(credential["roles"]) if credential else None,
    )  # fmt: skip
    text = tokens.issue(await svc.keys(), token)
    document = _token_document(svc, Identity(token, user, project, roles))
    return web.json_response(document, status=201, headers={"X-Subject-Token": text})


def _token_document(svc: Services, identity: Identity) -> dict[str, Any]:
    token = identity.token
    body: dict[str, Any] = {
        "methods": list(token.methods),
        "user": _user_document(identity.user),
        "audit_ids": [token.audit_id] + ([token.audit_chain] if token.audit_chain else []),
        "expires_at": iso(token.expires_at),
        "issued_at": iso(token.issued_at),
    }
    if token.application_credential:
        body["application_credential"] = {"id": token.application_credential,
                                          "restricted": True}  # fmt: skip
    if identity.project is not None:
        body["project"] = _project_document(identity.project)
        body["is_domain"] = False
        body["roles"] = [{"id": r, "name": r} for r in identity.roles]
        body["catalog"] = catalog(svc.config.public_url, svc.config.region, body["project"]["id"])
    elif token.domain_id is not None:
        body["domain"] = DOMAIN
        body["roles"] = []
        body["catalog"] = catalog(svc.config.public_url, svc.config.region, None)
    return {"token": body}


async def _subject(request: web.Request) -> Identity:
    """The token `X-Subject-Token` names, checked with the caller's own (`X-Auth-Token`)."""
    svc = services(request)
    await svc.verify(request.headers.get("X-Auth-Token"))
    subject = request.headers.get("X-Subject-Token")
    try:
        return await svc.verify(subject)
    except Fault:
        raise Fault(404, f"Could not find token: {subject}", style="keystone") from None


@routes.get("/v3/auth/tokens", allow_head=False)
async def validate(request: web.Request) -> web.Response:
    identity = await _subject(request)
    document = _token_document(services(request), identity)
    if "nocatalog" in request.query:
        document["token"].pop("catalog", None)
    subject = request.headers["X-Subject-Token"]
    return web.json_response(document, headers={"X-Subject-Token": subject})


@routes.head("/v3/auth/tokens")
async def check(request: web.Request) -> web.Response:
    await _subject(request)
    return web.Response(status=200)


@routes.delete("/v3/auth/tokens")
async def revoke(request: web.Request) -> web.Response:
    identity = await _subject(request)
    await services(request).revoke(identity.token)
    return web.Response(status=204)


async def _caller(request: web.Request) -> Identity:
    return await services(request).verify(request.headers.get("X-Auth-Token"))


@routes.get("/v3/auth/projects")
async def auth_projects(request: web.Request) -> web.Response:
    identity = await _caller(request)
    projects = await services(request).user_projects(identity.token.user)
    return web.json_response({"projects": [_full_project(p) for p in projects]})


@routes.get("/v3/auth/domains")
async def auth_domains(request: web.Request) -> web.Response:
    await _caller(request)
    return web.json_response({"domains": [_domain()]})


@routes.get("/v3/users/{user_id}/projects")
async def user_projects(request: web.Request) -> web.Response:
    identity = await _caller(request)
    if request.match_info["user_id"] != identity.user_id and not identity.admin:
        raise Fault(403, "You are not authorized to perform the requested action: "
                    "identity:list_user_projects.", style="keystone")  # fmt: skip
    svc = services(request)
    user = await svc.user_by_id(request.match_info["user_id"])
    if user is None:
        raise Fault(404, f"Could not find user: {request.match_info['user_id']}.",
                    style="keystone")  # fmt: skip
    projects = await svc.user_projects(user["metadata"]["name"])
    return web.json_response({"projects": [_full_project(p) for p in projects]})


def _domain() -> dict[str, Any]:
    return {**DOMAIN, "description": "The default domain", "enabled": True, "tags": [],
            "links": {"self": ""}, "options": {}}  # fmt: skip


def _full_project(project: dict[str, Any]) -> dict[str, Any]:
    spec = project.get("spec") or {}
    return {
        "id": project["metadata"]["uid"], "name": project["metadata"]["name"],
        "domain_id": "default", "description": spec.get("description", ""),
        "enabled": spec.get("enabled", True), "parent_id": "default", "is_domain": False,
        "tags": spec.get("tags", []), "options": {}, "links": {"self": ""},
    }  # fmt: skip
