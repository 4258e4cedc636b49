"""Reconcile metrics with controller-runtime's names, and the project gauges."""

from __future__ import annotations

import kopf
import prometheus_client
import pytest

from nimbus.runtime import metrics


def value(name: str, **labels: str) -> float:
    got = prometheus_client.REGISTRY.get_sample_value(name, labels)
    return got or 0.0


async def test_each_reconciliation_is_counted_by_its_result() -> None:
    before = {r: value("controller_runtime_reconcile_total", controller="widget", result=r)
              for r in ("success", "requeue_after", "error")}  # fmt: skip
    errors_before = value("controller_runtime_reconcile_errors_total", controller="widget")
    timed_before = value("controller_runtime_reconcile_time_seconds_count", controller="widget")
    async with metrics.reconciling("widget"):
        pass
    with pytest.raises(kopf.TemporaryError):
        async with metrics.reconciling("widget"):
            raise kopf.TemporaryError("waiting", delay=1)
    with pytest.raises(ValueError, match="boom"):
        async with metrics.reconciling("widget"):
            raise ValueError("boom")
    for result in before:
        after = value("controller_runtime_reconcile_total", controller="widget", result=result)
        assert after == before[result] + 1
    errors = value("controller_runtime_reconcile_errors_total", controller="widget")
    assert errors == errors_before + 1
    timed = value("controller_runtime_reconcile_time_seconds_count", controller="widget")
    assert timed == timed_before + 3


def test_project_gauges_follow_the_usage_and_go_with_the_project() -> None:
    usage = {"cores": {"inUse": 5, "limit": 20}, "ramMB": {"inUse": 2048, "limit": 51200}}
    metrics.project_usage("acme", usage, disk_gb=40)
    assert value("nimbus_project_usage", project="acme", resource="vcpus") == 5
    assert value("nimbus_project_quota", project="acme", resource="ram_mb") == 51200
    assert value("nimbus_project_usage", project="acme", resource="disk_gb") == 40
    metrics.forget_project("acme")
    assert (
        prometheus_client.REGISTRY.get_sample_value(
            "nimbus_project_usage", {"project": "acme", "resource": "vcpus"}
        )
        is None
    )
