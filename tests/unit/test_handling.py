"""How handlers are registered: what kopf is spared."""

from __future__ import annotations

import typing
from typing import Any

import pytest


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


async def test_a_404_from_an_object_deleted_meanwhile_ends_its_pass_without_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A pass that writes to its object after a user (or a stack's delete) removed it gets a
    404: the object is gone, which is what a delete asks, so no ERROR and no traceback."""
    import kopf

    from nimbus.k8s import client
    from nimbus.runtime import handling

    class Gadget:  # the little a watched kind needs
        group, plural = "test.nimbus.dev", "gadgets"

        @staticmethod
        def kind_name() -> str:
            return "Gadget"

        @staticmethod
        def api_version_name() -> str:
            return "test.nimbus.dev/v1alpha1"

    class Gone:  # the API server after the delete
        async def get(self, *_: object) -> None:
            return None

    passes: list[str] = []

    @handling.watched(typing.cast(Any, Gadget))
    async def gadget(body: dict[str, Any], **_: object) -> None:
        passes.append(body["metadata"]["name"])
        raise client.ApiError(404, "NotFound", 'gadgets.test.nimbus.dev "g" not found')

    memo = kopf.Memo()
    memo.api = Gone()
    body = kopf.Body({"apiVersion": "test.nimbus.dev/v1alpha1", "kind": "Gadget",
                      "metadata": {"name": "g", "namespace": "n", "uid": "u"}})  # fmt: skip
    dispatch = handling.DISPATCHERS[("test.nimbus.dev", "v1alpha1", "gadgets")]
    await dispatch(type="MODIFIED", body=body, memo=memo, **_indexes())
    assert passes == ["g"]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == []
