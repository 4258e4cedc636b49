"""Cinder v3's snapshots, volume types, limits and quota sets, over Snapshot, VolumeType and the
token's Project, with cinder's microversions and answers.

Every call to Kubernetes acts as the token's user (service.Services.as_user)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from nimbus.openstack import cinder, cinder_documents, volume_request
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity

routes = web.RouteTableDef()
V3 = cinder.V3
STORAGE = cinder.STORAGE

# -- snapshots --------------------------------------------------------------------------------


@routes.get(V3 + "/snapshots")
@routes.get(V3 + "/snapshots/detail")
async def list_snapshots(request: web.Request) -> web.Response:
    """Filters the clients send: name (exact), status, volume_id."""
    version = cinder.microversion(request)
    identity = await cinder.identity_of(request)
    context = await cinder.context_of(request, identity)
    detail = request.path.endswith("/detail")
    listed = {s["metadata"]["name"]: cinder_documents.snapshot(s, context, version, detail=detail)
              for s in context.snapshots.values()}  # fmt: skip
    query = request.query
    found = [
        s for s in context.snapshots.values()
        if all(str(listed[s["metadata"]["name"]].get(key)) == query[key]
               for key in ("name", "status", "volume_id") if query.get(key))
    ]  # fmt: skip
    url = context.base_url + ("/snapshots/detail" if detail else "/snapshots")
    shown, links = cinder.page(found, request, url)
    document: dict[str, Any] = {"snapshots": [listed[s["metadata"]["name"]] for s in shown]}
    if links:
        document["snapshots_links"] = links
    return cinder.respond(document, version)


@routes.get(V3 + "/snapshots/{snapshot_id}")
async def show_snapshot(request: web.Request) -> web.Response:
    version = cinder.microversion(request)
    identity = await cinder.identity_of(request)
    context = await cinder.context_of(request, identity)
    found = cinder.find(context.snapshots, request.match_info["snapshot_id"], "Snapshot")
    document = cinder_documents.snapshot(found, context, version, detail=True)
    return cinder.respond({"snapshot": document}, version)


@routes.post(V3 + "/snapshots")
async def create_snapshot(request: web.Request) -> web.Response:
    """A Snapshot made as the caller (202); the operator takes it (a CSI VolumeSnapshot)."""
    version = cinder.microversion(request)
    identity = await cinder.identity_of(request)
    body = await cinder.json_body(request)
    context = await cinder.context_of(request, identity)
    assert identity.project is not None  # identity_of: project-scoped
    display, spec = volume_request.snapshot_create(
        body, context, version, quota=cinder_documents.quota(identity.project)
    )
    made = await cinder.create(request, identity, "Snapshot", display, spec,
                               set(context.snapshots))  # fmt: skip
    document = cinder_documents.snapshot(made, context, version, detail=False)
    return cinder.respond({"snapshot": document}, version, status=202)


@routes.put(V3 + "/snapshots/{snapshot_id}")
async def update_snapshot(request: web.Request) -> web.Response:
    """Name and description, as a merge patch of the Snapshot."""
    version = cinder.microversion(request)
    identity = await cinder.identity_of(request)
    body = await cinder.json_body(request)
    context = await cinder.context_of(request, identity)
    current = cinder.find(context.snapshots, request.match_info["snapshot_id"], "Snapshot")
    patch = volume_request.update(body, current, "snapshot")
    if not patch["spec"]:
        patch.pop("spec")
    if patch:
        kube = cinder.services(request).as_user(identity)
        name = current["metadata"]["name"]
        current = await cinder.written(
            kube.patch(STORAGE, "Snapshot", name, identity.namespace, patch)
        )
    document = cinder_documents.snapshot(current, context, version, detail=False)
    return cinder.respond({"snapshot": document}, version)


@routes.delete(V3 + "/snapshots/{snapshot_id}")
async def delete_snapshot(request: web.Request) -> web.Response:
    version = cinder.microversion(request)
    identity = await cinder.identity_of(request)
    context = await cinder.context_of(request, identity)
    found = cinder.find(context.snapshots, request.match_info["snapshot_id"], "Snapshot")
    kube = cinder.services(request).as_user(identity)
    await cinder.written(
        kube.delete(STORAGE, "Snapshot", found["metadata"]["name"], identity.namespace)
    )
    return cinder.respond(None, version, status=202)


# -- volume types -----------------------------------------------------------------------------


async def _types(request: web.Request, identity: Identity) -> list[dict[str, Any]]:
    """The public volume types and the private ones whose access list names the project."""
    kube = cinder.services(request).as_user(identity)
    project = str(identity.project["metadata"]["name"]) if identity.project else ""
    return [t for t in await kube.list(STORAGE, "VolumeType")
            if cinder_documents.type_visible(t, project)]  # fmt: skip


@routes.get(V3 + "/types")
async def list_types(request: web.Request) -> web.Response:
    """Filter: is_public (true: the public ones, false: the private ones; else both)."""
    version = cinder.microversion(request)
    identity = await cinder.identity_of(request)
    wanted = request.query.get("is_public", "").lower()
    listed = [cinder_documents.volume_type(t, admin=identity.admin)
              for t in await _types(request, identity)]  # fmt: skip
    listed.append(cinder_documents.default_type())
    if wanted in ("true", "false"):
        listed = [t for t in listed if t["is_public"] == (wanted == "true")]
    return cinder.respond({"volume_types": listed}, version)


@routes.get(V3 + "/types/{type_id}")
async def show_type(request: web.Request) -> web.Response:
    version = cinder.microversion(request)
    identity = await cinder.identity_of(request)
    wanted = request.match_info["type_id"]
    # GET /types/default: the type of a volume made without one, as Cinder's show answers it
    # at every microversion (a type named `default` is shown by its id).
    if cinder_documents.is_default_type(wanted) or wanted == "default":
        return cinder.respond({"volume_type": cinder_documents.default_type()}, version)
    found = next((t for t in await _types(request, identity)
                  if wanted in (t["metadata"]["uid"], t["metadata"]["name"])), None)  # fmt: skip
    if found is None:
        raise Fault(404, f"Volume type {wanted} could not be found.")
    document = cinder_documents.volume_type(found, admin=identity.admin)
    return cinder.respond({"volume_type": document}, version)


# -- limits and quotas ------------------------------------------------------------------------


async def _used(request: web.Request, identity: Identity) -> dict[str, int]:
    """The project's volumes, gigabytes and snapshots now, as the caller lists them."""
    kube = cinder.services(request).as_user(identity)
    volumes, snapshots = await asyncio.gather(
        kube.list(STORAGE, "Volume", identity.namespace),
        kube.list(STORAGE, "Snapshot", identity.namespace),
    )
    return cinder_documents.usage(volumes, snapshots)


def _own(identity: Identity, wanted: str | None, policy: str) -> dict[str, Any]:
    """The token's project, when `wanted` is it (or not given); Cinder's 403 for another's."""
    assert identity.project is not None  # identity_of: project-scoped
    if wanted and wanted not in (identity.project["metadata"]["uid"],
                                 identity.project["metadata"]["name"]):  # fmt: skip
        raise Fault(403, f"Policy doesn't allow {policy} to be performed.")
    return identity.project


@routes.get(V3 + "/limits")
async def limits(request: web.Request) -> web.Response:
    """Absolute limits from the Project's spec.quota; what is used, counted now."""
    version = cinder.microversion(request)
    identity = await cinder.identity_of(request)
    project = _own(identity, request.query.get("project_id"), "limits_extension:used_limits")
    document = cinder_documents.limits_document(
        cinder_documents.quota(project), await _used(request, identity)
    )
    return cinder.respond(document, version)


@routes.get(V3 + "/os-quota-sets/{target}")
async def quota_set(request: web.Request) -> web.Response:
    """The project's quota; with usage=True, each with what is in use."""
    version = cinder.microversion(request)
    identity = await cinder.identity_of(request)
    project = _own(identity, request.match_info["target"], "volume_extension:quotas:show")
    usage = request.query.get("usage", "").lower() in ("true", "1", "yes")
    used = await _used(request, identity) if usage else None
    document = cinder_documents.quota_set(
        str(project["metadata"]["uid"]), cinder_documents.quota(project), used
    )
    return cinder.respond(document, version)


@routes.get(V3 + "/os-quota-sets/{target}/defaults")
async def quota_defaults(request: web.Request) -> web.Response:
    """The quota a Project gets when its spec names none (identity.api.Quota's defaults)."""
    version = cinder.microversion(request)
    await cinder.identity_of(request)
    document = cinder_documents.quota_set(
        request.match_info["target"], cinder_documents.quota({}), None
    )
    return cinder.respond(document, version)


# Cinder's API extensions that Nimbus serves, as Cinder names them: a client (Horizon's volume
# form, which asks for AvailabilityZones before it lists the zones) calls only what is listed.
EXTENSIONS = (
    ("os-quota-sets", "Quotas", "Quota management support."),
    ("os-used-limits", "UsedLimits", "Provide data on limited resources that are being used."),
    ("os-vol-tenant-attr", "VolumeTenantAttribute", "Expose the internal project_id as an "
     "attribute of a volume."),
    ("os-volume-transfer", "VolumeTransfer", "Volume transfer management support."),
)  # fmt: skip


def extensions_document() -> dict[str, Any]:
    """Cinder's list of extensions: those of EXTENSIONS."""
    return {"extensions": [{"alias": alias, "name": name, "description": description,
                            "links": [], "updated": "2011-06-29T00:00:00+00:00"}
                           for alias, name, description in EXTENSIONS]}  # fmt: skip


@routes.get(V3 + "/extensions")
async def extensions(request: web.Request) -> web.Response:
    """The API extensions Nimbus serves, in Cinder's names (Horizon asks before it calls one)."""
    version = cinder.microversion(request)
    await cinder.identity_of(request)
    return cinder.respond(extensions_document(), version)


@routes.get(V3 + "/os-volume-transfer")
@routes.get(V3 + "/os-volume-transfer/detail")
async def transfers(request: web.Request) -> web.Response:
    """Horizon's Volumes page lists transfers: Nimbus has none to offer."""
    version = cinder.microversion(request)
    await cinder.identity_of(request)
    return cinder.respond({"transfers": []}, version)


# -- what Cinder has and Nimbus does not: empty lists, as a Cinder without any answers ---------
# Horizon's Volumes page looks up each volume's group (a volume document has group_id from
# 3.13), and its volume type pages the type's encryption and the QoS specs: a 404 there is an
# error message on the page, where Cinder with none of them lists nothing.

# Cinder's first microversion of each collection (older ones are a 404 in Cinder too).
SINCE = {"groups": (3, 13), "group_snapshots": (3, 14), "group_types": (3, 11)}


def _none(collection: str, what: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """GET of a collection Nimbus has none of: empty, from its first microversion (a 404
    before it, as in Cinder)."""

    async def listed(request: web.Request) -> web.Response:
        version = cinder.microversion(request)
        await cinder.identity_of(request)
        if version < SINCE[collection]:
            raise Fault(404, "The resource could not be found.")
        return cinder.respond({collection: []}, version)

    listed.__doc__ = what
    return listed


for _path, _collection, _what in (
    ("/groups", "groups", "Generic volume groups: Nimbus has none (a volume's group_id is null)."),
    ("/groups/detail", "groups", "Generic volume groups, in detail: none."),
    ("/group_snapshots", "group_snapshots", "Snapshots of volume groups: none, as there are no "
     "groups."),
    ("/group_snapshots/detail", "group_snapshots", "Snapshots of volume groups, in detail: "
     "none."),
    ("/group_types", "group_types", "Volume group types: none."),
):  # fmt: skip
    routes.get(V3 + _path)(_none(_collection, _what))


@routes.get(V3 + "/backups")
@routes.get(V3 + "/backups/detail")
async def backups(request: web.Request) -> web.Response:
    """Backups: none, as a Cinder without a backup service lists (heat-dashboard's Template
    Generator offers them; the dashboard hides Horizon's own backup panel)."""
    version = cinder.microversion(request)
    await cinder.identity_of(request)
    return cinder.respond({"backups": []}, version)


@routes.get(V3 + "/qos-specs")
async def qos_specs(request: web.Request) -> web.Response:
    """QoS specs: none (a VolumeType's StorageClass holds what its storage promises)."""
    version = cinder.microversion(request)
    await cinder.identity_of(request)
    return cinder.respond({"qos_specs": []}, version)


@routes.get(V3 + "/types/{type_id}/encryption")
async def type_encryption(request: web.Request) -> web.Response:
    """A volume type's encryption: none, Cinder's empty document (the type must exist)."""
    version = cinder.microversion(request)
    identity = await cinder.identity_of(request)
    wanted = request.match_info["type_id"]
    if not cinder_documents.is_default_type(wanted) and not any(
        wanted in (t["metadata"]["uid"], t["metadata"]["name"])
        for t in await _types(request, identity)
    ):
        raise Fault(404, f"Volume type {wanted} could not be found.")
    return cinder.respond({}, version)
