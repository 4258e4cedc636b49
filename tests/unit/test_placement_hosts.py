"""A Node as Nova's HostState, and the filters that read what only nodes carry: traits, PCI
devices, the host's address, isolated hosts; KubeVirt's node labels, liveness, every pod's usage."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from nimbus.devcloud import cluster
from nimbus.placement import engine, filters, hosts


def node(labels: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "n1", "labels": labels},
        "spec": extra.get("spec", {}),
        "status": {
            "allocatable": {"cpu": "8", "memory": "32Gi", "ephemeral-storage": "200Gi",
                            **extra.get("allocatable", {})},
            "addresses": [{"type": "InternalIP", "address": "10.1.2.3"}],
            "conditions": extra.get("conditions", []),
        },
    }  # fmt: skip


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
    assert state.free_ram_mb == 32768 - 512 - 1024  # Nova's: used counts the reserved memory
    assert state.disabled
    assert state.aggregates == {"ssd": {"ssd": "true"},
                                "tenant-a": {"filter_tenant_id": "project-a"}}  # fmt: skip
    assert state.traits == {"HW_CPU_X86_AVX2"}
    assert state.devices == {"a100": 1}
    assert state.host_ip == "10.1.2.3"
    assert hosts.host_state(node({}, spec={"unschedulable": True})).disabled


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("16", 16),
        ("1500m", 1.5),
        ("64Gi", 64 * 2**30),
        ("500G", 500e9),
        ("2Ki", 2048),
        ("129e6", 129e6),
        ("1E", 1e18),
        ("250u", 250e-6),
    ],
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
    assert filters.check("PciPassthroughFilter", state, two, config) is None
    assert filters.check("PciPassthroughFilter", state, three, config) == (
        "PciPassthroughFilter: 2 a100 free < 3 requested"
    )
    near = spec(hints={"build_near_host_ip": "10.1.2.200", "cidr": "/24"})
    far = spec(hints={"build_near_host_ip": "10.1.9.1", "cidr": "/24"})
    assert filters.check("SimpleCIDRAffinityFilter", state, near, config) is None
    assert filters.check("SimpleCIDRAffinityFilter", state, far, config) == (
        "SimpleCIDRAffinityFilter: host address 10.1.2.3 is not in 10.1.9.0/24"
    )
    isolated = engine.Config(isolated_hosts=("n1",), isolated_images=("secure",))
    assert filters.check("IsolatedHostsFilter", state, spec(image="secure"), isolated) is None
    assert filters.check("IsolatedHostsFilter", state, spec(image="cirros"), isolated) is not None
    loose = engine.Config(isolated_hosts=("n1",), isolated_images=("secure",),
                          restrict_isolated_hosts_to_isolated_images=False)  # fmt: skip
    assert filters.check("IsolatedHostsFilter", state, spec(image="cirros"), loose) is None


KVM = {"devices.kubevirt.io/kvm": "1k"}
FIELDS = ("stats", "cpu_info", "supported_instances", "hypervisor_version", "disabled")


@pytest.mark.parametrize(
    ("labels", "allocatable", "field", "value"),
    [
        ({}, {}, "stats", {}),
        ({}, {}, "supported_instances", (("x86_64", "qemu", "hvm"),)),
        ({}, KVM, "supported_instances", (("x86_64", "kvm", "hvm"), ("x86_64", "qemu", "hvm"))),
        ({"kubernetes.io/arch": "arm64"}, KVM, "supported_instances",
         (("aarch64", "kvm", "hvm"), ("aarch64", "qemu", "hvm"))),
        ({"host-model-cpu.node.kubevirt.io/Icelake-Server": "true"}, {}, "stats",
         {"cpu_model": "Icelake-Server"}),
        ({"cpu-vendor.node.kubevirt.io/Intel": "true"}, {}, "stats", {"cpu_vendor": "Intel"}),
        ({"cpu-model.node.kubevirt.io/Skylake-Server": "true",
          "cpu-model.node.kubevirt.io/Haswell": "true",
          "cpu-model.node.kubevirt.io/Penryn": "false"}, {}, "stats",
         {"cpu_models": "Haswell,Skylake-Server"}),
        ({"stats.compute.nimbus.dev/gpu_family": "ampere"}, {}, "stats",
         {"gpu_family": "ampere"}),
        ({"host-model-cpu.node.kubevirt.io/Icelake-Server": "true",
          "cpu-vendor.node.kubevirt.io/Intel": "true",
          "cpu-feature.node.kubevirt.io/avx2": "true",
          "cpu-feature.node.kubevirt.io/sse4.2": "true"}, {}, "cpu_info",
         {"model": "Icelake-Server", "vendor": "Intel", "features": ["avx2", "sse4.2"],
          "arch": "x86_64"}),
        ({"compute.nimbus.dev/hypervisor-version": "8002000"}, {}, "hypervisor_version", 8002000),
        ({"compute.nimbus.dev/hypervisor-version": "9.5"}, {}, "hypervisor_version", 9005000),
        ({"compute.nimbus.dev/hypervisor-version": "v9"}, {}, "hypervisor_version", None),
        ({}, {}, "hypervisor_version", None),
        ({"kubevirt.io/schedulable": "false"}, {}, "disabled", True),
        ({"kubevirt.io/schedulable": "true"}, {}, "disabled", False),
    ],
)  # fmt: skip
def test_node_labels_as_host_state_fields(
    labels: dict[str, str], allocatable: dict[str, str], field: str, value: Any
) -> None:
    state = hosts.host_state(node(labels, allocatable=allocatable))
    assert getattr(state, field) == value


def test_cpu_features_are_x86_traits() -> None:
    labels = {"cpu-feature.node.kubevirt.io/avx2": "true",
              "cpu-feature.node.kubevirt.io/sse4.2": "true"}  # fmt: skip
    assert hosts.host_state(node(labels)).traits == {"HW_CPU_X86_AVX2", "HW_CPU_X86_SSE4_2"}
    arm = hosts.host_state(node({**labels, "kubernetes.io/arch": "arm64"}))
    assert arm.traits == frozenset()


NOW = datetime.datetime(2026, 12, 7, 12, 0, 0, tzinfo=datetime.UTC)


def ready(status: str, beat: str) -> dict[str, str]:
    return {"type": "Ready", "status": status, "lastHeartbeatTime": beat}


@pytest.mark.parametrize(
    ("conditions", "lease", "down", "age"),
    [
        ([], None, False, 0.0),
        # The condition's heartbeat is refreshed every few minutes only: not a liveness signal.
        ([ready("True", "2026-12-07T11:50:00Z")], None, False, 0.0),
        ([ready("False", "2026-12-07T11:59:50Z")], None, True, 0.0),
        ([ready("Unknown", "2026-12-07T11:50:00Z")], None, True, 0.0),
        # The Lease is renewed every 10 s.
        ([ready("True", "2026-12-07T11:50:00Z")],
         {"spec": {"renewTime": "2026-12-07T11:59:58.000000Z"}}, False, 2.0),
        ([ready("True", "2026-12-07T11:50:00Z")],
         {"spec": {"renewTime": "2026-12-07T11:58:00.000000Z"}}, False, 120.0),
    ],
)  # fmt: skip
def test_liveness_from_ready_condition_and_lease(
    conditions: list[dict[str, str]], lease: dict[str, Any] | None, down: bool, age: float
) -> None:
    state = hosts.host_state(node({}, conditions=conditions), lease=lease, now=NOW)
    assert (state.forced_down, state.heartbeat_age_s) == (down, age)
    up = filters.check("ComputeFilter", state, engine.RequestSpec(1, 1, 1), engine.Config())
    assert (up is None) is (not down and age <= 60)


def test_every_pod_on_a_node_uses_it_only_servers_are_instances() -> None:
    pod = {
        "metadata": {"namespace": "kube-system", "name": "coredns-1"},
        "spec": {
            "containers": [{"resources": {"requests": {"cpu": "250m", "memory": "128Mi"}}},
                           {"resources": {"requests": {"cpu": "250m", "memory": "64Mi",
                                                       "ephemeral-storage": "1Gi"}}}],
            "initContainers": [{"resources": {"requests": {"cpu": "1", "memory": "16Mi"}}}],
            "overhead": {"memory": "10Mi"},
        },
        "status": {"phase": "Running"},
    }  # fmt: skip
    usage = hosts.pod_usage(pod)
    assert usage == hosts.Placed("pod:kube-system/coredns-1", 1.0, 202.0, 1.0, instance=False)
    assert hosts.pod_usage({**pod, "status": {"phase": "Succeeded"}}) is None
    server = hosts.Placed("demo/web-1", 2, 4096, 20, busy=True)
    assert usage is not None
    state = hosts.host_state(node({}), [server, usage])
    assert (state.vcpus_used, state.memory_mb_used, state.disk_gb_used) == (3, 4298, 21)
    assert (state.num_instances, state.num_io_ops) == (1, 1)
    assert state.instances == {"demo/web-1"}
