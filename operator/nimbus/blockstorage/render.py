"""VolumeType -> StorageClass (+ VolumeSnapshotClass); Volume -> PVC or DataVolume;
Snapshot -> VolumeSnapshot."""

from __future__ import annotations

import dataclasses
from typing import Any

from nimbus.blockstorage import api
from nimbus.runtime import templating

MANAGED = {"app.kubernetes.io/managed-by": "nimbus"}


def _owner(owner: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [owner] if owner else []


def storage_class_name(volume_type: str) -> str:
    """The StorageClass Nimbus makes for a volume type with a provisioner."""
    return f"nimbus-{volume_type}"


def render_storage_class(
    name: str, spec: api.VolumeTypeSpec, owner: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The StorageClass and VolumeSnapshotClass of a volume type with a provisioner; nothing
    for a volume type over an existing StorageClass."""
    if spec.provisioner is None:
        return []
    labels = {**MANAGED, "blockstorage.nimbus.dev/volume-type": name}
    common = {"name": storage_class_name(name), "labels": labels, "owner": _owner(owner)}
    objects = [
        templating.render(
            "storageclass.yaml.j2",
            provisioner=spec.provisioner,
            parameters=spec.parameters,
            allow_volume_expansion=spec.allow_volume_expansion,
            **common,
        )
    ]
    if spec.snapshot_class is None:
        objects.append(
            templating.render("volumesnapshotclass.yaml.j2", driver=spec.provisioner, **common)
        )
    return objects


@dataclasses.dataclass(frozen=True)
class VolumeInputs:
    """A Volume with its source resolved by the handler."""

    name: str
    namespace: str
    spec: api.VolumeSpec
    size_gb: int  # spec.sizeGB, or the source's size
    storage_class: str | None = None
    image_source: tuple[str, str] | None = None  # (namespace, DataVolume) of the image
    snapshot_source: str | None = None  # the VolumeSnapshot
    volume_source: str | None = None  # the PVC of the source volume
    owner: dict[str, Any] | None = None


def claim_name(volume: str) -> str:
    """A volume's PersistentVolumeClaim carries the volume's name."""
    return volume


def render_volume(inputs: VolumeInputs) -> dict[str, Any]:
    """A blank volume is a PVC; a volume from an image, snapshot or volume is a DataVolume."""
    storage: dict[str, Any] = {
        "accessModes": ["ReadWriteMany" if inputs.spec.multiattach else "ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{inputs.size_gb}Gi"}},
    }
    if inputs.storage_class:
        storage["storageClassName"] = inputs.storage_class
    labels = {**MANAGED, "blockstorage.nimbus.dev/volume": inputs.name}
    common = {
        "name": claim_name(inputs.name),
        "namespace": inputs.namespace,
        "labels": labels,
        "owner": _owner(inputs.owner),
    }
    source: dict[str, Any] | None = None
    if inputs.image_source is not None:
        namespace, data_volume = inputs.image_source
        source = {"pvc": {"namespace": namespace, "name": data_volume}}
    elif inputs.snapshot_source is not None:
        source = {"snapshot": {"namespace": inputs.namespace, "name": inputs.snapshot_source}}
    elif inputs.volume_source is not None:
        source = {"pvc": {"namespace": inputs.namespace, "name": inputs.volume_source}}
    if source is None:
        return templating.render("volume-pvc.yaml.j2", storage=storage, **common)
    return templating.render("volume-datavolume.yaml.j2", source=source, storage=storage, **common)


def render_snapshot(
    name: str,
    namespace: str,
    volume_claim: str,
    snapshot_class: str | None = None,
    owner: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Cinder snapshot: a CSI VolumeSnapshot of the volume's PVC."""
    spec: dict[str, Any] = {"source": {"persistentVolumeClaimName": volume_claim}}
    if snapshot_class:
        spec["volumeSnapshotClassName"] = snapshot_class
    return templating.render(
        "volumesnapshot.yaml.j2",
        name=name,
        namespace=namespace,
        labels={**MANAGED, "blockstorage.nimbus.dev/snapshot": name},
        owner=_owner(owner),
        spec=spec,
    )
