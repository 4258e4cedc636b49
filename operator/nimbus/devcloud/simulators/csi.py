"""A CSI provisioner, simulated: a pending PVC of the devcloud's `standard` class gets a
PersistentVolume, which kube-controller-manager binds; a larger request resizes it; a released
volume is deleted. Claims of other drivers stay Pending, as they would without those drivers."""

from __future__ import annotations

from typing import Any

import kopf

from nimbus.k8s import client
from nimbus.runtime import retrying

DRIVER = "simulated.csi.nimbus.dev"  # the provisioner of the devcloud's `standard` class

_PROVISIONERS: dict[str, str] = {}  # StorageClass -> its provisioner
_PROVISIONED: set[str] = set()  # the volumes made, by name (a claim's uid in it)


@kopf.on.event("", "v1", "persistentvolumeclaims")
@retrying.retried
async def claim(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    api: client.Client = memo.api
    pvc = dict(body)
    metadata, spec, status = pvc["metadata"], pvc["spec"], pvc.get("status") or {}
    if metadata.get("deletionTimestamp"):
        return
    request = spec["resources"]["requests"]["storage"]
    volume_name = f"pv-{metadata['uid']}"
    if status.get("phase") == "Bound":
        capacity = status.get("capacity", {}).get("storage")
        if capacity is not None and capacity != request and spec.get("volumeName") == volume_name:
            await api.apply(_volume(pvc, volume_name, request))
            capacity_patch = {"capacity": {"storage": request}}
            await api.patch_status(
                "v1",
                "PersistentVolumeClaim",
                metadata["name"],
                metadata["namespace"],
                capacity_patch,
            )
        return
    if spec.get("volumeName") and spec["volumeName"] != volume_name:
        return  # bound to a volume someone else made
    class_name = spec.get("storageClassName") or ""
    provisioner = _PROVISIONERS.get(class_name)
    if provisioner is None:
        storage_class = await api.get("storage.k8s.io/v1", "StorageClass", class_name)
        provisioner = (storage_class or {}).get("provisioner", "")
        if storage_class is not None:  # a class's provisioner is immutable
            _PROVISIONERS[class_name] = provisioner
    if provisioner != DRIVER:
        return  # another driver's claim: it stays Pending, as it would without that driver
    if (
        volume_name not in _PROVISIONED
        and await api.get("v1", "PersistentVolume", volume_name) is None
    ):
        await api.apply(_volume(pvc, volume_name, request))
    _PROVISIONED.add(volume_name)


def _volume(pvc: dict[str, Any], name: str, size: str) -> dict[str, Any]:
    metadata, spec = pvc["metadata"], pvc["spec"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "labels": {"simulator.nimbus.dev/provisioned": "true"},
            "annotations": {"pv.kubernetes.io/provisioned-by": DRIVER},
        },
        "spec": {
            "capacity": {"storage": size},
            "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": "Retain",  # deleted by released_volume below
            "storageClassName": spec.get("storageClassName") or "",
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "csi": {"driver": DRIVER, "volumeHandle": metadata["uid"]},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": metadata["namespace"],
                "name": metadata["name"],
                "uid": metadata["uid"],
            },
        },
    }


@kopf.on.event("", "v1", "persistentvolumes", labels={"simulator.nimbus.dev/provisioned": "true"})
@retrying.retried
async def released_volume(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A simulated volume whose claim is gone is deleted, as a Delete reclaim policy would."""
    if (body.get("status") or {}).get("phase") == "Released":
        await memo.api.delete("v1", "PersistentVolume", body["metadata"]["name"])
