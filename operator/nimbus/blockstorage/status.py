"""Volume and Snapshot status from their claims and snapshots, in Cinder's words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_RESIZING = {"Resizing", "FileSystemResizePending", "ControllerResizeInProgress",
             "NodeResizePending", "NodeResizeInProgress"}  # fmt: skip


def volume_status(
    claim: dict[str, Any] | None,
    data_volume: dict[str, Any] | None,
    *,
    attached: bool,
    size_gb: int,
) -> str:
    """creating, available, in-use, extending or error, from the PVC (and DataVolume)."""
    if data_volume is not None and data_volume.get("status", {}).get("phase") == "Failed":
        return "error"
    if claim is None:
        return "creating"
    status = claim.get("status", {})
    if status.get("phase") == "Lost":
        return "error"
    if status.get("phase") != "Bound":
        return "creating"
    if data_volume is not None and data_volume.get("status", {}).get("phase") != "Succeeded":
        return "creating"
    resizing = any(c.get("type") in _RESIZING for c in status.get("conditions", []))
    capacity = status.get("capacity", {}).get("storage")
    if resizing or (capacity is not None and gigabytes(capacity) < size_gb):
        return "extending"
    return "in-use" if attached else "available"


def attachment(
    claim: str, naming: Iterable[str], instances: Mapping[str, Mapping[str, Any]]
) -> tuple[str | None, list[str]]:
    """Cinder's attaching or detaching while the running instances catch up with what the
    servers name, and the servers the volume is attached to. `naming`: the servers whose spec
    names the volume; `instances`: the namespace's instances' status by name (a server's
    instance carries its name). A volume named by a server whose instance runs without it
    attached (KubeVirt's hotplug not done: its volume status not Ready) is attaching; one a
    running instance still has while its server no longer names it is detaching, and is
    listed attached to it until it is gone. Otherwise None: in-use or available, as named."""

    def holds(instance: Mapping[str, Any], attached: bool) -> bool:
        for volume in instance.get("volumeStatus") or []:
            if (volume.get("persistentVolumeClaimInfo") or {}).get("claimName") == claim:
                hotplugged = volume.get("hotplugVolume") is not None
                return not attached or not hotplugged or volume.get("phase") == "Ready"
        return False

    named = set(naming)
    running = {n: i for n, i in instances.items() if i.get("phase") == "Running"}
    attaching = any(s in running and not holds(running[s], attached=True) for s in named)
    detaching = {n for n, i in running.items() if n not in named and holds(i, attached=False)}
    word = "attaching" if attaching else "detaching" if detaching else None
    return word, sorted(named | detaching)


def gigabytes(quantity: str) -> int:
    """A storage quantity in whole GiB, rounded up (Cinder sizes are GB)."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
             "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}  # fmt: skip
    for suffix, factor in sorted(units.items(), key=lambda kv: -len(kv[0])):
        if quantity.endswith(suffix):
            return -(-int(float(quantity[: -len(suffix)]) * factor) // 2**30)
    return -(-int(quantity) // 2**30)


def snapshot_status(volume_snapshot: dict[str, Any] | None) -> tuple[str, int | None]:
    """(status, size in GB): creating, available when readyToUse, or error."""
    if volume_snapshot is None:
        return "creating", None
    status = volume_snapshot.get("status", {})
    size = status.get("restoreSize")
    size_gb = gigabytes(str(size)) if size is not None else None
    if status.get("error"):
        return "error", size_gb
    if status.get("readyToUse"):
        return "available", size_gb
    return "creating", size_gb


def dependent_snapshots(snapshots: Iterable[Mapping[str, Any]], volume: str) -> list[str]:
    """The snapshots taken of a volume (not being deleted): Cinder deletes no volume that has
    them."""
    return sorted(
        s["metadata"]["name"]
        for s in snapshots
        if (s.get("spec") or {}).get("volume") == volume
        and not s["metadata"].get("deletionTimestamp")
    )


def snapshots_refusal(volume: str, snapshots: list[str]) -> str:
    """Cinder's refusal to delete a volume its snapshots depend on."""
    return (
        f"Invalid volume: Volume {volume} still has {len(snapshots)} dependent snapshots "
        f"({', '.join(snapshots)}); delete them first"
    )
