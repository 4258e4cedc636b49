"""Cinder v3 over Volume, Snapshot and VolumeType at /volume/v3/{project_id}, with the
microversions 3.0 to 3.70: versions, volumes, their actions and metadata (snapshots, volume
types, limits and quota sets in cinder_extensions).

Every call to Kubernetes acts as the token's user (service.Services.as_user): what RBAC lets
them see is what they see, another project's volume is a 404 as in Cinder, and a reader's
write is Kubernetes' refusal."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from aiohttp import web

from nimbus.k8s import client
from nimbus.openstack import cinder_documents, documents, microversions, volume_request
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity, Services

routes = web.RouteTableDef()
MIN, MAX = cinder_documents.MIN_VERSION, cinder_documents.MAX_VERSION
STORAGE = "blockstorage.nimbus.dev/v1alpha1"
COMPUTE = "compute.nimbus.dev/v1alpha1"
IMAGES = "image.nimbus.dev/v1alpha1"
V3 = "/volume/v3/{project_id}"
# What Nimbus's admission answers for Cinder's quotas: Cinder's 413 (overLimit).
_OVER_QUOTA = re.compile(r"(VolumeLimitExceeded|VolumeSizeExceedsAvailableQuota|"
                         r"SnapshotLimitExceeded): .*")  # fmt: skip
_DENIED = "denied the request: "
Written = TypeVar("Written")


def services(request: web.Request) -> Services:
    found: Services = request.app["services"]
    return found


def microversion(request: web.Request) -> tuple[int, int]:
    """The microversion asked for (OpenStack-API-Version: volume X); 3.0 when none; Cinder's
    406 outside MIN..MAX."""
    return microversions.negotiate(
        request.headers.getall("OpenStack-API-Version", []), "volume", MIN, MAX
    )


def respond(document: Any, version: tuple[int, int], status: int = 200) -> web.Response:
    headers = {"OpenStack-API-Version": f"volume {version[0]}.{version[1]}",
               "Vary": "OpenStack-API-Version"}  # fmt: skip
    if document is None:
        return web.Response(status=status, headers=headers)
    return web.json_response(document, status=status, headers=headers)


def _version_document(request: web.Request) -> dict[str, Any]:
    url = services(request).config.public_url.rstrip("/") + "/volume/v3/"
    return {
        "id": "v3.0", "status": "CURRENT", "version": f"{MAX[0]}.{MAX[1]}",
        "min_version": f"{MIN[0]}.{MIN[1]}", "updated": "2023-08-31T00:00:00Z",
        "links": [{"rel": "describedby", "type": "text/html",
                   "href": "https://docs.openstack.org/"}, {"rel": "self", "href": url}],
        "media-types": [{"base": "application/json",
                         "type": "application/vnd.openstack.volume+json;version=3"}],
    }  # fmt: skip


@routes.get("/volume")
@routes.get("/volume/")
async def versions(request: web.Request) -> web.Response:
    return web.json_response({"versions": [_version_document(request)]}, status=300)


@routes.get("/volume/v3")
@routes.get("/volume/v3/")
async def version(request: web.Request) -> web.Response:
    return web.json_response({"versions": [_version_document(request)]})


async def identity_of(request: web.Request) -> Identity:
    """The token's identity, scoped to the project the URL names (Cinder's 400 for another)."""
    identity = await services(request).verify(request.headers.get("X-Auth-Token"))
    if identity.project is None:
        raise Fault(403, "This action requires a project-scoped token.")
    wanted, own = request.match_info.get("project_id"), identity.project["metadata"]["uid"]
    if wanted is not None and wanted != own:
        raise Fault(400, f"Malformed request URL: URL's project_id '{wanted}' doesn't match "
                    f"Context's project_id '{own}'")  # fmt: skip
    return identity


def base_url(request: web.Request, identity: Identity) -> str:
    project = identity.project["metadata"]["uid"] if identity.project else ""
    return services(request).config.public_url.rstrip("/") + f"/volume/v3/{project}"


async def context_of(request: web.Request, identity: Identity) -> cinder_documents.Context:
    """The project's servers, volumes, snapshots and images, and the volume types it may use,
    as the caller reads them."""
    kube = services(request).as_user(identity)
    namespace = identity.namespace
    servers, volumes, snapshots, types, images = await asyncio.gather(
        kube.list(COMPUTE, "Server", namespace), kube.list(STORAGE, "Volume", namespace),
        kube.list(STORAGE, "Snapshot", namespace), kube.list(STORAGE, "VolumeType"),
        kube.list(IMAGES, "Image", namespace),
    )  # fmt: skip
    project = str(identity.project["metadata"]["name"]) if identity.project else ""

    def named(bodies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {str(b["metadata"]["name"]): b for b in bodies}

    return cinder_documents.Context(
        base_url=base_url(request, identity),
        project_id=str(identity.project["metadata"]["uid"]) if identity.project else "",
        user_id=identity.user_id, admin=identity.admin, servers=servers,
        volumes=named(volumes), snapshots=named(snapshots), images=named(images),
        types=named([t for t in types if cinder_documents.type_visible(t, project)]),
    )  # fmt: skip


async def json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise Fault(400, "Malformed request body") from None


async def written(call: Awaitable[Written]) -> Written:
    """A write as the caller; Nimbus's admission refusals in Cinder's words: a quota's 413,
    a refusal's 400 (Kubernetes' RBAC refusal stays its 403)."""
    try:
        return await call
    except client.ApiError as error:
        over = _OVER_QUOTA.search(error.message)
        if over:
            raise Fault(413, over[0]) from None
        if _DENIED in error.message and error.status in (400, 403, 422):
            raise Fault(400, error.message.split(_DENIED, 1)[1]) from None
        raise


async def create(
    request: web.Request, identity: Identity, kind: str, display: str, spec: dict[str, Any],
    taken: set[str],
) -> dict[str, Any]:  # fmt: skip
    """A Volume or Snapshot made as the caller, named as nova's server create names a server:
    its OpenStack name as a free DNS label, the name itself kept in an annotation."""
    name = documents.kube_name(display, taken, fallback=kind.lower())
    metadata: dict[str, Any] = {"name": name, "namespace": identity.namespace}
    if name != display:
        metadata["annotations"] = {documents.NAME_ANNOTATION: display}
    kube = services(request).as_user(identity)
    body = {"apiVersion": STORAGE, "kind": kind, "metadata": metadata, "spec": spec}
    return await written(kube.create(body))


def find(objects: Mapping[str, Mapping[str, Any]], ident: str, what: str) -> dict[str, Any]:
    """The object of that OpenStack id (ids only, as Cinder: a name is the clients' to list),
    or Cinder's 404."""
    found = next((b for b in objects.values() if b["metadata"]["uid"] == ident), None)
    if found is None:
        raise Fault(404, f"{what} {ident} could not be found.")
    return dict(found)


def page(items: Sequence[Mapping[str, Any]], request: web.Request, url: str) -> tuple[
        list[Mapping[str, Any]], list[dict[str, str]]]:  # fmt: skip
    """Cinder's order (newest first) and its pages: `marker` (the last id seen), `limit`; a
    next link when there is more."""
    items = sorted(items, key=lambda b: (str(b["metadata"].get("creationTimestamp", "")),
                                         documents.uid(b)), reverse=True)  # fmt: skip
    marker = request.query.get("marker")
    if marker:
        at = next((i for i, b in enumerate(items) if documents.uid(b) == marker), None)
        if at is None:
            raise Fault(400, f"Invalid input received: marker [{marker}] not found")
        items = items[at + 1 :]
    limit = request.query.get("limit", "")
    if not limit:
        return items, []
    if not limit.isdigit():
        raise Fault(400, f"Invalid input received: limit {limit!r} is not a whole number")
    shown = items[: int(limit)]
    if len(items) <= int(limit) or not shown:
        return shown, []
    following = f"{url}?limit={limit}&marker={documents.uid(shown[-1])}"
    return shown, [{"rel": "next", "href": following}]


# -- volumes ----------------------------------------------------------------------------------


@routes.get(V3 + "/volumes")
@routes.get(V3 + "/volumes/detail")
async def list_volumes(request: web.Request) -> web.Response:
    """Filters the clients send: name (exact), status."""
    version = microversion(request)
    identity = await identity_of(request)
    context = await context_of(request, identity)
    query = request.query
    found = [
        v for v in context.volumes.values()
        if (not query.get("name") or documents.display_name(v) == query["name"])
        and (not query.get("status")
             or cinder_documents.volume_status(v, context.servers) == query["status"])
    ]  # fmt: skip
    detail = request.path.endswith("/detail")
    url = context.base_url + ("/volumes/detail" if detail else "/volumes")
    shown, links = page(found, request, url)
    listed = [cinder_documents.volume(v, context, version) if detail
              else cinder_documents.volume_brief(v, context) for v in shown]  # fmt: skip
    return respond({"volumes": listed, **({"volumes_links": links} if links else {})}, version)


@routes.get(V3 + "/volumes/{volume_id}")
async def show_volume(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    context = await context_of(request, identity)
    found = find(context.volumes, request.match_info["volume_id"], "Volume")
    return respond({"volume": cinder_documents.volume(found, context, version)}, version)


@routes.post(V3 + "/volumes")
async def create_volume(request: web.Request) -> web.Response:
    """Cinder's create: a Volume made as the caller (202); the operator does the rest."""
    version = microversion(request)
    identity = await identity_of(request)
    body = await json_body(request)
    context = await context_of(request, identity)
    display, spec = volume_request.volume_create(body, context)
    made = await create(request, identity, "Volume", display, spec, set(context.volumes))
    context = dataclasses.replace(context, volumes={**context.volumes,
                                                    made["metadata"]["name"]: made})  # fmt: skip
    document = cinder_documents.volume(made, context, version, written=True)
    return respond({"volume": document}, version, status=202)


async def _patch(
    request: web.Request, identity: Identity, kind: str, current: dict[str, Any],
    patch: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    if not patch.get("spec"):
        patch.pop("spec", None)
    if not patch:
        return current
    kube = services(request).as_user(identity)
    name = current["metadata"]["name"]
    return await written(kube.patch(STORAGE, kind, name, identity.namespace, patch))


@routes.put(V3 + "/volumes/{volume_id}")
async def update_volume(request: web.Request) -> web.Response:
    """Name, description and metadata, as a merge patch of the Volume (a new name goes into
    the name annotation: a Kubernetes object is never renamed)."""
    version = microversion(request)
    identity = await identity_of(request)
    body = await json_body(request)
    context = await context_of(request, identity)
    current = find(context.volumes, request.match_info["volume_id"], "Volume")
    changed = await _patch(request, identity, "Volume", current,
                           volume_request.update(body, current, "volume"))  # fmt: skip
    document = cinder_documents.volume(changed, context, version, written=True)
    return respond({"volume": document}, version)


IN_USE = (
    "Invalid volume: Volume status must be available or error or error_restoring or "
    "error_extending or error_managing and must not be migrating, attached, belong to a group, "
    "have snapshots, awaiting a transfer, or be disassociated from snapshots after volume "
    "transfer."
)


@routes.delete(V3 + "/volumes/{volume_id}")
async def delete_volume(request: web.Request) -> web.Response:
    """Not while attached, nor while it has snapshots unless `cascade` (they go first), as in
    Cinder (202)."""
    version = microversion(request)
    identity = await identity_of(request)
    context = await context_of(request, identity)
    current = find(context.volumes, request.match_info["volume_id"], "Volume")
    name = current["metadata"]["name"]
    status = cinder_documents.volume_status(current, context.servers)
    servers = [documents.display_name(s) for s in cinder_documents.holders(name, context.servers)]
    if servers or status in ("in-use", "attaching", "detaching"):
        where = f", attached to {', '.join(servers)}" if servers else ""
        raise Fault(400, f"{IN_USE} Volume {current['metadata']['uid']} is {status}{where}: "
                    "detach it first.")  # fmt: skip
    snapshots = [s for s in context.snapshots.values() if (s.get("spec") or {}).get("volume")
                 == name]  # fmt: skip
    kube = services(request).as_user(identity)
    if snapshots and request.query.get("cascade", "").lower() not in ("true", "1", "yes"):
        names = ", ".join(documents.display_name(s) for s in snapshots)
        raise Fault(400, f"{IN_USE} Volume {current['metadata']['uid']} has "
                    f"{len(snapshots)} snapshots ({names}): delete them first, or delete "
                    "with cascade.")  # fmt: skip
    for snapshot in snapshots:
        await kube.delete(STORAGE, "Snapshot", snapshot["metadata"]["name"], identity.namespace)
    await written(kube.delete(STORAGE, "Volume", name, identity.namespace))
    return respond(None, version, status=202)


@routes.post(V3 + "/volumes/{volume_id}/action")
async def volume_action(request: web.Request) -> web.Response:
    """os-extend (202) and os-set_bootable (200), each a merge patch of the Volume."""
    version = microversion(request)
    identity = await identity_of(request)
    body = await json_body(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise Fault(400, "Malformed request body: one action, such as {\"os-extend\": "
                    "{\"new_size\": 2}}")  # fmt: skip
    ((action, argument),) = body.items()
    context = await context_of(request, identity)
    current = find(context.volumes, request.match_info["volume_id"], "Volume")
    status = cinder_documents.volume_status(current, context.servers)
    patch = volume_request.volume_action(action, argument, current, status, version)
    await _patch(request, identity, "Volume", current, patch)
    return respond(None, version, status=200 if action == "os-set_bootable" else 202)


# -- metadata ---------------------------------------------------------------------------------

MetadataChange = Callable[[dict[str, Any], Any], dict[str, Any]]


async def _metadata(request: web.Request, change: MetadataChange | None) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    body = await json_body(request) if change is not None else None
    context = await context_of(request, identity)
    current = find(context.volumes, request.match_info["volume_id"], "Volume")
    if change is not None:
        current = await _patch(request, identity, "Volume", current, change(current, body))
    return respond({"metadata": dict((current.get("spec") or {}).get("metadata") or {})}, version)


def _given(body: Any) -> dict[str, str]:
    value = body.get("metadata") if isinstance(body, dict) else None
    return volume_request.metadata(value, "metadata")


@routes.get(V3 + "/volumes/{volume_id}/metadata")
async def show_metadata(request: web.Request) -> web.Response:
    return await _metadata(request, None)


@routes.post(V3 + "/volumes/{volume_id}/metadata")
async def add_metadata(request: web.Request) -> web.Response:
    """Cinder's create-or-update: the items given are added or changed, the others kept."""
    return await _metadata(request, lambda current, body: volume_request.metadata_patch(
        current, _given(body), replace=False))  # fmt: skip


@routes.put(V3 + "/volumes/{volume_id}/metadata")
async def replace_metadata(request: web.Request) -> web.Response:
    return await _metadata(request, lambda current, body: volume_request.metadata_patch(
        current, _given(body), replace=True))  # fmt: skip


@routes.delete(V3 + "/volumes/{volume_id}/metadata/{key}")
async def delete_metadata(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    context = await context_of(request, identity)
    current = find(context.volumes, request.match_info["volume_id"], "Volume")
    key = request.match_info["key"]
    if key not in ((current.get("spec") or {}).get("metadata") or {}):
        raise Fault(404, f"Volume {current['metadata']['uid']} has no metadata with key {key}.")
    await _patch(request, identity, "Volume", current, {"spec": {"metadata": {key: None}}})
    return respond(None, version)
