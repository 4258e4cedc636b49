"""Every case the real Nova scheduler decided (tests/fixtures/nova-parity, from Nova 34.0.0):
the same hosts fit, the same pass the filters, in the same weighed order with Nova's weights.

Every case applies on Kubernetes as it is. What of Nova cannot (cells, retries on another host,
host_subset_size > 1, NUMA fitting: the kubelet's topology manager's job) has no case here, and
docs/placement.md names it."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from nimbus.placement import engine

CASES = sorted((pathlib.Path(__file__).parents[1] / "fixtures" / "nova-parity").glob("case-*.json"))


def host(raw: dict[str, Any]) -> engine.HostState:
    return engine.HostState(
        name=raw["name"], vcpus=raw["vcpus"], memory_mb=raw["memory_mb"], disk_gb=raw["disk_gb"],
        vcpus_used=raw["vcpus_used"], memory_mb_used=raw["memory_mb_used"],
        disk_gb_used=raw["disk_gb_used"], cpu_allocation_ratio=raw["cpu_allocation_ratio"],
        ram_allocation_ratio=raw["ram_allocation_ratio"],
        disk_allocation_ratio=raw["disk_allocation_ratio"], num_instances=raw["num_instances"],
        num_io_ops=raw["num_io_ops"], instances=frozenset(raw["instances"]),
        availability_zone=raw["availability_zone"], disabled=raw["disabled"],
        aggregates=raw["aggregates"], failed_builds=raw["failed_builds"],
    )  # fmt: skip


def request(raw: dict[str, Any]) -> engine.RequestSpec:
    group = raw.get("server_group")
    return engine.RequestSpec(
        vcpus=raw["vcpus"], memory_mb=raw["memory_mb"], disk_gb=raw["disk_gb"],
        extra_specs=raw.get("extra_specs", {}), image_properties=raw.get("image_properties", {}),
        hints=raw.get("hints", {}), availability_zone=raw.get("availability_zone"),
        project_id=raw.get("project_id", "p1"),
        server_group=engine.ServerGroup(
            policy=group["policy"], hosts=tuple(group.get("hosts", [])),
            members=tuple(group.get("members", [])), rules=group.get("rules", {}),
        ) if group else None,
    )  # fmt: skip


def test_there_are_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_same_decision_as_nova(path: pathlib.Path) -> None:
    case = json.loads(path.read_text())
    config = engine.Config(enabled_filters=tuple(case["config"]["filters"]),
                           **case["config"].get("options", {}))  # fmt: skip
    decision = engine.schedule([host(h) for h in case["hosts"]], request(case["request"]), config)
    expected = case["expected"]
    assert sorted(decision.fit) == sorted(expected["placement_fit"])
    assert decision.passed == sorted(expected["passed_filters"])
    assert [name for name, _ in decision.weighed] == [name for name, _ in expected["weighed"]]
    for (_, weight), (_, nova) in zip(decision.weighed, expected["weighed"], strict=True):
        assert weight == pytest.approx(nova, abs=1e-6)
