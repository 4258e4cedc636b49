"""A Node as Nova's HostState, and the filters that read what only nodes carry: traits, PCI
devices, the host's address, isolated hosts."""

from __future__ import annotations

from typing import Any

import pytest

from nimbus.devcloud import cluster
from nimbus.placement import engine, hosts


def node(labels: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "n1", "labels": labels},
        "spec": extra.get("spec", {}),
        "status": {
            "allocatable": {"cpu": "8", "memory": "32Gi", "ephemeral-storage": "200Gi"},
            "addresses": [{"type": "InternalIP", "address": "10.1.2.3"}],
        },
    }


def test_capacity_from_labels_ratios_from_configuration_usage_from_servers() -> None:
    devcloud_node = cluster._node(cluster.NODES[2])
    placed = [hosts.Placed("demo/web-1", 2, 4096, 20),
              hosts.Placed("demo/db-1", 4, 8192, 40, busy=True)]  # fmt: skip
    state = hosts.host_state(devcloud_node, placed, hosts.Defaults(cpu_allocation_ratio=16.0))
    assert (state.name, state.vcpus, state.memory_mb, state.disk_gb) == (
        "compute-3", 32, 131072, 1000
    )  # fmt: skip
    assert (state.vcpus_used, state.memory_mb_used, state.disk_gb_used) == (6, 12288, 60)
    assert (state.num_instances, state.num_io_ops) == (2, 1)
    assert state.instances == {"demo/web-1", "demo/db-1"}
    assert state.cpu_allocation_ratio == 16.0
    assert state.availability_zone == "zone-b"
    assert not state.disabled


def test_allocatable_is_the_fallback_and_labels_say_the_rest() -> None:
    labels = {
        "compute.nimbus.dev/ram-allocation-ratio": "1.5",
        "compute.nimbus.dev/reserved-memory-mb": "512",
        "compute.nimbus.dev/disabled": "true",
        "aggregate.compute.nimbus.dev/ssd": "true",
        "ssd.aggregate.compute.nimbus.dev/ssd": "true",
        "tenant-a.aggregate.compute.nimbus.dev/filter_tenant_id": "project-a",
        "trait.compute.nimbus.dev/HW_CPU_X86_AVX2": "true",
        "device.compute.nimbus.dev/a100": "4",
    }
    gpu_user = hosts.Placed("demo/train", 1, 1024, 10, devices={"a100": 3})
    state = hosts.host_state(node(labels), [gpu_user])
    assert (state.vcpus, state.memory_mb, state.disk_gb) == (8, 32768, 200)
    assert (state.ram_allocation_ratio, state.reserved_memory_mb) == (1.5, 512)
    assert state.disabled
    assert state.aggregates == {"ssd": {"ssd": "true"},
                                "tenant-a": {"filter_tenant_id": "project-a"}}  # fmt: skip
    assert state.traits == {"HW_CPU_X86_AVX2"}
    assert state.devices == {"a100": 1}
    assert state.host_ip == "10.1.2.3"
    assert hosts.host_state(node({}, spec={"unschedulable": True})).disabled


@pytest.mark.parametrize(
    ("text", "value"),
    [("16", 16), ("1500m", 1.5), ("64Gi", 64 * 2**30), ("500G", 500e9), ("2Ki", 2048)],
)
def test_quantities(text: str, value: float) -> None:
    assert hosts.quantity(text) == value


def test_traits_devices_address_and_isolation() -> None:
    state = hosts.host_state(node({"trait.compute.nimbus.dev/HW_CPU_X86_AVX2": "true",
                                   "device.compute.nimbus.dev/a100": "2"}))  # fmt: skip
    config = engine.Config()

    def spec(**fields: Any) -> engine.RequestSpec:
        return engine.RequestSpec(1, 512, 1, **fields)

    assert engine.fit(state, spec(extra_specs={"trait:HW_CPU_X86_AVX2": "required"})) is None
    assert engine.fit(state, spec(extra_specs={"trait:HW_CPU_X86_AVX2": "forbidden"})) == (
        "TraitFilter: the host has the forbidden trait HW_CPU_X86_AVX2"
    )
    assert engine.fit(state, spec(extra_specs={"trait:CUSTOM_FPGA": "required"})) == (
        "TraitFilter: the host lacks the required trait CUSTOM_FPGA"
    )
    two = spec(extra_specs={"pci_passthrough:alias": "a100:2"})
    three = spec(extra_specs={"pci_passthrough:alias": "a100:2,a100:1"})
    assert engine.pci_passthrough_filter(state, two, config) is None
    assert engine.pci_passthrough_filter(state, three, config) == (
        "PciPassthroughFilter: 2 a100 free < 3 requested"
    )
    near = spec(hints={"build_near_host_ip": "10.1.2.200", "cidr": "/24"})
    far = spec(hints={"build_near_host_ip": "10.1.9.1", "cidr": "/24"})
    assert engine.simple_cidr_affinity_filter(state, near, config) is None
    assert engine.simple_cidr_affinity_filter(state, far, config) == (
        "SimpleCIDRAffinityFilter: host address 10.1.2.3 is not in 10.1.9.0/24"
    )
    isolated = engine.Config(isolated_hosts=("n1",), isolated_images=("secure",))
    assert engine.isolated_hosts_filter(state, spec(image="secure"), isolated) is None
    assert engine.isolated_hosts_filter(state, spec(image="cirros"), isolated) is not None
    loose = engine.Config(isolated_hosts=("n1",), isolated_images=("secure",),
                          restrict_isolated_hosts_to_isolated_images=False)  # fmt: skip
    assert engine.isolated_hosts_filter(state, spec(image="cirros"), loose) is None
