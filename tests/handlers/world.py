"""The handler tier's harness: a handler driven over objects held in memory.

`World` holds the cluster's objects as a handler would find them. It gives the handler a View
of them indexed as kopf's watches index them (nimbus.runtime.cache.View.of_objects) and a
client that does to them what the API server would do with the handler's writes, recording
each: an apply merges the applied fields over the stored object (server-side apply, without
field ownership), a status patch merges the status (a list replaced whole), a delete removes.
State in, state out, in milliseconds: what a handler writes, in which order, and what the
objects say afterwards. What needs the API server itself (schemas, CEL, admission, ownership,
garbage collection, watches) stays in the control-plane tier, tests/integration.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import typing
import uuid
from typing import Any

import kopf

from nimbus.k8s import client
from nimbus.runtime import cache

Key = tuple[str, str, str | None, str]  # (apiVersion, kind, namespace, name)


@dataclasses.dataclass(frozen=True)
class Call:
    """One write the handler made: its verb (apply, create, patch, status, delete, subresource,
    event), the object's kind and name, and what it sent."""

    verb: str
    kind: str
    name: str
    namespace: str | None
    sent: dict[str, Any]


def _merge(into: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386): maps merge, None removes, anything else is replaced."""
    for key, value in patch.items():
        if value is None:
            into.pop(key, None)
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


class World:
    """Objects in memory, a client over them, and the calls it received."""

    def __init__(self, *objects: dict[str, Any]) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.calls: list[Call] = []
        self._versions = itertools.count(1)
        for body in objects:
            self.put(body)

    # The world's own hands: what a test puts in, as another controller or a user would.

    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Store `body` as the API server would: a uid, a resourceVersion, a generation."""
        stored = copy.deepcopy(body)
        metadata = stored.setdefault("metadata", {})
        old = self.objects.get(self.key(stored))
        metadata.setdefault("uid", (old or {}).get("metadata", {}).get("uid") or str(uuid.uuid4()))
        metadata.setdefault("generation", 1)
        metadata.setdefault("creationTimestamp", "2026-12-06T10:00:00Z")
        metadata["resourceVersion"] = str(next(self._versions))
        self.objects[self.key(stored)] = stored
        return copy.deepcopy(stored)

    @staticmethod
    def key(body: dict[str, Any]) -> Key:
        metadata = body["metadata"]
        return body["apiVersion"], body["kind"], metadata.get("namespace"), metadata["name"]

    def find(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        for (_, k, ns, n), body in self.objects.items():
            if (k, n, ns) == (kind, name, namespace):
                return copy.deepcopy(body)
        raise KeyError(f"no {kind} {namespace}/{name}; the world holds {sorted(self.names())}")

    def body(self, kind: str, name: str, namespace: str | None = None) -> kopf.Body:
        """The object as kopf gives it to a handler registered with kopf's causes."""
        return kopf.Body(typing.cast(kopf.RawBody, self.find(kind, name, namespace)))

    def names(self) -> list[str]:
        return [f"{k}/{n}" for (_, k, _ns, n) in self.objects]

    def indexes(self) -> dict[str, Any]:
        """The indexes as kopf's watches would have filled them from these objects, by id: the
        keyword arguments kopf gives a handler."""
        return cache.indexes_of(self.objects.values())

    def view(self) -> cache.View:
        return cache.View(self.indexes())

    @property
    def api(self) -> client.Client:
        """This world, as the API client a handler is given."""
        return typing.cast(client.Client, self)

    def memo(self) -> kopf.Memo:
        memo = kopf.Memo()
        memo.api = self
        memo.view = None
        return memo

    def writes(self, *verbs: str) -> list[tuple[str, str, str]]:
        """(verb, kind, name) of each call, in order; only `verbs` when given."""
        return [(c.verb, c.kind, c.name) for c in self.calls if not verbs or c.verb in verbs]

    # The client's methods a handler calls (nimbus.k8s.client.Client's).

    async def apply(
        self, obj: dict[str, Any], *, force: bool = True, field_manager: str = "nimbus"
    ) -> dict[str, Any]:
        metadata = obj["metadata"]
        self.calls.append(Call("apply", obj["kind"], metadata["name"], metadata.get("namespace"),
                               copy.deepcopy(obj)))  # fmt: skip
        old = self.objects.get(self.key(obj))
        merged = _merge(copy.deepcopy(old or {}), obj)
        if old is not None and old.get("spec") != merged.get("spec"):
            merged["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        return self.put(merged)

    async def create(self, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        metadata = obj["metadata"]
        self.calls.append(Call("create", obj["kind"], metadata["name"], metadata.get("namespace"),
                               copy.deepcopy(obj)))  # fmt: skip
        return copy.deepcopy(obj) if dry_run else self.put(obj)

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        found = self.objects.get((api_version, kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        wanted = dict(pair.split("=", 1) for pair in (label_selector or "").split(",") if pair)
        return [
            copy.deepcopy(b)
            for (v, k, ns, _), b in sorted(self.objects.items(), key=lambda item: item[0][3])
            if (v, k) == (api_version, kind)
            and (namespace is None or ns == namespace)
            and wanted.items() <= (b["metadata"].get("labels") or {}).items()
        ]

    async def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> bool:
        self.calls.append(Call("delete", kind, name, namespace, {}))
        return self.objects.pop((api_version, kind, namespace, name), None) is not None

    async def patch(
        self, api_version: str, kind: str, name: str, namespace: str | None, patch: dict[str, Any]
    ) -> dict[str, Any]:
        self.calls.append(Call("patch", kind, name, namespace, copy.deepcopy(patch)))
        stored = self.objects[(api_version, kind, namespace, name)]
        return self.put(_merge(copy.deepcopy(stored), patch))

    async def patch_status(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        status: dict[str, Any],
    ) -> dict[str, Any]:
        self.calls.append(Call("status", kind, name, namespace, copy.deepcopy(status)))
        stored = copy.deepcopy(self.objects[(api_version, kind, namespace, name)])
        stored["status"] = _merge(stored.get("status") or {}, status)
        return self.put(stored)

    async def put_subresource(
        self,
        group_version: str,
        plural: str,
        name: str,
        namespace: str,
        subresource: str,
        body: dict[str, Any] | None = None,
    ) -> None:
        self.calls.append(Call("subresource", f"{plural}/{subresource}", name, namespace,
                               copy.deepcopy(body or {})))  # fmt: skip

    async def event(
        self, involved: dict[str, Any], *, reason: str, message: str, type: str = "Normal"
    ) -> None:
        metadata = involved["metadata"]
        self.calls.append(Call("event", involved["kind"], metadata["name"],
                               metadata.get("namespace"),
                               {"reason": reason, "message": message, "type": type}))  # fmt: skip
