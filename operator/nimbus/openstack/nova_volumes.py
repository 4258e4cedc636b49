"""Nova's os-volume_attachments over Server.spec.volumes: list, show, attach (a merge patch
adding the volume to the Server's spec.volumes) and detach (one taking it out), each made as
the caller; the operator hotplugs the volume and the volume's status follows. With Nova's
microversions: tag (2.70), delete_on_termination (2.79), attachment_id and bdm_uuid (2.89).

Every call to Kubernetes acts as the token's user (service.Services.as_user)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from nimbus.k8s import client
from nimbus.openstack import cinder_documents, nova, volume_request
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity

routes = web.RouteTableDef()
ATTACHMENTS = "/compute/v2.1/servers/{server_id}/os-volume_attachments"
# A patch names the resourceVersion it was made from: when another write came first (409),
# the server is read again and the change worked out anew, this many times.
ATTEMPTS = 3


async def _read(
    request: web.Request, identity: Identity
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(the server the URL names, the project's servers, its volumes), or Nova's 404."""
    kube = nova.services(request).as_user(identity)
    servers, volumes = await asyncio.gather(
        kube.list(nova.COMPUTE, "Server", identity.namespace),
        kube.list(nova.VOLUMES, "Volume", identity.namespace),
    )
    wanted = request.match_info["server_id"]
    server = next((s for s in servers if s["metadata"]["uid"] == wanted), None)
    if server is None:
        raise Fault(404, f"Instance {wanted} could not be found.")
    return server, servers, volumes


def _attached(server: dict[str, Any], volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The server's volumes that exist: its boot volume first, then as its spec lists them."""
    spec = server.get("spec") or {}
    names = [(spec.get("bootVolume") or {}).get("name")]
    names += [v.get("volume") for v in spec.get("volumes") or []]
    by_name = {v["metadata"]["name"]: v for v in volumes}
    return [by_name[n] for n in names if n in by_name]


def _by_id(volumes: list[dict[str, Any]], ident: str) -> dict[str, Any] | None:
    return next((v for v in volumes if v["metadata"]["uid"] == ident), None)


@routes.get(ATTACHMENTS)
async def list_attachments(request: web.Request) -> web.Response:
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    server, _, volumes = await _read(request, identity)
    listed = [cinder_documents.nova_attachment(v, server, version)
              for v in _attached(server, volumes)]  # fmt: skip
    return nova.respond({"volumeAttachments": listed}, version)


@routes.get(ATTACHMENTS + "/{volume_id}")
async def show_attachment(request: web.Request) -> web.Response:
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    server, _, volumes = await _read(request, identity)
    wanted = request.match_info["volume_id"]
    found = _by_id(_attached(server, volumes), wanted)
    if found is None:
        raise Fault(404, f"volume_id not found: {wanted}")
    document = cinder_documents.nova_attachment(found, server, version)
    return nova.respond({"volumeAttachment": document}, version)


async def _patched(
    request: web.Request, identity: Identity, server: dict[str, Any], patch: dict[str, Any]
) -> dict[str, Any] | None:
    """The server patched as the caller; None when another write came first."""
    kube = nova.services(request).as_user(identity)
    try:
        return await kube.patch(
            nova.COMPUTE, "Server", server["metadata"]["name"], identity.namespace, patch
        )
    except client.ApiError as error:
        if error.status != 409:
            raise
        return None


@routes.post(ATTACHMENTS)
async def attach(request: web.Request) -> web.Response:
    """Nova's attach: the volume added to the Server's spec.volumes (200, the attachment)."""
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    body = await nova.json_body(request)
    attachment = body.get("volumeAttachment") if isinstance(body, dict) else None
    ref = attachment.get("volumeId") if isinstance(attachment, dict) else None
    for _ in range(ATTEMPTS):
        server, servers, volumes = await _read(request, identity)
        volume = _by_id(volumes, ref) if isinstance(ref, str) else None
        patch = volume_request.attach(body, server, volume, servers, version)
        patched = await _patched(request, identity, server, patch)
        if patched is not None:
            assert volume is not None  # attach: a volume not found is Nova's 404
            document = cinder_documents.nova_attachment(volume, patched, version, created=True)
            return nova.respond({"volumeAttachment": document}, version)
    raise Fault(409, "The server changed while the volume was being attached; try again.")


@routes.delete(ATTACHMENTS + "/{volume_id}")
async def detach(request: web.Request) -> web.Response:
    """Nova's detach: the volume taken out of the Server's spec.volumes (202)."""
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    wanted = request.match_info["volume_id"]
    for _ in range(ATTEMPTS):
        server, _, volumes = await _read(request, identity)
        patch = volume_request.detach(server, _by_id(volumes, wanted), wanted)
        if await _patched(request, identity, server, patch) is not None:
            response = nova.respond(None, version, status=202)
            response.body = b""
            return response
    raise Fault(409, "The server changed while the volume was being detached; try again.")
