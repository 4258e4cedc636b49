"""Cinder's requests (POST and PUT /volumes, the volume actions, POST /snapshots) and Nova's
attach and detach (os-volume_attachments) as Volume and Snapshot specs and merge patches.

Pure: the request body and the objects it refers to in (a cinder_documents.Context); the
OpenStack name and spec, or the merge patch, out; or the fault Cinder or Nova answers, in its
words (faults.invalid for a body their JSON schemas refuse)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from nimbus.identity import api as identity_api
from nimbus.openstack import cinder_documents, documents, faults, server_actions

Body = Mapping[str, Any]
DEVICE = r"^(/dev/)?[a-z]{2,3}[a-z]$"  # compute.api.ServerVolume.device
MAX_VOLUMES = 26  # compute.api.ServerSpec.volumes: a disk per letter
# Nova's attach_volume and detach_volume (check_instance_state), with no task under way.
ATTACH_STATES = frozenset({"active", "paused", "stopped", "resized", "soft-delete", "shelved",
                           "shelved_offloaded"})  # fmt: skip
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


def _object(request: Any, key: str) -> Mapping[str, Any]:
    body = request.get(key) if isinstance(request, Mapping) else None
    if not isinstance(body, Mapping):
        raise faults.invalid(key, body, f"'{key}' is a required property")
    return body


def _text(body: Body, keys: tuple[str, ...], path: str, maximum: int = 255) -> str | None:
    """The first of `keys` given (Cinder still takes display_name and display_description)."""
    key = next((k for k in keys if k in body), None)
    if key is None or body[key] is None:
        return None
    value = body[key]
    if not isinstance(value, str):
        raise faults.invalid(f"{path}/{key}", value, f"{value!r} is not of type 'string'")
    if len(value) > maximum:
        raise faults.invalid(f"{path}/{key}", value, f"{value!r} is longer than {maximum}")
    return value


def _integer(value: Any, path: str, *, maximum: int = cinder_documents.PER_VOLUME_GIGABYTES) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise faults.invalid(path, value, f"{value!r} is not of type 'integer', 'string'")
    if value < 1:
        raise faults.invalid(path, value, f"{value} is less than the minimum of 1")
    if value > maximum:
        raise faults.invalid(path, value, f"{value} is greater than the maximum of {maximum}: "
                             "Nimbus holds a volume to 65536 GB")  # fmt: skip
    return value


def _boolean(body: Body, key: str, path: str) -> bool | None:
    value = body.get(key)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise faults.invalid(f"{path}/{key}", value, f"{value!r} is not of type 'boolean'")


def metadata(value: Any, path: str) -> dict[str, str]:
    """Cinder's metadata: at most 128 string pairs, keys of 1 to 255 characters, values of at
    most 255."""
    if not isinstance(value, Mapping):
        raise faults.invalid(path, value, f"{value!r} is not of type 'object'")
    if len(value) > 128:
        raise faults.invalid(path, dict(value), "at most 128 metadata items are allowed")
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise faults.invalid(path, dict(value), f"key {key!r} is not 1 to 255 characters")
        if not isinstance(item, str) or len(item) > 255:
            raise faults.invalid(f"{path}/{key}", item, f"{item!r} is not a string of at most "
                                 "255 characters")  # fmt: skip
    return dict(value)


def lookup(objects: Mapping[str, Body], ref: str) -> Body | None:
    """The object an OpenStack id (uid) or name (OpenStack's or Kubernetes') refers to."""
    for key in ("uid", "name"):
        for body in objects.values():
            if (body.get("metadata") or {}).get(key) == ref:
                return body
    return next((b for b in objects.values() if documents.display_name(b) == ref), None)


# --- volumes --------------------------------------------------------------------------------


def _source(
    body: Body, context: cinder_documents.Context, size: int | None
) -> tuple[dict[str, Any] | None, int | None]:
    """The volume's spec.source and its size (the source's when none is asked for)."""
    given = [k for k in ("snapshot_id", "source_volid", "imageRef", "backup_id") if body.get(k)]
    if len(given) > 1:
        raise faults.Fault(400, f"Invalid input received: give one source of {', '.join(given)}")
    if not given:
        return None, size
    key, ref = given[0], str(body[given[0]])
    if key == "backup_id":
        raise faults.Fault(400, "backup_id: Nimbus has no backup service; create the volume "
                           "from a snapshot (snapshot_id) instead")  # fmt: skip
    if key == "snapshot_id":
        snapshot = lookup(context.snapshots, ref)
        if snapshot is None:
            raise faults.Fault(404, f"Snapshot {ref} could not be found.")
        if cinder_documents.snapshot_status(snapshot) != "available":
            raise faults.Fault(400, "Invalid snapshot: Originating snapshot status must be one "
                               "of 'available' values")  # fmt: skip
        least = cinder_documents.snapshot(snapshot, context, (3, 0), detail=False)["size"]
        what, source = "snapshot", {"snapshot": snapshot["metadata"]["name"]}
    elif key == "source_volid":
        origin = lookup(context.volumes, ref)
        if origin is None:
            raise faults.Fault(404, f"Volume {ref} could not be found.")
        word = cinder_documents.volume_status(origin, context.servers)
        if word not in ("available", "in-use"):
            raise faults.Fault(400, f"Invalid volume: Volume {ref} status must be available or "
                               f"in-use to be cloned, but current status is: {word}.")  # fmt: skip
        least = cinder_documents.volume_size(origin)
        what, source = "original volume", {"volume": origin["metadata"]["name"]}
    else:
        image = lookup(context.images, ref)
        if image is None:
            raise faults.Fault(400, "Invalid image identifier or unable to access requested "
                               "image.")  # fmt: skip
        if ((image.get("status") or {}).get("status") or "queued") != "active":
            raise faults.Fault(400, f"Invalid input received: Image {ref} is not active.")
        least = int((image.get("spec") or {}).get("minDiskGB") or 0)
        if size is None:
            raise faults.invalid("volume/size", None, "a size is required for a volume made "
                                 "from an image")  # fmt: skip
        if size < least:
            raise faults.Fault(400, f"Invalid input received: Volume size {size}GB cannot be "
                               f"smaller than the image minDisk size {least}GB.")  # fmt: skip
        return {"image": {"name": image["metadata"]["name"]}}, size
    if size is not None and size < least:
        raise faults.Fault(400, f"Invalid input received: Volume size '{size}'GB cannot be "
                           f"smaller than the {what} size {least}GB. They must be >= "
                           f"{what} size.")  # fmt: skip
    return source, size or least or 1


def volume_create(request: Any, context: cinder_documents.Context) -> tuple[str, dict[str, Any]]:
    """Cinder's POST /volumes body -> (the OpenStack name, the Volume's spec). `context.types`
    holds only the volume types the project may use."""
    body = _object(request, "volume")
    name = _text(body, ("name", "display_name"), "volume") or ""
    description = _text(body, ("description", "display_description"), "volume")
    size = None if body.get("size") is None else _integer(body["size"], "volume/size")
    source, size = _source(body, context, size)
    if size is None:
        raise faults.invalid("volume", dict(body), "'size' is a required property, unless the "
                             "volume is made from a snapshot or a volume")  # fmt: skip
    spec: dict[str, Any] = {"sizeGB": size}
    if source is not None:
        spec["source"] = source
    if body.get("volume_type") and not cinder_documents.is_default_type(str(body["volume_type"])):
        ref = str(body["volume_type"])
        found = lookup(context.types, ref)
        if found is None:
            message = (f"Volume type {ref} could not be found." if _UUID.match(ref)
                       else f"Volume type with name {ref} could not be found.")  # fmt: skip
            raise faults.Fault(404, message)
        spec["volumeType"] = found["metadata"]["name"]
    zone = _text(body, ("availability_zone",), "volume", maximum=63)
    if zone:
        spec["availabilityZone"] = zone
    if _boolean(body, "multiattach", "volume"):
        spec["multiattach"] = True
    for key in ("consistencygroup_id", "group_id"):
        if body.get(key):
            raise faults.Fault(400, f"{key}: Nimbus has no consistency or volume groups")
    if description:
        spec["description"] = description
    if body.get("metadata"):
        spec["metadata"] = metadata(body["metadata"], "volume/metadata")
    return name, spec


def rename(current: Body, name: str) -> dict[str, Any]:
    """The metadata part of a merge patch that gives the object an OpenStack name."""
    same = name == current["metadata"]["name"]
    return {"annotations": {documents.NAME_ANNOTATION: None if same else name}}


def metadata_patch(current: Body, wanted: Mapping[str, str], *, replace: bool) -> dict[str, Any]:
    """A merge patch of spec.metadata: `wanted` added (with `replace`, all else removed)."""
    old = (current.get("spec") or {}).get("metadata") or {}
    gone = {k: None for k in old if k not in wanted} if replace else {}
    return {"spec": {"metadata": {**gone, **wanted}}}


def update(request: Any, current: Body, key: str) -> dict[str, Any]:
    """PUT /volumes/{id} or /snapshots/{id} (`key`: volume, snapshot): name, description and
    (volumes) metadata, as a merge patch of the object."""
    body = _object(request, key)
    patch: dict[str, Any] = {"spec": {}}
    if "name" in body or "display_name" in body:
        patch["metadata"] = rename(current, _text(body, ("name", "display_name"), key) or "")
    if "description" in body or "display_description" in body:
        keys = ("description", "display_description")
        patch["spec"]["description"] = _text(body, keys, key) or ""
    if key == "volume" and "metadata" in body:
        wanted = metadata(body["metadata"], "volume/metadata")
        patch["spec"].update(metadata_patch(current, wanted, replace=True)["spec"])
    return patch


def volume_action(
    action: str, argument: Any, current: Body, status: str, version: tuple[int, int]
) -> dict[str, Any]:
    """The merge patch of the Volume for a POST /volumes/{id}/action: os-extend (from 3.42 an
    in-use volume too) and os-set_bootable; Cinder's 400 for the others."""
    ident = current["metadata"]["uid"]
    if action == "os-extend":
        if not isinstance(argument, Mapping) or "new_size" not in argument:
            raise faults.invalid("os-extend", argument, "'new_size' is a required property")
        new_size = _integer(argument["new_size"], "os-extend/new_size")
        allowed = ("available", "in-use") if version >= (3, 42) else ("available",)
        if status not in allowed:
            expected = " or ".join(f"'{s}'" for s in allowed)
            raise faults.Fault(400, f"Invalid volume: Volume {ident} status must be {expected} "
                               f"to extend, but current status is: {status}.")  # fmt: skip
        size = cinder_documents.volume_size(current)
        if new_size <= size:
            raise faults.Fault(400, "Invalid input received: New size for extend must be "
                               f"greater than current size. (current: {size}, extended: "
                               f"{new_size}).")  # fmt: skip
        return {"spec": {"sizeGB": new_size}}
    if action == "os-set_bootable":
        wanted = _boolean(argument if isinstance(argument, Mapping) else {}, "bootable",
                          "os-set_bootable")  # fmt: skip
        if wanted is None:
            raise faults.invalid("os-set_bootable", argument, "'bootable' is a required property")
        return {"spec": {"bootable": wanted}}
    raise faults.Fault(400, f"There is no such action: {action}; Nimbus serves os-extend and "
                       "os-set_bootable")  # fmt: skip


# --- snapshots ------------------------------------------------------------------------------


def snapshot_create(
    request: Any,
    context: cinder_documents.Context,
    version: tuple[int, int],
    *,
    quota: identity_api.Quota,
) -> tuple[str, dict[str, Any]]:
    """Cinder's POST /snapshots body -> (the OpenStack name, the Snapshot's spec). An in-use
    volume needs force before 3.66, as in Cinder; from 3.66 it needs none, and force false is
    refused."""
    body = _object(request, "snapshot")
    if not body.get("volume_id"):
        raise faults.invalid("snapshot", dict(body), "'volume_id' is a required property")
    ref = str(body["volume_id"])
    volume = lookup(context.volumes, ref)
    if volume is None:
        raise faults.Fault(404, f"Volume {ref} could not be found.")
    if 0 <= quota.snapshots <= len(context.snapshots):
        raise faults.Fault(413, "SnapshotLimitExceeded: Maximum number of snapshots allowed "
                           f"({quota.snapshots}) exceeded for quota 'snapshots'.")  # fmt: skip
    force = _boolean(body, "force", "snapshot")
    if version >= (3, 66) and force is False:
        raise faults.invalid("snapshot/force", body["force"], "since microversion 3.66 a "
                             "snapshot of an in-use volume needs no force: give true or leave "
                             "it out")  # fmt: skip
    force = force or version >= (3, 66)
    status = cinder_documents.volume_status(volume, context.servers)
    if status != "available" and not (force and status in ("in-use", "attaching", "detaching")):
        hint = "; give force to snapshot it while in use" if status == "in-use" else ""
        ident = volume["metadata"]["uid"]
        raise faults.Fault(400, f"Invalid volume: Volume {ident} status must be available, "
                           f"but current status is: {status}{hint}.")  # fmt: skip
    spec: dict[str, Any] = {"volume": volume["metadata"]["name"], "force": bool(force)}
    description = _text(body, ("description", "display_description"), "snapshot")
    if description:
        spec["description"] = description
    if body.get("metadata"):
        spec["metadata"] = metadata(body["metadata"], "snapshot/metadata")
    return _text(body, ("name", "display_name"), "snapshot") or "", spec


# --- Nova: attach and detach ----------------------------------------------------------------


def check_server(server: Body, action: str) -> None:
    """Nova's 409 for attaching or detaching (`action`) on a server in a state that refuses it."""
    vm_state, task_state = server_actions.server_state(dict(server))
    where = (f"vm_state {vm_state}" if vm_state not in ATTACH_STATES
             else f"task_state {task_state}" if task_state is not None else None)  # fmt: skip
    if where is not None:
        raise faults.Fault(
            409, f"Cannot '{action}' instance {server['metadata']['uid']} while it is in {where}"
        )


def _versioned(server: Body, volumes: list[dict[str, Any]]) -> dict[str, Any]:
    """A merge patch of spec.volumes that only applies to the server as it was read."""
    version = server["metadata"].get("resourceVersion")
    return {"metadata": {"resourceVersion": version}, "spec": {"volumes": volumes}}


def attach(
    request: Any,
    server: Body,
    volume: Body | None,
    servers: Sequence[Body],
    version: tuple[int, int],
) -> dict[str, Any]:
    """Nova's POST /servers/{id}/os-volume_attachments as a merge patch of the Server's
    spec.volumes. `volume`: the one volumeId names, None when the project has none such."""
    body = _object(request, "volumeAttachment")
    ref = body.get("volumeId")
    if not isinstance(ref, str) or not ref:
        raise faults.invalid("volumeAttachment", dict(body), "'volumeId' is a required property")
    if volume is None:
        raise faults.Fault(404, f"Volume {ref} could not be found.")
    if body.get("tag") is not None:
        raise faults.Fault(400, "tag: Nimbus keeps no device tags; attach without one")
    given = body.get("device")
    if given is not None and (not isinstance(given, str) or not re.match(DEVICE, given)):
        raise faults.invalid("volumeAttachment/device", given, f"{given!r} does not match "
                             f"'{DEVICE}': a disk such as /dev/vdb")  # fmt: skip
    delete = _boolean(body, "delete_on_termination", "volumeAttachment") if version >= (
        2, 79) else None  # fmt: skip
    check_server(server, "attach_volume")
    name, ident = volume["metadata"]["name"], volume["metadata"]["uid"]
    spec = server.get("spec") or {}
    current = [dict(v) for v in spec.get("volumes") or []]
    if any(v.get("volume") == name for v in current) or (
        (spec.get("bootVolume") or {}).get("name") == name
    ):
        raise faults.Fault(400, f"Invalid volume: volume {ident} already attached")
    multiattach = bool((volume.get("spec") or {}).get("multiattach"))
    status = cinder_documents.volume_status(volume, servers)
    if status != "available" and not (multiattach and status in ("in-use", "attaching")):
        others = [documents.display_name(s) for s in cinder_documents.holders(name, servers)]
        held = f" (attached to {', '.join(others)})" if others else ""
        raise faults.Fault(400, f"Invalid volume: volume {ident} status must be available to "
                           f"attach, but current status is: {status}{held}")  # fmt: skip
    if len(current) >= MAX_VOLUMES:
        raise faults.Fault(403, "The maximum allowed number of disk devices (26) to attach to "
                           "a single instance has been exceeded.")  # fmt: skip
    entry: dict[str, Any] = {"volume": name}
    if given:
        path = given if given.startswith("/dev/") else f"/dev/{given}"
        if any(cinder_documents.device(server, str(v["volume"])) == path for v in current):
            raise faults.Fault(400, f"The supplied device path ({path}) is in use.")
        entry["device"] = path
    if delete:
        entry["deleteOnTermination"] = True
    return _versioned(server, [*current, entry])


def detach(server: Body, volume: Body | None, ref: str) -> dict[str, Any]:
    """Nova's DELETE /servers/{id}/os-volume_attachments/{volume_id} as a merge patch."""
    spec = server.get("spec") or {}
    name = volume["metadata"]["name"] if volume is not None else None
    if name is not None and (spec.get("bootVolume") or {}).get("name") == name:
        raise faults.Fault(400, "Cannot detach a root device volume")
    current = [dict(v) for v in spec.get("volumes") or []]
    if name is None or not any(v.get("volume") == name for v in current):
        raise faults.Fault(404, f"volume_id not found: {ref}")
    check_server(server, "detach_volume")
    return _versioned(server, [v for v in current if v.get("volume") != name])
