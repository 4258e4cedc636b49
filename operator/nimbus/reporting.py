"""Status as every Nimbus kind reports it: fields, conditions with a summary Ready,
observedGeneration, and an Event for each transition and error."""

from __future__ import annotations

import datetime
from typing import Any

from nimbus import conditions
from nimbus.k8s import client

# Reasons that mean "on its way", not "something is wrong": their events are Normal.
PROGRESS = frozenset({
    "Scheduling", "Build", "Migrating", "PortNotReady", "ImageNotActive", "ImageSaving",
    "VolumeCreating", "VolumeExtending", "VolumeNotAvailable", "SnapshotCreating",
    "SnapshotNotAvailable", "Rebooting", "Resizing", "Rebuilding",
})  # fmt: skip


def event_type(summary: conditions.Condition) -> str:
    """Normal for readiness and progress; Warning for what needs someone's attention."""
    return "Normal" if summary.status == "True" or summary.reason in PROGRESS else "Warning"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def unchanged(body: dict[str, Any], fields: dict[str, Any]) -> bool:
    """True when the status already says `fields` for the current generation: nothing to write,
    no event to post."""
    status = body.get("status") or {}
    return all(status.get(k) == v for k, v in fields.items()) and status.get(
        "observedGeneration"
    ) == body["metadata"].get("generation")


async def report(
    api: client.Client,
    body: dict[str, Any],
    *,
    fields: dict[str, Any] | None = None,
    wanted: list[conditions.Condition],
    observed: bool = True,
) -> dict[str, Any]:
    """Patch the status of `body` and post an Event when its Ready condition changes.

    observedGeneration is set only when `observed` (a complete, successful pass).
    """
    metadata = body["metadata"]
    current = (body.get("status") or {}).get("conditions") or []
    generation = metadata.get("generation")
    summary = conditions.ready(wanted)
    updated = conditions.apply(current, [*wanted, summary], now=now(), generation=generation)
    status: dict[str, Any] = {**(fields or {}), "conditions": updated}
    if observed and generation is not None:
        status["observedGeneration"] = generation
    before = next((c for c in current if c["type"] == "Ready"), None)
    patched = await api.patch_status(
        body["apiVersion"], body["kind"], metadata["name"], metadata.get("namespace"), status
    )
    if before is None or (before["status"], before["reason"]) != (summary.status, summary.reason):
        await api.event(
            patched,
            reason=summary.reason,
            message=summary.message or f"{body['kind']} {metadata['name']} is ready",
            type=event_type(summary),
        )
    return patched
