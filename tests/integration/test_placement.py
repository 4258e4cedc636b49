"""Placement on the real control plane: KWOK nodes with varied capacity, zones and labels; the
real kube-scheduler (the nimbus-scheduler) calling the extender; Servers whose pods the devcloud
simulator makes. The nodes here are in zones of their own, so the servers of other tests never
land on them (nor these servers elsewhere)."""

from __future__ import annotations

import pathlib
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.integration.conftest import CIRROS, Cloud, flavors, wait_for

pytestmark = pytest.mark.timeout(300)

# Three nodes in zone-p, each with 16 GiB of which Nova may use 12 GiB (4 GiB reserved: the
# kube-scheduler, which does not read the label, would take more); one node in zone-q.
RESERVED = {"compute.nimbus.dev/reserved-memory-mb": "8192"}
SIZE = {"vcpus": 8, "memory_mb": 20480, "disk_gb": 200}
NODES = [
    *({"name": f"place-{i}", "zone": "zone-p", "labels": RESERVED, **SIZE} for i in (1, 2, 3)),
    {"name": "place-4", "zone": "zone-q", **SIZE},
]
BASE = (
    flavors(("p.small", 1, 2048, 1), ("p.big", 2, 8192, 1), ("p.huge", 2, 262144, 1))
    + "---"
    + CIRROS
)


@pytest.fixture(scope="module")
def nodes(cloud: Cloud) -> None:
    cloud.devcloud.add_nodes(NODES)


@pytest.fixture
def project(cloud: Cloud, operator: pathlib.Path, nodes: None) -> Iterator[str]:
    """A namespace with the flavors and image; its servers are deleted afterwards, and their
    pods gone, so that the next test finds the nodes empty."""
    ns = cloud.namespace()
    cloud.apply_text(BASE, ns)
    yield ns
    cloud.kubectl("delete", "servers.compute.nimbus.dev", "--all", "-n", ns, "--timeout=120s")
    cloud.kubectl("wait", "--for=delete", "pod", "-l", "compute.nimbus.dev/server", "-n", ns,
                  "--timeout=120s")  # fmt: skip


def _servers(cloud: Cloud, ns: str, names: list[str], flavor: str = "p.small", **spec: Any) -> None:
    cloud.apply(*(
        {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
         "metadata": {"name": name, "namespace": ns},
         "spec": {"flavor": flavor, "image": {"name": "cirros"}, "availabilityZone": "zone-p",
                  **spec}}
        for name in names
    ))  # fmt: skip


def _hosts(cloud: Cloud, ns: str, names: list[str]) -> dict[str, str]:
    """Each server's host, once it is ACTIVE."""
    out = {}
    for name in names:
        try:
            server = wait_for(cloud, "servers.compute.nimbus.dev", name, ns, "{.status.status}",
                              "ACTIVE", timeout=90)  # fmt: skip
        except AssertionError as error:
            status = cloud.get("servers.compute.nimbus.dev", name, ns).get("status")
            raise AssertionError(f"{error}; status: {status}") from None
        out[name] = server["status"]["host"]
    return out


def _error(cloud: Cloud, ns: str, name: str) -> dict[str, Any]:
    server = wait_for(cloud, "servers.compute.nimbus.dev", name, ns, "{.status.status}", "ERROR",
                      timeout=90)  # fmt: skip
    fault: dict[str, Any] = server["status"]["fault"]
    return fault


def _group(cloud: Cloud, ns: str, name: str, policy: str) -> None:
    metadata = {"name": name, "namespace": ns}
    cloud.apply({"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "ServerGroup",
                 "metadata": metadata, "spec": {"policy": policy}})  # fmt: skip


def test_servers_spread_over_the_nodes_with_the_most_free_ram(cloud: Cloud, project: str) -> None:
    names = ["s-1", "s-2", "s-3"]
    _servers(cloud, project, names)  # at once: each decision sees the one before it
    assert sorted(_hosts(cloud, project, names).values()) == ["place-1", "place-2", "place-3"]


def test_an_anti_affinity_group_spreads_and_refuses_a_fourth(cloud: Cloud, project: str) -> None:
    _group(cloud, project, "apart", "anti-affinity")
    names = ["a-1", "a-2", "a-3"]
    _servers(cloud, project, names, serverGroup="apart")
    assert sorted(_hosts(cloud, project, names).values()) == ["place-1", "place-2", "place-3"]
    # `openstack server group show`: the members and the hosts they are on.
    group = wait_for(cloud, "servergroups.compute.nimbus.dev", "apart", project,
                     "{.status.hosts}", '["place-1","place-2","place-3"]')  # fmt: skip
    assert group["status"]["members"] == names

    _servers(cloud, project, ["a-4"], serverGroup="apart")
    fault = _error(cloud, project, "a-4")
    assert fault["message"] == "No valid host was found. There are not enough hosts available."
    assert (
        "ServerGroupAntiAffinityFilter: 1 of the group's servers already here" in fault["details"]
    )


def test_an_affinity_group_packs(cloud: Cloud, project: str) -> None:
    _group(cloud, project, "together", "affinity")
    names = ["t-1", "t-2", "t-3"]
    _servers(cloud, project, names, serverGroup="together")
    assert len(set(_hosts(cloud, project, names).values())) == 1


def test_the_availability_zone_is_respected(cloud: Cloud, project: str) -> None:
    _servers(cloud, project, ["z-1", "z-2"], availabilityZone="zone-q")
    assert set(_hosts(cloud, project, ["z-1", "z-2"]).values()) == {"place-4"}


def test_a_negative_ram_multiplier_stacks_and_full_nodes_are_avoided(
    cloud: Cloud, project: str
) -> None:
    config = cloud.devcloud.placement_config
    before = config.read_text()
    config.write_text(yaml.safe_dump({"filter_scheduler": {"ram_weight_multiplier": -1.0}}))
    try:
        time.sleep(1.5)  # the extender reads its configuration at most once a second
        # One after another: a server still building is an I/O operation on its node, which
        # Nova's IoOpsWeigher (-1.0) weighs against as much as the RAM weigher for it.
        names = ["k-1", "k-2", "k-3"]
        hosts: dict[str, str] = {}
        for name in names:
            _servers(cloud, project, [name])
            hosts |= _hosts(cloud, project, [name])
        assert len(set(hosts.values())) == 1, hosts  # stacked, where Nova's default spreads
        # The fullest node is now too full for a big server: stacking goes to the next one.
        _servers(cloud, project, ["k-big"], flavor="p.big")
        assert _hosts(cloud, project, ["k-big"])["k-big"] != hosts["k-1"]
    finally:
        config.write_text(before)
        time.sleep(1.5)


def test_full_nodes_leave_a_server_with_no_valid_host_and_novas_reasons(
    cloud: Cloud, project: str
) -> None:
    names = ["f-1", "f-2", "f-3"]
    _servers(cloud, project, names, flavor="p.big")
    assert sorted(_hosts(cloud, project, names).values()) == ["place-1", "place-2", "place-3"]
    _servers(cloud, project, ["f-4"], flavor="p.big")
    fault = _error(cloud, project, "f-4")
    assert fault["code"] == 500
    assert fault["message"] == "No valid host was found. There are not enough hosts available."
    assert "RamFilter: 4096 MB free < 8192 MB requested" in fault["details"]


def test_a_server_no_node_could_ever_take_fails_before_its_vm(cloud: Cloud, project: str) -> None:
    _servers(cloud, project, ["huge"], flavor="p.huge")
    fault = _error(cloud, project, "huge")
    assert fault["message"] == "No valid host was found. There are not enough hosts available."
    assert re.fullmatch(r"Filter results: \['RamFilter: \(start: \d+, end: 0\)'\]",
                        fault["details"]), fault["details"]  # fmt: skip
    server = cloud.get("servers.compute.nimbus.dev", "huge", project)
    scheduled = next(c for c in server["status"]["conditions"] if c["type"] == "Scheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "NoValidHost")
    missing = cloud.kubectl("get", "virtualmachines.kubevirt.io", "huge", "-n", project,
                            check=False)  # fmt: skip
    assert "NotFound" in missing.stderr
