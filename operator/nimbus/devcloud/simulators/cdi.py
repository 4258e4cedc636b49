"""CDI's DataVolume controller, simulated: a DataVolume gets its PVC, then imports with progress
to Succeeded (a clone once its source exists); an http URL whose host is under the reserved
`.invalid` domain (RFC 2606) fails as an unreachable one would. Nothing is downloaded."""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any

import kopf

from nimbus.k8s import client
from nimbus.runtime import retrying

from . import kubevirt, shared

PROGRESS_STEPS = ("0.0%", "35.0%", "70.0%", "100.0%")


def _storage_request(spec: dict[str, Any]) -> str:
    storage = spec.get("storage") or spec.get("pvc") or {}
    return str(storage.get("resources", {}).get("requests", {}).get("storage", "1Gi"))


@kopf.on.event("cdi.kubevirt.io", "v1beta1", "datavolumes")
@retrying.retried
async def data_volume(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    api: client.Client = memo.api
    dv = dict(body)
    metadata, spec = dv["metadata"], dv["spec"]
    if metadata.get("deletionTimestamp"):
        return
    status = dv.get("status") or {}
    phase = status.get("phase")
    name, namespace = metadata["name"], metadata["namespace"]
    if phase in ("Succeeded", "Failed"):
        # The VM waiting for its disks is told, as virt-controller watches its DataVolumes.
        for owner in metadata.get("ownerReferences", []):
            if owner["kind"] == "VirtualMachine":
                vm = await api.get(shared.KUBEVIRT, "VirtualMachine", owner["name"], namespace)
                if vm is not None and not vm["metadata"].get("deletionTimestamp"):
                    await kubevirt.reconcile_vm(api, vm)
        return
    claim: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "ownerReferences": [client.owner_reference(dv)],
        },
        "spec": {
            "accessModes": spec.get("storage", {}).get("accessModes", ["ReadWriteOnce"]),
            "resources": {"requests": {"storage": _storage_request(spec)}},
        },
    }
    storage_class = spec.get("storage", {}).get("storageClassName")
    if storage_class:
        claim["spec"]["storageClassName"] = storage_class
    if phase is None and await api.get("v1", "PersistentVolumeClaim", name, namespace) is None:
        await api.apply(claim)  # once: a DataVolume with a phase has its claim
    source = spec.get("source", {})
    http = source.get("http")
    if http and (urllib.parse.urlparse(http["url"]).hostname or "").endswith(".invalid"):
        await _dv_status(api, dv, "Failed", status.get("progress", "0.0%"),
                         f"Unable to connect to http data source: {http['url']}")  # fmt: skip
        return
    clone = source.get("pvc") or source.get("snapshot")
    if clone is not None and not await _wait_for_clone_source(api, dv, source, clone):
        return
    await asyncio.sleep(shared.STEP)
    if phase in (None, "Pending", "CloneScheduled", "ImportScheduled") or not phase:
        await _dv_status(api, dv, "ImportInProgress" if clone is None else "CloneInProgress",
                         PROGRESS_STEPS[0])  # fmt: skip
        return
    current = status.get("progress", PROGRESS_STEPS[0])
    index = PROGRESS_STEPS.index(current) if current in PROGRESS_STEPS else 0
    if index + 1 < len(PROGRESS_STEPS) - 1:
        await _dv_status(api, dv, phase, PROGRESS_STEPS[index + 1])
        return
    await _dv_status(api, dv, "Succeeded", PROGRESS_STEPS[-1])


_READY_SOURCES: set[tuple[str, str, str]] = set()


async def _wait_for_clone_source(
    api: client.Client, dv: dict[str, Any], source: dict[str, Any], clone: dict[str, str]
) -> bool:
    """Wait (up to two minutes) for a clone's source: a bound PVC or a ready snapshot."""
    kind = "PersistentVolumeClaim" if "pvc" in source else "VolumeSnapshot"
    api_version = "v1" if kind == "PersistentVolumeClaim" else shared.SNAPSHOT
    key = (kind, clone["namespace"], clone["name"])
    if key in _READY_SOURCES:
        return True
    for attempt in range(240):
        found = await api.get(api_version, kind, clone["name"], clone["namespace"])
        status = (found or {}).get("status", {})
        if status.get("phase") == "Bound" or status.get("readyToUse") is True:
            _READY_SOURCES.add(key)  # a bound claim or a ready snapshot stays so
            return True
        if attempt == 0:
            await _dv_status(api, dv, "CloneScheduled", "N/A",
                             f"waiting for the clone source {kind} "
                             f"{clone['namespace']}/{clone['name']}")  # fmt: skip
        await asyncio.sleep(0.5)
    return False


async def _dv_status(
    api: client.Client, dv: dict[str, Any], phase: str, progress: str, message: str = ""
) -> None:
    metadata = dv["metadata"]
    ready = "True" if phase == "Succeeded" else "False"
    conditions = [
        {"type": "Bound", "status": "True", "reason": "Bound", "message": "",
         "lastTransitionTime": shared.now(), "lastHeartbeatTime": shared.now()},
        {"type": "Ready", "status": ready, "reason": phase, "message": message,
         "lastTransitionTime": shared.now(), "lastHeartbeatTime": shared.now()},
        {"type": "Running", "status": "True" if phase.endswith("InProgress") else "False",
         "reason": "Error" if phase == "Failed" else phase, "message": message,
         "lastTransitionTime": shared.now(), "lastHeartbeatTime": shared.now()},
    ]  # fmt: skip
    await api.patch_status(
        shared.CDI, "DataVolume", metadata["name"], metadata["namespace"],
        {"phase": phase, "progress": progress, "claimName": metadata["name"],
         "conditions": conditions},
    )  # fmt: skip
