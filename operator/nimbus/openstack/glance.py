"""Glance v2 over Image: list (with the filters the clients send) and show."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nimbus.openstack import documents, glance_documents
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity, Services

routes = web.RouteTableDef()
IMAGES = "image.nimbus.dev/v1alpha1"


def _services(request: web.Request) -> Services:
    found: Services = request.app["services"]
    return found


def _base(request: web.Request) -> str:
    return _services(request).config.public_url.rstrip("/") + "/image"


def _versions(request: web.Request) -> dict[str, Any]:
    link = {"rel": "self", "href": _base(request) + "/v2/"}
    return {"versions": [{"id": "v2.16", "status": "CURRENT", "links": [link]}]}


@routes.get("/image")
@routes.get("/image/")
async def versions(request: web.Request) -> web.Response:
    return web.json_response(_versions(request), status=300)


@routes.get("/image/versions")
async def versions_list(request: web.Request) -> web.Response:
    return web.json_response(_versions(request))


async def _identity(request: web.Request) -> Identity:
    return await _services(request).verify(request.headers.get("X-Auth-Token"))


async def _images(request: web.Request, identity: Identity) -> list[dict[str, Any]]:
    kube = _services(request).as_user(identity)
    return await kube.list(IMAGES, "Image", identity.namespace)


def _document(request: web.Request, identity: Identity, image: dict[str, Any]) -> dict[str, Any]:
    owner = str(identity.project["metadata"]["uid"]) if identity.project else ""
    return glance_documents.image(image, base_url=_base(request), owner=owner)


def _matches(image: dict[str, Any], query: Any) -> bool:
    """Glance's filters the clients send: name, id=in:<id>,<id>, status, visibility."""
    if query.get("name") and documents.display_name(image) != query["name"]:
        return False
    ids = query.get("id", "")
    if ids.startswith("in:") and image["metadata"]["uid"] not in ids[3:].split(","):
        return False
    if query.get("status") and (image.get("status") or {}).get("status") != query["status"]:
        return False
    visibility = query.get("visibility")
    return not visibility or (image.get("spec") or {}).get("visibility", "private") == visibility


@routes.get("/image/v2/images")
async def list_images(request: web.Request) -> web.Response:
    identity = await _identity(request)
    images = [_document(request, identity, i)
              for i in await _images(request, identity) if _matches(i, request.query)]  # fmt: skip
    return web.json_response(
        {"images": images, "schema": "/v2/schemas/images", "first": "/v2/images"}
    )


@routes.get("/image/v2/images/{image_id}")
async def show_image(request: web.Request) -> web.Response:
    identity = await _identity(request)
    wanted = request.match_info["image_id"]
    found = next((i for i in await _images(request, identity)
                  if i["metadata"]["uid"] == wanted), None)  # fmt: skip
    if found is None:
        raise Fault(404, f"No image found with ID {wanted}")
    return web.json_response(_document(request, identity, found))
