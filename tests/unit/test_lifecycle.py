"""Reboot, resize and rebuild, read from a server's change: which one, and when it is over."""

from __future__ import annotations

from typing import Any

import pytest

from nimbus.compute import lifecycle

FLAVORS = {"m1.small": 20, "m1.medium": 40, "m1.tiny": 1}
BUILT = {"flavor": "m1.small", "image": "/cirros", "rootGeneration": 0, "reboot": None}


def spec(flavor: str = "m1.small", image: str | None = "cirros") -> dict[str, Any]:
    return {"flavor": flavor, **({"image": {"name": image}} if image else {})}


@pytest.mark.parametrize(
    ("server", "annotations", "status", "expected"),
    [
        # the first build acts on nothing, whatever the annotations say
        (spec(), {lifecycle.REBOOT: "t1"}, {}, lifecycle.Action(None, "m1.small", 0)),
        # nothing changed
        (spec(), {}, {"built": BUILT}, lifecycle.Action(None, "m1.small", 0)),
        # a new reboot request; the same one again is not
        (spec(), {lifecycle.REBOOT: "t1"}, {"built": BUILT},
         lifecycle.Action("REBOOT", "m1.small", 0)),
        (spec(), {lifecycle.REBOOT: "t1", lifecycle.REBOOT_TYPE: "hard"}, {"built": BUILT},
         lifecycle.Action("HARD_REBOOT", "m1.small", 0)),
        (spec(), {lifecycle.REBOOT: "t1"}, {"built": {**BUILT, "reboot": "t1"}},
         lifecycle.Action(None, "m1.small", 0)),
        # resize up; down is refused in Nova's words and the old flavor is kept
        (spec("m1.medium"), {}, {"built": BUILT}, lifecycle.Action("RESIZE", "m1.medium", 0)),
        (spec("m1.tiny"), {}, {"built": BUILT},
         lifecycle.Action(None, "m1.small", 0, lifecycle.RESIZE_DOWN)),
        # rebuild: a new root disk generation; it wins over a resize asked at the same time
        (spec(image="fedora"), {}, {"built": BUILT}, lifecycle.Action("REBUILD", "m1.small", 1)),
        (spec("m1.medium", "fedora"), {}, {"built": {**BUILT, "rootGeneration": 2}},
         lifecycle.Action("REBUILD", "m1.medium", 3)),
        # a volume-booted server has no image to rebuild from
        (spec(image=None), {}, {"built": {**BUILT, "image": None}},
         lifecycle.Action(None, "m1.small", 0)),
    ],
)  # fmt: skip
def test_plan(
    server: dict[str, Any],
    annotations: dict[str, str],
    status: dict[str, Any],
    expected: lifecycle.Action,
) -> None:
    assert lifecycle.plan(server, annotations, status, FLAVORS) == expected


def test_built_records_what_the_next_change_is_compared_with() -> None:
    action = lifecycle.Action("REBUILD", "m1.small", 1)
    assert lifecycle.built(spec(image="fedora"), {lifecycle.REBOOT: "t1"}, action) == {
        "flavor": "m1.small",
        "image": "/fedora",
        "rootGeneration": 1,
        "reboot": "t1",
    }


def vmi(uid: str, phase: str = "Running") -> dict[str, Any]:
    return {"metadata": {"uid": uid}, "status": {"phase": phase}}


@pytest.mark.parametrize(
    ("operation", "instance", "done"),
    [
        (None, None, True),
        ({"type": "REBOOT", "instance": "a"}, None, False),  # the old one is gone, no new yet
        ({"type": "REBOOT", "instance": "a"}, vmi("a"), False),  # the old one still runs
        ({"type": "REBOOT", "instance": "a"}, vmi("b", "Scheduling"), False),
        ({"type": "REBOOT", "instance": "a"}, vmi("b"), True),
    ],
)
def test_finished(
    operation: dict[str, Any] | None, instance: dict[str, Any] | None, done: bool
) -> None:
    assert lifecycle.finished(operation, instance) is done


@pytest.mark.parametrize(
    ("metadata", "asked"),
    [
        ({"generation": 3}, (3, None)),
        ({"generation": 3, "annotations": {}}, (3, None)),
        ({"generation": 4, "annotations": {lifecycle.REBOOT: "2026-12-06T10:00:00Z"}},
         (4, "2026-12-06T10:00:00Z")),
    ],
)  # fmt: skip
def test_what_an_action_is_planned_from_is_the_generation_and_the_reboot_asked(
    metadata: dict[str, Any], asked: tuple[Any, str | None]
) -> None:
    assert lifecycle.asked({"metadata": metadata}) == asked
    assert lifecycle.reboot_asked({"metadata": metadata}) == asked[1]
