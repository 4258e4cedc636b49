"""Glance v2's image list (GET /v2/images): its filters, order and pages over the project's
image documents.

Pure: the documents and the query in; the page Glance answers, or its refusal, out."""

from __future__ import annotations

import datetime
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from nimbus.openstack import glance_requests
from nimbus.openstack.faults import Fault

SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at",
             "updated_at")  # fmt: skip
_PAGING = ("limit", "marker", "sort_key", "sort_dir", "sort", "member_status")
_TIME_OPERATORS = ("gt", "gte", "lt", "lte", "eq", "neq")


def _time(value: str, param: str) -> tuple[str, datetime.datetime]:
    operator, _, stamp = value.partition(":") if ":" in value.split("T")[0] else ("eq", "", value)
    if operator not in _TIME_OPERATORS:
        operators = ", ".join(_TIME_OPERATORS)
        raise glance_requests.invalid(param, value, f"<operator>:<ISO 8601 time>, the operator "
                                      f"one of {operators}")  # fmt: skip
    try:
        moment = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise glance_requests.invalid(
            param, value, "an ISO 8601 time, as 2026-01-31T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return operator, moment


def _compare(operator: str, left: datetime.datetime, right: datetime.datetime) -> bool:
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right,
            "eq": left == right, "neq": left != right}[operator]  # fmt: skip


def _flag(query: Sequence[tuple[str, str]], param: str) -> bool | None:
    """A true/false filter; Glance reads os_hidden in any case (openstacksdk's find sends
    `True`), protected only in lower case."""
    value = next((v for k, v in query if k == param), None)
    if value is None:
        return None
    if param == "os_hidden":
        value = value.lower()
    if value not in ("true", "false"):
        raise Fault(400, f"Invalid value '{value}' for '{param}' filter. Valid values are "
                    "'true' or 'false'.")  # fmt: skip
    return value == "true"


def _matches(document: Mapping[str, Any], key: str, value: str) -> bool:
    """One filter of Glance's list on an image document."""
    if key == "id" or key in ("disk_format", "container_format", "status", "name"):
        wanted = value[3:].split(",") if value.startswith("in:") else [value]
        return str(document.get(key)) in wanted
    if key == "visibility":
        return value == "all" or document["visibility"] == value
    if key in ("size_min", "size_max"):
        try:
            bound = int(value)
        except ValueError:
            raise glance_requests.invalid(key, value, "a whole number of bytes") from None
        size = document.get("size")
        return size is not None and (size >= bound if key == "size_min" else size <= bound)
    if key in ("created_at", "updated_at"):
        operator, moment = _time(value, key)
        return _compare(operator, _time(str(document[key]), key)[1], moment)
    if key == "owner":
        return document.get("owner") == value
    return str(document.get(key)) == value  # a property, as Glance filters them


def _sort(query: Sequence[tuple[str, str]]) -> list[tuple[str, bool]]:
    """(key, descending) pairs: `sort=name:asc,size` or `sort_key`/`sort_dir`, else Glance's
    newest first."""
    given = dict(query)
    pairs: list[tuple[str, str]] = []
    if "sort" in given:
        if "sort_key" in given or "sort_dir" in given:
            raise Fault(400, "Old and new sorting syntax cannot be combined")
        for part in given["sort"].split(","):
            key, _, direction = part.partition(":")
            pairs.append((key.strip(), direction.strip() or "desc"))
    else:
        keys = [v.strip() for k, v in query if k == "sort_key"]
        directions = [v.strip() for k, v in query if k == "sort_dir"]
        if len(directions) > 1 and len(directions) != len(keys):
            raise Fault(400, "Number of sort dirs does not match the number of sort keys")
        keys = keys or ["created_at"]
        directions = directions or ["desc"]
        pairs = [(k, directions[i] if len(directions) > 1 else directions[0])
                 for i, k in enumerate(keys)]  # fmt: skip
    for key, direction in pairs:
        if key not in SORT_KEYS:
            raise Fault(400, f"Invalid sort key: {key}. It must be one of the following: "
                        f"{', '.join(SORT_KEYS)}.")  # fmt: skip
        if direction not in ("asc", "desc"):
            raise Fault(400, f"Invalid sort direction: {direction}")
    return [(k, d == "desc") for k, d in pairs]


def _sort_value(document: Mapping[str, Any], key: str) -> tuple[bool, int, str]:
    """A document's value of a sort key; null first when ascending, as a database orders it."""
    value = document.get(key)
    if key == "size":
        return (value is not None, int(value or 0), "")
    return (value is not None, 0, str(value or ""))


def _ordered(images: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Sorted by each key in turn, then newest first and by id, as Glance's database breaks
    ties."""
    keys = [k for k, _ in order]
    order = [*order, *((k, True) for k in ("created_at", "id") if k not in keys)]
    result = list(images)
    for key, descending in reversed(order):
        result = sorted(result, key=lambda d: _sort_value(d, key), reverse=descending)
    return result


def listing(images: Sequence[Mapping[str, Any]], query: Sequence[tuple[str, str]],
            *, path: str) -> dict[str, Any]:  # fmt: skip
    """GET /v2/images over the project's image documents: Glance's filters (name, status,
    visibility, owner, tag, id=in:, protected, os_hidden, disk and container format, size and
    time bounds, any property), order and pages (`limit`, `marker`, a `next` link while more
    remain). `member_status` is checked here; the caller kept the shared images it names."""
    member = next((v for k, v in query if k == "member_status"), "accepted")
    if member not in (*glance_requests.MEMBER_STATUSES, "all"):
        raise Fault(400, f"Invalid status: {member}")
    visible = next((v for k, v in query if k == "visibility"), None)
    if visible is not None and visible not in ("community", *glance_requests.VISIBILITIES, "all"):
        raise Fault(400, f"Invalid visibility value: {visible}")
    if any(k == "changes-since" for k, _ in query):
        raise Fault(400, 'The "changes-since" filter is no longer available on v2.')
    protected = _flag(query, "protected")
    if _flag(query, "os_hidden"):
        return {"images": [], "first": path, "schema": "/v2/schemas/images"}
    wanted_tags = [v.strip() for k, v in query if k == "tag"]
    filters = [(k, v) for k, v in query
               if k not in (*_PAGING, "tag", "protected", "os_hidden")]  # fmt: skip
    found = [dict(d) for d in images
             if all(_matches(d, k, v) for k, v in filters)
             and all(t in d.get("tags", []) for t in wanted_tags)
             and (protected is None or d.get("protected") == protected)]  # fmt: skip
    found = _ordered(found, _sort(query))
    marker = next((v for k, v in query if k == "marker"), None)
    if marker is not None:
        at = next((i for i, d in enumerate(found) if d["id"] == marker), None)
        if at is None:
            raise Fault(400, f"Invalid marker. Image {marker} could not be found.")
        found = found[at + 1 :]
    limit = next((v for k, v in query if k == "limit"), None)
    answer: dict[str, Any] = {"first": path, "schema": "/v2/schemas/images"}
    if limit is not None:
        if not limit.lstrip("-").isdigit():
            raise Fault(400, "limit param must be an integer")
        if int(limit) < 0:
            raise Fault(400, "limit param must be positive")
        shown = found[: int(limit)]
        if shown and len(found) > len(shown):
            kept = [(k, v) for k, v in query if k != "marker"]
            following = [*kept, ("marker", str(shown[-1]["id"]))]
            answer["next"] = path + "?" + urllib.parse.urlencode(following)
        found = shown
    first = [(k, v) for k, v in query if k != "marker"]
    if first:
        answer["first"] = path + "?" + urllib.parse.urlencode(first)
    return {"images": found, **answer}
