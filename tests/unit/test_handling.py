"""How handlers are registered: what kopf is spared."""

from __future__ import annotations

from typing import Any


def test_only_nimbus_kinds_kopf_reconciles_get_an_essence() -> None:
    """kopf's per-event essence (a deep copy) is built only where create/update handlers use it."""
    from nimbus.compute import handlers as compute  # registers the watched kinds
    from nimbus.network import handlers as network
    from nimbus.runtime import handling

    def needed(api_version: str, kind: str) -> bool:
        return handling.Essences._needed({"apiVersion": api_version, "kind": kind})  # type: ignore[arg-type]

    assert {compute.server.__name__, network.port.__name__} == {"server", "port"}

    assert needed("compute.nimbus.dev/v1alpha1", "Flavor")
    assert needed("blockstorage.nimbus.dev/v1alpha1", "Volume")
    assert not needed("compute.nimbus.dev/v1alpha1", "Server")
    assert not needed("network.nimbus.dev/v1alpha1", "Port")
    assert not needed("kubevirt.io/v1", "VirtualMachine")
    assert not needed("v1", "Node")


async def test_the_followers_of_a_kind_share_one_kopf_handler_and_each_runs() -> None:
    """A kind's followers run in turn on each event, one failing without stopping the next."""
    import kopf

    from nimbus.runtime import handling

    seen: list[str] = []

    @handling.follows("test.nimbus.dev", "v1alpha1", "widgets")
    async def first(type: str | None, body: dict[str, object], **_: object) -> None:
        seen.append(f"first {type}")
        raise RuntimeError("a follower's bug")

    @handling.follows("test.nimbus.dev", "v1alpha1", "widgets")
    async def second(type: str | None, body: dict[str, object], **_: object) -> None:
        seen.append(f"second {type}")

    key = ("test.nimbus.dev", "v1alpha1", "widgets")
    assert handling._FOLLOWERS[key] == [first, second]
    assert list(handling.DISPATCHERS).count(key) == 1  # one kopf handler for both
    body = kopf.Body({"metadata": {"name": "w", "namespace": "n", "uid": "u"}})
    await handling.DISPATCHERS[key](type="ADDED", body=body, memo=kopf.Memo(), **_indexes())
    assert seen == ["first ADDED", "second ADDED"]


def _indexes() -> dict[str, Any]:
    """Empty stand-ins for the indexes kopf passes to every handler."""
    from nimbus.runtime import cache

    return {name: {} for name in [*cache.INDEXED, cache.ADDRESSES]}
