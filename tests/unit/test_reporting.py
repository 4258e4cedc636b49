"""Builds before reports: a report waits while servers are being built, never for long."""

from __future__ import annotations

import asyncio

import pytest

from nimbus.runtime import reporting


async def _waits(builds: reporting.Builds, seconds: float = 0.05) -> bool:
    """True when a report asking for its turn now is still waiting after `seconds`."""
    turn = asyncio.create_task(builds.turn())
    await asyncio.sleep(seconds)
    waiting = not turn.done()
    turn.cancel()
    return waiting


async def test_with_nothing_being_built_a_report_goes_at_once() -> None:
    assert not await _waits(reporting.Builds())


async def test_a_report_waits_until_the_last_build_is_done() -> None:
    builds = reporting.Builds(grace=0)
    first, second = asyncio.Event(), asyncio.Event()

    async def build(done: asyncio.Event) -> None:
        async with builds.building():
            await done.wait()

    tasks = [asyncio.create_task(build(first)), asyncio.create_task(build(second))]
    await asyncio.sleep(0)
    assert await _waits(builds)
    first.set()
    await asyncio.sleep(0)
    assert await _waits(builds)  # one build is still under way
    second.set()
    await asyncio.gather(*tasks)
    assert not await _waits(builds)


async def test_builds_that_never_end_hold_reports_only_so_long() -> None:
    builds = reporting.Builds(longest=0.1, grace=0)
    endless = asyncio.Event()

    async def build() -> None:
        async with builds.building():
            await endless.wait()

    task = asyncio.create_task(build())
    await asyncio.sleep(0)
    assert await _waits(builds, 0.02)
    await asyncio.sleep(0.1)
    assert not await _waits(builds, 0.02)  # overdue: reports flow while the build goes on
    endless.set()
    await task


async def test_a_failed_build_releases_the_reports() -> None:
    builds = reporting.Builds(grace=0)

    async def failing() -> None:
        async with builds.building():
            raise RuntimeError("the API server said no")

    await asyncio.gather(failing(), return_exceptions=True)
    assert not await _waits(builds)


async def test_a_gap_shorter_than_the_grace_does_not_end_a_burst() -> None:
    builds = reporting.Builds(grace=0.2)

    async def build() -> None:
        async with builds.building():
            await asyncio.sleep(0.01)

    await build()
    assert await _waits(builds, 0.05)  # within the grace: the burst may go on
    await build()  # it does
    assert await _waits(builds, 0.1)
    await asyncio.sleep(0.2)
    assert not await _waits(builds)  # a grace with no build: the burst is over


@pytest.mark.parametrize(
    ("word", "reason"),
    [("PAUSED", "Paused"), ("in-use", "InUse"), ("HARD_REBOOT", "HardReboot"),
     ("available", "Available")],
)  # fmt: skip
def test_a_status_word_becomes_an_event_reason(word: str, reason: str) -> None:
    assert reporting.reason_of(word) == reason
