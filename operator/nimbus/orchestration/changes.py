"""A stack's changes to objects that are not its resources' own, through the API: the items its
resources append to other objects' lists (a volume attachment, a rule, a router interface) and
the fields they set (a router's gateway, a floating IP's port), each made, and undone when the
resource goes. A field is unset only while it still holds what the stack set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from nimbus.k8s import client
from nimbus.orchestration import observed, resources
from nimbus.orchestration import plan as plan_


def subset(wanted: Any, current: Any) -> bool:
    """Whether `current` has all of `wanted` (what the API server adds, defaults, aside)."""
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(
            subset(v, current.get(k)) for k, v in wanted.items()
        )
    return bool(wanted == current)


async def append(
    api_client: client.Client, namespace: str, made: resources.Append
) -> dict[str, Any] | None:
    """Add the item a resource appends to the object it names, unless it is there already; None
    when the object does not exist (yet)."""
    kind = plan_.KIND[made.kind]
    target = await api_client.get(kind.api_version_name(), made.kind, made.name, namespace)
    if target is None:
        return None
    items = list((target.get("spec") or {}).get(made.field) or [])
    if not any(subset(made.item, item) for item in items):  # the API server adds defaults
        items.append(made.item)
        patch = {"spec": {made.field: items}}
        version = kind.api_version_name()
        if not await patched(api_client, version, made.kind, made.name, namespace, patch):
            return None  # gone since it was read: waited for, as one not made yet
    return target


async def patched(
    api_client: client.Client,
    api_version: str,
    kind: str,
    name: str,
    namespace: str,
    patch: dict[str, Any],
) -> bool:
    """Merge-patch an object the stack read a moment ago; False when it is gone since (a 404:
    deleted meanwhile, by its owner or a user), which is no error."""
    try:
        await api_client.patch(api_version, kind, name, namespace, patch)
    except client.ApiError as error:
        if error.status != 404:
            raise
        return False
    return True


async def unappend(api_client: client.Client, namespace: str, record: Mapping[str, Any]) -> None:
    """Take out an item a resource added (a volume attachment, a rule), if it is still there."""
    kind = plan_.KIND[record["kind"]]
    version = kind.api_version_name()
    target = await api_client.get(version, record["kind"], record["name"], namespace)
    if target is None or target["metadata"].get("deletionTimestamp"):
        return
    items = list((target.get("spec") or {}).get(record["field"]) or [])
    kept = [item for item in items if not subset(record["item"], item)]
    if len(kept) != len(items):  # a target gone meanwhile holds nothing to take out
        patch = {"spec": {record["field"]: kept}}
        await patched(api_client, version, record["kind"], record["name"], namespace, patch)


def replacing(value: Any, current: Any) -> Any:
    """The merge-patch value that makes a field hold `value` whatever it held: a mapping's keys
    that `value` lacks are nulled (a merge patch would keep them), down its nested mappings."""
    if not isinstance(value, Mapping) or not isinstance(current, Mapping):
        return value
    return {**{k: None for k in current if k not in value},
            **{k: replacing(v, current.get(k)) for k, v in value.items()}}  # fmt: skip


async def assign(
    api_client: client.Client, namespace: str, made: resources.Assign
) -> dict[str, Any] | None:
    """Set the fields a resource assigns on the object it names, unless they hold those values
    already; None when the object does not exist (yet)."""
    kind = plan_.KIND[made.kind]
    version = kind.api_version_name()
    target = await api_client.get(version, made.kind, made.name, namespace)
    if target is None:
        return None
    spec = target.get("spec") or {}
    if not observed.holds(made.kind, made.fields, spec):
        # a merge patch: None unsets a field, and the rest of the object is left as it is; a
        # field's value replaces the whole of what it held (a gateway's other keys go)
        patch = {"spec": {k: replacing(v, spec.get(k)) for k, v in made.fields.items()}}
        if not await patched(api_client, version, made.kind, made.name, namespace, patch):
            return None  # gone since it was read: waited for, as one not made yet
    return target


# How many times an unset is tried when the object changes between its read and the patch.
UNSET_TRIES = 5


async def unassign(api_client: client.Client, namespace: str, record: Mapping[str, Any]) -> None:
    """Unset the fields a resource set (a router's gateway, a floating IP's port), if they
    still hold what it set: what someone changed since is theirs, and stays. The patch carries
    the resourceVersion read, so a change made between the read and the patch is not undone
    either (the API server answers 409, and the object is read again)."""
    kind = plan_.KIND[record["kind"]]
    version = kind.api_version_name()
    for _ in range(UNSET_TRIES):
        target = await api_client.get(version, record["kind"], record["name"], namespace)
        if target is None or target["metadata"].get("deletionTimestamp"):
            return
        if not observed.holds(record["kind"], record["fields"], target.get("spec") or {}):
            return
        patch = {
            "metadata": {"resourceVersion": target["metadata"]["resourceVersion"]},
            "spec": dict.fromkeys(record["fields"]),
        }
        try:
            await api_client.patch(version, record["kind"], record["name"], namespace, patch)
        except client.ApiError as error:
            if error.status == 409:
                continue
            if error.status != 404:
                raise
        return
    raise kopf.TemporaryError(
        f"{record['kind']} {record['name']} changed at each of {UNSET_TRIES} tries to unset "
        f"{', '.join(record['fields'])}",
        delay=1,
    )
