"""Glance v2 over Image: versions, the image list (with Glance's filters, order and pages) and
show, the schemas the clients fetch, the import methods; and what the other Glance route
modules share (glance_images: create, update, delete, import, data, actions and tags;
glance_members: sharing).

Every call to Kubernetes acts as the token's user (service.Services.as_user): what RBAC lets
them see is what they see, and another project's image is a 404 as in Glance — unless it is
public, or shared with the caller's project: the API finds those in its index (its own list of
Images) and reads each again as the caller in the project's group, which the image's Role names
(nimbus.image.render.render_clone_rbac). Such an image is shown and booted, never changed: only
its owner's project writes it, but for a member's answer (glance_members)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from aiohttp import web

from nimbus.image import api as image_api
from nimbus.k8s import client
from nimbus.openstack import glance_documents, glance_listing
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity, Services

routes = web.RouteTableDef()
IMAGES = "image.nimbus.dev/v1alpha1"
V2 = "/image/v2"
_DENIED = "denied the request: "
Written = TypeVar("Written")


def services(request: web.Request) -> Services:
    found: Services = request.app["services"]
    return found


def base_url(request: web.Request) -> str:
    return services(request).config.public_url.rstrip("/") + "/image"


def _versions(request: web.Request) -> dict[str, Any]:
    link = {"rel": "self", "href": base_url(request) + "/v2/"}
    return {"versions": [{"id": "v2.16", "status": "CURRENT", "links": [link]}]}


@routes.get("/image")
@routes.get("/image/")
async def versions(request: web.Request) -> web.Response:
    return web.json_response(_versions(request), status=300)


@routes.get("/image/versions")
async def versions_list(request: web.Request) -> web.Response:
    return web.json_response(_versions(request))


async def identity_of(request: web.Request) -> Identity:
    return await services(request).verify(request.headers.get("X-Auth-Token"))


def project_id(identity: Identity) -> str:
    return str(identity.project["metadata"]["uid"]) if identity.project else ""


async def project_images(request: web.Request, identity: Identity) -> list[dict[str, Any]]:
    svc = services(request)
    found = await svc.as_user(identity).list(IMAGES, "Image", identity.namespace)
    svc.remember("Image", found)
    return found


async def find_image(request: web.Request, identity: Identity, image_id: str) -> dict[str, Any]:
    """The project's image of that id, read as the caller, or Glance's 404."""
    svc = services(request)
    hint = svc.name_of("Image", identity.namespace, image_id)
    if hint is not None:  # one GET by the name last listed, as the caller; the same uid only
        got = await svc.as_user(identity).get(IMAGES, "Image", hint, identity.namespace)
        if got is not None and got["metadata"]["uid"] == image_id:
            return got
    found = next((i for i in await project_images(request, identity)
                  if i["metadata"]["uid"] == image_id), None)  # fmt: skip
    if found is None:
        raise Fault(404, f"No image found with ID {image_id}")
    return found


def offered(image: Mapping[str, Any], project: str) -> bool:
    """Whether another project's image is offered to `project`: public, or shared with it."""
    spec = image.get("spec") or {}
    return spec.get("visibility") == "public" or (
        spec.get("visibility") == "shared" and project in (spec.get("members") or [])
    )


def member_status(image: Mapping[str, Any], project: str) -> str:
    """A member project's answer to an image shared with it: pending until it gives one."""
    annotations = image["metadata"].get("annotations") or {}
    return str(annotations.get(image_api.MEMBER_STATUS + project) or "pending")


async def _readable(kube: client.Client, image: Mapping[str, Any]) -> dict[str, Any] | None:
    metadata = image["metadata"]
    try:
        return await kube.get(IMAGES, "Image", metadata["name"], metadata["namespace"])
    except client.ApiError as error:
        if error.status == 403:
            return None
        raise


async def foreign_images(
    request: web.Request, identity: Identity, image_id: str | None = None
) -> list[dict[str, Any]]:
    """Other projects' images the caller's project may use (of that id, if given): found in the
    API's index and each read again as the caller, in the project's group — RBAC decides."""
    if identity.project is None:
        return []
    svc = services(request)
    project = str(identity.project["metadata"]["name"])
    candidates = [i for i in await svc.api.list(IMAGES, "Image")
                  if i["metadata"]["namespace"] != identity.namespace and offered(i, project)
                  and image_id in (None, i["metadata"]["uid"])]  # fmt: skip
    kube = svc.as_user(identity, in_project=True)
    read = await asyncio.gather(*(_readable(kube, i) for i in candidates))
    return [i for i in read if i is not None and offered(i, project)]


async def find_visible_image(
    request: web.Request, identity: Identity, image_id: str
) -> dict[str, Any]:
    """The project's image of that id or, to read, another project's offered to it; else 404."""
    try:
        return await find_image(request, identity, image_id)
    except Fault as missing:
        found = await foreign_images(request, identity, image_id)
        if not found:
            raise missing from None
        return found[0]


async def owners(request: web.Request, images: list[dict[str, Any]]) -> dict[str, str]:
    """namespace -> the id of the project it is, for these images' namespaces."""
    wanted = {i["metadata"]["namespace"] for i in images}
    if not wanted:
        return {}
    return {str((p.get("status") or {}).get("namespace")): str(p["metadata"]["uid"])
            for p in await services(request).projects()
            if (p.get("status") or {}).get("namespace") in wanted}  # fmt: skip


def document(
    request: web.Request, identity: Identity, image: dict[str, Any], owner: str | None = None
) -> dict[str, Any]:
    """The Glance document; `owner`: the owning project's id, when not the caller's."""
    return glance_documents.image(image, base_url=base_url(request),
                                  owner=owner or project_id(identity))  # fmt: skip


async def json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise Fault(400, "Malformed JSON in request body.") from None


async def written(call: Awaitable[Written], action: str) -> Written:
    """A write as the caller, its refusals in Glance's words: the admission webhook's own
    message (publicize_image), Kubernetes' RBAC refusal after Glance's policy sentence."""
    try:
        return await call
    except client.ApiError as error:
        if _DENIED in error.message and error.status in (400, 403, 422):
            code = 403 if error.status == 403 else 400
            raise Fault(code, error.message.split(_DENIED, 1)[1]) from None
        if error.status == 403:
            raise Fault(403, f"You are not authorized to complete {action} action. "
                        f"{error.message}") from None  # fmt: skip
        raise


async def patched(
    request: web.Request, identity: Identity, image: dict[str, Any], action: str, change: Any
) -> dict[str, Any]:
    """A merge patch of the image as the caller, computed by `change` (image -> patch) from the
    image as read and carrying its resourceVersion: a concurrent write is read again and the
    change computed anew. An empty patch writes nothing. Another project's image is written in
    the caller's project's group: a member's answer, all the image's Role lets it write."""
    namespace = image["metadata"]["namespace"]
    kube = services(request).as_user(identity, in_project=namespace != identity.namespace)
    for _ in range(5):
        patch = change(image)
        if not patch:
            return image
        metadata = {**patch.get("metadata", {}),
                    "resourceVersion": image["metadata"]["resourceVersion"]}  # fmt: skip
        try:
            return await written(kube.patch(IMAGES, "Image", image["metadata"]["name"],
                                            namespace, {**patch, "metadata": metadata}),
                                 action)  # fmt: skip
        except client.ApiError as error:
            if error.status != 409:
                raise
        image = await find_visible_image(request, identity, image["metadata"]["uid"])
    raise Fault(409, f"Image {image['metadata']['uid']} is being changed by someone else; "
                "try again")  # fmt: skip


# -- images -----------------------------------------------------------------------------------


@routes.get(V2 + "/images")
async def list_images(request: web.Request) -> web.Response:
    """The project's images, other projects' public ones, and those shared with the project
    whose member status is `member_status` (accepted unless asked; `all`), with Glance's
    filters (name, status, visibility, owner, tag, id=in:, properties), order and pages."""
    identity = await identity_of(request)
    own, foreign = await asyncio.gather(project_images(request, identity),
                                        foreign_images(request, identity))  # fmt: skip
    wanted = request.query.get("member_status", "accepted")  # checked by the listing
    project = str((identity.project or {"metadata": {"name": ""}})["metadata"]["name"])
    foreign = [i for i in foreign if (i.get("spec") or {}).get("visibility") == "public"
               or wanted in ("all", member_status(i, project))]  # fmt: skip
    owner = await owners(request, foreign)
    found = [document(request, identity, i) for i in own]
    found += [document(request, identity, i, owner.get(i["metadata"]["namespace"], ""))
              for i in foreign]  # fmt: skip
    listed = glance_listing.listing(found, list(request.query.items()), path="/v2/images")
    return web.json_response(listed)


@routes.get(V2 + "/images/{image_id}")
async def show_image(request: web.Request) -> web.Response:
    identity = await identity_of(request)
    image = await find_visible_image(request, identity, request.match_info["image_id"])
    if image["metadata"]["namespace"] == identity.namespace:
        return web.json_response(document(request, identity, image))
    owner = (await owners(request, [image])).get(image["metadata"]["namespace"], "")
    return web.json_response(document(request, identity, image, owner))


# -- schemas and discovery --------------------------------------------------------------------

_SCHEMAS = {
    "image": glance_documents.image_schema,
    "images": glance_documents.images_schema,
    "member": glance_documents.member_schema,
    "members": glance_documents.members_schema,
}


@routes.get(V2 + "/schemas/{name}")
async def schema(request: web.Request) -> web.Response:
    """Glance's JSON schemas of images and members, with the formats Nimbus takes."""
    await identity_of(request)
    made = _SCHEMAS.get(request.match_info["name"])
    if made is None:
        raise Fault(404, f"The resource could not be found: {request.path}")
    return web.json_response(made())


@routes.get(V2 + "/info/import")
async def import_info(request: web.Request) -> web.Response:
    """The import methods served: web-download only (CDI downloads the image)."""
    await identity_of(request)
    return web.json_response(glance_documents.import_info())


@routes.get(V2 + "/info/stores")
async def stores_info(request: web.Request) -> web.Response:
    """Glance's answer without multiple stores: every image is a DataVolume of the project."""
    await identity_of(request)
    raise Fault(404, "Multi backend is not supported at this site.")
