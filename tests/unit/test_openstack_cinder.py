"""Cinder v3's documents made from Volume, Snapshot, VolumeType and the Project, checked against
tempest's response schemas (tempest.lib.api_schema.response.volume.*), Nova's volume
attachments against its compute schemas, and the requests as specs and merge patches, with each
refusal in Cinder's or Nova's words."""

from __future__ import annotations

import copy
import importlib
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from nimbus.identity import api as identity_api
from nimbus.openstack import (
    cinder,
    cinder_documents,
    cinder_extensions,
    documents,
    faults,
    volume_request,
)
from tests.unit.test_openstack_documents import _check

PROJECT = "6f1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9"
USER = "0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f0"
BASE = f"http://cloud.example/volume/v3/{PROJECT}"
NS = "demo"


def _uid(n: int) -> str:
    return f"5e6f7a8b-0000-4000-8000-{n:012d}"


DATA_UID, LOGS_UID, RESTORED_UID, BOOT_UID, OLD_UID = (_uid(n) for n in range(11, 16))
WEB_UID, VM2_UID, NIGHTLY_UID, GOLD_UID, SECRET_UID, CIRROS_UID = (_uid(n) for n in range(21, 27))


def _meta(name: str, uid: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": NS, "uid": uid, "resourceVersion": "42",
            "creationTimestamp": "2026-03-01T10:00:00Z", **extra}  # fmt: skip


def _volume(name: str, uid: str, spec: dict[str, Any], status: dict[str, Any] | None,
            **metadata: Any) -> dict[str, Any]:  # fmt: skip
    return {"apiVersion": "blockstorage.nimbus.dev/v1alpha1", "kind": "Volume",
            "metadata": _meta(name, uid, **metadata), "spec": spec,
            **({"status": status} if status is not None else {})}  # fmt: skip


DATA = _volume(
    "data-1a2b3", DATA_UID,
    {"sizeGB": 1, "volumeType": "gold", "description": "db disk", "metadata": {"tier": "db"}},
    {"status": "available", "sizeGB": 1, "bootable": False,
     "conditions": [{"type": "Ready", "status": "True", "reason": "VolumeReady", "message": "",
                     "lastTransitionTime": "2026-03-01T10:01:00Z"}]},
    annotations={documents.NAME_ANNOTATION: "Data Disk"},
)  # fmt: skip
LOGS = _volume("logs", LOGS_UID, {"sizeGB": 2},
               {"status": "in-use", "sizeGB": 2, "bootable": False, "attachments": [
                   {"server": "web", "attachedAt": "2026-03-01T10:06:00Z"}]})  # fmt: skip
RESTORED = _volume("restored", RESTORED_UID, {"source": {"snapshot": "nightly"}}, None)
BOOT = _volume("boot", BOOT_UID, {"sizeGB": 2, "source": {"image": {"name": "cirros"}}},
               {"status": "in-use", "sizeGB": 2, "bootable": True,
                "attachments": [{"server": "vm2"}]})  # fmt: skip
OLD = _volume("old", OLD_UID, {"sizeGB": 3}, {"status": "available", "sizeGB": 3},
              deletionTimestamp="2026-03-01T11:00:00Z")  # fmt: skip
VOLUMES = {v["metadata"]["name"]: v for v in (DATA, LOGS, RESTORED, BOOT, OLD)}


def _server(name: str, uid: str, spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
            "metadata": _meta(name, uid), "spec": {"flavor": "m1.small", **spec},
            "status": status}  # fmt: skip


WEB = _server("web", WEB_UID, {"image": {"name": "cirros"}, "volumes": [{"volume": "logs"}]},
              {"status": "ACTIVE", "powerState": "RUNNING", "host": "node-1"})  # fmt: skip
VM2 = _server("vm2", VM2_UID, {"bootVolume": {"name": "boot", "deleteOnTermination": True}},
              {"status": "ACTIVE", "powerState": "RUNNING", "host": "node-2"})  # fmt: skip
NIGHTLY = {"kind": "Snapshot", "metadata": _meta("nightly", NIGHTLY_UID),
           "spec": {"volume": "data-1a2b3", "description": "before the upgrade"},
           "status": {"status": "available", "sizeGB": 1, "volumeSnapshot": "nightly"}}  # fmt: skip
SPECS = {"volume_backend_name": "ceph", "multiattach": "<is> True"}
GOLD = {"kind": "VolumeType", "metadata": {"name": "gold", "uid": GOLD_UID},
        "spec": {"storageClass": "standard", "description": "fast disks",
                 "extraSpecs": SPECS}}  # fmt: skip
SECRET = {"kind": "VolumeType", "metadata": {"name": "secret", "uid": SECRET_UID},
          "spec": {"provisioner": "csi.example", "isPublic": False,
                   "projects": ["demo"]}}  # fmt: skip
CIRROS = {"kind": "Image", "metadata": _meta("cirros", CIRROS_UID),
          "spec": {"minDiskGB": 1}, "status": {"status": "active"}}  # fmt: skip


def _context(admin: bool = False, **changes: Any) -> cinder_documents.Context:
    fields: dict[str, Any] = {
        "base_url": BASE, "project_id": PROJECT, "user_id": USER, "admin": admin,
        "servers": [WEB, VM2], "volumes": VOLUMES, "snapshots": {"nightly": NIGHTLY},
        "types": {"gold": GOLD, "secret": SECRET}, "images": {"cirros": CIRROS},
    }  # fmt: skip
    return cinder_documents.Context(**{**fields, **changes})


# --- tempest's schemas ----------------------------------------------------------------------

# The first microversion of each of tempest's volume schema modules (volume.volumes: 3.0).
VOLUME_SCHEMAS = [(3, 0), (3, 61), (3, 63), (3, 64), (3, 65), (3, 69)]
VERSIONS = [(3, 0), (3, 13), (3, 21), (3, 42), (3, 48), (3, 61), (3, 63), (3, 64), (3, 65),
            (3, 66), (3, 69), (3, 70)]  # fmt: skip
# tempest's volume.snapshots is 3.0's; the fields Cinder adds since, as its api-ref gives them.
SNAPSHOT_FIELDS = {(3, 14): {"group_snapshot_id": {"type": ["string", "null"]}},
                   (3, 41): {"user_id": {"type": "string", "format": "uuid"}},
                   (3, 65): {"consumes_quota": {"type": "boolean"}}}  # fmt: skip
# tempest's compute servers modules where the volume attachment schemas change.
ATTACHMENT_SCHEMAS = [(2, 1), (2, 70), (2, 79), (2, 89)]


def _volume_schemas(version: tuple[int, int]) -> Any:
    first = max(v for v in VOLUME_SCHEMAS if v <= version)
    name = "volumes" if first == (3, 0) else f"v3_{first[1]}.volumes"
    return importlib.import_module(f"tempest.lib.api_schema.response.volume.{name}")


def _schema(module: str) -> Any:
    return importlib.import_module(f"tempest.lib.api_schema.response.{module}")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("admin", [False, True], ids=["member", "admin"])
@pytest.mark.parametrize("sample", sorted(VOLUMES))
def test_every_volume_document_matches_tempest_s_schema(
    sample: str, admin: bool, version: tuple[int, int]
) -> None:
    schemas, context, body = _volume_schemas(version), _context(admin), VOLUMES[sample]
    shown = cinder_documents.volume(body, context, version)
    _check(schemas.show_volume, {"volume": shown})
    _check(schemas.list_volumes_with_detail, {"volumes": [shown], "volumes_links": [
        {"rel": "next", "href": f"{BASE}/volumes/detail?limit=1&marker={DATA_UID}"}]})  # fmt: skip
    written = cinder_documents.volume(body, context, version, written=True)
    _check(schemas.create_volume, {"volume": written})
    # Cinder answers an update as a create; tempest's microversioned modules copy 3.0's
    # update_volume without the fields their create_volume gains.
    _check(schemas.update_volume if version < (3, 61) else schemas.create_volume,
           {"volume": written})  # fmt: skip
    _check(schemas.list_volumes_no_detail,
           {"volumes": [cinder_documents.volume_brief(body, context)]})  # fmt: skip


def test_a_volume_at_3_70_as_a_member_sees_it() -> None:
    assert cinder_documents.volume(DATA, _context(), (3, 70)) == {
        "id": DATA_UID,
        "name": "Data Disk",
        "description": "db disk",
        "status": "available",
        "size": 1,
        "availability_zone": None,
        "created_at": "2026-03-01T10:00:00.000000",
        "updated_at": "2026-03-01T10:01:00.000000",
        "attachments": [],
        "links": [{"rel": "self", "href": f"{BASE}/volumes/{DATA_UID}"},
                  {"rel": "bookmark",
                   "href": f"http://cloud.example/volume/{PROJECT}/volumes/{DATA_UID}"}],
        "bootable": "false",
        "encrypted": False,
        "multiattach": False,
        "metadata": {"tier": "db"},
        "volume_type": "gold",
        "snapshot_id": None,
        "source_volid": None,
        "user_id": USER,
        "replication_status": None,
        "consistencygroup_id": None,
        "migration_status": None,
        "group_id": None,
        "service_uuid": None,
        "shared_targets": False,
        "volume_type_id": GOLD_UID,
        "consumes_quota": True,
        "os-vol-tenant-attr:tenant_id": PROJECT,
    }  # fmt: skip


def test_a_volume_without_a_type_is_of_cinder_s_default_type() -> None:
    untyped = copy.deepcopy(DATA)
    del untyped["spec"]["volumeType"]
    document = cinder_documents.volume(untyped, _context(), (3, 70))
    assert (document["volume_type"], document["volume_type_id"]) == (
        "__DEFAULT__", cinder_documents.DEFAULT_TYPE_ID)  # fmt: skip
    assert cinder_documents.default_type()["id"] == cinder_documents.DEFAULT_TYPE_ID
    schemas = _schema("volume.volume_types")
    _check(schemas.show_volume_type, {"volume_type": cinder_documents.default_type()})


def test_attachments_name_the_servers_with_their_devices() -> None:
    logs = cinder_documents.volume(LOGS, _context(), (3, 70))
    assert logs["attachments"] == [{
        "server_id": WEB_UID, "attachment_id": cinder_documents.attachment_id(LOGS, WEB),
        "attached_at": "2026-03-01T10:06:00.000000", "host_name": "node-1",
        "volume_id": LOGS_UID, "device": "/dev/sda", "id": LOGS_UID,
    }]  # fmt: skip
    boot = cinder_documents.volume(BOOT, _context(admin=True), (3, 70))
    assert [(a["server_id"], a["device"]) for a in boot["attachments"]] == [(VM2_UID, "/dev/vda")]
    assert (boot["bootable"], boot["volume_image_metadata"]) == (
        "true", {"image_id": CIRROS_UID, "image_name": "cirros"})  # fmt: skip
    assert boot["os-vol-host-attr:host"] is None  # admins see the extensions' attributes
    # made from a snapshot, not reconciled yet: its snapshot and the snapshot's size
    restored = cinder_documents.volume(RESTORED, _context(), (3, 70))
    assert (restored["status"], restored["snapshot_id"], restored["size"]) == (
        "creating", NIGHTLY_UID, 0)  # fmt: skip


def _with(body: dict[str, Any], **status: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    changed.setdefault("status", {}).update(status)
    return changed


@pytest.mark.parametrize(
    ("body", "servers", "expected"),
    [
        (DATA, [WEB], "available"),
        (LOGS, [WEB], "in-use"),
        # a server names it; the operator has not reported yet: Cinder's word at once
        (DATA, [_server("db", _uid(99), {"volumes": [{"volume": "data-1a2b3"}]}, {})],
         "attaching"),
        (LOGS, [], "detaching"),
        (_with(LOGS, status="detaching"), [], "detaching"),
        ({**DATA, "spec": {**DATA["spec"], "sizeGB": 2}}, [], "extending"),
        (_with(DATA, status="extending"), [], "extending"),
        (OLD, [], "deleting"),
        (RESTORED, [], "creating"),
        (_with(DATA, status="error"), [], "error"),
    ],
)  # fmt: skip
def test_a_volume_s_status_is_cinder_s_word(
    body: dict[str, Any], servers: list[dict[str, Any]], expected: str
) -> None:
    assert cinder_documents.volume_status(body, servers) == expected


@pytest.mark.parametrize(
    ("server", "volume", "expected"),
    [
        (WEB, "logs", "/dev/sda"),
        (VM2, "boot", "/dev/vda"),
        (_server("x", _uid(98), {"volumes": [{"volume": "a"}, {"volume": "b", "device": "vdc"}]},
                 {}), "b", "/dev/vdc"),
        (_server("x", _uid(98), {"volumes": [{"volume": "a"}, {"volume": "b"}]}, {}), "b",
         "/dev/sdb"),
        (WEB, "data-1a2b3", None),
    ],
)  # fmt: skip
def test_the_device_a_volume_is_on(server: dict[str, Any], volume: str, expected: str) -> None:
    assert cinder_documents.device(server, volume) == expected


# --- snapshots ------------------------------------------------------------------------------


def _snapshot_schema(base: dict[str, Any], version: tuple[int, int]) -> dict[str, Any]:
    schema = copy.deepcopy(base)
    body = schema["response_body"]["properties"]
    item = body["snapshots"]["items"] if "snapshots" in body else body["snapshot"]
    for since, fields in SNAPSHOT_FIELDS.items():
        if version >= since:
            item["properties"].update(fields)
    return schema


@pytest.mark.parametrize("version", VERSIONS)
def test_every_snapshot_document_matches_tempest_s_schema(version: tuple[int, int]) -> None:
    schemas = _schema("volume.snapshots")
    pending = {"metadata": _meta("pending", _uid(31)), "spec": {"volume": "logs", "force": True}}
    for body in (NIGHTLY, pending):
        brief = cinder_documents.snapshot(body, _context(), version, detail=False)
        detail = cinder_documents.snapshot(body, _context(), version, detail=True)
        _check(_snapshot_schema(schemas.create_snapshot, version), {"snapshot": brief})
        _check(_snapshot_schema(schemas.list_snapshots_no_detail, version), {"snapshots": [brief]})
        _check(_snapshot_schema(schemas.show_snapshot, version), {"snapshot": detail})
        _check(_snapshot_schema(schemas.list_snapshots_with_detail, version),
               {"snapshots": [detail]})  # fmt: skip


def test_a_snapshot_shows_its_volume_progress_and_project() -> None:
    assert cinder_documents.snapshot(NIGHTLY, _context(), (3, 70), detail=True) == {
        "id": NIGHTLY_UID, "name": "nightly", "description": "before the upgrade",
        "status": "available", "size": 1, "volume_id": DATA_UID, "metadata": {},
        "created_at": "2026-03-01T10:00:00.000000", "updated_at": "2026-03-01T10:00:00.000000",
        "group_snapshot_id": None, "user_id": USER, "consumes_quota": True,
        "os-extended-snapshot-attributes:progress": "100%",
        "os-extended-snapshot-attributes:project_id": PROJECT,
    }  # fmt: skip
    pending = {"metadata": _meta("pending", _uid(31)), "spec": {"volume": "logs"}}
    shown = cinder_documents.snapshot(pending, _context(), (3, 0), detail=True)
    assert (shown["status"], shown["size"], shown["os-extended-snapshot-attributes:progress"]) \
        == ("creating", 2, "0%")  # fmt: skip


# --- volume types, limits, quotas -----------------------------------------------------------


@pytest.mark.parametrize("admin", [False, True], ids=["member", "admin"])
def test_volume_types_match_tempest_s_schema(admin: bool) -> None:
    schemas = _schema("volume.volume_types")
    listed = [cinder_documents.volume_type(t, admin=admin) for t in (GOLD, SECRET)]
    _check(schemas.list_volume_types, {"volume_types": listed})
    _check(schemas.show_volume_type, {"volume_type": listed[0]})


def test_a_member_sees_only_the_user_visible_extra_specs() -> None:
    assert cinder_documents.volume_type(GOLD, admin=False) == {
        "id": GOLD_UID, "name": "gold", "description": "fast disks", "is_public": True,
        "os-volume-type-access:is_public": True, "extra_specs": {"multiattach": "<is> True"},
        "qos_specs_id": None,
    }  # fmt: skip
    assert cinder_documents.volume_type(GOLD, admin=True)["extra_specs"] == {
        "volume_backend_name": "ceph", "multiattach": "<is> True"}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "project", "visible"),
    [(GOLD, "other", True), (SECRET, "demo", True), (SECRET, "other", False)],
)
def test_a_private_type_is_seen_by_the_projects_it_names(
    body: dict[str, Any], project: str, visible: bool
) -> None:
    assert cinder_documents.type_visible(body, project) is visible


QUOTA = identity_api.Quota.model_validate({"volumes": 5, "gigabytes": 50, "snapshots": -1})


def test_the_limits_are_the_project_s_quota_and_what_it_holds() -> None:
    used = cinder_documents.usage(list(VOLUMES.values()), [NIGHTLY])
    assert used == {"volumes": 5, "gigabytes": 8, "snapshots": 1}
    document = cinder_documents.limits_document(QUOTA, used)
    _check(_schema("volume.limits").show_limits, document)
    assert document == {"limits": {"rate": [], "absolute": {
        "maxTotalVolumes": 5, "maxTotalSnapshots": -1, "maxTotalVolumeGigabytes": 50,
        "maxTotalBackups": 0, "maxTotalBackupGigabytes": 0, "totalVolumesUsed": 5,
        "totalGigabytesUsed": 8, "totalSnapshotsUsed": 1, "totalBackupsUsed": 0,
        "totalBackupGigabytesUsed": 0}}}  # fmt: skip


def test_the_quota_set_with_and_without_usage() -> None:
    schemas = _schema("volume.quotas")
    plain = cinder_documents.quota_set(PROJECT, QUOTA)
    _check(schemas.show_quota_set, plain)
    assert plain == {"quota_set": {
        "id": PROJECT, "volumes": 5, "gigabytes": 50, "snapshots": -1, "backups": 0,
        "backup_gigabytes": 0, "groups": 0, "per_volume_gigabytes": 65536}}  # fmt: skip
    usage = cinder_documents.quota_set(PROJECT, QUOTA, {"volumes": 2, "gigabytes": 3})
    _check(schemas.show_quota_set_usage, usage)
    assert usage["quota_set"]["gigabytes"] == {"limit": 50, "in_use": 3, "reserved": 0}
    assert usage["quota_set"]["snapshots"] == {"limit": -1, "in_use": 0, "reserved": 0}
    defaults = cinder_documents.quota_set(PROJECT, cinder_documents.quota({}))["quota_set"]
    assert (defaults["volumes"], defaults["gigabytes"], defaults["snapshots"]) == (10, 1000, 10)


def test_the_extensions_are_those_nimbus_serves_in_cinder_s_names() -> None:
    """Horizon's volume form asks for AvailabilityZones before it lists the zones, which
    Nimbus does not serve: not listed, so not asked for."""
    document = cinder_extensions.extensions_document()
    _check(_schema("volume.extensions").list_extensions, document)
    assert [e["name"] for e in document["extensions"]] == [
        "Quotas", "UsedLimits", "VolumeTenantAttribute", "VolumeTransfer"]  # fmt: skip
    assert document["extensions"][0]["alias"] == "os-quota-sets"


# --- Nova's volume attachments --------------------------------------------------------------


@pytest.mark.parametrize("version", [(2, 1), (2, 69), (2, 70), (2, 79), (2, 88), (2, 89),
                                     (2, 96)])  # fmt: skip
def test_every_attachment_document_matches_tempest_s_schema(version: tuple[int, int]) -> None:
    first = max(v for v in ATTACHMENT_SCHEMAS if v <= version)
    schemas = _schema(f"compute.v2_{first[1]}.servers")
    listed = [cinder_documents.nova_attachment(LOGS, WEB, version),
              cinder_documents.nova_attachment(BOOT, VM2, version)]  # fmt: skip
    _check(schemas.list_volume_attachments, {"volumeAttachments": listed})
    _check(schemas.show_volume_attachment, {"volumeAttachment": listed[0]})
    created = cinder_documents.nova_attachment(LOGS, WEB, version, created=True)
    _check(schemas.attach_volume, {"volumeAttachment": created})


def test_an_attachment_at_2_96() -> None:
    assert cinder_documents.nova_attachment(BOOT, VM2, (2, 96)) == {
        "device": "/dev/vda", "serverId": VM2_UID, "volumeId": BOOT_UID, "tag": None,
        "delete_on_termination": True,
        "attachment_id": cinder_documents.attachment_id(BOOT, VM2),
        "bdm_uuid": cinder_documents.bdm_id(BOOT, VM2),
    }  # fmt: skip
    again = cinder_documents.attachment_id(copy.deepcopy(BOOT), copy.deepcopy(VM2))
    assert cinder_documents.attachment_id(BOOT, VM2) == again  # the same pair, the same id
    assert cinder_documents.attachment_id(BOOT, VM2) != cinder_documents.bdm_id(BOOT, VM2)


# --- requests: volumes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        ({"volume": {"size": 1}}, ("", {"sizeGB": 1})),
        ({"volume": {"size": "2", "name": "Data Disk", "description": "db",
                     "volume_type": "gold", "metadata": {"tier": "db"},
                     "availability_zone": "zone-a", "multiattach": True}},
         ("Data Disk", {"sizeGB": 2, "volumeType": "gold", "availabilityZone": "zone-a",
                        "multiattach": True, "description": "db", "metadata": {"tier": "db"}})),
        ({"volume": {"size": 1, "volume_type": SECRET_UID}},
         ("", {"sizeGB": 1, "volumeType": "secret"})),
        # Cinder's default type, by name or id (Horizon offers it): no type, the cluster's
        # default StorageClass
        ({"volume": {"size": 1, "volume_type": "__DEFAULT__"}}, ("", {"sizeGB": 1})),
        ({"volume": {"size": 1, "volume_type": cinder_documents.DEFAULT_TYPE_ID}},
         ("", {"sizeGB": 1})),
        ({"volume": {"snapshot_id": NIGHTLY_UID, "name": "r"}},
         ("r", {"sizeGB": 1, "source": {"snapshot": "nightly"}})),
        ({"volume": {"source_volid": LOGS_UID, "size": 3}},
         ("", {"sizeGB": 3, "source": {"volume": "logs"}})),
        ({"volume": {"imageRef": CIRROS_UID, "size": 1}},
         ("", {"sizeGB": 1, "source": {"image": {"name": "cirros"}}})),
    ],
)  # fmt: skip
def test_a_create_request_is_a_volume_spec(
    request_body: dict[str, Any], expected: tuple[str, dict[str, Any]]
) -> None:
    assert volume_request.volume_create(request_body, _context()) == expected


@pytest.mark.parametrize(
    ("request_body", "code", "message"),
    [
        ({}, 400, "Invalid input for field/attribute volume. Value: None. 'volume' is a required "
         "property"),
        ({"volume": {}}, 400, "Invalid input for field/attribute volume. Value: {}. 'size' is a "
         "required property, unless the volume is made from a snapshot or a volume"),
        ({"volume": {"size": 0}}, 400, "Invalid input for field/attribute volume/size. Value: "
         "0. 0 is less than the minimum of 1"),
        ({"volume": {"size": "big"}}, 400, "Invalid input for field/attribute volume/size. "
         "Value: big. 'big' is not of type 'integer', 'string'"),
        ({"volume": {"size": 70000}}, 400, "Invalid input for field/attribute volume/size. "
         "Value: 70000. 70000 is greater than the maximum of 65536: Nimbus holds a volume to "
         "65536 GB"),
        ({"volume": {"size": 1, "name": "x" * 256}}, 400, "Invalid input for field/attribute "
         f"volume/name. Value: {'x' * 256}. '{'x' * 256}' is longer than 255"),
        ({"volume": {"size": 1, "volume_type": "platinum"}}, 404,
         "Volume type with name platinum could not be found."),
        ({"volume": {"size": 1, "snapshot_id": _uid(77)}}, 404,
         f"Snapshot {_uid(77)} could not be found."),
        ({"volume": {"size": 1, "snapshot_id": NIGHTLY_UID, "imageRef": CIRROS_UID}}, 400,
         "Invalid input received: give one source of snapshot_id, imageRef"),
        ({"volume": {"size": 1, "source_volid": LOGS_UID}}, 400, "Invalid input received: "
         "Volume size '1'GB cannot be smaller than the original volume size 2GB. They must be "
         ">= original volume size."),
        ({"volume": {"source_volid": RESTORED_UID}}, 400, f"Invalid volume: Volume "
         f"{RESTORED_UID} status must be available or in-use to be cloned, but current status "
         "is: creating."),
        ({"volume": {"size": 1, "imageRef": "ubuntu"}}, 400,
         "Invalid image identifier or unable to access requested image."),
        ({"volume": {"size": 1, "backup_id": _uid(5)}}, 400, "backup_id: Nimbus has no backup "
         "service; create the volume from a snapshot (snapshot_id) instead"),
        ({"volume": {"size": 1, "metadata": {"k": 1}}}, 400, "Invalid input for field/attribute "
         "volume/metadata/k. Value: 1. 1 is not a string of at most 255 characters"),
    ],
)  # fmt: skip
def test_what_cinder_refuses_of_a_create(
    request_body: dict[str, Any], code: int, message: str
) -> None:
    with pytest.raises(faults.Fault) as refused:
        volume_request.volume_create(request_body, _context())
    assert (refused.value.code, refused.value.message) == (code, message)


def test_an_update_is_a_merge_patch_and_a_rename_an_annotation() -> None:
    patch = volume_request.update(
        {"volume": {"name": "Data", "description": "", "metadata": {"tier": "web", "x": "y"}}},
        DATA, "volume")  # fmt: skip
    assert patch == {
        "metadata": {"annotations": {documents.NAME_ANNOTATION: "Data"}},
        "spec": {"description": "", "metadata": {"tier": "web", "x": "y"}},
    }
    back = volume_request.update({"volume": {"name": "data-1a2b3"}}, DATA, "volume")
    assert back == {"metadata": {"annotations": {documents.NAME_ANNOTATION: None}}, "spec": {}}
    gone = volume_request.metadata_patch(DATA, {"other": "1"}, replace=True)
    assert gone == {"spec": {"metadata": {"tier": None, "other": "1"}}}
    kept = volume_request.metadata_patch(DATA, {"other": "1"}, replace=False)
    assert kept == {"spec": {"metadata": {"other": "1"}}}


@pytest.mark.parametrize(
    ("action", "argument", "status", "version", "outcome"),
    [
        ("os-extend", {"new_size": 2}, "available", (3, 0), {"spec": {"sizeGB": 2}}),
        ("os-extend", {"new_size": "3"}, "in-use", (3, 42), {"spec": {"sizeGB": 3}}),
        ("os-extend", {"new_size": 2}, "in-use", (3, 41), (400, f"Invalid volume: Volume "
         f"{DATA_UID} status must be 'available' to extend, but current status is: in-use.")),
        ("os-extend", {"new_size": 1}, "available", (3, 70), (400, "Invalid input received: New "
         "size for extend must be greater than current size. (current: 1, extended: 1).")),
        ("os-extend", {}, "available", (3, 70), (400, "Invalid input for field/attribute "
         "os-extend. Value: {}. 'new_size' is a required property")),
        ("os-extend", {"new_size": 2}, "creating", (3, 70), (400, f"Invalid volume: Volume "
         f"{DATA_UID} status must be 'available' or 'in-use' to extend, but current status is: "
         "creating.")),
        ("os-set_bootable", {"bootable": "True"}, "available", (3, 0),
         {"spec": {"bootable": True}}),
        ("os-retype", {"new_type": "x"}, "available", (3, 70), (400, "There is no such action: "
         "os-retype; Nimbus serves os-extend and os-set_bootable")),
    ],
)  # fmt: skip
def test_volume_actions(
    action: str, argument: Any, status: str, version: tuple[int, int], outcome: Any
) -> None:
    if isinstance(outcome, dict):
        assert volume_request.volume_action(action, argument, DATA, status, version) == outcome
        return
    with pytest.raises(faults.Fault) as refused:
        volume_request.volume_action(action, argument, DATA, status, version)
    assert (refused.value.code, refused.value.message) == outcome


# --- requests: snapshots --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snapshot", "version", "outcome"),
    [
        ({"volume_id": DATA_UID, "name": "Before Upgrade", "description": "d"}, (3, 0),
         ("Before Upgrade", {"volume": "data-1a2b3", "force": False, "description": "d"})),
        ({"volume_id": LOGS_UID, "force": True}, (3, 65), ("", {"volume": "logs", "force": True})),
        ({"volume_id": LOGS_UID}, (3, 66), ("", {"volume": "logs", "force": True})),
        ({"volume_id": LOGS_UID}, (3, 65), (400, f"Invalid volume: Volume {LOGS_UID} status "
         "must be available, but current status is: in-use; give force to snapshot it while in "
         "use.")),
        ({"volume_id": LOGS_UID, "force": False}, (3, 66), (400, "Invalid input for "
         "field/attribute snapshot/force. Value: False. since microversion 3.66 a snapshot of "
         "an in-use volume needs no force: give true or leave it out")),
        ({"volume_id": RESTORED_UID, "force": True}, (3, 70), (400, f"Invalid volume: Volume "
         f"{RESTORED_UID} status must be available, but current status is: creating.")),
        ({"volume_id": _uid(77)}, (3, 70), (404, f"Volume {_uid(77)} could not be found.")),
        ({"name": "x"}, (3, 70), (400, "Invalid input for field/attribute snapshot. Value: "
         "{'name': 'x'}. 'volume_id' is a required property")),
    ],
)  # fmt: skip
def test_a_snapshot_request_is_a_snapshot_spec(
    snapshot: dict[str, Any], version: tuple[int, int], outcome: Any
) -> None:
    quota = identity_api.Quota()
    if isinstance(outcome[1], dict):
        made = volume_request.snapshot_create({"snapshot": snapshot}, _context(), version,
                                              quota=quota)  # fmt: skip
        assert made == outcome
        return
    with pytest.raises(faults.Fault) as refused:
        volume_request.snapshot_create({"snapshot": snapshot}, _context(), version, quota=quota)
    assert (refused.value.code, refused.value.message) == outcome


def test_a_snapshot_past_the_quota_is_cinder_s_413() -> None:
    with pytest.raises(faults.Fault) as refused:
        volume_request.snapshot_create({"snapshot": {"volume_id": DATA_UID}}, _context(),
                                       (3, 70), quota=identity_api.Quota(snapshots=1))  # fmt: skip
    assert (refused.value.code, refused.value.message) == (413, "SnapshotLimitExceeded: Maximum "
            "number of snapshots allowed (1) exceeded for quota 'snapshots'.")  # fmt: skip


# --- requests: attach and detach ------------------------------------------------------------


def test_an_attach_adds_the_volume_to_the_server_as_it_was_read() -> None:
    patch = volume_request.attach(
        {"volumeAttachment": {"volumeId": DATA_UID, "device": "vdb",
                              "delete_on_termination": True}},
        WEB, DATA, [WEB, VM2], (2, 79))  # fmt: skip
    assert patch == {"metadata": {"resourceVersion": "42"}, "spec": {"volumes": [
        {"volume": "logs"},
        {"volume": "data-1a2b3", "device": "/dev/vdb", "deleteOnTermination": True}]}}  # fmt: skip
    # before 2.79 delete_on_termination is not Nova's to take
    plain = volume_request.attach({"volumeAttachment": {"volumeId": DATA_UID,
                                   "delete_on_termination": True, "device": None}},
                                  WEB, DATA, [WEB], (2, 1))  # fmt: skip
    assert plain["spec"]["volumes"][-1] == {"volume": "data-1a2b3"}
    shared = {**LOGS, "spec": {**LOGS["spec"], "multiattach": True}}
    second = volume_request.attach({"volumeAttachment": {"volumeId": LOGS_UID}}, VM2, shared,
                                   [WEB, VM2], (2, 96))  # fmt: skip
    assert second["spec"]["volumes"] == [{"volume": "logs"}]


BUILDING = _server("new", _uid(97), {"image": {"name": "cirros"}}, {"status": "BUILD"})
FULL = _server("full", _uid(96), {"image": {"name": "cirros"},
               "volumes": [{"volume": f"v{i}"} for i in range(26)]},
               {"status": "ACTIVE", "powerState": "RUNNING"})  # fmt: skip


@pytest.mark.parametrize(
    ("attachment", "server", "volume", "code", "message"),
    [
        ({"volumeId": _uid(77)}, WEB, None, 404, f"Volume {_uid(77)} could not be found."),
        ({}, WEB, None, 400, "Invalid input for field/attribute volumeAttachment. Value: {}. "
         "'volumeId' is a required property"),
        ({"volumeId": LOGS_UID}, WEB, LOGS, 400, f"Invalid volume: volume {LOGS_UID} already "
         "attached"),
        ({"volumeId": LOGS_UID}, VM2, LOGS, 400, f"Invalid volume: volume {LOGS_UID} status must "
         "be available to attach, but current status is: in-use (attached to web)"),
        ({"volumeId": RESTORED_UID}, WEB, RESTORED, 400, f"Invalid volume: volume {RESTORED_UID} "
         "status must be available to attach, but current status is: creating"),
        ({"volumeId": DATA_UID}, BUILDING, DATA, 409, f"Cannot 'attach_volume' instance "
         f"{_uid(97)} while it is in vm_state building"),
        ({"volumeId": DATA_UID}, FULL, DATA, 403, "The maximum allowed number of disk devices "
         "(26) to attach to a single instance has been exceeded."),
        ({"volumeId": DATA_UID, "device": "/dev/sda"}, WEB, DATA, 400, "The supplied device path "
         "(/dev/sda) is in use."),
        ({"volumeId": DATA_UID, "device": "disk1"}, WEB, DATA, 400, "Invalid input for "
         "field/attribute volumeAttachment/device. Value: disk1. 'disk1' does not match "
         "'^(/dev/)?[a-z]{2,3}[a-z]$': a disk such as /dev/vdb"),
        ({"volumeId": DATA_UID, "tag": "db"}, WEB, DATA, 400, "tag: Nimbus keeps no device "
         "tags; attach without one"),
    ],
)  # fmt: skip
def test_what_nova_refuses_of_an_attach(
    attachment: dict[str, Any], server: dict[str, Any], volume: dict[str, Any] | None,
    code: int, message: str,
) -> None:  # fmt: skip
    with pytest.raises(faults.Fault) as refused:
        volume_request.attach({"volumeAttachment": attachment}, server, volume, [WEB, VM2],
                              (2, 96))  # fmt: skip
    assert (refused.value.code, refused.value.message) == (code, message)


def test_a_detach_takes_the_volume_out_and_refuses_the_root() -> None:
    assert volume_request.detach(WEB, LOGS, LOGS_UID) == {
        "metadata": {"resourceVersion": "42"}, "spec": {"volumes": []}}  # fmt: skip
    for volume, ref, code, message in [
        (BOOT, BOOT_UID, 400, "Cannot detach a root device volume"),
        (DATA, DATA_UID, 404, f"volume_id not found: {DATA_UID}"),
        (None, "nope", 404, "volume_id not found: nope"),
    ]:
        with pytest.raises(faults.Fault) as refused:
            volume_request.detach(VM2 if volume is BOOT else WEB, volume, ref)
        assert (refused.value.code, refused.value.message) == (code, message)


# --- microversions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, (3, 0)),
        ({"OpenStack-API-Version": "volume 3.70"}, (3, 70)),
        ({"OpenStack-API-Version": "volume latest"}, (3, 70)),
        ({"OpenStack-API-Version": "compute 2.96"}, (3, 0)),
        ({"OpenStack-API-Version": "volume 3.71"}, "Version 3.71 is not supported by the API. "
         "Minimum is 3.0 and maximum is 3.70."),
        ({"OpenStack-API-Version": "volume 2.0"}, "Version 2.0 is not supported by the API. "
         "Minimum is 3.0 and maximum is 3.70."),
    ],
)  # fmt: skip
def test_the_microversion_asked_for(headers: dict[str, str], expected: Any) -> None:
    request = make_mocked_request("GET", "/volume/v3/x/volumes", headers=headers)
    if isinstance(expected, tuple):
        assert cinder.microversion(request) == expected
        return
    with pytest.raises(faults.Fault) as refused:
        cinder.microversion(request)
    assert (refused.value.code, refused.value.message) == (406, expected)
