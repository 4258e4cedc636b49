"""The extender's decisions: pods read as Nova's RequestSpec, the inventory the watches feed,
filter and prioritize answers with kube-scheduler's field names, and the configuration."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from nimbus.compute import api, render
from nimbus.placement import config as placement_config
from nimbus.placement import engine, hosts
from nimbus.scheduler import configuration, extender, inventory, request
from tests.unit.test_render_server import CIRROS, inputs


def node(name: str, zone: str = "zone-a", vcpus: int = 16, memory_mb: int = 65536,
         disk_gb: int = 500, labels: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "metadata": {
            "name": name,
            "labels": {
                "topology.kubernetes.io/zone": zone,
                "compute.nimbus.dev/vcpus": str(vcpus),
                "compute.nimbus.dev/memory-mb": str(memory_mb),
                "compute.nimbus.dev/disk-gb": str(disk_gb),
                **(labels or {}),
            },
        },
        "status": {"allocatable": {"cpu": "1"}},
    }


def pod(name: str, node_name: str | None = None, phase: str = "Pending", uid: str | None = None,
        namespace: str = "demo", **changes: Any) -> dict[str, Any]:  # fmt: skip
    """A virt-launcher pod as the simulators make it: the VM template's metadata and spec."""
    given = inputs(name=name, namespace=namespace, placement=True, **changes)
    template = render.render_virtual_machine(given)["spec"]["template"]
    spec = {k: v for k, v in template["spec"].items() if k in ("nodeSelector", "schedulerName")}
    if node_name:
        spec["nodeName"] = node_name
    return {
        "metadata": {
            "name": f"virt-launcher-{name}-abcde",
            "namespace": namespace,
            "uid": uid or f"uid-{name}",
            "labels": {**template["metadata"]["labels"], "kubevirt.io": "virt-launcher"},
            "annotations": template["metadata"]["annotations"],
        },
        "spec": spec,
        "status": {"phase": phase},
    }


def flavor(vcpus: int = 1, ram_mb: int = 2048, disk_gb: int = 20, **extra: Any) -> api.FlavorSpec:
    return api.FlavorSpec.model_validate(
        {"vcpus": vcpus, "ramMB": ram_mb, "diskGB": disk_gb, **extra}
    )


def spec(**fields: Any) -> api.ServerSpec:
    return api.ServerSpec.model_validate({"flavor": "m1", "image": {"name": "cirros"}, **fields})


CONFIG = engine.Config()


def cloud(*nodes: dict[str, Any]) -> inventory.Inventory:
    inv = inventory.Inventory()
    inv.replace_nodes(nodes)
    return inv


# -- a pod as a request ----------------------------------------------------------------------


def test_a_servers_pod_is_read_as_novas_request_spec() -> None:
    given = pod(
        "web-1",
        flavor=flavor(4, 8192, 40, ephemeralGB=10, swapMB=1536,
                      extraSpecs={"aggregate_instance_extra_specs:ssd": "true"}),
        spec=spec(availabilityZone="zone-b", schedulerHints={
            "differentHost": ["web-2"], "query": '[">=", "$free_ram_mb", 1]'}),
    )  # fmt: skip
    got = request.request_spec(given["metadata"], given["spec"].get("nodeSelector"))
    assert got == engine.RequestSpec(
        vcpus=4,
        memory_mb=8192,
        disk_gb=40 + 10 + 2,  # root, ephemeral and swap rounded up, as Nova asks placement
        extra_specs={"aggregate_instance_extra_specs:ssd": "true"},
        hints={"different_host": ["demo/web-2"], "query": '[">=", "$free_ram_mb", 1]'},
        availability_zone="zone-b",
        project_id="demo",
        image="cirros",
    )


def test_booting_from_a_volume_asks_no_root_disk_of_the_host() -> None:
    given = pod("db-1", image=None, spec=api.ServerSpec.model_validate(
        {"flavor": "m1", "bootVolume": {"name": "db-root"}}), boot_claim="db-root")  # fmt: skip
    assert request.request_spec(given["metadata"], None).disk_gb == 0


@pytest.mark.parametrize(
    ("labels", "served"),
    [
        ({}, False),  # not Nimbus's
        ({"app.kubernetes.io/managed-by": "nimbus"}, False),  # Nimbus's, but not a server's
        ({"app.kubernetes.io/managed-by": "nimbus", "compute.nimbus.dev/server": "a"}, True),
        ({"app.kubernetes.io/managed-by": "nimbus", "compute.nimbus.dev/server": "a",
          "kubevirt.io/migrationJobUID": "m-1"}, False),  # a live migration's target
    ],
)  # fmt: skip
def test_which_pods_placement_serves(labels: dict[str, str], served: bool) -> None:
    assert request.served({"metadata": {"namespace": "demo", "labels": labels}}) is served


def test_a_placed_pod_uses_its_flavor_and_is_busy_while_it_builds() -> None:
    building = request.placed(pod("a", "n1", "Pending", flavor=flavor(2, 4096, 10,
        extraSpecs={"pci_passthrough:alias": "a100:2"})))  # fmt: skip
    assert building == hosts.Placed("demo/a", 2, 4096, 10, busy=True, devices={"a100": 2})
    assert request.placed(pod("a", "n1", "Running")) == hosts.Placed("demo/a", 1, 2048, 20)
    assert request.placed(pod("a", "n1", "Succeeded")) is None


# -- filter and prioritize -------------------------------------------------------------------


def test_full_nodes_are_filtered_out_with_novas_reason() -> None:
    inv = cloud(node("n1", memory_mb=4096), node("n2"))
    inv.pod_event("ADDED", pod("old", "n1", "Running", flavor=flavor(ram_mb=3072)))
    verdict = inv.filter(pod("new", flavor=flavor(ram_mb=4096)), ["n1", "n2"], CONFIG)
    assert verdict.passed == ["n2"]
    # Nova reserves 512 MB of each host: 4096 - 512 - 3072.
    assert verdict.failed == {"n1": "RamFilter: 512 MB free < 4096 MB requested"}
    assert verdict.unresolvable == {}


def test_every_pod_on_a_node_counts_against_it() -> None:
    inv = cloud(node("n1", memory_mb=8192), node("n2", memory_mb=8192))
    other = {
        "metadata": {"name": "db-0", "namespace": "apps", "uid": "u-db"},
        "spec": {"nodeName": "n1",
                 "containers": [{"resources": {"requests": {"cpu": "2", "memory": "4Gi"}}}]},
        "status": {"phase": "Running"},
    }  # fmt: skip
    inv.pod_event("ADDED", other)
    state = inv.host("n1")
    assert state is not None
    assert (state.vcpus_used, state.memory_mb_used, state.num_instances) == (2, 4096, 0)
    verdict = inv.filter(pod("a", flavor=flavor(ram_mb=4096)), ["n1", "n2"], CONFIG)
    assert verdict.failed == {"n1": "RamFilter: 3584 MB free < 4096 MB requested"}
    inv.pod_event("DELETED", other)
    assert inv.filter(pod("a", flavor=flavor(ram_mb=4096)), ["n1", "n2"], CONFIG).failed == {}


def test_a_zone_or_a_disabled_host_cannot_be_resolved_by_waiting() -> None:
    disabled = {"compute.nimbus.dev/disabled": "true"}
    inv = cloud(node("n1", zone="zone-b"), node("n2", labels=disabled), node("n3"))
    verdict = inv.filter(pod("a", spec=spec(availabilityZone="zone-a")), ["n1", "n2", "n3"], CONFIG)
    assert verdict.passed == ["n3"]
    assert verdict.unresolvable == {
        "n1": "AvailabilityZoneFilter: host is in zone-b, not zone-a",
        "n2": "ComputeFilter: the host's compute service is disabled",
    }


def test_a_node_not_ready_is_a_compute_service_down() -> None:
    down = node("n1")
    down["status"]["conditions"] = [
        {"type": "MemoryPressure", "status": "False"},
        {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"},
    ]
    verdict = cloud(down, node("n2")).filter(pod("a"), ["n1", "n2"], CONFIG)
    assert verdict.passed == ["n2"]
    assert verdict.unresolvable == {
        "n1": "ComputeFilter: the host's compute service is forced down"
    }


def test_pods_that_are_not_servers_pass_through_untouched() -> None:
    inv = cloud(node("n1", memory_mb=1))
    other = {"metadata": {"name": "nginx", "namespace": "demo", "uid": "u"}, "spec": {}}
    assert inv.filter(other, ["n1", "n9"], CONFIG).passed == ["n1", "n9"]
    assert inv.prioritize(other, ["n1", "n9"], CONFIG) == [("n1", 0), ("n9", 0)]


def test_a_node_not_yet_seen_is_left_out_until_it_is() -> None:
    verdict = cloud(node("n1")).filter(pod("a"), ["n1", "n2"], CONFIG)
    assert verdict.passed == ["n1"]
    assert verdict.failed == {"n2": "UnknownNode: placement has not seen this node yet"}


def test_novas_first_choice_alone_scores_ten() -> None:
    inv = cloud(node("n1", memory_mb=32768), node("n2", memory_mb=65536),
                node("n3", memory_mb=65536))  # fmt: skip
    scores = dict(inv.prioritize(pod("a"), ["n1", "n2", "n3"], CONFIG))
    # n2 and n3 weigh the same: Nova keeps the hosts' order, so n2 is its choice.
    assert scores == {"n2": 10, "n3": 9, "n1": 0}


def test_a_negative_ram_multiplier_stacks() -> None:
    inv = cloud(node("n1"), node("n2"))
    inv.pod_event("ADDED", pod("old", "n2", "Running", flavor=flavor(ram_mb=8192)))
    stack = dataclasses.replace(CONFIG, ram_weight_multiplier=-1.0)
    assert max(inv.prioritize(pod("a"), ["n1", "n2"], CONFIG), key=lambda s: s[1])[0] == "n1"
    inv2 = cloud(node("n1"), node("n2"))
    inv2.pod_event("ADDED", pod("old", "n2", "Running", flavor=flavor(ram_mb=8192)))
    assert max(inv2.prioritize(pod("a"), ["n1", "n2"], stack), key=lambda s: s[1])[0] == "n2"


def test_a_decision_is_assumed_until_the_binding_is_seen() -> None:
    now = [0.0]
    inv = inventory.Inventory(clock=lambda: now[0])
    inv.replace_nodes([node("n1", memory_mb=4096), node("n2", memory_mb=4096)])
    first = pod("a", flavor=flavor(ram_mb=3584))  # a node's 4096 MB but Nova's 512 reserved
    scores = dict(inv.prioritize(first, ["n1", "n2"], CONFIG))
    assert scores["n1"] == 10
    # The next pod, decided before the binding arrives, already sees n1 full.
    second = pod("b", flavor=flavor(ram_mb=3584))
    assert inv.filter(second, ["n1", "n2"], CONFIG).passed == ["n2"]
    # The binding replaces the assumption; a deletion ends it.
    inv.pod_event("MODIFIED", {**first, "spec": {**first["spec"], "nodeName": "n1"}})
    assert inv.filter(second, ["n1", "n2"], CONFIG).passed == ["n2"]
    inv.pod_event("DELETED", first)
    assert inv.filter(second, ["n1", "n2"], CONFIG).passed == ["n1", "n2"]
    # An assumption never bound expires.
    inv.prioritize(first, ["n1", "n2"], CONFIG)
    now[0] += inventory.ASSUME_SECONDS + 1
    assert inv.filter(second, ["n1", "n2"], CONFIG).passed == ["n1", "n2"]


def test_a_restarted_servers_old_pod_does_not_keep_it_from_its_node() -> None:
    inv = cloud(node("n1", memory_mb=4096))
    inv.pod_event("ADDED", pod("a", "n1", "Running", uid="old", flavor=flavor(ram_mb=3584)))
    assert inv.filter(pod("a", uid="new", flavor=flavor(ram_mb=3584)), ["n1"], CONFIG).passed == [
        "n1"
    ]


def test_anti_affinity_spreads_and_affinity_packs() -> None:
    group = {"metadata": {"namespace": "demo", "name": "g"}, "spec": {"policy": "anti-affinity"}}
    inv = cloud(node("n1"), node("n2"), node("n3"))
    inv.group_event("ADDED", group)
    member = spec(serverGroup="g")
    inv.pod_event("ADDED", pod("a", "n1", "Running", spec=member))
    inv.pod_event("ADDED", pod("b", "n2", "Running", spec=member))
    verdict = inv.filter(pod("c", spec=member), ["n1", "n2", "n3"], CONFIG)
    assert verdict.passed == ["n3"]
    assert (
        verdict.failed["n1"]
        == "ServerGroupAntiAffinityFilter: 1 of the group's servers already here"
    )
    inv.group_event("MODIFIED", {**group, "spec": {"policy": "affinity"}})
    inv.pod_event("DELETED", pod("b", "n2", spec=member))
    assert inv.filter(pod("c", spec=member), ["n1", "n2", "n3"], CONFIG).passed == ["n1"]


def test_filter_results_count_hosts_as_nova_logs_them() -> None:
    hosts_ = [node("n1", memory_mb=1024), node("n2", zone="zone-b"), node("n3", memory_mb=2048)]
    inv = cloud(*hosts_)
    verdict = inv.filter(pod("a", flavor=flavor(ram_mb=4096), spec=spec(availabilityZone="zone-a")),
                         ["n1", "n2", "n3"], CONFIG)  # fmt: skip
    assert verdict.passed == []
    assert verdict.decision is not None
    assert inventory.filter_results(3, verdict.decision, CONFIG) == [
        "RamFilter: (start: 3, end: 1)",
        "AvailabilityZoneFilter: (start: 1, end: 0)",
    ]


# -- configuration ---------------------------------------------------------------------------


def test_configuration_uses_novas_option_names() -> None:
    config, defaults = placement_config.parse({
        "filter_scheduler": {"enabled_filters": "ComputeFilter, NumInstancesFilter",
                             "ram_weight_multiplier": -1, "max_instances_per_host": "10"},
        "compute": {"cpu_allocation_ratio": 16.0, "reserved_host_memory_mb": 512,
                    "reserved_host_disk_mb": 2048},
    })  # fmt: skip
    assert config.enabled_filters == ("ComputeFilter", "NumInstancesFilter")
    assert config.ram_weight_multiplier == -1.0
    assert config.max_instances_per_host == 10
    assert defaults == hosts.Defaults(
        cpu_allocation_ratio=16.0, reserved_memory_mb=512, reserved_disk_gb=2
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"scheduler": {}}, "unknown section scheduler: accepted are filter_scheduler, compute"),
        ({"filter_scheduler": {"ram_weight": 1}}, "filter_scheduler.ram_weight: unknown option"),
        ({"filter_scheduler": {"enabled_filters": ["RamFilter"]}},
         "unknown filter 'RamFilter'; accepted are AggregateInstanceExtraSpecsFilter"),
        ({"filter_scheduler": {"ram_weight_multiplier": "much"}},
         "filter_scheduler.ram_weight_multiplier: 'much' is not a float"),
        ({"compute": {"cpu_ratio": 2}}, "compute.cpu_ratio: unknown option; accepted are"),
    ],
)  # fmt: skip
def test_bad_configuration_is_named(document: dict[str, Any], message: str) -> None:
    with pytest.raises(placement_config.ConfigError, match=message.replace("(", r"\(")):
        placement_config.parse(document)


def test_the_kube_scheduler_configuration_is_a_separate_scheduler() -> None:
    got = configuration.kube_scheduler_configuration("http://127.0.0.1:8888/")
    assert got["leaderElection"]["resourceName"] == "nimbus-scheduler"
    assert got["percentageOfNodesToScore"] == 100
    assert [p["schedulerName"] for p in got["profiles"]] == ["nimbus-scheduler"]
    (ext,) = got["extenders"]
    assert ext["nodeCacheCapable"] is True
    assert ext["ignorable"] is False
    assert (ext["filterVerb"], ext["prioritizeVerb"]) == ("filter", "prioritize")


# -- the HTTP API, with kube-scheduler's field names ----------------------------------------


def extender_app() -> TestClient[Any, Any]:
    ext = extender.Extender(None, extender.Settings(None))
    ext.inventory.replace_nodes([node("n1", memory_mb=4096), node("n2")])
    return TestClient(TestServer(ext.app()))


async def test_filter_answers_an_extender_filter_result() -> None:
    async with extender_app() as http:
        args = {
            "Pod": pod("a", flavor=flavor(ram_mb=8192)),
            "Nodes": None,
            "NodeNames": ["n1", "n2"],
        }
        response = await http.post("/filter", data=json.dumps(args))
        assert response.status == 200
        assert await response.json() == {
            "NodeNames": ["n2"],
            "Nodes": None,
            "FailedNodes": {"n1": "RamFilter: 8192 MB requested > the host's 4096 MB (max_unit)"},
            "FailedAndUnresolvableNodes": {},
            "Error": "",
        }


async def test_filter_without_node_cache_returns_whole_nodes() -> None:
    async with extender_app() as http:
        nodes = {"metadata": {}, "items": [node("n1", memory_mb=4096), node("n2")]}
        args = {"Pod": pod("a", flavor=flavor(ram_mb=8192)), "Nodes": nodes, "NodeNames": None}
        got = await (await http.post("/filter", data=json.dumps(args))).json()
        assert [n["metadata"]["name"] for n in got["Nodes"]["items"]] == ["n2"]
        assert got["NodeNames"] is None


async def test_prioritize_answers_a_host_priority_list() -> None:
    async with extender_app() as http:
        args = {"Pod": pod("a"), "NodeNames": ["n1", "n2"]}
        got = await (await http.post("/prioritize", data=json.dumps(args))).json()
        assert got == [{"Host": "n1", "Score": 0}, {"Host": "n2", "Score": 10}]


async def test_garbage_is_refused_and_health_is_served() -> None:
    async with extender_app() as http:
        response = await http.post("/filter", data="{not json")
        assert response.status == 400
        assert (await response.json())["Error"].startswith("not JSON")
        assert (await http.get("/healthz")).status == 200
        assert (await http.get("/readyz")).status == 200


def test_the_configuration_file_is_read_again_when_it_changes(tmp_path: Any) -> None:
    path = tmp_path / "placement.yaml"
    path.write_text("filter_scheduler: {ram_weight_multiplier: -1.0}\n")
    settings = extender.Settings(path)
    assert settings.config.ram_weight_multiplier == -1.0
    path.write_text("filter_scheduler: {ram_weight_multiplier: 2.0, nonsense: 1}\n")
    settings._checked = 0.0
    os.utime(path, (1, 1))
    settings.reload()
    assert settings.config.ram_weight_multiplier == -1.0  # a bad file is logged, not used
    path.write_text("filter_scheduler: {ram_weight_multiplier: 2.0}\n")
    os.utime(path, (2, 2))
    settings._checked = 0.0
    settings.reload()
    assert settings.config.ram_weight_multiplier == 2.0


def _asks(**changes: Any) -> engine.RequestSpec:
    return request.server_request(inputs(name="a", namespace="demo", placement=True, **changes))


def test_preflight_finds_a_server_no_empty_node_could_take() -> None:
    nodes = [node("n1", memory_mb=4096), node("n2", memory_mb=8192)]
    # n2's 8192 MB less the 512 MB Nova reserves.
    assert inventory.preflight(nodes, _asks(flavor=flavor(ram_mb=7680)), CONFIG) is None
    assert inventory.preflight(nodes, _asks(flavor=flavor(ram_mb=7681)), CONFIG) == [
        "RamFilter: (start: 2, end: 0)"
    ]
    huge = _asks(flavor=flavor(ram_mb=16384))
    assert inventory.preflight(nodes, huge, CONFIG) == ["RamFilter: (start: 2, end: 0)"]
    elsewhere = _asks(spec=spec(availabilityZone="zone-z"))
    assert inventory.preflight(nodes, elsewhere, CONFIG) == [
        "AvailabilityZoneFilter: (start: 2, end: 0)"
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"flavor": flavor(4, 8192, 40, ephemeralGB=10, swapMB=1536,
                          extraSpecs={"hw:cpu_policy": "dedicated", "trait:HW_CPU_X86_AVX2":
                                      "required"})},
        {"spec": spec(availabilityZone="zone-a",
                      schedulerHints={"sameHost": ["web-1"], "differentHost": ["db"],
                                      "query": '[">=", "$free_ram_mb", 1024]',
                                      "buildNearHostIP": "10.0.0.5", "cidr": "/24"})},
        {"image": dataclasses.replace(CIRROS, properties={"hw_disk_bus": "scsi",
                                                           "os_type": "linux"})},
        {"spec": spec(bootVolume={"name": "root"}, image=None), "image": None,
         "boot_claim": "root"},
    ],
)  # fmt: skip
def test_the_server_s_own_request_is_what_its_pod_asks(changes: dict[str, Any]) -> None:
    """The pre-flight reads the Server directly; the extender reads its pod: one request."""
    given = inputs(name="a", namespace="demo", placement=True, **changes)
    from_pod = cloud().request_spec(pod("a", **changes))
    assert request.server_request(given) == from_pod
