"""The placement engine's pieces, as tables: Nova's extra-spec operators, resource fit with the
reasons a user reads, JsonFilter's query language, normalisation."""

from __future__ import annotations

import pytest

from nimbus.placement import engine


@pytest.mark.parametrize(
    ("value", "requirement", "matches"),
    [
        ("true", "true", True), ("false", "true", False),
        ("64", ">= 64", True), ("63", ">= 64", False), ("64", "= 32", True),
        ("10", "== 10", True), ("10", "!= 10", False), ("8", "<= 8", True),
        ("abc", "s== abc", True), ("abc", "s!= abc", False), ("b", "s> a", True),
        ("b", "s< a", False), ("a", "s<= a", True), ("a", "s>= b", False),
        ("avx2,sse4", "<in> avx2", True), ("sse4", "<in> avx2", False),
        ("avx2 sse4", "<all-in> avx2 sse4", True), ("avx2", "<all-in> avx2 sse4", False),
        ("kvm", "<or> qemu <or> kvm", True), ("xen", "<or> qemu <or> kvm", False),
        ("x", ">= 1", False),  # not a number: no match, no crash
        (None, ">= 1", False),
    ],
)  # fmt: skip
def test_extra_spec_operators(value: str | None, requirement: str, matches: bool) -> None:
    assert engine.match(value, requirement) is matches


HOST = engine.HostState("n1", vcpus=8, memory_mb=8192, disk_gb=100, vcpus_used=30,
                        memory_mb_used=7168, disk_gb_used=90, availability_zone="az1")  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (engine.RequestSpec(2, 1024, 10), None),
        (engine.RequestSpec(3, 1024, 10), "CoreFilter: 2 vCPUs free < 3 requested"),
        (engine.RequestSpec(1, 4096, 10), "RamFilter: 1024 MB free < 4096 MB requested"),
        (engine.RequestSpec(1, 512, 20), "DiskFilter: 10 GB free < 20 GB requested"),
        (engine.RequestSpec(1, 512, 1, availability_zone="az2"),
         "AvailabilityZoneFilter: host is in az1, not az2"),
    ],
)  # fmt: skip
def test_fit_with_allocation_ratios_and_reasons(
    spec: engine.RequestSpec, reason: str | None
) -> None:
    assert engine.fit(HOST, spec) == reason


@pytest.mark.parametrize(
    ("query", "passes"),
    [
        ('[">=", "$free_ram_mb", 1024]', True),
        ('[">", "$free_ram_mb", 1024]', False),
        ('["and", [">=", "$free_ram_mb", 512], ["<", "$num_io_ops", 1]]', True),
        ('["or", ["=", "$vcpus_total", 4], ["=", "$host", "n1"]]', True),
        ('["not", ["=", "$host", "n1"]]', False),
        ('["in", "$availability_zone", "az1", "az2"]', True),
        ('["=", "$nonexistent", 1]', False),
    ],
)
def test_json_filter(query: str, passes: bool) -> None:
    spec = engine.RequestSpec(1, 1, 1, hints={"query": query})
    assert (engine.json_filter(HOST, spec, engine.Config()) is None) is passes


def test_normalize_as_nova() -> None:
    assert engine.normalize([]) == []
    assert engine.normalize([5.0, 5.0]) == [0.0, 0.0]
    assert engine.normalize([5.0, 5.0], minval=0) == [1.0, 1.0]
    assert engine.normalize([2.0, 4.0], minval=0) == [0.5, 1.0]
    assert engine.normalize([-2.0, 4.0], minval=0) == [0.0, 1.0]
    assert engine.normalize([2.0, 4.0]) == [0.0, 1.0]
