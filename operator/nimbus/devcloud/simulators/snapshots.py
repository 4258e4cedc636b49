"""external-snapshotter, simulated: a VolumeSnapshot that names no class gets the default one (as
the snapshot controller writes it into the spec, where CDI reads it to restore from it); one of
a bound claim becomes readyToUse with the claim's size; one whose claim is not bound within two
minutes reports the error."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from nimbus.k8s import client
from nimbus.runtime import retrying

from . import shared


@kopf.on.event("snapshot.storage.k8s.io", "v1", "volumesnapshots")
@retrying.retried
async def volume_snapshot(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    api: client.Client = memo.api
    metadata, status = body["metadata"], body.get("status") or {}
    if metadata.get("deletionTimestamp") or status.get("readyToUse"):
        return
    if not body["spec"].get("volumeSnapshotClassName"):
        default = await _default_class(api)
        if default is not None:
            await api.patch(
                shared.SNAPSHOT, "VolumeSnapshot", metadata["name"], metadata["namespace"],
                {"spec": {"volumeSnapshotClassName": default}},
            )  # fmt: skip
    claim_name = body["spec"]["source"].get("persistentVolumeClaimName")
    pvc = None
    for _attempt in range(240):  # up to two minutes for the claim to be bound
        pvc = await api.get("v1", "PersistentVolumeClaim", claim_name, metadata["namespace"])
        if pvc is not None and pvc.get("status", {}).get("phase") == "Bound":
            break
        await asyncio.sleep(0.5)
    else:
        error = {
            "time": shared.now(),
            "message": f"PersistentVolumeClaim {claim_name} is not bound",
        }
        await api.patch_status(
            shared.SNAPSHOT, "VolumeSnapshot", metadata["name"], metadata["namespace"],
            {"readyToUse": False, "error": error},
        )  # fmt: skip
        return
    assert pvc is not None
    await asyncio.sleep(shared.STEP)
    await api.patch_status(
        shared.SNAPSHOT, "VolumeSnapshot", metadata["name"], metadata["namespace"],
        {"readyToUse": True, "creationTime": shared.now(),
         "restoreSize": pvc["status"]["capacity"]["storage"],
         "boundVolumeSnapshotContentName": f"snapcontent-{metadata['uid']}"},
    )  # fmt: skip


async def _default_class(api: client.Client) -> str | None:
    for snapshot_class in await api.list(shared.SNAPSHOT, "VolumeSnapshotClass"):
        annotations = snapshot_class["metadata"].get("annotations") or {}
        if annotations.get("snapshot.storage.kubernetes.io/is-default-class") == "true":
            return str(snapshot_class["metadata"]["name"])
    return None
