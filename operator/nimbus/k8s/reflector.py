"""An informer's cache of one kind, by name (`namespace/name` for a namespaced kind, every
namespace's): listed, then watched from the list's
resourceVersion (a watch that ends is resumed from the last version seen, one that fails is
listed again), and told of every object its owner writes, so that what a process wrote is what
it reads next — of two copies, the one with the higher resourceVersion is kept.

Until the first list has answered it is not `synced`, and its owner reads the API server
instead."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from nimbus.k8s import client

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0


def newer(candidate: dict[str, Any], current: dict[str, Any] | None) -> bool:
    """Whether `candidate` is a later state of the object than `current` (None: none kept). An
    etcd resourceVersion is a number; one that is not is taken as newer."""
    if current is None:
        return True
    ours, theirs = (o["metadata"].get("resourceVersion", "") for o in (candidate, current))
    if ours.isdigit() and theirs.isdigit():
        return int(ours) >= int(theirs)
    return True


def _key(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    name, namespace = metadata.get("name") or "", metadata.get("namespace")
    return f"{namespace}/{name}" if namespace and name else name


class Reflector:
    def __init__(self, api: client.Client, api_version: str, kind: str) -> None:
        self.api, self.api_version, self.kind = api, api_version, kind
        self.objects: dict[str, dict[str, Any]] = {}
        self.synced = False
        self._task: asyncio.Task[None] | None = None

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.objects.get(f"{namespace}/{name}" if namespace else name)

    def observe(self, obj: dict[str, Any]) -> None:
        """An object of the kind as an answer gave it (a write's, a watch's): kept if newer."""
        key = _key(obj)
        if obj.get("kind") == self.kind and key and newer(obj, self.objects.get(key)):
            self.objects[key] = obj

    def _replace(self, items: list[dict[str, Any]]) -> None:
        listed = {_key(o): o for o in items}
        for name, kept in self.objects.items():  # written here after the list was read
            if name in listed and not newer(listed[name], kept):
                listed[name] = kept
        self.objects = listed
        self.synced = True

    def _deleted(self, obj: dict[str, Any]) -> None:
        key = _key(obj)
        if newer(obj, self.objects.get(key)):
            self.objects.pop(key, None)

    async def _run(self) -> None:
        while True:
            try:
                items, version = await self.api.list_with_version(self.api_version, self.kind)
                for item in items:  # a list's items carry no kind
                    item.setdefault("kind", self.kind)
                self._replace(items)
                while True:  # a watch the server ended is resumed where it stopped
                    async for change, obj in self.api.watch(
                        self.api_version, self.kind, resource_version=version
                    ):
                        if change == "ERROR":  # 410 Gone, above all: list again
                            raise client.ApiError(int(obj.get("code", 500)), "", str(obj))
                        version = obj.get("metadata", {}).get("resourceVersion", version)
                        if change == "DELETED":
                            self._deleted(obj)
                        elif change != "BOOKMARK":
                            self.observe(obj)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a cache must outlive any failure
                log.warning("watch of %s failed (%s); listing again", self.kind, error)
                await asyncio.sleep(RETRY_SECONDS)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
