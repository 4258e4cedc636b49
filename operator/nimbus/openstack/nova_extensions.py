"""Nova's os-keypairs, limits and os-availability-zone, over KeyPair, the token's Project and
the nodes (or the project's servers), with the microversions, identity and answers of nova.

Every call to Kubernetes acts as the token's user (service.Services.as_user)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from nimbus.api import meta
from nimbus.k8s import client
from nimbus.openstack import nova, nova_extension_documents
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity

routes = web.RouteTableDef()
COMPUTE = nova.COMPUTE

# -- keypairs ---------------------------------------------------------------------------------
# Nova's keypairs are a user's; Nimbus's KeyPair is the project's (a server names one in its
# own namespace), so every member of the project lists the same ones.


def _keypair_status(version: tuple[int, int], before: int, since: int) -> int:
    return since if version >= (2, 2) else before


@routes.get("/compute/v2.1/os-keypairs")
async def list_keypairs(request: web.Request) -> web.Response:
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    kube = nova.services(request).as_user(identity)
    found = await kube.list(COMPUTE, "KeyPair", identity.namespace)
    listed = [
        {"keypair": nova_extension_documents.keypair_document(
            k, user_id=identity.user_id, version=version, detail=False)}
        for k in found
    ]  # fmt: skip
    return nova.respond({"keypairs": listed}, version)


@routes.post("/compute/v2.1/os-keypairs")
async def create_keypair(request: web.Request) -> web.Response:
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    spec, private_key = nova_extension_documents.keypair_create(
        await nova.json_body(request), version
    )
    name = spec.pop("name")
    kube = nova.services(request).as_user(identity)
    try:
        made = await kube.create({
            "apiVersion": COMPUTE, "kind": "KeyPair",
            "metadata": {"name": name, "namespace": identity.namespace}, "spec": spec,
        })  # fmt: skip
    except client.ApiError as error:
        if error.status == 409:
            raise Fault(409, f"Key pair '{name}' already exists.") from None
        raise
    document = nova_extension_documents.keypair_document(
        made, user_id=identity.user_id, version=version, detail=False
    )
    document["user_id"] = identity.user_id
    if private_key is not None:
        document["private_key"] = private_key
    return nova.respond({"keypair": document}, version, status=_keypair_status(version, 200, 201))


async def _keypair(request: web.Request, identity: Identity) -> dict[str, Any]:
    name = request.match_info["name"]
    kube = nova.services(request).as_user(identity)
    found = None
    if len(name) <= 253 and re.match(meta.NAME_PATTERN, name):
        found = await kube.get(COMPUTE, "KeyPair", name, identity.namespace)
    if found is None:
        raise Fault(404, f"Keypair {name} not found for user {identity.user_id}")
    return found


@routes.get("/compute/v2.1/os-keypairs/{name}")
async def show_keypair(request: web.Request) -> web.Response:
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    found = await _keypair(request, identity)
    document = nova_extension_documents.keypair_document(
        found, user_id=identity.user_id, version=version, detail=True
    )
    return nova.respond({"keypair": document}, version)


@routes.delete("/compute/v2.1/os-keypairs/{name}")
async def delete_keypair(request: web.Request) -> web.Response:
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    found = await _keypair(request, identity)
    kube = nova.services(request).as_user(identity)
    await kube.delete(COMPUTE, "KeyPair", found["metadata"]["name"], identity.namespace)
    response = nova.respond(None, version, status=_keypair_status(version, 202, 204))
    response.body = b""
    return response


# -- limits -----------------------------------------------------------------------------------


@routes.get("/compute/v2.1/limits")
async def limits(request: web.Request) -> web.Response:
    """The token's project, as the API read it to scope the token: no call of its own."""
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    if identity.project is None:
        raise Fault(403, "This action requires a project-scoped token.")
    return nova.respond(
        nova_extension_documents.limits_document(identity.project, version), version
    )


# -- availability zones -----------------------------------------------------------------------

DETAIL_REFUSED = "Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed."


@routes.get("/compute/v2.1/os-availability-zone")
@routes.get("/compute/v2.1/os-availability-zone/detail")
async def availability_zones(request: web.Request) -> web.Response:
    """From the nodes, when the caller may list them (a cluster admin); else the zones of the
    project's servers, and the detail (Nova's admin-only host list) refused as Nova refuses it."""
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    detail = request.path.endswith("/detail")
    kube = nova.services(request).as_user(identity)
    try:
        nodes: list[dict[str, Any]] | None = await kube.list("v1", "Node")
    except client.ApiError as error:
        if error.status != 403:
            raise
        nodes = None
    if nodes is not None:
        info = nova_extension_documents.zones_from_nodes(nodes, detail=detail)
    elif detail:
        raise Fault(403, DETAIL_REFUSED)
    else:
        info = nova_extension_documents.zones_from_servers(
            await nova.project_servers(request, identity)
        )
    return nova.respond({"availabilityZoneInfo": info}, version)
