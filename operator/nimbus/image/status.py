"""Image status from its DataVolume, in Glance's words."""

from __future__ import annotations

import dataclasses
from typing import Any

_SAVING = {
    "ImportScheduled", "ImportInProgress", "PVCBound", "PrepClaimInProgress",
    "RebindInProgress", "PendingPopulation", "ExpansionInProgress",
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class ImageState:
    status: str
    progress: str | None = None
    reason: str | None = None


def _failure_reason(data_volume: dict[str, Any]) -> str:
    for condition in data_volume.get("status", {}).get("conditions", []):
        if condition.get("type") in ("Running", "Ready") and condition.get("message"):
            return str(condition["message"])
    return "the import failed"


def _importer_failed(status: dict[str, Any]) -> bool:
    """CDI's importer exited with an error: CDI restarts it (the DataVolume stays
    ImportInProgress, its restarts counted) and says why on the Running condition."""
    return any(
        c.get("type") == "Running" and c.get("status") == "False" and c.get("reason") == "Error"
        for c in status.get("conditions", [])
    )


def image_state(data_volume: dict[str, Any] | None) -> ImageState:
    """queued until the import starts, saving with progress, active, or killed with the reason:
    when CDI fails the import, or while its importer fails (CDI retries it; an attempt that
    succeeds later makes the image active)."""
    if data_volume is None:
        return ImageState("queued")
    status = data_volume.get("status", {})
    phase = status.get("phase", "Pending")
    progress = status.get("progress")
    if progress == "N/A":
        progress = None
    if phase == "Succeeded":
        return ImageState("active", "100.0%")
    if phase == "Failed" or _importer_failed(status):
        return ImageState("killed", progress, _failure_reason(data_volume))
    if phase in _SAVING:
        return ImageState("saving", progress or "0.0%")
    return ImageState("queued")
