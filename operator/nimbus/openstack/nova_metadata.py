"""Nova's server metadata over Server.spec.metadata: shown, merged in (POST), replaced (PUT) and
an item deleted, each write a merge patch of the Server made as the caller
(server_actions.metadata_patch); what `openstack server set --property` and Terraform's
openstack_compute_instance_v2 `metadata` send. And Nova's server tags (2.26) over
Server.spec.tags (server_tags): listed, replaced, cleared, one checked, added or removed — what
`openstack server set/unset --tag` and Terraform's `tags` send. A change of one tag is made only
on the Server as read (its resourceVersion), so two at once never lose one.

Every call to Kubernetes acts as the token's user (service.Services.as_user)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nimbus.openstack import nova, server_actions, server_tags
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity

routes = web.RouteTableDef()
METADATA = "/compute/v2.1/servers/{server_id}/metadata"
TAGS = "/compute/v2.1/servers/{server_id}/tags"


def _metadata(server: dict[str, Any]) -> dict[str, Any]:
    return dict((server.get("spec") or {}).get("metadata") or {})


async def _patched(
    request: web.Request, identity: Identity, server: dict[str, Any], patch: dict[str, Any]
) -> dict[str, Any]:
    kube = nova.services(request).as_user(identity)
    return await kube.patch(
        nova.COMPUTE, "Server", server["metadata"]["name"], identity.namespace, patch
    )


@routes.get(METADATA)
async def show_metadata(request: web.Request) -> web.Response:
    version = nova.microversion(request)
    server = await nova.server_of(request, await nova.identity_of(request))
    return nova.respond({"metadata": _metadata(server)}, version)


@routes.post(METADATA)
@routes.put(METADATA)
async def set_metadata(request: web.Request) -> web.Response:
    """POST merges the items given into the server's, PUT replaces them all; both answer the
    server's metadata (200)."""
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    body = await nova.json_body(request)
    server = await nova.server_of(request, identity)
    patch = server_actions.metadata_patch(body, server, replace=request.method == "PUT")
    patched = await _patched(request, identity, server, patch)
    return nova.respond({"metadata": _metadata(patched)}, version)


@routes.delete(METADATA + "/{key}")
async def delete_metadata_item(request: web.Request) -> web.Response:
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    server = await nova.server_of(request, identity)
    patch = server_actions.metadata_item_delete(server, request.match_info["key"])
    await _patched(request, identity, server, patch)
    response = nova.respond(None, version, status=204)
    response.body = b""
    return response


# -- tags -------------------------------------------------------------------------------------


def _tags(server: dict[str, Any]) -> list[str]:
    return list((server.get("spec") or {}).get("tags") or [])


async def _tagged(request: web.Request) -> tuple[tuple[int, int], Identity, dict[str, Any]]:
    """The microversion (2.26 at least, else Nova's 404), the caller and their server."""
    version = nova.microversion(request)
    if version < server_tags.SINCE:
        raise Fault(404, "The resource could not be found.")
    identity = await nova.identity_of(request)
    return version, identity, await nova.server_of(request, identity)


def _no_content(version: tuple[int, int], status: int = 204) -> web.Response:
    response = nova.respond(None, version, status=status)
    response.body = b""
    return response


async def _retag(
    request: web.Request, identity: Identity, server: dict[str, Any], tags: list[str]
) -> dict[str, Any]:
    """The server's tags set to `tags`, only if it is still as read (else Kubernetes' 409)."""
    version = server["metadata"]["resourceVersion"]
    patch = {"metadata": {"resourceVersion": version}, "spec": {"tags": tags}}
    return await _patched(request, identity, server, patch)


@routes.get(TAGS)
async def list_tags(request: web.Request) -> web.Response:
    version, _, server = await _tagged(request)
    return nova.respond({"tags": _tags(server)}, version)


@routes.put(TAGS)
async def replace_tags(request: web.Request) -> web.Response:
    version, identity, server = await _tagged(request)
    tags = server_tags.replacing(await nova.json_body(request))
    server_tags.check_taggable(server, "update tags")
    patched = await _patched(request, identity, server, {"spec": {"tags": tags}})
    return nova.respond({"tags": _tags(patched)}, version)


@routes.delete(TAGS)
async def delete_tags(request: web.Request) -> web.Response:
    version, identity, server = await _tagged(request)
    server_tags.check_taggable(server, "delete tags")
    await _patched(request, identity, server, {"spec": {"tags": []}})
    return _no_content(version)


@routes.get(TAGS + "/{tag}")
async def check_tag(request: web.Request) -> web.Response:
    version, _, server = await _tagged(request)
    tag = request.match_info["tag"]
    if tag not in _tags(server):
        raise Fault(404, f"Server {server['metadata']['uid']} has no tag '{tag}'")
    return _no_content(version)


@routes.put(TAGS + "/{tag}")
async def add_tag(request: web.Request) -> web.Response:
    """201 with the tag's Location when added, 204 when the server had it already."""
    version, identity, server = await _tagged(request)
    server_tags.check_taggable(server, "update tag")
    tag = server_tags.one(request.match_info["tag"])
    tags = _tags(server)
    if len(tags) >= server_tags.MAX_TAGS:
        raise Fault(400, f"The number of tags exceeded the per-server limit {server_tags.MAX_TAGS}")
    if tag in tags:
        return _no_content(version)
    await _retag(request, identity, server, [*tags, tag])
    response = _no_content(version, status=201)
    uid = server["metadata"]["uid"]
    response.headers["Location"] = f"{nova.base_url(request)}/servers/{uid}/tags/{tag}"
    return response


@routes.delete(TAGS + "/{tag}")
async def delete_tag(request: web.Request) -> web.Response:
    version, identity, server = await _tagged(request)
    server_tags.check_taggable(server, "delete tag")
    tag, tags = request.match_info["tag"], _tags(server)
    if tag not in tags:
        raise Fault(404, f"Instance {server['metadata']['uid']} has no tag '{tag}'")
    await _retag(request, identity, server, [t for t in tags if t != tag])
    return _no_content(version)
