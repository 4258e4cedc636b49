"""The kopf indexes behind nimbus.runtime.cache's View: one per kind a reconciliation reads,
and the addresses each port holds. Importing this module registers them."""

from __future__ import annotations

from typing import Any

import kopf

from nimbus.runtime import cache


def _register(index_id: str, group: str, version: str, plural: str) -> None:
    async def index(body: kopf.Body, **_: Any) -> dict[tuple[str | None, str], cache.Body]:
        return cache.entry(plural, body)

    index.__name__ = index_id
    if group:
        kopf.index(group, version, plural, id=index_id)(index)
    else:
        kopf.index(version, plural, id=index_id)(index)


for _id, (_group, _version, _plural) in cache.INDEXED.items():
    _register(_id, _group, _version, _plural)


@kopf.index("network.nimbus.dev", "v1alpha1", "ports", id=cache.ADDRESSES)
async def _addresses(
    body: kopf.Body, **_: Any
) -> dict[tuple[str | None, str], tuple[str, set[str]]]:
    return cache.held(body)
