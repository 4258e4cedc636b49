"""Glance v2's writes of images: create, update (a JSON patch), delete, tags, the interoperable
import (web-download: the Image's http source, which the operator imports with CDI), the data
routes (answered with what to do instead: Nimbus takes no uploaded data) and the activation
actions (refused: the Image kind cannot deactivate).

Every write is a create, merge patch or delete of the Image as the caller (glance.written):
Kubernetes RBAC and the admission webhook (publicize_image) judge it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nimbus.k8s import client
from nimbus.openstack import documents, glance, glance_documents, glance_patch, glance_requests
from nimbus.openstack.faults import Fault

routes = web.RouteTableDef()
V2 = glance.V2
IMAGE = V2 + "/images/{image_id}"
_NO_UPLOAD = (
    "Nimbus takes no image data through the API: CDI imports every image from where it is "
    "served. Put the file where an http(s) URL reaches it and import it, as Glance's "
    "interoperable import does: `openstack image import {id} --method web-download --uri "
    "<url>` (POST /v2/images/{id}/import); or apply an Image whose spec.source names the URL "
    "(http) or a container disk (registry)."
)


@routes.post(V2 + "/images")
async def create_image(request: web.Request) -> web.Response:
    """An Image made as the caller, without a source: queued until its data is imported."""
    identity = await glance.identity_of(request)
    body = await glance.json_body(request)
    display, spec = glance_requests.image_create(body, project_id=glance.project_id(identity))
    kube = glance.services(request).as_user(identity)
    taken = {i["metadata"]["name"] for i in await glance.project_images(request, identity)}
    shown = display if display is not None else ""
    while True:
        name = documents.kube_name(shown, taken, fallback="image")
        metadata: dict[str, Any] = {"name": name, "namespace": identity.namespace}
        if name != shown:
            metadata["annotations"] = {documents.NAME_ANNOTATION: shown}
        image = {"apiVersion": glance.IMAGES, "kind": "Image", "metadata": metadata, "spec": spec}
        try:
            made = await glance.written(kube.create(image), "add_image")
            break
        except client.ApiError as error:
            if error.status != 409:  # another image took the name meanwhile: the next one
                raise
            taken.add(name)
    document = glance.document(request, identity, made)
    headers = {
        "Location": glance.base_url(request) + f"/v2/images/{document['id']}",
        "OpenStack-image-import-methods": ",".join(glance_documents.IMPORT_METHODS),
    }
    return web.json_response(document, status=201, headers=headers)


@routes.patch(IMAGE)
async def update_image(request: web.Request) -> web.Response:
    """Glance's JSON patch (add, replace, remove) of name, visibility, protected, min_disk,
    min_ram, tags and properties, as a merge patch of the Image."""
    draft = glance_patch.patch_version(request.content_type)
    identity = await glance.identity_of(request)
    changes = await glance.json_body(request)
    image = await glance.find_image(request, identity, request.match_info["image_id"])
    owner = glance.project_id(identity)
    changed = await glance.patched(request, identity, image, "modify_image", lambda current: (
        glance_patch.image_patch(current, changes, draft=draft, project_id=owner)))  # fmt: skip
    return web.json_response(glance.document(request, identity, changed))


@routes.delete(IMAGE)
async def delete_image(request: web.Request) -> web.Response:
    """Refused for a protected image, as in Glance."""
    identity = await glance.identity_of(request)
    image = await glance.find_image(request, identity, request.match_info["image_id"])
    if (image.get("spec") or {}).get("protected"):
        raise Fault(403, f"Image {image['metadata']['uid']} is protected and cannot be deleted.")
    kube = glance.services(request).as_user(identity)
    await glance.written(kube.delete(glance.IMAGES, "Image", image["metadata"]["name"],
                                     identity.namespace), "delete_image")  # fmt: skip
    return web.Response(status=204)


@routes.put(IMAGE + "/tags/{tag}")
async def add_tag(request: web.Request) -> web.Response:
    identity = await glance.identity_of(request)
    image = await glance.find_image(request, identity, request.match_info["image_id"])
    tag = request.match_info["tag"]

    def change(current: dict[str, Any]) -> dict[str, Any]:
        held = list((current.get("spec") or {}).get("tags") or [])
        if tag in held:
            return {}
        return {"spec": {"tags": glance_requests.tags([*held, tag])}}

    await glance.patched(request, identity, image, "modify_image", change)
    return web.Response(status=204)


@routes.delete(IMAGE + "/tags/{tag}")
async def delete_tag(request: web.Request) -> web.Response:
    identity = await glance.identity_of(request)
    image = await glance.find_image(request, identity, request.match_info["image_id"])
    tag = request.match_info["tag"]

    def change(current: dict[str, Any]) -> dict[str, Any]:
        held = list((current.get("spec") or {}).get("tags") or [])
        if tag not in held:
            raise Fault(404, f"Tag {tag} not found.")
        return {"spec": {"tags": [t for t in held if t != tag]}}

    await glance.patched(request, identity, image, "modify_image", change)
    return web.Response(status=204)


# -- data and import --------------------------------------------------------------------------


@routes.post(IMAGE + "/import")
async def import_image(request: web.Request) -> web.Response:
    """web-download: the queued Image is given its http source; the operator imports it with
    CDI (importing, then active, or killed with CDI's reason)."""
    identity = await glance.identity_of(request)
    body = await glance.json_body(request)
    image = await glance.find_image(request, identity, request.match_info["image_id"])

    def change(current: dict[str, Any]) -> dict[str, Any]:
        status = glance_documents.image_status(current)
        return glance_requests.image_import(current, status, body)

    await glance.patched(request, identity, image, "modify_image", change)
    return web.Response(status=202)


@routes.put(IMAGE + "/file")
async def upload_image(request: web.Request) -> web.Response:
    """Refused with what to do instead: an upload has nowhere to go (CDI imports from URLs)."""
    identity = await glance.identity_of(request)
    image = await glance.find_image(request, identity, request.match_info["image_id"])
    if request.content_type != "application/octet-stream":
        raise Fault(415, f"Invalid content type {request.content_type}")
    status = glance_documents.image_status(image)
    if status != "queued":
        raise Fault(409, f"Image status transition from {status} to saving is not allowed")
    if await request.content.read(1) == b"":
        # No data: what `openstack image create` sends when its stdin is not a terminal (it
        # uploads stdin). The image stays queued, waiting for its import.
        return web.Response(status=204)
    raise Fault(501, _NO_UPLOAD.format(id=image["metadata"]["uid"]))


@routes.put(IMAGE + "/stage")
async def stage_image(request: web.Request) -> web.Response:
    """Glance's answer where glance-direct is not enabled."""
    await glance.identity_of(request)
    raise Fault(404, "'glance-direct' method is not available at this site.")


@routes.get(IMAGE + "/file")
async def download_image(request: web.Request) -> web.Response:
    """204 for an image without data, as Glance; else refused with where the data comes from."""
    identity = await glance.identity_of(request)
    image = await glance.find_image(request, identity, request.match_info["image_id"])
    source = (image.get("spec") or {}).get("source") or {}
    if not source:
        return web.Response(status=204)
    url = (source.get("http") or source.get("registry") or {}).get("url", "")
    ident = image["metadata"]["uid"]
    raise Fault(501, "Nimbus serves no image data: the image is a DataVolume of the project, "
                f"imported by CDI from {url}. Download it from there, or make a volume of it "
                f"(openstack volume create --image {ident} --size N)")  # fmt: skip


# -- actions ----------------------------------------------------------------------------------


@routes.post(IMAGE + "/actions/{action}")
async def image_action(request: web.Request) -> web.Response:
    """deactivate and reactivate: refused, in Glance's policy words (the kind has no state
    that keeps an image's data from its users)."""
    identity = await glance.identity_of(request)
    action = request.match_info["action"]
    if action not in ("deactivate", "reactivate"):
        raise Fault(404, f"The resource could not be found: {request.path}")
    image = await glance.find_image(request, identity, request.match_info["image_id"])
    raise Fault(403, f"You are not authorized to complete {action} action. Nimbus cannot "
                f"{action} an image: servers and volumes of every project it is shared with "
                "clone its DataVolume directly. Make it private, or delete it (openstack image "
                f"delete {image['metadata']['uid']}).")  # fmt: skip
