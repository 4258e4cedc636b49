"""Cinder v3's volume, snapshot, volume type, limits and quota documents over Volume, Snapshot,
VolumeType and the token's Project, and where a volume sits on its servers.

Pure: custom resources in, the documents Cinder would answer out (microversions MIN_VERSION to
MAX_VERSION); the requests in volume_request. A volume's status is the
operator's word, except in the moment between a change and the operator's next report: a
server that names a volume still `available` is `attaching` it, one that no longer names a
volume still `in-use` is `detaching` it, a volume asked to grow is `extending`, one being
deleted `deleting`: the words Cinder answers at once."""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from nimbus.blockstorage import api as storage
from nimbus.identity import api as identity_api
from nimbus.identity import render as identity_render
from nimbus.openstack import documents

MIN_VERSION = (3, 0)
MAX_VERSION = (3, 70)
"""3.70 is what the `openstack` CLI asks for (CLIENT_REQUESTS); 3.71 adds only
os-extend_volume_completion, an action for Nova alone."""

# Cinder's limits on one volume: Nimbus's CRD holds sizeGB to 65536.
PER_VOLUME_GIGABYTES = 65536
# The extra specs Cinder shows a non-admin (its user-visible keys).
USER_VISIBLE_SPECS = ("multiattach", "replication_enabled", "RESKEY:availability_zones")
# uuid5 namespace of the ids Nimbus gives what Cinder and Nova keep as rows of their own: an
# attachment, a block device mapping. Stable: the same volume on the same server, the same id.
_IDS = uuid.UUID("7b0f5d4e-2c1a-4f6e-9d3b-8a5c0e1f2a3b")


def attachment_id(volume: Mapping[str, Any], server: Mapping[str, Any]) -> str:
    """Cinder's attachment id of `volume` on `server` (Nova's attachment_id from 2.89)."""
    return str(uuid.uuid5(_IDS, f"attachment/{documents.uid(server)}/{documents.uid(volume)}"))


def bdm_id(volume: Mapping[str, Any], server: Mapping[str, Any]) -> str:
    """Nova's bdm_uuid (2.89) of `volume` on `server`."""
    return str(uuid.uuid5(_IDS, f"bdm/{documents.uid(server)}/{documents.uid(volume)}"))


def _stamp(stamp: str | None) -> str | None:
    """Cinder's timestamps: a naive datetime's isoformat, to the microsecond."""
    if not stamp:
        return None
    moment = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _name(body: Mapping[str, Any]) -> str | None:
    """Cinder's name: null for a volume or snapshot made without one."""
    return documents.display_name(body) or None


# --- where a volume sits on a server --------------------------------------------------------


def holders(volume: str, servers: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The servers whose spec names the volume (boot volume or attached), not being deleted."""
    out = []
    for server in servers:
        if (server.get("metadata") or {}).get("deletionTimestamp"):
            continue
        spec = server.get("spec") or {}
        named = {v.get("volume") for v in spec.get("volumes") or []}
        named.add((spec.get("bootVolume") or {}).get("name"))
        if volume in named:
            out.append(server)
    return out


def device(server: Mapping[str, Any], volume: str) -> str | None:
    """The device the volume is on the server: /dev/vda for its boot volume; the device its
    spec gives; else the SCSI disk hotplugged volumes get, in the order the spec lists them."""
    spec = server.get("spec") or {}
    if (spec.get("bootVolume") or {}).get("name") == volume:
        return "/dev/vda"
    for index, entry in enumerate(spec.get("volumes") or []):
        if entry.get("volume") == volume:
            given = entry.get("device")
            if given:
                return str(given) if str(given).startswith("/dev/") else f"/dev/{given}"
            return f"/dev/sd{chr(ord('a') + index)}"
    return None


@dataclasses.dataclass(frozen=True)
class Context:
    """What volume and snapshot documents refer to: the caller's project and the objects it
    may read, each kind by Kubernetes name (volume types cluster-wide)."""

    base_url: str  # the endpoint: .../volume/v3/<project id>
    project_id: str
    user_id: str
    admin: bool
    servers: Sequence[Mapping[str, Any]] = ()
    volumes: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    snapshots: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    types: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    images: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    def links(self, collection: str, ident: str) -> list[dict[str, str]]:
        """Cinder's self and bookmark links (the bookmark without the version)."""
        base = self.base_url.rstrip("/")
        root, _, project = base.rpartition("/")
        bookmark = root.rsplit("/", 1)[0] + f"/{project}"
        return [{"rel": "self", "href": f"{base}/{collection}/{ident}"},
                {"rel": "bookmark", "href": f"{bookmark}/{collection}/{ident}"}]  # fmt: skip


# --- volumes --------------------------------------------------------------------------------


def volume_size(body: Mapping[str, Any]) -> int:
    """The size asked for, else as made (from a snapshot or a volume)."""
    return identity_render.volume_gb(body)


def volume_status(body: Mapping[str, Any], servers: Sequence[Mapping[str, Any]]) -> str:
    """Cinder's status word of the volume now (the module's docstring)."""
    metadata = body.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return "deleting"
    status = storage.VolumeStatus.model_validate(body.get("status") or {})
    word = status.status or "creating"
    named = bool(holders(str(metadata.get("name", "")), servers))
    asked = (body.get("spec") or {}).get("sizeGB")
    if word in ("available", "in-use") and asked and status.size_gb and asked > status.size_gb:
        return "extending"
    if word == "available" and named:
        return "attaching"
    if word == "in-use" and not named:
        return "detaching"
    return word


def _attachments(body: Mapping[str, Any], context: Context) -> list[dict[str, Any]]:
    """The servers that name the volume, and those the operator still records it on."""
    name = str(body["metadata"]["name"])
    status = storage.VolumeStatus.model_validate(body.get("status") or {})
    recorded = {a.server: a for a in status.attachments}
    named = {str(s["metadata"]["name"]) for s in holders(name, context.servers)}
    out = []
    for server in context.servers:
        server_name = str(server["metadata"]["name"])
        if server_name not in named and server_name not in recorded:
            continue
        record = recorded.get(server_name)
        out.append({
            "server_id": documents.uid(server),
            "attachment_id": attachment_id(body, server),
            "attached_at": _stamp(record.attached_at if record else None),
            "host_name": (server.get("status") or {}).get("host"),
            "volume_id": documents.uid(body),
            "device": (record.device if record and record.device else None)
            or device(server, name),
            "id": documents.uid(body),
        })  # fmt: skip
    return out


def _find(objects: Mapping[str, Mapping[str, Any]], name: str | None) -> Mapping[str, Any] | None:
    return objects.get(name) if name else None


def volume(
    body: Mapping[str, Any], context: Context, version: tuple[int, int], *, written: bool = False
) -> dict[str, Any]:
    """Cinder's volume at `version`, as GET /volumes/{id} and /volumes/detail show it; with
    `written`, as a create or update answers it (without the tenant, host, migration and
    image extensions' attributes)."""
    spec = storage.VolumeSpec.model_validate(body.get("spec") or {})
    status = storage.VolumeStatus.model_validate(body.get("status") or {})
    ident = documents.uid(body)
    source = spec.source or storage.VolumeSource()
    snapshot = _find(context.snapshots, source.snapshot)
    origin = _find(context.volumes, source.volume)
    volume_type = _find(context.types, spec.volume_type)
    # a type no longer readable shows by name, without an id; no type is Cinder's __DEFAULT__
    type_name, type_id = spec.volume_type or DEFAULT_TYPE, None
    if volume_type is not None:
        type_name, type_id = documents.display_name(volume_type), documents.uid(volume_type)
    elif not spec.volume_type:
        type_id = DEFAULT_TYPE_ID
    bootable = status.bootable
    if bootable is None:
        bootable = spec.bootable if spec.bootable is not None else source.image is not None
    document: dict[str, Any] = {
        "id": ident,
        "name": _name(body),
        "description": spec.description or None,
        "status": volume_status(body, context.servers),
        "size": volume_size(body),
        "availability_zone": spec.availability_zone,
        "created_at": _stamp(body["metadata"].get("creationTimestamp")),
        "updated_at": _stamp(documents.updated(body)),
        "attachments": _attachments(body, context),
        "links": context.links("volumes", ident),
        "bootable": "true" if bootable else "false",
        "encrypted": False,
        "multiattach": spec.multiattach,
        "metadata": dict(spec.metadata),
        "volume_type": type_name,
        "snapshot_id": documents.uid(snapshot) if snapshot else None,
        "source_volid": documents.uid(origin) if origin else None,
        "user_id": context.user_id,
        "replication_status": None,
        "consistencygroup_id": None,
        "migration_status": None,
    }
    if version >= (3, 13):
        document["group_id"] = None
    if version >= (3, 21) and context.admin:
        document["provider_id"] = None
    if version >= (3, 48):
        document.update({"service_uuid": None, "shared_targets": False})
    if version >= (3, 61) and context.admin:
        document["cluster_name"] = None
    if version >= (3, 63):
        document["volume_type_id"] = type_id
    if version >= (3, 65):
        document["consumes_quota"] = True
    if written:
        return document
    document["os-vol-tenant-attr:tenant_id"] = context.project_id
    image = _find(context.images, source.image.name if source.image else None)
    if image is not None and not (source.image and source.image.project):
        document["volume_image_metadata"] = {
            "image_id": documents.uid(image), "image_name": documents.display_name(image),
        }  # fmt: skip
    if context.admin:
        document.update({"os-vol-host-attr:host": None, "os-vol-mig-status-attr:migstat": None,
                         "os-vol-mig-status-attr:name_id": None})  # fmt: skip
    return document


def volume_brief(body: Mapping[str, Any], context: Context) -> dict[str, Any]:
    """One entry of GET /volumes."""
    ident = documents.uid(body)
    return {"id": ident, "name": _name(body), "links": context.links("volumes", ident)}


# --- snapshots ------------------------------------------------------------------------------


def snapshot_status(body: Mapping[str, Any]) -> str:
    if (body.get("metadata") or {}).get("deletionTimestamp"):
        return "deleting"
    status = storage.SnapshotStatus.model_validate(body.get("status") or {})
    return status.status or "creating"


def snapshot(
    body: Mapping[str, Any], context: Context, version: tuple[int, int], *, detail: bool
) -> dict[str, Any]:
    """Cinder's snapshot at `version`: as listed and created, or (detail) as shown and listed
    by /snapshots/detail, with its progress and project."""
    spec = storage.SnapshotSpec.model_validate(body.get("spec") or {})
    status = storage.SnapshotStatus.model_validate(body.get("status") or {})
    origin = _find(context.volumes, spec.volume)
    word = snapshot_status(body)
    document: dict[str, Any] = {
        "id": documents.uid(body),
        "name": _name(body),
        "description": spec.description or None,
        "status": word,
        "size": status.size_gb or (volume_size(origin) if origin else 0),
        # The volume's id; one deleted since (Cinder keeps no such snapshot) as its name.
        "volume_id": documents.uid(origin) if origin else spec.volume,
        "metadata": dict(spec.metadata),
        "created_at": _stamp(body["metadata"].get("creationTimestamp")),
        "updated_at": _stamp(documents.updated(body)),
    }
    if version >= (3, 14):
        document["group_snapshot_id"] = None
    if version >= (3, 41):
        document["user_id"] = context.user_id
    if version >= (3, 65):
        document["consumes_quota"] = True
    if detail:
        progress = status.progress or ("100%" if word == "available" else "0%")
        document["os-extended-snapshot-attributes:progress"] = progress
        document["os-extended-snapshot-attributes:project_id"] = context.project_id
    return document


# --- volume types ---------------------------------------------------------------------------


# Cinder's own default type (since Train every volume has a type): a volume made without one,
# on the cluster's default StorageClass. Its id is fixed, as Nimbus's other made-up ids are.
DEFAULT_TYPE = "__DEFAULT__"
DEFAULT_TYPE_ID = str(uuid.uuid5(_IDS, "volume-type/" + DEFAULT_TYPE))


def is_default_type(ref: str) -> bool:
    return ref in (DEFAULT_TYPE, DEFAULT_TYPE_ID)


def default_type() -> dict[str, Any]:
    """Cinder's `__DEFAULT__` volume type, GET /types/default's answer."""
    return {
        "id": DEFAULT_TYPE_ID,
        "name": DEFAULT_TYPE,
        "description": "Default Volume Type",
        "is_public": True,
        "os-volume-type-access:is_public": True,
        "extra_specs": {},
        "qos_specs_id": None,
    }


def type_visible(body: Mapping[str, Any], project: str) -> bool:
    """A public type, or a private one whose access list names the project."""
    spec = storage.VolumeTypeSpec.model_validate(body.get("spec") or {})
    return spec.is_public or project in spec.projects


def volume_type(body: Mapping[str, Any], *, admin: bool) -> dict[str, Any]:
    """Cinder's volume type; a non-admin sees only the user-visible extra specs, as in Cinder."""
    spec = storage.VolumeTypeSpec.model_validate(body.get("spec") or {})
    specs = {k: str(v) for k, v in spec.extra_specs.items() if admin or k in USER_VISIBLE_SPECS}
    return {
        "id": documents.uid(body),
        "name": documents.display_name(body),
        "description": spec.description or None,
        "is_public": spec.is_public,
        "os-volume-type-access:is_public": spec.is_public,
        "extra_specs": specs,
        "qos_specs_id": None,
    }


# --- limits and quotas ----------------------------------------------------------------------


def usage(
    volumes: Sequence[Mapping[str, Any]], snapshots: Sequence[Mapping[str, Any]]
) -> dict[str, int]:
    """What the project uses of Cinder's quota, counted from its objects now (those being
    deleted count until they are gone, as in Cinder)."""
    return {
        "volumes": len(volumes),
        "gigabytes": sum(volume_size(v) for v in volumes),
        "snapshots": len(snapshots),
    }


def quota(project: Mapping[str, Any]) -> identity_api.Quota:
    return identity_api.Quota.model_validate((project.get("spec") or {}).get("quota") or {})


def limits_document(quota: identity_api.Quota, used: Mapping[str, int]) -> dict[str, Any]:
    """Cinder's GET /limits: absolute limits, no rate limits. Nimbus has no backup service:
    no backups may be made."""
    absolute = {
        "maxTotalVolumes": quota.volumes,
        "maxTotalSnapshots": quota.snapshots,
        "maxTotalVolumeGigabytes": quota.gigabytes,
        "maxTotalBackups": 0,
        "maxTotalBackupGigabytes": 0,
        "totalVolumesUsed": used.get("volumes", 0),
        "totalGigabytesUsed": used.get("gigabytes", 0),
        "totalSnapshotsUsed": used.get("snapshots", 0),
        "totalBackupsUsed": 0,
        "totalBackupGigabytesUsed": 0,
    }
    return {"limits": {"absolute": absolute, "rate": []}}


def quota_set(
    project_id: str, quota: identity_api.Quota, used: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """Cinder's os-quota-sets document: the limits, or (with `used`, ?usage=True) each as
    {limit, in_use, reserved}. Backups and groups: none (0)."""
    limits = {
        "volumes": quota.volumes, "gigabytes": quota.gigabytes, "snapshots": quota.snapshots,
        "backups": 0, "backup_gigabytes": 0, "groups": 0,
        "per_volume_gigabytes": PER_VOLUME_GIGABYTES,
    }  # fmt: skip
    if used is None:
        return {"quota_set": {"id": project_id, **limits}}
    return {"quota_set": {"id": project_id, **{
        key: {"limit": limit, "in_use": used.get(key, 0), "reserved": 0}
        for key, limit in limits.items()}}}  # fmt: skip


# --- Nova's volume attachments --------------------------------------------------------------


def nova_attachment(
    volume: Mapping[str, Any],
    server: Mapping[str, Any],
    version: tuple[int, int],
    *,
    created: bool = False,
) -> dict[str, Any]:
    """Nova's volumeAttachment of `volume` on `server` at `version`: as listed and shown, or
    (created) as POST answers it, which keeps `id` past 2.89."""
    name = str(volume["metadata"]["name"])
    spec = server.get("spec") or {}
    entry = next((v for v in spec.get("volumes") or [] if v.get("volume") == name), None)
    boot = spec.get("bootVolume") or {}
    delete = bool((entry or boot).get("deleteOnTermination", False))
    document: dict[str, Any] = {
        "device": device(server, name),
        "serverId": documents.uid(server),
        "volumeId": documents.uid(volume),
    }
    if version < (2, 89) or created:
        document["id"] = documents.uid(volume)
    if version >= (2, 70):
        document["tag"] = None
    if version >= (2, 79):
        document["delete_on_termination"] = delete
    if version >= (2, 89) and not created:
        document["attachment_id"] = attachment_id(volume, server)
        document["bdm_uuid"] = bdm_id(volume, server)
    return document
