"""Event handlers that try again: a failure is retried after each delay, then given up on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nimbus.runtime import metrics, retrying


@pytest.mark.parametrize(
    ("failures", "calls", "given_up"),
    [
        (0, 1, 0),  # no failure: called once
        (2, 3, 0),  # two failures: tried twice more, then it succeeds
        (9, 4, 1),  # always failing: three delays here, then given up with a line of log
    ],
)
async def test_a_failing_event_handler_is_tried_again_then_given_up_on(
    monkeypatch: pytest.MonkeyPatch, failures: int, calls: int, given_up: int
) -> None:
    monkeypatch.setattr(retrying, "RETRY_DELAYS", (0.01, 0.01, 0.01))
    seen: list[dict[str, Any]] = []
    name = f"handler_{failures}"

    async def handler(**kwargs: Any) -> None:
        seen.append(kwargs)
        if len(seen) <= failures:
            raise ConnectionRefusedError("the API server is away")

    handler.__name__ = name
    before = metrics.HANDLER_FAILURES.labels(name)._value.get()
    wrapped = retrying.retried(handler)
    await wrapped(body={"kind": "VirtualMachineInstance", "metadata": {"name": "web-1"}})
    await asyncio.sleep(0.2)
    assert len(seen) == calls
    assert all(s["body"]["metadata"]["name"] == "web-1" for s in seen)
    assert metrics.HANDLER_FAILURES.labels(name)._value.get() - before == given_up
    assert metrics.HANDLER_RETRIES.labels(name)._value.get() == min(failures, 3)
