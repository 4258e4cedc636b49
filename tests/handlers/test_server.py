"""A Server's handler, driven over objects in memory: what it writes, in which order, and the
status it reports, from the build to ACTIVE, for each reference missing, and with placement's
pre-flight. The same paths run against the API server in tests/integration."""

from __future__ import annotations

import re
from typing import Any

import kopf
import pytest

from nimbus.compute import handlers, lifecycle, reports
from tests.handlers.world import World

NS = "demo"


def _objects(**server_spec: Any) -> list[dict[str, Any]]:
    spec = {"flavor": "m1.tiny", "image": {"name": "cirros"},
            "networks": [{"network": "private"}], **server_spec}  # fmt: skip
    return [
        {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Flavor",
         "metadata": {"name": "m1.tiny"}, "spec": {"vcpus": 1, "ramMB": 512, "diskGB": 1}},
        {"apiVersion": "image.nimbus.dev/v1alpha1", "kind": "Image",
         "metadata": {"name": "cirros", "namespace": NS},
         "spec": {"source": {"http": {"url": "https://example.org/cirros.img"}},
                  "diskFormat": "qcow2", "minDiskGB": 1},
         "status": {"status": "active", "virtualSize": 117440512}},
        {"apiVersion": "network.nimbus.dev/v1alpha1", "kind": "Network",
         "metadata": {"name": "private", "namespace": NS}, "spec": {}},
        {"apiVersion": "network.nimbus.dev/v1alpha1", "kind": "Subnet",
         "metadata": {"name": "private-v4", "namespace": NS},
         "spec": {"network": "private", "ipVersion": 4, "cidr": "10.0.0.0/24",
                  "gatewayIP": "10.0.0.1",
                  "allocationPools": [{"start": "10.0.0.10", "end": "10.0.0.200"}]}},
        {"apiVersion": "network.nimbus.dev/v1alpha1", "kind": "SecurityGroup",
         "metadata": {"name": "default", "namespace": NS}, "spec": {}},
        {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
         "metadata": {"name": "web", "namespace": NS}, "spec": spec},
    ]  # fmt: skip


async def _pass(world: World, name: str = "web") -> None:
    """One pass of the server's handler, as kopf's watch would call it."""
    body = world.find("Server", name, NS)
    await handlers.server(body=body, memo=world.memo(), view=world.view())


async def test_a_server_s_port_and_cloud_init_are_applied_before_its_vm_then_it_reports() -> None:
    world = World(*_objects())
    await _pass(world)
    assert world.writes("apply") == [
        ("apply", "Port", "web-port-0"),
        ("apply", "Secret", "web-cloudinit"),
        ("apply", "VirtualMachine", "web"),
    ]
    port = world.find("Port", "web-port-0", NS)
    assert port["spec"]["fixedIPs"] == [{"subnet": "private-v4", "ipAddress": "10.0.0.10"}]
    assert port["metadata"]["ownerReferences"][0]["name"] == "web"
    vm = world.find("VirtualMachine", "web", NS)
    assert vm["metadata"]["labels"]["compute.nimbus.dev/server"] == "web"
    server = world.find("Server", "web", NS)
    assert server["status"]["status"] == "BUILD"
    assert server["status"]["built"]["flavor"] == "m1.tiny"


async def test_the_server_is_active_with_its_address_once_its_instance_runs() -> None:
    world = World(*_objects())
    await _pass(world)
    vm = world.find("VirtualMachine", "web", NS)
    world.put({**vm, "status": {"printableStatus": "Running", "ready": True}})
    world.put({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": "web", "namespace": NS,
                     "labels": {"compute.nimbus.dev/server": "web"}},
        "status": {"phase": "Running", "nodeName": "node-1",
                   "interfaces": [{"name": "net0", "ipAddress": "10.0.0.10",
                                   "mac": "02:00:00:00:00:01"}]},
    })  # fmt: skip
    world.calls.clear()
    await reports.report_server(world.api, world.view(), world.find("Server", "web", NS))
    status = world.find("Server", "web", NS)["status"]
    assert (status["status"], status["powerState"]) == ("ACTIVE", "RUNNING")
    assert status["host"] == "node-1"
    address = {"addr": "10.0.0.10", "version": 4, "type": "fixed", "mac": "02:00:00:00:00:01"}
    assert status["addresses"] == {"private": [address]}
    assert status["networks"] == "private=10.0.0.10"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    assert world.writes() == [("status", "Server", "web"), ("event", "Server", "web")]


async def test_a_stale_copy_of_the_server_never_takes_its_status_back() -> None:
    """Two writers report a server (its handler and its VM's events). A report that starts from
    an older copy of the server, while the index has not yet seen the last status written,
    still starts from what the last report wrote: nothing is written twice."""
    world = World(*_objects())
    await _pass(world)
    stale = world.find("Server", "web", NS)  # BUILD
    vm = world.find("VirtualMachine", "web", NS)
    world.put({**vm, "status": {"printableStatus": "Running", "ready": True}})
    lagging = world.view()  # the index's copy of the server: still BUILD
    await reports.report_server(world.api, world.view(), world.find("Server", "web", NS))
    assert world.find("Server", "web", NS)["status"]["status"] == "ACTIVE"
    world.calls.clear()
    await reports.report_server(world.api, lagging, stale)
    assert world.find("Server", "web", NS)["status"]["status"] == "ACTIVE"
    assert world.writes() == []  # nothing new to say


@pytest.mark.parametrize(
    ("change", "condition", "reason", "message"),
    [
        ({"flavor": "m1.huge"}, "FlavorFound", "FlavorNotFound",
         'spec.flavor: flavor "m1.huge" not found; available: m1.tiny'),
        ({"image": {"name": "fedora"}}, "ImageReady", "ImageNotFound",
         "spec.image: Image fedora could not be found in project demo."),
        ({"networks": [{"network": "public"}]}, "NetworksReady", "NetworkNotFound",
         "spec.networks[0].network: Network public could not be found."),
        ({"networks": [{"port": "p1"}]}, "NetworksReady", "PortNotFound",
         "spec.networks[0].port: Port p1 could not be found."),
        ({"keyName": "ops"}, "KeyPairFound", "InvalidKeyName",
         'spec.keyName: Invalid key_name provided. Keypair "ops" not found.'),
        ({"securityGroups": ["web"]}, "SecurityGroupsFound", "SecurityGroupNotFound",
         "spec.securityGroups: Security group web not found for project demo."),
        ({"volumes": [{"volume": "data"}]}, "VolumesReady", "VolumeNotFound",
         "spec.volumes: Volume data could not be found."),
    ],
)  # fmt: skip
async def test_a_missing_reference_keeps_the_server_building_and_says_which(
    change: dict[str, Any], condition: str, reason: str, message: str
) -> None:
    world = World(*_objects(**change))
    with pytest.raises(kopf.TemporaryError, match=re.escape(message)):
        await _pass(world)
    assert world.writes("apply") == []  # nothing is made before every reference resolves
    status = world.find("Server", "web", NS)["status"]
    assert (status["status"], status["taskState"]) == ("BUILD", "scheduling")
    found = {c["type"]: c for c in status["conditions"]}[condition]
    assert (found["status"], found["reason"], found["message"]) == ("False", reason, message)
    assert "observedGeneration" not in status


@pytest.mark.parametrize(
    ("image_status", "volume_status", "condition", "fault"),
    [
        ({"status": "killed", "reason": "Unable to connect to http data source"}, None,
         "ImageReady", "Build of instance web aborted: Image cirros is not active: it is killed "
                       "(Unable to connect to http data source)"),
        (None, "error", "VolumesReady", "Build of instance web aborted: volume data is error"),
    ],
)  # fmt: skip
async def test_a_reference_that_will_never_be_ready_fails_the_build(
    image_status: dict[str, Any] | None, volume_status: str | None, condition: str, fault: str
) -> None:
    """Nova puts such a server in ERROR with the reason, rather than building for ever."""
    objects = _objects(volumes=[{"volume": "data"}])
    if image_status:
        objects[1]["status"] = image_status
    objects.append({"apiVersion": "blockstorage.nimbus.dev/v1alpha1", "kind": "Volume",
                    "metadata": {"name": "data", "namespace": NS}, "spec": {"sizeGB": 1},
                    "status": {"status": volume_status or "available",
                               "persistentVolumeClaim": "data"}})  # fmt: skip
    world = World(*objects)
    with pytest.raises(kopf.TemporaryError):
        await _pass(world)
    status = world.find("Server", "web", NS)["status"]
    assert (status["status"], status["fault"]["code"], status["fault"]["message"]) == (
        "ERROR", 500, fault
    )  # fmt: skip
    reasons = {c["type"]: c["status"] for c in status["conditions"]}
    assert (reasons[condition], reasons["Ready"]) == ("False", "False")
    assert "VirtualMachine/web" not in world.names()


async def test_a_missing_default_security_group_is_made_once() -> None:
    objects = [o for o in _objects() if o["kind"] != "SecurityGroup"]
    world = World(*objects)
    await _pass(world)
    assert world.writes("apply")[0] == ("apply", "SecurityGroup", "default")
    assert world.find("SecurityGroup", "default", NS)["spec"]["rules"]


async def test_with_placement_a_flavor_no_node_can_take_is_refused_before_its_vm_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NIMBUS_PLACEMENT", "true")
    small = {"cpu": "1", "memory": "256Mi"}
    ready = [{"type": "Ready", "status": "True"}]
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "labels": {}},
            "spec": {}, "status": {"allocatable": small, "capacity": small,
                                   "conditions": ready}}  # fmt: skip
    world = World(*_objects(), node)
    with pytest.raises(kopf.TemporaryError, match="No valid host"):
        await _pass(world)
    assert ("apply", "VirtualMachine", "web") not in world.writes("apply")
    status = world.find("Server", "web", NS)["status"]
    assert (status["status"], status["fault"]["code"]) == ("ERROR", 500)
    assert status["fault"]["message"].startswith("No valid host was found.")
    assert status["fault"]["details"] == "Filter results: ['RamFilter: (start: 1, end: 0)']"


async def _asked_to_resize() -> World:
    """A server built and running (instance `first`), then asked for m1.small (generation 2)."""
    small = {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Flavor",
             "metadata": {"name": "m1.small"},
             "spec": {"vcpus": 1, "ramMB": 1024, "diskGB": 2}}  # fmt: skip
    world = World(*_objects(), small)
    await _pass(world)
    world.put({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
               "metadata": {"name": "web", "namespace": NS, "uid": "first"},
               "status": {"phase": "Running", "nodeName": "node-1"}})  # fmt: skip
    server = world.find("Server", "web", NS)
    world.put({**server, "spec": {**server["spec"], "flavor": "m1.small"},
               "metadata": {**server["metadata"], "generation": 2}})  # fmt: skip
    return world


async def test_a_resize_restarts_the_instance_and_reports_resize_until_a_new_one_runs() -> None:
    world = await _asked_to_resize()
    world.calls.clear()
    with pytest.raises(kopf.TemporaryError, match="RESIZE under way"):
        await _pass(world)
    assert ("delete", "VirtualMachineInstance", "web") in world.writes("delete")
    status = world.find("Server", "web", NS)["status"]
    assert (status["status"], status["taskState"]) == ("RESIZE", "resize_migrating")
    assert status["operation"] == {"type": "RESIZE", "instance": "first"}
    assert status["built"]["flavor"] == "m1.small"


async def test_a_copy_read_before_a_restart_was_recorded_does_not_restart_again() -> None:
    """kopf's event and a retry can both hold the copy that asked for the resize; the pass
    that runs second (the lock serialises them) finds the resize recorded and the new
    instance running, and leaves it alone."""
    world = await _asked_to_resize()
    stale = world.find("Server", "web", NS)
    with pytest.raises(kopf.TemporaryError, match="RESIZE under way"):
        await _pass(world)
    world.put({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
               "metadata": {"name": "web", "namespace": NS, "uid": "second"},
               "status": {"phase": "Running", "nodeName": "node-1"}})  # fmt: skip
    world.calls.clear()
    await handlers.server(body=stale, memo=world.memo(), view=world.view())
    assert world.writes("delete") == []
    assert world.find("VirtualMachineInstance", "web", NS)["metadata"]["uid"] == "second"
    assert world.find("Server", "web", NS)["status"].get("operation") is None  # it is over


def _port(name: str, ip: str) -> dict[str, Any]:
    return {"apiVersion": "network.nimbus.dev/v1alpha1", "kind": "Port",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"network": "private", "fixedIPs": [{"ipAddress": ip}]},
            "status": {"fixedIPs": [{"subnet": "private-v4", "ipAddress": ip}],
                       "macAddress": "02:00:00:00:00:50"}}  # fmt: skip


async def test_a_named_port_is_the_interface_and_serves_one_server() -> None:
    world = World(
        *_objects(networks=[{"port": "p1"}, {"network": "private"}]), _port("p1", "10.0.0.50")
    )
    await _pass(world)
    vm = world.find("VirtualMachine", "web", NS)
    interfaces = vm["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"]
    macs = [i.get("macAddress") for i in interfaces]
    assert macs[:1] == ["02:00:00:00:00:50"], macs
    implicit = world.find("Port", "web-port-1", NS)  # the second entry's: the first free address
    assert implicit["spec"]["fixedIPs"] == [{"subnet": "private-v4", "ipAddress": "10.0.0.10"}]
    other = {**world.find("Server", "web", NS), "metadata": {"name": "db", "namespace": NS,
             "creationTimestamp": "2026-12-06T11:00:00Z"}, "status": {}}  # fmt: skip
    other["spec"] = {**other["spec"], "networks": [{"port": "p1"}]}
    world.put(other)
    with pytest.raises(kopf.TemporaryError, match=r"Port p1 is still in use \(by server web\)"):
        await _pass(world, "db")
    reason = {
        c["type"]: c["reason"] for c in world.find("Server", "db", NS)["status"]["conditions"]
    }
    assert reason["NetworksReady"] == "PortInUse"


async def test_two_servers_built_at_once_get_distinct_addresses() -> None:
    """Neither server's port is in the index yet when the other's pass runs: the ledger keeps
    them apart, as it does for a hundred servers applied at once."""
    second = {**_objects()[-1], "metadata": {"name": "db", "namespace": NS}}
    world = World(*_objects(), second)
    view = world.view()  # both passes read the same, empty, picture of the ports
    for name in ("web", "db"):
        body = world.find("Server", name, NS)
        await handlers.server(body=body, memo=world.memo(), view=view)
    addresses = {world.find("Port", f"{n}-port-0", NS)["spec"]["fixedIPs"][0]["ipAddress"]
                 for n in ("web", "db")}  # fmt: skip
    assert addresses == {"10.0.0.10", "10.0.0.11"}


async def test_a_report_from_a_newer_copy_plans_for_what_that_copy_asks() -> None:
    """A pass planned a refused resize (down); by the time its report is written the server
    asks for its old flavor again (a newer generation, which the report starts from). The
    report follows the newer copy: Ready, not the refusal it planned for."""
    small = {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Flavor",
             "metadata": {"name": "m1.small"},
             "spec": {"vcpus": 1, "ramMB": 1024, "diskGB": 2}}  # fmt: skip
    world = World(*_objects(flavor="m1.small"), small)
    await _pass(world)
    vm = world.find("VirtualMachine", "web", NS)
    world.put({**vm, "status": {"printableStatus": "Running", "ready": True}})
    world.put({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
               "metadata": {"name": "web", "namespace": NS},
               "status": {"phase": "Running", "nodeName": "node-1"}})  # fmt: skip
    await reports.report_server(world.api, world.view(), world.find("Server", "web", NS))
    server = world.find("Server", "web", NS)
    down = {**server, "spec": {**server["spec"], "flavor": "m1.tiny"},
            "metadata": {**server["metadata"], "generation": 2}}  # fmt: skip
    world.put(down)
    planned = world.find("Server", "web", NS)
    action = lifecycle.plan(planned["spec"], {}, planned["status"], {"m1.tiny": 1, "m1.small": 2})
    assert action.refused == "Resize error: Unable to resize disk down."
    back = {**planned, "spec": {**planned["spec"], "flavor": "m1.small"},
            "metadata": {**planned["metadata"], "generation": 3}}  # fmt: skip
    world.put(back)
    built = reports.Built(None, {}, action, lifecycle.asked(planned))
    await reports.report_server(world.api, world.view(), planned, built)
    status = world.find("Server", "web", NS)["status"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (status["observedGeneration"], ready["status"]) == (3, "True"), ready
