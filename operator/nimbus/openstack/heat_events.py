"""A stack's Heat events, pure: derived from the Stack itself (its status, when its action began
and ended), the live objects of its resources (when each was made and became ready), and, for
a caller who may read them, the Kubernetes Events of the Stack. Nimbus stores no events of its
own, so the same objects always give the same events, with the same ids.

An event's id is a UUID laid out as a version 7 one: the event's time in milliseconds first,
then its rank in that moment (a stack's start, its resources in order, its end), then a hash of
what it is. The ids sort as the events do, so a marker (the last id a client saw) says where
the client was even when that event is gone, as a status that moved on: `openstack stack
update --wait` polls for the events after the last one it saw, and finds them."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from nimbus.openstack import documents, heat_documents
from nimbus.orchestration import api as orchestration_api
from nimbus.orchestration import resources as hot_resources

START, END = 0, 4095  # ranks: a stack's action begins first in its moment, and ends last
_WORD = re.compile(orchestration_api.STACK_STATUS_PATTERN)
_NEAR = datetime.timedelta(seconds=3)  # a Kubernetes Event this near a derived one is the same


@dataclasses.dataclass(frozen=True)
class Event:
    moment: datetime.datetime
    rank: int
    key: str  # what the event is, hashed into its id
    resource_name: str
    resource_type: str
    status: str
    reason: str
    physical_id: str

    @property
    def id(self) -> str:
        return event_id(self.moment, self.rank, self.key)


def event_id(moment: datetime.datetime, rank: int, key: str) -> str:
    """A UUID that sorts by (moment, rank), then by the hash of `key`."""
    millis = int(moment.timestamp() * 1000) & ((1 << 48) - 1)
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") & ((1 << 62) - 1)
    value = (millis << 80) | (0x7 << 76) | ((rank & 0xFFF) << 64) | (0b10 << 62) | digest
    return str(uuid.UUID(int=value))


def _ready_at(found: Mapping[str, Any]) -> datetime.datetime | None:
    """When the object's Ready condition last turned."""
    for condition in (found.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return heat_documents.moment(condition.get("lastTransitionTime"))
    return None


def _stack_events(body: Mapping[str, Any], now: heat_documents.State) -> list[Event]:
    name, uid = documents.display_name(body), documents.uid(body)
    created = heat_documents.created_at(body)

    def event(when: datetime.datetime, rank: int, word: str, reason: str) -> Event:
        return Event(when, rank, f"{uid}/stack/{word}", name, "OS::Heat::Stack", word, reason,
                     uid)  # fmt: skip

    out = [event(created, START, "CREATE_IN_PROGRESS", "Stack CREATE started")]
    if now.action == "ROLLBACK":
        # A rollback follows a failed create or update, whose failure Heat logs first: what
        # `stack create --enable-rollback --wait` stops at.
        failed = "CREATE" if heat_documents.updated_time(body) is None else "UPDATE"
        if failed == "UPDATE":
            out.append(event(now.started, START, "UPDATE_IN_PROGRESS", "Stack UPDATE started"))
        why = now.reason if now.reason.startswith("Resource ") else f"Stack {failed} failed"
        out.append(event(now.started, END - 2, f"{failed}_FAILED", why))
        out.append(event(now.started, END - 1, "ROLLBACK_IN_PROGRESS", "Stack ROLLBACK started"))
    elif now.action != "CREATE":
        started = f"Stack {now.action} started"
        reason = now.reason if now.word.endswith("IN_PROGRESS") else started
        out.append(event(now.started, START, f"{now.action}_IN_PROGRESS", reason))
    if now.ended is not None:
        out.append(event(now.ended, END, now.word, now.reason))
    return out


def _resource_events(
    body: Mapping[str, Any], now: heat_documents.State, objects: Mapping[str, Mapping[str, Any]]
) -> list[Event]:
    """Each resource past INIT: made (CREATE_IN_PROGRESS, when the stack made its object),
    then as it is now (when its object last turned ready or not; else when the action of its
    word began), none of it after the stack's action ended."""
    stack_name = str((body.get("metadata") or {}).get("name", ""))
    uid = documents.uid(body)
    created = heat_documents.created_at(body)
    updated = heat_documents.updated_time(body) or created
    out: list[Event] = []
    for index, entry in enumerate(heat_documents.resources_of(body)):
        word = str(entry.get("resourceStatus") or "INIT_COMPLETE")
        if word.startswith("INIT"):
            continue
        name, kind = str(entry.get("resourceName")), str(entry.get("resourceType") or "")
        found = objects.get(name)
        physical = documents.uid(found) if found else ""
        labels = ((found or {}).get("metadata") or {}).get("labels") or {}
        began = created if word.startswith("CREATE") else updated
        reason = str(entry.get("resourceStatusReason") or "state changed")
        moments: list[tuple[datetime.datetime, str, str]] = []
        if found is not None and labels.get(hot_resources.STACK_LABEL) == stack_name:
            made = max(heat_documents.created_at(found), created)
            moments.append((made, "CREATE_IN_PROGRESS", "state changed"))
            began = max(began, made)
            if word != "CREATE_IN_PROGRESS":
                moments.append((max(began, _ready_at(found) or began), word, reason))
        else:
            moments.append((began, word, reason))
        for phase, (when, said, why) in enumerate(moments):
            if now.ended is not None:
                when = min(when, now.ended)
            rank = min(1 + 2 * index + phase, END - 3)
            key = f"{uid}/{name}/{physical}/{said}"
            out.append(Event(when, rank, key, name, kind, said, why, physical))
    return out


def _word_of(reason: str) -> str:
    """A Stack's Event reason (CreateInProgress) as Heat's word (CREATE_IN_PROGRESS)."""
    return "_".join(part.upper() for part in re.findall(r"[A-Z][a-z]*", reason))


def _kubernetes_events(
    body: Mapping[str, Any],
    now: heat_documents.State,
    derived: Sequence[Event],
    events: Sequence[Mapping[str, Any]],
) -> list[Event]:
    """The Stack's own Kubernetes Events in Heat's words, from before its current action
    began (the derived events tell that one), but those a derived event already says: the
    history its status no longer holds, as an earlier update."""
    name, uid = documents.display_name(body), documents.uid(body)
    timed = []
    for item in events:
        if (item.get("involvedObject") or {}).get("uid") != uid:
            continue
        when = heat_documents.moment(item.get("lastTimestamp") or item.get("eventTime")
                                     or item.get("firstTimestamp"))  # fmt: skip
        if when is not None:
            timed.append((when, item))
    out: list[Event] = []
    action = "CREATE"
    for when, item in sorted(timed, key=lambda pair: pair[0]):
        reason = str(item.get("reason") or "")
        if reason == "Ready":  # a summary: the action before it completed
            word, message = f"{action}_COMPLETE", f"Stack {action} completed successfully"
        else:
            word, message = _word_of(reason), str(item.get("message") or "")
        if not _WORD.match(word):
            continue
        action = word.split("_", 1)[0]
        said = any(e.status == word and e.resource_name == name and abs(e.moment - when) <= _NEAR
                   for e in derived)  # fmt: skip
        if said or when > now.started - _NEAR:
            continue
        rank = START if word.endswith("IN_PROGRESS") else END
        key = f"{uid}/kubernetes/{(item.get('metadata') or {}).get('uid', '')}"
        out.append(Event(when, rank, key, name, "OS::Heat::Stack", word, message, uid))
    return out


def events(
    body: Mapping[str, Any],
    objects: Mapping[str, Mapping[str, Any]],
    kubernetes: Sequence[Mapping[str, Any]] = (),
) -> list[Event]:
    """The stack's events, oldest first: `objects` are the live objects of its resources, by
    resource name; `kubernetes`, the Events of its namespace the caller may read."""
    now = heat_documents.state(body)
    derived = _stack_events(body, now) + _resource_events(body, now, objects)
    every = derived + _kubernetes_events(body, now, derived, kubernetes)
    unique = {e.id: e for e in every}
    return [unique[i] for i in sorted(unique, key=lambda i: uuid.UUID(i).int)]


def _position(marker: str) -> int | None:
    try:
        return uuid.UUID(marker).int
    except ValueError:
        return None


def select(found: Sequence[Event], query: Mapping[str, str]) -> list[Event]:
    """Heat's event list parameters: the filters resource_name, resource_type, resource_action
    and resource_status (`COMPLETE` or `CREATE_COMPLETE`); sort_dir (asc, the default, or
    desc); marker (the events after it, in that order) and limit."""
    chosen = list(found)
    for key, field in (("resource_name", "resource_name"), ("resource_type", "resource_type")):
        if query.get(key):
            chosen = [e for e in chosen if getattr(e, field) == query[key]]
    if query.get("resource_action"):
        chosen = [e for e in chosen if e.status.split("_", 1)[0] == query["resource_action"]]
    if query.get("resource_status"):
        wanted = query["resource_status"]
        chosen = [e for e in chosen if wanted in (e.status, e.status.split("_", 1)[-1])]
    descending = str(query.get("sort_dir") or "asc").lower() == "desc"
    if descending:
        chosen.reverse()
    position = _position(str(query.get("marker") or ""))
    if position is not None:
        chosen = [e for e in chosen
                  if (uuid.UUID(e.id).int < position if descending
                      else uuid.UUID(e.id).int > position)]  # fmt: skip
    limit = str(query.get("limit") or "")
    if limit.isdigit():
        chosen = chosen[: int(limit)]
    return chosen


def document(
    event: Event, body: Mapping[str, Any], context: heat_documents.Context, *, detail: bool = False
) -> dict[str, Any]:
    """One event as Heat answers it (with `detail`, as GET .../events/{id} does)."""
    stack_url = context.stack_url(body)
    resource_url = f"{stack_url}/resources/{event.resource_name}"
    out: dict[str, Any] = {
        "id": event.id,
        "event_time": heat_documents.heat_time(event.moment),
        "resource_name": event.resource_name,
        "logical_resource_id": event.resource_name,
        "physical_resource_id": event.physical_id,
        "resource_status": event.status,
        "resource_status_reason": event.reason,
        "links": [
            {"href": f"{resource_url}/events/{event.id}", "rel": "self"},
            {"href": resource_url, "rel": "resource"},
            {"href": stack_url, "rel": "stack"},
        ],
    }
    if detail:
        out["resource_type"] = event.resource_type
        out["resource_properties"] = {}
    return out
