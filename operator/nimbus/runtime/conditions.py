"""metav1.Condition lists, kept as Kubernetes expects: one per type, transition times kept."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

Status = Literal["True", "False", "Unknown"]


@dataclasses.dataclass(frozen=True)
class Condition:
    """A condition to set: the time and generation are filled in by `apply`."""

    type: str
    status: Status
    reason: str
    message: str = ""


def apply(
    current: list[dict[str, Any]],
    wanted: list[Condition],
    *,
    now: str,
    generation: int | None,
) -> list[dict[str, Any]]:
    """The conditions `wanted`, all the object has: each report recomputes them, so one it no
    longer states is gone (a reference waited on long ago says nothing now). A type already
    there keeps its place and its lastTransitionTime while its status stays; new types follow."""
    by_type = {c["type"]: c for c in current}
    updated = {}
    for condition in wanted:
        old = by_type.get(condition.type)
        changed = old is None or old.get("status") != condition.status
        entry: dict[str, Any] = {
            "type": condition.type,
            "status": condition.status,
            "reason": condition.reason,
            "message": condition.message,
            "lastTransitionTime": now if changed or old is None else old["lastTransitionTime"],
        }
        if generation is not None:
            entry["observedGeneration"] = generation
        updated[condition.type] = entry
    kept = [updated.pop(c["type"]) for c in current if c["type"] in updated]
    return kept + list(updated.values())


def ready(conditions: list[Condition]) -> Condition:
    """The summary Ready condition: True when every other condition is True."""
    failing = [c for c in conditions if c.status != "True"]
    if not failing:
        return Condition("Ready", "True", "Ready", "")
    first = failing[0]
    return Condition("Ready", first.status, first.reason, first.message)


class WaitingError(Exception):
    """A reference is missing or not ready yet; `condition` says which, for the status."""

    def __init__(self, type_: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.condition = Condition(type_, "False", reason, message)


class FailedError(WaitingError):
    """A reference that will never become ready as it is (an image killed, a volume in error):
    the object ends in error with `condition`'s message, rather than waiting for ever. It is
    looked at again now and then, and whenever it changes: a fixed reference lets it through."""
