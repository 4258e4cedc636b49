"""The Argo CD health checks, run by a real Lua interpreter (lupa) on sample statuses of every
kind, covering each branch of the script."""

from __future__ import annotations

from typing import Any

import lupa  # type: ignore[import-untyped]
import pytest

from nimbus.api import kinds
from nimbus.generate import argocd

LUA = lupa.LuaRuntime(unpack_returned_tuples=True)
KINDS = [k.kind_name() for k in kinds.ALL]


def lua_value(value: Any) -> Any:
    """JSON as Argo CD hands it to Lua: objects and arrays as tables (arrays from 1)."""
    if isinstance(value, dict):
        return LUA.table_from({k: lua_value(v) for k, v in value.items()})
    if isinstance(value, list):
        return LUA.table_from([lua_value(v) for v in value])
    return value


def health(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    check = LUA.execute(f"return function(obj)\n{argocd.script(kind)}\nend")
    return dict(check(lua_value(obj)))


def ready(status: str, message: str = "") -> dict[str, Any]:
    return {"type": "Ready", "status": status, "reason": "R", "message": message}


def obj(status: dict[str, Any] | None, generation: int = 2) -> dict[str, Any]:
    out: dict[str, Any] = {"metadata": {"name": "x", "generation": generation}}
    if status is not None:
        out["status"] = status
    return out


def test_a_check_for_every_kind_keyed_as_argocd_cm_wants() -> None:
    checks = argocd.health_checks()
    assert len(checks) == len(kinds.ALL)
    assert "resource.customizations.health.compute.nimbus.dev_Server" in checks
    assert "resource.customizations.health.orchestration.nimbus.dev_Stack" in checks


@pytest.mark.parametrize("kind", KINDS)
def test_no_status_yet_is_progressing(kind: str) -> None:
    waiting = "Waiting for the Nimbus operator to report"
    assert health(kind, obj(None)) == {"status": "Progressing", "message": waiting}


@pytest.mark.parametrize("kind", KINDS)
def test_ready_for_the_current_generation_is_healthy(kind: str) -> None:
    field, _ = argocd.DEGRADED.get(kind, ("status", frozenset()))
    word = {"Server": "ACTIVE", "Image": "active", "Volume": "available",
            "Stack": "CREATE_COMPLETE", "Project": "ACTIVE"}.get(kind)  # fmt: skip
    status: dict[str, Any] = {"conditions": [ready("True")], "observedGeneration": 2}
    if word:
        status[field] = word
    assert health(kind, obj(status)) == {"status": "Healthy", "message": word or "Ready"}


@pytest.mark.parametrize("kind", KINDS)
def test_ready_for_an_older_generation_is_still_progressing(kind: str) -> None:
    status = {"conditions": [ready("True")], "observedGeneration": 1}
    assert health(kind, obj(status))["status"] == "Progressing"
    no_generation = {"conditions": [ready("True")]}
    assert health(kind, obj(no_generation))["status"] == "Progressing"


@pytest.mark.parametrize("kind", KINDS)
def test_not_ready_is_progressing_with_the_reason(kind: str) -> None:
    status = {"conditions": [ready("False", "Flavor m1.huge not found")]}
    assert health(kind, obj(status)) == {
        "status": "Progressing", "message": "Flavor m1.huge not found"}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "word"),
    [("Server", "BUILD"), ("Server", "RESIZE"), ("Image", "saving"), ("Image", "queued"),
     ("Volume", "creating"), ("Volume", "extending"), ("Snapshot", "creating"),
     ("Stack", "CREATE_IN_PROGRESS"), ("Stack", "UPDATE_IN_PROGRESS"), ("Project", "BUILD"),
     ("Port", "BUILD")],
)  # fmt: skip
def test_work_under_way_is_progressing_with_its_word(kind: str, word: str) -> None:
    field, _ = argocd.DEGRADED[kind]
    status = {field: word, "conditions": [ready("False", "building")], "observedGeneration": 2}
    assert health(kind, obj(status)) == {"status": "Progressing", "message": f"{word}: building"}
    assert health(kind, obj({field: word})) == {"status": "Progressing", "message": word}


@pytest.mark.parametrize(
    ("kind", "word"),
    [
        (kind, word)
        for kind, (_f, words) in sorted(argocd.DEGRADED.items())
        for word in sorted(words)
    ]
    + [("Stack", "CREATE_FAILED"), ("Stack", "UPDATE_FAILED"), ("Stack", "DELETE_FAILED")],
)
def test_errors_are_degraded_with_the_message(kind: str, word: str) -> None:
    field, _ = argocd.DEGRADED[kind]
    status = {field: word, "conditions": [ready("False", "it broke")], "observedGeneration": 2}
    assert health(kind, obj(status)) == {"status": "Degraded", "message": f"{word}: it broke"}


def test_a_servers_fault_and_a_stacks_reason_are_the_message() -> None:
    server = {"status": "ERROR", "fault": {"code": 500, "message": "No valid host was found. "},
              "conditions": [ready("False", "Error")]}  # fmt: skip
    assert health("Server", obj(server)) == {
        "status": "Degraded", "message": "ERROR: No valid host was found. "}  # fmt: skip
    reason = "Resource CREATE failed: resources.bad: Property error"
    stack = {"stackStatus": "CREATE_FAILED", "stackStatusReason": reason}
    assert health("Stack", obj(stack))["message"] == (
        "CREATE_FAILED: Resource CREATE failed: resources.bad: Property error"
    )
    healthy = {"stackStatus": "UPDATE_COMPLETE", "conditions": [ready("True")],
               "observedGeneration": 2}  # fmt: skip
    assert health("Stack", obj(healthy))["status"] == "Healthy"
    # A server whose word says ERROR in another kind's vocabulary is not degraded there.
    assert health("Image", obj({"status": "ERROR"}))["status"] == "Progressing"
