"""Glance v2 over Image: versions, the image list (with Glance's filters, order and pages) and
show, the schemas the clients fetch, the import methods; and what the other Glance route
modules share (glance_images: create, update, delete, import, data, actions and tags;
glance_members: sharing).

Every call to Kubernetes acts as the token's user (service.Services.as_user): what RBAC lets
them see is what they see, and another project's image is a 404 as in Glance."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from aiohttp import web

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


def document(request: web.Request, identity: Identity, image: dict[str, Any]) -> dict[str, Any]:
    return glance_documents.image(image, base_url=base_url(request), owner=project_id(identity))


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
    change computed anew. An empty patch writes nothing."""
    kube = services(request).as_user(identity)
    for _ in range(5):
        patch = change(image)
        if not patch:
            return image
        metadata = {**patch.get("metadata", {}),
                    "resourceVersion": image["metadata"]["resourceVersion"]}  # fmt: skip
        try:
            return await written(kube.patch(IMAGES, "Image", image["metadata"]["name"],
                                            identity.namespace, {**patch, "metadata": metadata}),
                                 action)  # fmt: skip
        except client.ApiError as error:
            if error.status != 409:
                raise
        image = await find_image(request, identity, image["metadata"]["uid"])
    raise Fault(409, f"Image {image['metadata']['uid']} is being changed by someone else; "
                "try again")  # fmt: skip


# -- images -----------------------------------------------------------------------------------


@routes.get(V2 + "/images")
async def list_images(request: web.Request) -> web.Response:
    """The project's images, with Glance's filters (name, status, visibility, owner, tag,
    member_status, id=in:, properties), order and pages."""
    identity = await identity_of(request)
    found = [document(request, identity, i) for i in await project_images(request, identity)]
    listed = glance_listing.listing(found, list(request.query.items()), path="/v2/images")
    return web.json_response(listed)


@routes.get(V2 + "/images/{image_id}")
async def show_image(request: web.Request) -> web.Response:
    identity = await identity_of(request)
    image = await find_image(request, identity, request.match_info["image_id"])
    return web.json_response(document(request, identity, image))


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
