"""Nova's server metadata over Server.spec.metadata: shown, merged in (POST), replaced (PUT) and
an item deleted, each write a merge patch of the Server made as the caller
(server_actions.metadata_patch); what `openstack server set --property` and Terraform's
openstack_compute_instance_v2 `metadata` send.

Every call to Kubernetes acts as the token's user (service.Services.as_user)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nimbus.openstack import nova, server_actions
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity

routes = web.RouteTableDef()
METADATA = "/compute/v2.1/servers/{server_id}/metadata"


async def _server(request: web.Request, identity: Identity) -> dict[str, Any]:
    wanted = request.match_info["server_id"]
    servers = await nova.project_servers(request, identity)
    found = next((s for s in servers if s["metadata"]["uid"] == wanted), None)
    if found is None:
        raise Fault(404, f"Instance {wanted} could not be found.")
    return found


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
    server = await _server(request, await nova.identity_of(request))
    return nova.respond({"metadata": _metadata(server)}, version)


@routes.post(METADATA)
@routes.put(METADATA)
async def set_metadata(request: web.Request) -> web.Response:
    """POST merges the items given into the server's, PUT replaces them all; both answer the
    server's metadata (200)."""
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    body = await nova.json_body(request)
    server = await _server(request, identity)
    patch = server_actions.metadata_patch(body, server, replace=request.method == "PUT")
    patched = await _patched(request, identity, server, patch)
    return nova.respond({"metadata": _metadata(patched)}, version)


@routes.delete(METADATA + "/{key}")
async def delete_metadata_item(request: web.Request) -> web.Response:
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    server = await _server(request, identity)
    patch = server_actions.metadata_item_delete(server, request.match_info["key"])
    await _patched(request, identity, server, patch)
    response = nova.respond(None, version, status=204)
    response.body = b""
    return response
