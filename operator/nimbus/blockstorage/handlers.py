"""kopf handlers of blockstorage.nimbus.dev: volume types."""

from __future__ import annotations

from typing import Any

import kopf

from nimbus import meta, reporting
from nimbus.blockstorage import api, render
from nimbus.conditions import Condition
from nimbus.k8s import client


@kopf.on.resume(api.GROUP, meta.VERSION, "volumetypes")
@kopf.on.create(api.GROUP, meta.VERSION, "volumetypes")
@kopf.on.update(api.GROUP, meta.VERSION, "volumetypes")
async def volume_type(body: kopf.Body, name: str, memo: kopf.Memo, **_: Any) -> None:
    """A StorageClass (and VolumeSnapshotClass) for a provisioner; an existing class is used
    as it is, once it is there."""
    spec = api.VolumeTypeSpec.model_validate(body["spec"])
    for obj in render.render_storage_class(name, spec, client.owner_reference(dict(body))):
        await memo.api.apply(obj)
    storage_class = spec.storage_class or render.storage_class_name(name)
    snapshot_class = spec.snapshot_class or (
        render.storage_class_name(name) if spec.provisioner else None
    )
    found = await memo.api.get("storage.k8s.io/v1", "StorageClass", storage_class)
    exists = (
        Condition("StorageClassFound", "True", "StorageClassFound")
        if found is not None
        else Condition(
            "StorageClassFound",
            "False",
            "StorageClassNotFound",
            f'spec.storageClass: StorageClass "{storage_class}" not found',
        )
    )
    await reporting.report(
        memo.api,
        dict(body),
        fields={"storageClass": storage_class, "volumeSnapshotClass": snapshot_class},
        wanted=[exists],
        observed=found is not None,
    )
    if found is None:
        raise kopf.TemporaryError(exists.message, delay=15)
