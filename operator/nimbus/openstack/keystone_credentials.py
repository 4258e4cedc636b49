"""Keystone's application credentials: a user's secret for one project, with some of their roles,
for a program to log in with (`openstack application credential create`, then the
`v3applicationcredential` auth type of clouds.yaml).

A credential is a Secret of the system namespace, `nimbus-appcred-<id>`, owned by its User (it
goes with them): what it is (name, project, roles, expiry) and a salted scrypt hash of its
secret, never the secret, which is shown once, when it is made. A token it gives keeps only the
credential's roles that the user still holds on the project; without member it only reads
(service.Services.as_user). Deleting it revokes its tokens on every replica."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import secrets
import uuid
from typing import Any

from aiohttp import web

from nimbus.k8s import client
from nimbus.openstack import keystone_documents as documents
from nimbus.openstack import passwords
from nimbus.openstack.faults import UNAUTHORIZED, Fault
from nimbus.openstack.keystone_admin import caller, forbidden, services
from nimbus.openstack.service import IMPLIED, Identity, Services, iso

routes = web.RouteTableDef()
SECRET = "nimbus-appcred-{id}"
LABEL = "identity.nimbus.dev/application-credential-of"


def _record(secret: dict[str, Any]) -> dict[str, Any]:
    data = secret.get("data") or {}
    record: dict[str, Any] = json.loads(base64.b64decode(data["credential"]))
    return record


def _document(record: dict[str, Any], secret: str | None = None) -> dict[str, Any]:
    document = {
        "id": record["id"], "name": record["name"], "description": record.get("description"),
        "user_id": record["user_id"], "project_id": record["project_id"],
        "roles": [{"id": r, "name": r, "domain_id": None} for r in record["roles"]],
        "expires_at": record.get("expires_at"), "unrestricted": record["unrestricted"],
        "system": None, "access_rules": [], "links": {"self": ""},
    }  # fmt: skip
    if secret is not None:
        document["secret"] = secret
    return document


async def _secrets_of(svc: Services, user: str) -> list[dict[str, Any]]:
    return await svc.api.list(
        "v1", "Secret", svc.config.system_namespace, label_selector=f"{LABEL}={user}"
    )


async def _own(request: web.Request) -> tuple[Services, Identity]:
    """The caller, who must be the user the path names: credentials are a user's own."""
    svc, identity = services(request), await caller(request)
    if request.match_info["user_id"] != identity.user_id:
        raise forbidden("application_credential")
    return svc, identity


def _expiry(value: object) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise documents.bad(f"Invalid input for field 'application_credential/expires_at': "
                            f"{value!r} is not a date and time (ISO 8601).") from None  # fmt: skip
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    if moment <= datetime.datetime.now(datetime.UTC):
        raise documents.bad(f"Invalid input for field 'application_credential/expires_at': "
                            f"{value!r} is in the past.")  # fmt: skip
    return iso(moment)


def _roles(asked: object, held: tuple[str, ...]) -> list[str]:
    """The roles asked for (by id or name), each one the caller holds; all of theirs when none
    are asked for."""
    if asked is None:
        return list(held)
    if not isinstance(asked, list):
        raise documents.bad("Invalid input for field 'application_credential/roles': a list of "
                            "{\"id\": ...} or {\"name\": ...}.")  # fmt: skip
    wanted = []
    for entry in asked:
        role = (entry or {}).get("id") or (entry or {}).get("name") if isinstance(entry, dict) \
            else None  # fmt: skip
        if role not in held:
            holding = ", ".join(held)
            raise Fault(403, f"Invalid application credential: the role {role!r} asked for is "
                        f"not among the roles held: {holding}.", style="keystone")  # fmt: skip
        wanted.append(str(role))
    return wanted


@routes.post("/v3/users/{user_id}/application_credentials")
async def create(request: web.Request) -> web.Response:
    svc, identity = await _own(request)
    if identity.project is None:
        raise Fault(403, "An application credential is made with a project-scoped token.",
                    style="keystone")  # fmt: skip
    if identity.token.application_credential:  # only an unrestricted one makes another
        made_by = await _find(svc, identity.token.application_credential)
        if made_by is None or not made_by["unrestricted"]:
            raise forbidden("create_application_credential")
    try:
        asked = (await request.json())["application_credential"]
        assert isinstance(asked, dict)
    except (ValueError, KeyError, TypeError, AssertionError):
        raise documents.bad("Invalid input for field 'application_credential': expected "
                            "{\"application_credential\": {\"name\": ...}}") from None  # fmt: skip
    name = asked.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= 255:
        raise documents.bad(f"Invalid input for field 'application_credential/name': {name!r} "
                            "is not accepted; a name of 1 to 255 characters.")  # fmt: skip
    user = identity.token.user
    if any(_record(s)["name"] == name for s in await _secrets_of(svc, user)):
        raise Fault(409, "Conflict occurred attempting to store application_credential - "
                    f"Duplicate entry found with name {name}.", style="keystone")  # fmt: skip
    secret = asked.get("secret") or secrets.token_urlsafe(64)
    documents.password(secret, "application_credential/secret")
    roles = _roles(asked.get("roles"), identity.roles)
    record = {
        "id": uuid.uuid4().hex, "name": name, "description": asked.get("description"),
        "user": user, "user_id": identity.user_id,
        "project_id": identity.project["metadata"]["uid"],
        "project_name": identity.project["metadata"]["name"],
        "roles": roles, "expires_at": _expiry(asked.get("expires_at")),
        "unrestricted": bool(asked.get("unrestricted", False)),
    }  # fmt: skip
    hashed = await asyncio.to_thread(passwords.hash_password, secret)
    await svc.api.create({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": SECRET.format(id=record["id"]),
                     "namespace": svc.config.system_namespace,
                     "labels": {"app.kubernetes.io/managed-by": "nimbus", LABEL: user},
                     "ownerReferences": [client.owner_reference(identity.user)]},
        "data": {"credential": base64.b64encode(json.dumps(record).encode()).decode(),
                 "hash": base64.b64encode(hashed.encode()).decode()},
    })  # fmt: skip
    return web.json_response({"application_credential": _document(record, secret)}, status=201)


async def _find(svc: Services, credential_id: str) -> dict[str, Any] | None:
    if not credential_id.isalnum():
        return None
    found = await svc.api.get(
        "v1", "Secret", SECRET.format(id=credential_id), svc.config.system_namespace
    )
    return _record(found) if found is not None else None


@routes.get("/v3/users/{user_id}/application_credentials")
async def list_credentials(request: web.Request) -> web.Response:
    svc, identity = await _own(request)
    records = [_record(s) for s in await _secrets_of(svc, identity.token.user)]
    if "name" in request.query:
        records = [r for r in records if r["name"] == request.query["name"]]
    return web.json_response({"application_credentials": [_document(r) for r in records],
                              "links": {"self": "", "next": None, "previous": None}})  # fmt: skip


async def _mine(request: web.Request) -> tuple[Services, dict[str, Any]]:
    svc, identity = await _own(request)
    wanted = request.match_info["credential_id"]
    record = await _find(svc, wanted)
    if record is None or record["user_id"] != identity.user_id:
        raise Fault(404, f"Could not find Application Credential: {wanted}.", style="keystone")
    return svc, record


@routes.get("/v3/users/{user_id}/application_credentials/{credential_id}")
async def show(request: web.Request) -> web.Response:
    _, record = await _mine(request)
    return web.json_response({"application_credential": _document(record)})


@routes.delete("/v3/users/{user_id}/application_credentials/{credential_id}")
async def delete(request: web.Request) -> web.Response:
    svc, record = await _mine(request)
    await svc.revoke_credential(record["id"])
    await svc.api.delete("v1", "Secret", SECRET.format(id=record["id"]),
                         svc.config.system_namespace)  # fmt: skip
    return web.Response(status=204)


async def authenticate(
    svc: Services, given: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `application_credential` auth method: (the User, the credential's record), or
    Keystone's 401, the same whatever was wrong."""
    secret = given.get("secret")
    if not isinstance(secret, str):
        raise documents.bad("Invalid input for field 'identity/application_credential/secret'.")
    record = None
    if given.get("id"):
        record = await _find(svc, str(given["id"]))
    elif given.get("name"):
        owner = given.get("user") or {}
        user = (await svc.user_named(str(owner["name"])) if owner.get("name")
                else await svc.user_by_id(str(owner.get("id"))))  # fmt: skip
        if user is not None:
            record = next((r for r in map(_record, await _secrets_of(svc, user["metadata"]["name"]))
                           if r["name"] == given["name"]), None)  # fmt: skip
    if record is None:
        raise Fault(401, UNAUTHORIZED, style="keystone")
    stored = await svc.api.get("v1", "Secret", SECRET.format(id=record["id"]),
                               svc.config.system_namespace)  # fmt: skip
    hashed = base64.b64decode(((stored or {}).get("data") or {}).get("hash", "")).decode()
    if not hashed or not await asyncio.to_thread(passwords.verify, secret, hashed):
        raise Fault(401, UNAUTHORIZED, style="keystone")
    expires = record.get("expires_at")
    if expires and datetime.datetime.fromisoformat(expires.replace("Z", "+00:00")) <= \
            datetime.datetime.now(datetime.UTC):  # fmt: skip
        raise Fault(401, UNAUTHORIZED, style="keystone")
    user = await svc.user_named(record["user"])
    if user is None or user["metadata"]["uid"] != record["user_id"]:
        raise Fault(401, UNAUTHORIZED, style="keystone")
    if not (user.get("spec") or {}).get("enabled", True):
        raise Fault(401, UNAUTHORIZED, style="keystone")
    return user, record


def implied(roles: list[str]) -> tuple[str, ...]:
    """The roles with those they imply (member: reader too)."""
    return tuple(r for r in documents.ROLES if any(r in IMPLIED[h] for h in roles))
