"""The placement engine's pieces, as tables: Nova's extra-spec operators, resource fit with the
reasons a user reads, JsonFilter's query language, normalisation."""

from __future__ import annotations

from typing import Any

import pytest

from nimbus.placement import engine, filters, weighers


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
    assert filters.match(value, requirement) is matches


HOST = engine.HostState("n1", vcpus=8, memory_mb=8192, disk_gb=100, vcpus_used=30,
                        memory_mb_used=7168, disk_gb_used=90, availability_zone="az1",
                        hypervisor_version=8002000, stats={"cpu_model": "icelake"})  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (engine.RequestSpec(2, 1024, 10), None),
        (engine.RequestSpec(3, 1024, 10), "CoreFilter: 2 vCPUs free < 3 requested"),
        (engine.RequestSpec(1, 4096, 10), "RamFilter: 1024 MB free < 4096 MB requested"),
        (engine.RequestSpec(1, 512, 20), "DiskFilter: 10 GB free < 20 GB requested"),
        (engine.RequestSpec(1, 512, 1, availability_zone="az2"),
         "AvailabilityZoneFilter: host is in az1, not az2"),
        (engine.RequestSpec(9, 512, 1), "CoreFilter: 9 vCPUs requested > the host's 8 (max_unit)"),
        (engine.RequestSpec(1, 8193, 1),
         "RamFilter: 8193 MB requested > the host's 8192 MB (max_unit)"),
        (engine.RequestSpec(1, 512, 101),
         "DiskFilter: 101 GB requested > the host's 100 GB (max_unit)"),
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
        ('["in", "$host", "n0", "n1"]', True),
        ('["=", "$nodename", "n1"]', True),
        ('["=", "$stats.cpu_model", "icelake"]', True),
        ('["=", "$stats.cpu_model", "skylake"]', False),
        ('[">=", "$hypervisor_version", 8000000]', True),
        # Nova compares the first argument with each other one, not each with the next.
        ('[">", "$free_ram_mb", 100, 200]', True),
        # Nova's HostState has no availability_zone (nor vcpus): the lookup is dropped.
        ('["in", "$availability_zone", "az1", "az2"]', False),
        ('["=", "$vcpus", 8]', False),
        ('["=", "$nonexistent", 1]', False),
    ],
)
def test_json_filter(query: str, passes: bool) -> None:
    spec = engine.RequestSpec(1, 1, 1, hints={"query": query})
    assert (filters.check("JsonFilter", HOST, spec, engine.Config()) is None) is passes


@pytest.mark.parametrize(
    ("values", "minval", "normalized"),
    [
        ([], None, []),
        ([5.0, 5.0], None, [0.0, 0.0]),
        ([5.0, 5.0], 0, [1.0, 1.0]),
        ([2.0, 4.0], 0, [0.5, 1.0]),
        ([2.0, 4.0], None, [0.0, 1.0]),
        # Clamped to minval first: an overcommitted host's negative free RAM counts as 0, and
        # the range is not stretched to it.
        ([-2.0, 2.0, 4.0], 0, [0.0, 0.5, 1.0]),
        ([-2.0, -1.0], 0, [0.0, 0.0]),
        ([-2.0, 2.0], None, [0.0, 1.0]),
    ],
)
def test_normalize_as_nova(
    values: list[float], minval: float | None, normalized: list[float]
) -> None:
    assert weighers.normalize(values, minval) == normalized


def weights(hosts: list[engine.HostState], config: engine.Config) -> dict[str, float]:
    return dict(engine.schedule(hosts, engine.RequestSpec(1, 512, 1), config).weighed)


def test_num_instances_and_hypervisor_version_normalise_from_their_smallest_value() -> None:
    only = engine.Config(
        ram_weight_multiplier=0, cpu_weight_multiplier=0, disk_weight_multiplier=0,
        io_ops_weight_multiplier=0, num_instances_weight_multiplier=-1.0,
    )  # fmt: skip
    hosts = [engine.HostState("a", 8, 8192, 100, num_instances=10, hypervisor_version=9000000),
             engine.HostState("b", 8, 8192, 100, num_instances=20, hypervisor_version=8000000),
             engine.HostState("c", 8, 8192, 100, num_instances=30)]  # fmt: skip
    # NumInstancesWeigher has no minval: 10..30 spans 0..1 (with minval 0, a would get -1/3).
    # HypervisorVersionWeigher (multiplier 1.0): a missing version counts 0.
    assert weights(hosts, only) == pytest.approx(
        {"a": 0.0 + 1.0, "b": -0.5 + 8 / 9, "c": -1.0 + 0.0}
    )


def test_an_overcommitted_host_counts_no_free_ram() -> None:
    ram_only = engine.Config(cpu_weight_multiplier=0, disk_weight_multiplier=0,
                             hypervisor_version_weight_multiplier=0)  # fmt: skip
    hosts = [engine.HostState("over", 8, 8192, 100, memory_mb_used=10240, ram_allocation_ratio=1.5),
             engine.HostState("half", 8, 8192, 100, memory_mb_used=4096, ram_allocation_ratio=1.5),
             engine.HostState("free", 8, 8192, 100, ram_allocation_ratio=1.5)]  # fmt: skip
    assert weights(hosts, ram_only) == {"free": 1.0, "half": 0.5, "over": 0.0}


HOSTS_BY_SERVICE = [
    ("up", {}, None),
    ("disabled", {"disabled": True}, "ComputeFilter: the host's compute service is disabled"),
    ("forced", {"forced_down": True}, "ComputeFilter: the host's compute service is forced down"),
    ("recent", {"heartbeat_age_s": 60}, None),
    ("silent", {"heartbeat_age_s": 61},
     "ComputeFilter: the host was last heard from 61 s ago (service_down_time 60)"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "service", "reason"), HOSTS_BY_SERVICE)
def test_compute_filter_rejects_a_down_or_disabled_service(
    name: str, service: dict[str, object], reason: str | None
) -> None:
    state = engine.HostState(name, 8, 8192, 100, **service)  # type: ignore[arg-type]
    assert filters.check("ComputeFilter", state, engine.RequestSpec(1, 1, 1), engine.Config()) == (
        reason
    )


@pytest.mark.parametrize(
    ("extra_specs", "passes"),
    [
        ({"cpu_model": "icelake"}, True),  # a stats key, unscoped
        ({"cpu_model": "skylake"}, False),
        ({"capabilities:cpu_model": "icelake"}, True),  # a stats key, scoped
        ({"capabilities:hypervisor_version": ">= 8002000"}, True),
        ({"capabilities:hypervisor_type": "s== QEMU"}, True),
        ({"capabilities:nodename": "n1"}, True),
        ({"free_ram_mb": ">= 2048"}, False),  # a HostState attribute, unscoped: 1024 free
        ({"ssd": "true"}, True),  # neither attribute nor stats key: ignored, as Nova does
        ({"capabilities:ssd": "true"}, False),  # scoped: required
        ({"hw:cpu_policy": "dedicated"}, True),  # another scope: not this filter's
        ({"uuid": "x"}, False),  # Nova's HostState has it; a node gives it no value
    ],
)
def test_compute_capabilities(extra_specs: dict[str, str], passes: bool) -> None:
    spec = engine.RequestSpec(1, 1, 1, extra_specs=extra_specs)
    verdict = filters.check("ComputeCapabilitiesFilter", HOST, spec, engine.Config())
    assert (verdict is None) is passes


@pytest.mark.parametrize(
    ("properties", "supported", "passes"),
    [
        ({}, (), True),
        ({"hw_architecture": "x86_64"}, (), False),  # nothing advertised
        ({"hw_architecture": "x86_64"}, (("x86_64", "kvm", "hvm"),), True),
        ({"hw_architecture": "AMD64"}, (("x86_64", "kvm", "hvm"),), True),  # canonical name
        ({"architecture": "aarch64"}, (("x86_64", "kvm", "hvm"),), False),  # the old name
        ({"img_hv_type": "qemu", "hw_vm_mode": "hvm"}, (("x86_64", "qemu", "hvm"),), True),
        ({"img_hv_type": "kvm"}, (("aarch64", "qemu", "hvm"),), False),
    ],
)
def test_image_properties(
    properties: dict[str, str], supported: tuple[tuple[str, str, str], ...], passes: bool
) -> None:
    state = engine.HostState("n1", 8, 8192, 100, supported_instances=supported)
    spec = engine.RequestSpec(1, 1, 1, image_properties=properties)
    verdict = filters.check("ImagePropertiesFilter", state, spec, engine.Config())
    assert (verdict is None) is passes


KVM = (("x86_64", "kvm", "hvm"),)


@pytest.mark.parametrize(
    ("properties", "version", "bits", "passes"),
    [
        ({"hw_architecture": "x86_64", "img_hv_requested_version": ">=8.0"}, 8000000, None, True),
        ({"hw_architecture": "x86_64", "img_hv_requested_version": ">=8.1"}, 8000000, None, False),
        ({"hw_architecture": "x86_64", "img_hv_requested_version": ">= 6.0, < 9"}, 8002001, None,
         True),
        ({"hw_architecture": "x86_64", "img_hv_requested_version": "==8"}, 8000000, None, True),
        ({"hw_architecture": "x86_64", "img_hv_requested_version": "!=8.0.0"}, 8000000, None,
         False),
        # a host that reports no version passes, as in Nova
        ({"hw_architecture": "x86_64", "img_hv_requested_version": ">=99"}, None, None, True),
        # without an architecture, hypervisor type or VM mode Nova checks nothing at all
        ({"img_hv_requested_version": ">=99"}, 8000000, None, True),
        ({"hw_architecture": "x86_64", "img_hv_requested_version": "8.0"}, 8000000, None, False),
        # Nova reads the predicate only for a host with a version
        ({"hw_architecture": "x86_64", "img_hv_requested_version": "garbage"}, None, None, True),
        ({"hw_architecture": "x86_64", "hw_maxphysaddr_bits": "many"}, None, 46, True),
        ({"hw_architecture": "x86_64", "hw_maxphysaddr_bits": 42}, None, 46, True),
        ({"hw_architecture": "x86_64", "hw_maxphysaddr_bits": 48}, None, 46, False),
        ({"hw_architecture": "x86_64", "hw_maxphysaddr_bits": 48}, None, None, True),
    ],
)  # fmt: skip
def test_image_properties_hypervisor_version_and_physical_address_bits(
    properties: dict[str, Any], version: int | None, bits: int | None, passes: bool
) -> None:
    """Nova's ImagePropertiesFilter: img_hv_requested_version (oslo.utils' VersionPredicate)
    against the host's hypervisor version, hw_maxphysaddr_bits against its cpu_info's."""
    cpu_info = {"maxphysaddr": {"bits": bits}} if bits else {}
    state = engine.HostState("n1", 8, 8192, 100, supported_instances=KVM,
                             hypervisor_version=version, cpu_info=cpu_info)  # fmt: skip
    spec = engine.RequestSpec(1, 1, 1, image_properties=properties)
    verdict = filters.check("ImagePropertiesFilter", state, spec, engine.Config())
    assert (verdict is None) is passes, verdict


@pytest.mark.parametrize(
    ("number", "text"), [(8000000, "8.0.0"), (1005003, "1.5.3"), (6002000, "6.2.0"), (7, "7")]
)
def test_a_hypervisor_version_as_oslo_writes_it(number: int, text: str) -> None:
    assert filters.version_string(number) == text


def test_the_pci_weigher_keeps_hosts_with_devices_for_the_servers_that_ask() -> None:
    """Nova's PCIWeigher: MAX_DEVS (100) less the host's free PCI devices (at most 99), so a
    host without devices weighs most; one with more than 99 weighs as one with 99."""
    hosts = [engine.HostState(name, 8, 8192, 100, devices=devices)
             for name, devices in (("plain", {}), ("two", {"gpu": 1, "nic": 1}),
                                   ("many", {"gpu": 150}))]  # fmt: skip
    spec = engine.RequestSpec(1, 512, 1)
    (pci,) = [w for w in weighers.weigh(hosts, spec, engine.Config()) if w.weigher == "PCIWeigher"]
    assert pci.raw == [100, 98, 1]
    assert pci.normalized == [1.0, pytest.approx(97 / 99), 0.0]
    assert pci.multipliers == [1.0, 1.0, 1.0]
    off = engine.Config(pci_weight_multiplier=0.0)
    decision = engine.schedule(hosts, spec, off)
    assert "PCIWeigher" not in {w.weigher for w in weighers.weigh(hosts, spec, off, adding=True)}
    assert decision.weighed
