"""Volumes' and snapshots' admission, in Cinder's words: an in-use volume or one with snapshots
is not deleted; a snapshot is of a volume that exists; the project's volumes and gigabytes
(identity/admission.py)."""

from __future__ import annotations

from typing import Any

import kopf

from nimbus.blockstorage import status as storage_status
from nimbus.identity.admission import changed, check_volume_quota, project_of, refer
from nimbus.runtime import cache


def attached_to(view: cache.View, namespace: str, volume: str, besides: str) -> list[str]:
    """The servers other than `besides` whose spec attaches `volume` (or boots from it)."""
    out = []
    for server in view.list("servers", namespace):
        if server["metadata"]["name"] == besides or server["metadata"].get("deletionTimestamp"):
            continue
        spec = server.get("spec") or {}
        names = {v.get("volume") for v in spec.get("volumes") or []}
        names.add((spec.get("bootVolume") or {}).get("name"))
        if volume in names:
            out.append(server["metadata"]["name"])
    return sorted(out)


@kopf.on.validate("blockstorage.nimbus.dev", "v1alpha1", "volumes", id="volumes",
                  operations=["CREATE", "UPDATE", "DELETE"])  # fmt: skip
async def validate_volume(body: kopf.Body, dryrun: bool, memo: kopf.Memo, **kwargs: Any) -> None:
    operation, old, new = kwargs.get("operation", ""), kwargs.get("old"), kwargs.get("new")
    view = cache.View.of(kwargs, memo)
    source = old if operation == "DELETE" and old else dict(body)
    namespace = str(source["metadata"].get("namespace"))
    name = str(source["metadata"].get("name", ""))
    if project_of(view, namespace) is None:
        return  # not a project's: reconciled as it is (a deletion waits for detaching)
    if operation == "DELETE":
        others = attached_to(view, namespace, name, besides="")
        if others:
            raise kopf.AdmissionError(
                f"Invalid volume: volume {name} status must be available or error, but current "
                f"status is: in-use (attached to {', '.join(others)}); detach it first"
            )
        snapshots = storage_status.dependent_snapshots(view.list("snapshots", namespace), name)
        if snapshots:
            raise kopf.AdmissionError(storage_status.snapshots_refusal(name, snapshots))
        return
    if not changed(operation, old, new or dict(body)):
        return
    size = int((body.get("spec") or {}).get("sizeGB") or 0)
    grown = size - int(((old or {}).get("spec") or {}).get("sizeGB") or 0)
    if operation == "CREATE":
        check_volume_quota(view, namespace, name, size, dry_run=dryrun)
    elif grown > 0:
        check_volume_quota(view, namespace, name, size, dry_run=True)


@kopf.on.validate("blockstorage.nimbus.dev", "v1alpha1", "snapshots", id="snapshots",
                  operations=["CREATE"])  # fmt: skip
async def validate_snapshot(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """Cinder snapshots only a volume that exists."""
    view = cache.View.of(kwargs, memo)
    namespace = str(body["metadata"].get("namespace"))
    if project_of(view, namespace) is None:
        return
    volume = str((body.get("spec") or {}).get("volume") or "")
    await refer(view, memo.api, "volumes", "volume", "spec.volume", volume, namespace)
