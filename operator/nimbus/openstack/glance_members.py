"""Glance v2's image sharing over the Image's `members` (project names; a member's id is its
Project's uid): the owner lists, adds and removes members of a shared image, each a merge patch
of the Image as the caller; a member project sees the image, its own membership, and answers
(accepted, rejected, pending), which is the annotation `member-status.image.nimbus.dev/<project>`
written as the caller in its project's group — what the image's Role lets that group patch, and
the ValidatingAdmissionPolicy `nimbus-image-member-status` confines to that one annotation.

A member may boot the image whatever its answer, as in Glance (the operator grants its service
accounts the clone of the image's DataVolume); the answer decides whether `image list` shows it.
The Projects are read as the API itself, as for scoping a token: only to turn a member's id
into the project's name and back."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nimbus.image import api as image_api
from nimbus.openstack import glance, glance_documents, glance_requests
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity

routes = web.RouteTableDef()
MEMBERS = glance.V2 + "/images/{image_id}/members"


def _owned(identity: Identity, image: dict[str, Any]) -> bool:
    return bool(image["metadata"]["namespace"] == identity.namespace)


async def _shared(request: web.Request, identity: Identity, verb: str) -> dict[str, Any]:
    """The image, if shared: Glance's 403 otherwise (`verb`: list, create, update, delete).
    Another project's image shared with the caller's is found too (glance.find_visible_image);
    only its owner adds and removes members."""
    image = await glance.find_visible_image(request, identity, request.match_info["image_id"])
    ident = image["metadata"]["uid"]
    if (image.get("spec") or {}).get("visibility") != "shared":
        raise Fault(403, f"Not allowed to {verb} members for image {ident}: Only shared images "
                    f"have members; make it shared first (openstack image set --shared "
                    f"{ident})")  # fmt: skip
    if verb in ("create", "delete") and not _owned(identity, image):
        raise Fault(403, f"Not allowed to {verb} members for image {ident}: only the image's "
                    "owner adds and removes members; a member accepts or rejects it "
                    f"(openstack image set --accept {ident})")  # fmt: skip
    return image


async def _member_ids(
    request: web.Request, identity: Identity, image: dict[str, Any]
) -> dict[str, str]:
    """Each member's id (its Project's uid; the name, for a project gone since) -> its name: all
    of them for the owner, the caller's own project alone for a member (as Glance shows)."""
    svc = glance.services(request)
    out: dict[str, str] = {}
    names = list((image.get("spec") or {}).get("members") or [])
    if not _owned(identity, image):
        mine = str((identity.project or {}).get("metadata", {}).get("name", ""))
        names = [n for n in names if n == mine]
    for name in names:
        project = await svc.project(name=name)
        out[str(project["metadata"]["uid"]) if project else name] = name
    return out


def _member(members: dict[str, str], image: dict[str, Any], member_id: str) -> str:
    if member_id not in members:
        raise Fault(404, f"{member_id} not found in the member list of the image "
                    f"{image['metadata']['uid']}.")  # fmt: skip
    return members[member_id]


@routes.get(MEMBERS)
async def list_members(request: web.Request) -> web.Response:
    identity = await glance.identity_of(request)
    image = await _shared(request, identity, "list")
    return web.json_response(
        glance_documents.members(image, await _member_ids(request, identity, image))
    )


@routes.post(MEMBERS)
async def add_member(request: web.Request) -> web.Response:
    """A project (by id, or name) added to the shared image's members."""
    identity = await glance.identity_of(request)
    wanted = glance_requests.member_create(await glance.json_body(request))
    image = await _shared(request, identity, "create")
    svc = glance.services(request)
    project = await svc.project(id=wanted) or await svc.project(name=wanted)
    if project is None:
        raise glance_requests.invalid("member", wanted, "the id of a project (openstack project "
                                      "list names them)")  # fmt: skip
    member_id, name = str(project["metadata"]["uid"]), str(project["metadata"]["name"])
    ident = image["metadata"]["uid"]

    def change(current: dict[str, Any]) -> dict[str, Any]:
        held = list((current.get("spec") or {}).get("members") or [])
        if name in held:
            raise Fault(409, f"Member {member_id} is duplicated for image {ident}")
        if len(held) >= glance_requests.MAX_ITEMS:
            attempted, maximum = len(held) + 1, glance_requests.MAX_ITEMS
            raise Fault(413, f"Image member limit exceeded for image {ident}: The limit has "
                        "been exceeded on the number of allowed image members for this image. "
                        f"Attempted: {attempted}, Maximum: {maximum}:")  # fmt: skip
        return {"spec": {"members": [*held, name]}}

    changed = await glance.patched(request, identity, image, "add_member", change)
    return web.json_response(glance_documents.member(changed, member_id, name))


@routes.get(MEMBERS + "/{member_id}")
async def show_member(request: web.Request) -> web.Response:
    identity = await glance.identity_of(request)
    try:
        image = await _shared(request, identity, "list")
    except Fault as refused:  # Glance answers 404 here, to leak nothing
        raise Fault(404, refused.message) from None
    member_id = request.match_info["member_id"]
    name = _member(await _member_ids(request, identity, image), image, member_id)
    return web.json_response(glance_documents.member(image, member_id, name))


@routes.put(MEMBERS + "/{member_id}")
async def update_member(request: web.Request) -> web.Response:
    """A member's answer (accepted, rejected, pending): only the member project gives it — the
    owner is refused, as in Glance — and it decides whether `image list` shows the image."""
    identity = await glance.identity_of(request)
    status = glance_requests.member_status(await glance.json_body(request))
    image = await _shared(request, identity, "update")
    if _owned(identity, image):
        raise Fault(403, f"Not allowed to update members for image {image['metadata']['uid']}: "
                    "You are not permitted to modify 'status' on this image member. Only the "
                    "member project accepts or rejects an image shared with it; the image's "
                    "owner adds and removes members.")  # fmt: skip
    member_id = request.match_info["member_id"]
    name = _member(await _member_ids(request, identity, image), image, member_id)
    key = image_api.MEMBER_STATUS + name

    def change(current: dict[str, Any]) -> dict[str, Any]:
        held = (current["metadata"].get("annotations") or {}).get(key)
        return {} if held == status else {"metadata": {"annotations": {key: status}}}

    changed = await glance.patched(request, identity, image, "modify_member", change)
    return web.json_response(glance_documents.member(changed, member_id, name))


@routes.delete(MEMBERS + "/{member_id}")
async def delete_member(request: web.Request) -> web.Response:
    identity = await glance.identity_of(request)
    image = await _shared(request, identity, "delete")
    member_id = request.match_info["member_id"]
    name = _member(await _member_ids(request, identity, image), image, member_id)
    key = image_api.MEMBER_STATUS + name

    def change(current: dict[str, Any]) -> dict[str, Any]:
        held = list((current.get("spec") or {}).get("members") or [])
        if name not in held:
            return {}
        answered = key in (current["metadata"].get("annotations") or {})
        return {"spec": {"members": [m for m in held if m != name] or None},
                **({"metadata": {"annotations": {key: None}}} if answered else {})}  # fmt: skip

    await glance.patched(request, identity, image, "delete_member", change)
    return web.Response(status=204)
