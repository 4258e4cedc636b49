"""Keystone v3's documents over User and Project, and its requests read back as their specs.
Pure: keystone_admin.py answers with them.

A user's and a project's name are Kubernetes names: the user's is who Kubernetes RBAC judges,
the project's is its namespace. So they are DNS labels (lowercase letters, digits and '-'), and
a name that is not one is refused rather than changed: a login under another name would be
another user. Roles are Keystone's three, each its own id: admin, member, reader."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from nimbus.openstack.faults import Fault

DOMAIN_ID = "default"
ROLES = ("admin", "member", "reader")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_RESERVED = re.compile(r"^system($|[-.])")
MAX_PASSWORD = 4096  # Keystone's max_password_length


def bad(message: str) -> Fault:
    return Fault(400, message, style="keystone")


def _field(kind: str, field: str, value: object, accepted: str) -> Fault:
    return bad(f"Invalid input for field '{kind}/{field}': {value!r} is not accepted; {accepted}.")


def check_name(kind: str, value: object) -> str:
    """A user's or project's name, or Keystone's 400 naming why Kubernetes cannot hold it."""
    if not isinstance(value, str) or not value:
        raise _field(kind, "name", value, "a name is required")
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise _field(kind, "name", value, "a name here is a DNS label: at most 63 lowercase "
                     "letters, digits and '-', starting and ending with a letter or digit "
                     "(it is the Kubernetes user or namespace of the same name)")  # fmt: skip
    if kind == "user" and _RESERVED.match(value):
        raise _field(kind, "name", value, "Kubernetes reserves system: for its own users; "
                     "a user is never named system, system-* or system.*")  # fmt: skip
    return value


def _domain(kind: str, body: Mapping[str, Any]) -> None:
    domain = body.get("domain_id", DOMAIN_ID)
    if domain not in (DOMAIN_ID, None):
        raise _field(kind, "domain_id", domain, "the one domain is 'default'")


def _text(kind: str, field: str, value: object, limit: int = 255) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise _field(kind, field, value, f"a string of at most {limit} characters")
    return value


def _enabled(kind: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _field(kind, "enabled", value, "true or false")
    return value


def password(value: object, field: str = "user/password") -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_PASSWORD:
        raise bad(f"Invalid input for field '{field}': a password is 1 to {MAX_PASSWORD} "
                  "characters of text.")  # fmt: skip
    return value


def check_rename(kind: str, asked: Mapping[str, Any], name: str, why: str) -> None:
    """A rename is refused: the name is what Kubernetes knows the object by (`why`)."""
    if "name" in asked and asked["name"] != name:
        raise bad(
            f"Invalid input for field '{kind}/name': {asked['name']!r} is not accepted; a "
            f"{kind}'s name is {why} and stays {name!r}."
        )


# --- users ----------------------------------------------------------------------------------


def user(body: Mapping[str, Any], *, default_project_id: str | None = None) -> dict[str, Any]:
    """Keystone's user document; `default_project_id` is the default project's id."""
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    metadata = body["metadata"]
    document: dict[str, Any] = {
        "id": metadata["uid"], "name": metadata["name"], "domain_id": DOMAIN_ID,
        "enabled": spec.get("enabled", True), "password_expires_at": None,
        "description": spec.get("description", ""), "options": {},
        "links": {"self": ""},
    }  # fmt: skip
    if spec.get("email"):
        document["email"] = spec["email"]
    if default_project_id:
        document["default_project_id"] = default_project_id
    if status.get("passwordChangedAt"):
        document["password_changed_at"] = status["passwordChangedAt"]
    return document


def user_spec(
    request: Mapping[str, Any], *, projects_by_id: Mapping[str, str], partial: bool = False
) -> dict[str, Any]:
    """The User spec fields a create (or, `partial`, an update) asks for. `projects_by_id` maps
    project ids to names: a default project is kept by name."""
    spec: dict[str, Any] = {}
    _domain("user", request)
    if "enabled" in request:
        spec["enabled"] = _enabled("user", request["enabled"])
    elif not partial:
        spec["enabled"] = True
    if "email" in request:
        spec["email"] = _text("user", "email", request["email"]) or None
    if "description" in request:
        spec["description"] = _text("user", "description", request["description"])
    if "default_project_id" in request:
        wanted = request["default_project_id"]
        if wanted is None:
            spec["defaultProject"] = None
        elif wanted not in projects_by_id:
            raise bad(f"Invalid input for field 'user/default_project_id': {wanted!r} is not "
                      "the id of a project.")  # fmt: skip
        else:
            spec["defaultProject"] = projects_by_id[wanted]
    return spec


# --- projects -------------------------------------------------------------------------------


def project(body: Mapping[str, Any]) -> dict[str, Any]:
    spec = body.get("spec") or {}
    return {
        "id": body["metadata"]["uid"], "name": body["metadata"]["name"],
        "domain_id": DOMAIN_ID, "description": spec.get("description", ""),
        "enabled": spec.get("enabled", True), "parent_id": DOMAIN_ID, "is_domain": False,
        "tags": list(spec.get("tags") or []), "options": {}, "links": {"self": ""},
    }  # fmt: skip


def project_spec(request: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    _domain("project", request)
    if request.get("parent_id") not in (None, DOMAIN_ID):
        raise _field("project", "parent_id", request["parent_id"],
                     "projects are not nested: the parent is the domain 'default'")  # fmt: skip
    if request.get("is_domain"):
        raise _field("project", "is_domain", request["is_domain"], "the one domain is 'default'")
    if "enabled" in request:
        spec["enabled"] = _enabled("project", request["enabled"])
    if "description" in request:
        spec["description"] = _text("project", "description", request["description"])
    if "tags" in request:
        tags = request["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 255
                                                 for t in tags):  # fmt: skip
            raise _field("project", "tags", tags, "a list of strings of 1 to 255 characters")
        spec["tags"] = tags
    if not partial:
        spec.setdefault("enabled", True)
    return spec


# --- roles and assignments ------------------------------------------------------------------


def role(name: str) -> dict[str, Any]:
    return {"id": name, "name": name, "domain_id": None, "description": None, "options": {},
            "links": {"self": ""}}  # fmt: skip


def check_role(role_id: str) -> str:
    if role_id not in ROLES:
        raise Fault(404, f"Could not find role: {role_id}.", style="keystone")
    return role_id


def with_member(members: list[dict[str, Any]], user: str, role_id: str) -> list[dict[str, Any]]:
    """The members with the user holding the role (once)."""
    if any(m.get("user") == user and m.get("role") == role_id for m in members):
        return members
    return [*members, {"user": user, "role": role_id}]


def without_member(members: list[dict[str, Any]], user: str, role_id: str) -> list[dict[str, Any]]:
    return [m for m in members if not (m.get("user") == user and m.get("role") == role_id)]


def assignments(
    projects: Sequence[Mapping[str, Any]],
    user_ids: Mapping[str, str],
    *,
    user: str | None = None,
    project_id: str | None = None,
    role_id: str | None = None,
    names: bool = False,
) -> list[dict[str, Any]]:
    """Keystone's role assignments (`GET /v3/role_assignments`) from the projects' members,
    for users only (a group's are not Keystone assignments here); `user_ids` maps user names
    to ids, and a member with no User is left out, as Keystone knows no such user."""
    found = []
    for body in projects:
        pid, pname = body["metadata"]["uid"], body["metadata"]["name"]
        if project_id is not None and pid != project_id:
            continue
        for member in (body.get("spec") or {}).get("members") or []:
            name, held = member.get("user"), member.get("role")
            if name is None or name not in user_ids or held not in ROLES:
                continue
            if (user is not None and name != user) or (role_id is not None and held != role_id):
                continue
            entry: dict[str, Any] = {
                "role": {"id": held}, "user": {"id": user_ids[name]},
                "scope": {"project": {"id": pid}}, "links": {"assignment": ""},
            }  # fmt: skip
            if names:
                domain = {"id": DOMAIN_ID, "name": "Default"}
                entry["role"]["name"] = held
                entry["user"].update(name=name, domain=domain)
                entry["scope"]["project"].update(name=pname, domain=domain)
            found.append(entry)
    return found
