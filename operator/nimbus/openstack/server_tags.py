"""Nova's server tags (2.26): the rules of its tags API, pure — which tags are valid, when a
server may be tagged, and the list filters `tags`, `tags-any`, `not-tags`, `not-tags-any`. The
tags are the Server's `spec.tags`; nova.py serves the routes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from nimbus.openstack import faults, server_actions

SINCE = (2, 26)
MAX_TAGS = 50  # Nova's objects.instance.MAX_TAG_COUNT
MAX_LENGTH = 60  # Nova's objects.tag.MAX_TAG_LENGTH
# Nova changes tags only of a server in one of these vm_states (its 409 otherwise).
TAGGABLE = frozenset({"active", "paused", "suspended", "stopped"})
FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


def _why(tag: Any) -> str | None:
    """Why `tag` is not a tag (Nova's parameter_types.tag), or None."""
    if not isinstance(tag, str):
        return f"{tag!r} is not of type 'string'"
    if not tag:
        return f"{tag!r} should be non-empty"
    if len(tag) > MAX_LENGTH:
        return f"{tag!r} is too long"
    if re.search("[,/]", tag):
        return f"{tag!r} does not match '^[^,/]*$'"
    return None


def one(tag: str) -> str:
    """A tag in a path (PUT /servers/{id}/tags/{tag}), or Nova's 400 in Nova's words."""
    why = _why(tag)
    if why is not None:
        raise faults.Fault(400, f"Tag '{tag}' is invalid. It must be a non empty string without "
                           f"characters '/' and ','. Validation error message: {why}")  # fmt: skip
    return tag


def replacing(body: Any) -> list[str]:
    """PUT /servers/{id}/tags's body -> the tags, or Nova's 400 naming the field."""
    if not isinstance(body, dict) or "tags" not in body:
        raise faults.invalid("tags", body, "'tags' is a required property")
    unexpected = sorted(set(body) - {"tags"})
    if unexpected:
        raise faults.invalid("tags", body, "Additional properties are not allowed "
                             f"({', '.join(map(repr, unexpected))} unexpected)")  # fmt: skip
    tags = body["tags"]
    if not isinstance(tags, list):
        raise faults.invalid("tags", tags, f"{tags!r} is not of type 'array'")
    if len(tags) > MAX_TAGS:
        raise faults.invalid("tags", tags, f"{tags!r} is too long: at most {MAX_TAGS} tags")
    for tag in tags:
        why = _why(tag)
        if why is not None:
            raise faults.invalid("tags", tags, why)
    return list(dict.fromkeys(tags))  # a set, as Nova keeps it, in the order given


def check_taggable(server: Mapping[str, Any], action: str) -> None:
    """Nova's 409 for a tag change to a server being built, resized, deleted…"""
    vm_state, _ = server_actions.server_state(dict(server))
    if vm_state not in TAGGABLE:
        ident = server["metadata"]["uid"]
        raise faults.Fault(
            409, f"Cannot '{action}' instance {ident} while it is in vm_state {vm_state}"
        )


def matches(tags: Sequence[str], query: Mapping[str, str]) -> bool:
    """Nova's tag filters of a server list, each a comma-separated list: `tags` (every one),
    `tags-any` (one at least), `not-tags` (not every one), `not-tags-any` (none)."""
    held = set(tags)
    asked = {f: {t for t in query[f].split(",") if t} for f in FILTERS if query.get(f)}
    if "tags" in asked and not asked["tags"] <= held:
        return False
    if "tags-any" in asked and not asked["tags-any"] & held:
        return False
    if "not-tags" in asked and asked["not-tags"] <= held:
        return False
    return not ("not-tags-any" in asked and asked["not-tags-any"] & held)
