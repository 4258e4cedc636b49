"""Status as every Nimbus kind reports it: fields, conditions with a summary Ready,
observedGeneration, and an Event for each transition and error."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import re
from collections.abc import AsyncIterator
from typing import Any

from nimbus.k8s import client
from nimbus.runtime import conditions

# Reasons that mean "on its way", not "something is wrong": their events are Normal.
PROGRESS = frozenset({
    "Scheduling", "Build", "Migrating", "PortNotReady", "ImageNotActive", "ImageSaving",
    "Stopping", "Starting", "Deleting", "VolumeCreating", "VolumeExtending", "VolumeAttaching",
    "VolumeDetaching", "VolumeNotAvailable", "SnapshotCreating", "SnapshotNotAvailable",
    "Rebooting", "Resizing", "Rebuilding",
})  # fmt: skip


class Builds:
    """Work that makes things before work that reports them. While servers are being built
    (ports, cloud-init and VMs applied), the status reports that would compete with them for the
    API server wait their turn, as an API server's own priority levels put a controller's
    essential writes before its bookkeeping. A burst of a thousand new servers gets its VMs
    first and its statuses after; a single server, with nothing to wait for, reports at once
    (`grace` seconds after its build: a burst's builds come in batches, and the gaps between
    them do not end it). Reports are held `longest` seconds at most from when a burst began, so
    a stream of builds that never ends does not silence them.
    """

    def __init__(self, longest: float = 30.0, grace: float = 0.25) -> None:
        self.longest = longest
        self.grace = grace
        self._under_way = 0
        self._quiet = asyncio.Event()  # set: no burst holds reports
        self._quiet.set()
        self._overdue: asyncio.TimerHandle | None = None
        self._ending: asyncio.TimerHandle | None = None

    @contextlib.asynccontextmanager
    async def building(self) -> AsyncIterator[None]:
        """Hold reports back while the body runs. The body must not report: it would wait for
        itself (until `longest`)."""
        quiet, loop = self._quiet, asyncio.get_running_loop()
        self._under_way += 1
        if self._ending is not None:  # a gap in a burst: it goes on
            self._ending.cancel()
            self._ending = None
        elif self._under_way == 1:  # a new burst
            quiet.clear()
            self._overdue = loop.call_later(self.longest, quiet.set)
        try:
            yield
        finally:
            self._under_way -= 1
            if not self._under_way:
                self._ending = loop.call_later(self.grace, self._end)

    def _end(self) -> None:
        self._ending = None
        if self._overdue is not None:
            self._overdue.cancel()
        self._quiet.set()

    async def turn(self) -> None:
        """Return once no build is under way, or once builds have held reports long enough."""
        await self._quiet.wait()


BUILDS = Builds()


def event_type(summary: conditions.Condition) -> str:
    """Normal for readiness and progress; Warning for what needs someone's attention."""
    return "Normal" if summary.status == "True" or summary.reason in PROGRESS else "Warning"


def reason_of(word: str) -> str:
    """An Event's reason from a status word: PAUSED is Paused, in-use InUse."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", word))


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
    word, word_before = (fields or {}).get("status"), (body.get("status") or {}).get("status")
    ready_changed = before is None or (before["status"], before["reason"]) != (
        summary.status,
        summary.reason,
    )
    if ready_changed or (word is not None and word != word_before):
        await api.event(patched, **event_of(body["kind"], metadata["name"], summary, word))
    return patched


def event_of(kind: str, name: str, summary: conditions.Condition, word: Any) -> dict[str, str]:
    """The Event of a status change, one per change: while not ready, why (Ready's reason and
    message: Rebooting, ImageKilled); once ready, the status word it is ready in (Active,
    Shutoff, InUse), or Ready for a kind without one."""
    if summary.status != "True":
        message = summary.message or f"{kind} {name} is {word}"
        return {"reason": summary.reason, "message": message, "type": event_type(summary)}
    if word is None:
        return {"reason": "Ready", "message": f"{kind} {name} is ready", "type": "Normal"}
    return {"reason": reason_of(str(word)), "message": f"{kind} {name} is {word}",
            "type": "Normal"}  # fmt: skip


async def report_changed(
    api: client.Client,
    body: dict[str, Any],
    *,
    fields: dict[str, Any],
    wanted: list[conditions.Condition],
) -> dict[str, Any] | None:
    """`report`, unless the status already says `fields` for the current generation: then
    nothing is written and no Event posted (None)."""
    if unchanged(body, fields):
        return None
    return await report(api, body, fields=fields, wanted=wanted)
