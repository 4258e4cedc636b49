"""Lifecycles through the operator on the real control plane: ports a server names, many servers
allocating addresses at once, stop and start, and a server waiting for its network."""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

import yaml

from tests.integration.conftest import CIRROS, Cloud, flavors, wait_for

READY = "{.status.conditions[?(@.type=='Ready')].status}"
BASE = flavors(("l1.small", 1, 512, 1)) + "---" + CIRROS
NETWORK = """
apiVersion: network.nimbus.dev/v1alpha1
kind: Network
metadata: {name: NAME}
---
apiVersion: network.nimbus.dev/v1alpha1
kind: Subnet
metadata: {name: NAME-v4}
spec: {network: NAME, cidr: 10.9.0.0/24}
"""


def _server(name: str, **spec: object) -> str:
    body = {"flavor": "l1.small", "image": {"name": "cirros"}, **spec}
    return yaml.safe_dump({"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
                           "metadata": {"name": name}, "spec": body})  # fmt: skip


def _active(cloud: Cloud, name: str, ns: str, timeout: float = 90) -> dict[str, Any]:
    return wait_for(cloud, "servers.compute.nimbus.dev", name, ns, "{.status.status}", "ACTIVE",
                    timeout=timeout)  # fmt: skip


def test_a_port_follows_the_server_that_names_it(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    cloud.apply_text(BASE + "---" + NETWORK.replace("NAME", "net"), ns)
    cloud.apply_text("""
apiVersion: network.nimbus.dev/v1alpha1
kind: Port
metadata: {name: fixed}
spec: {network: net, fixedIPs: [{ipAddress: 10.9.0.50}]}
---
apiVersion: network.nimbus.dev/v1alpha1
kind: Port
metadata: {name: clash}
spec: {network: net, fixedIPs: [{ipAddress: 10.9.0.50}]}
""", ns)  # fmt: skip
    # DOWN with its address (a port whose network its watch has not shown yet is DOWN without).
    addressed = "{.status.status} {.status.fixedIPs[0].ipAddress}"
    port = wait_for(cloud, "ports.network.nimbus.dev", "fixed", ns, addressed, "DOWN 10.9.0.50")
    assert port["status"]["fixedIPs"] == [{"subnet": "net-v4", "ipAddress": "10.9.0.50"}]
    # The same address twice: the second port waits, in Neutron's words.
    clash = wait_for(cloud, "ports.network.nimbus.dev", "clash", ns, READY, "False")
    ready = next(c for c in clash["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "IpAddressNotAvailable"
    assert ready["message"] == "IP address 10.9.0.50 is not available on network net"

    cloud.apply_text(_server("uses-port", networks=[{"port": "fixed"}]), ns)
    server = _active(cloud, "uses-port", ns)
    assert server["status"]["networks"] == "net=10.9.0.50"
    port = wait_for(cloud, "ports.network.nimbus.dev", "fixed", ns, "{.status.status}", "ACTIVE")
    assert (port["status"]["deviceID"], port["status"]["deviceOwner"]) == (
        "uses-port", "compute:nova"
    )  # fmt: skip
    # The attachment's whereabouts range excludes the port's address.
    attachment = cloud.get("network-attachment-definitions.k8s.cni.cncf.io", "net", ns)
    ranges = json.loads(attachment["spec"]["config"])["ipam"]["ipRanges"]
    assert "10.9.0.50/32" in ranges[0]["exclude"]

    # The server goes; the port it named stays, DOWN and free again.
    cloud.kubectl("delete", "osserver", "uses-port", "-n", ns, "--timeout=60s")
    port = wait_for(cloud, "ports.network.nimbus.dev", "fixed", ns, "{.status.status}", "DOWN")
    assert port["status"].get("deviceID") is None


def test_servers_made_at_once_get_distinct_addresses(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    cloud.apply_text(BASE + "---" + NETWORK.replace("NAME", "crowd"), ns)
    count = 12
    cloud.apply(*[
        yaml.safe_load(_server(f"c-{i:02d}", networks=[{"network": "crowd"}])) | {
            "metadata": {"name": f"c-{i:02d}", "namespace": ns}}
        for i in range(count)
    ])  # fmt: skip
    addresses = []
    for i in range(count):
        server = _active(cloud, f"c-{i:02d}", ns, timeout=120)
        assert "crowd" in server["status"]["addresses"], (
            server["status"],
            cloud.get("vmi", f"c-{i:02d}", ns).get("status"),
            cloud.get("ports.network.nimbus.dev", f"c-{i:02d}-port-0", ns),
        )
        addresses.append(server["status"]["addresses"]["crowd"][0]["addr"])
    assert len(set(addresses)) == count, addresses
    assert sorted(addresses, key=lambda a: int(a.rsplit(".", 1)[1])) == [
        f"10.9.0.{i}" for i in range(2, 2 + count)
    ]
    # Every implicit port records its address in its spec and in its status.
    ports = json.loads(cloud.kubectl("get", "ports.network.nimbus.dev", "-n", ns, "-o",
                                     "json").stdout)["items"]  # fmt: skip
    assert len(ports) == count
    for port in ports:
        assert port["spec"]["fixedIPs"] == port["status"]["fixedIPs"]
    # The attachment excludes them, collapsed into CIDRs.
    attachment = wait_for(cloud, "network-attachment-definitions.k8s.cni.cncf.io", "crowd", ns,
                          "{.metadata.name}", "crowd")  # fmt: skip
    exclude = json.loads(attachment["spec"]["config"])["ipam"]["ipRanges"][0]["exclude"]
    assert len(exclude) < count


def test_stop_and_start(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    cloud.apply_text(BASE, ns)
    cloud.apply_text(_server("sleeper"), ns)
    _active(cloud, "sleeper", ns)
    cloud.kubectl("patch", "osserver", "sleeper", "-n", ns, "--type=merge",
                  "-p", '{"spec": {"powerState": "Stopped"}}')  # fmt: skip
    server = wait_for(cloud, "servers.compute.nimbus.dev", "sleeper", ns, "{.status.status}",
                      "SHUTOFF")  # fmt: skip
    assert server["status"]["powerState"] == "SHUTDOWN"
    vm = cloud.get("virtualmachines.kubevirt.io", "sleeper", ns)
    assert vm["spec"]["runStrategy"] == "Halted"
    cloud.kubectl("wait", "--for=delete", "vmi/sleeper", "-n", ns, "--timeout=60s")
    cloud.kubectl("patch", "osserver", "sleeper", "-n", ns, "--type=merge",
                  "-p", '{"spec": {"powerState": "Running"}}')  # fmt: skip
    server = _active(cloud, "sleeper", ns)
    assert server["status"]["powerState"] == "RUNNING"
    # One Event per status change, in order, each with its word: never "waiting for a host"
    # on the way down.
    listed = json.loads(cloud.kubectl("get", "events", "-n", ns, "--field-selector",
                                      "involvedObject.name=sleeper,involvedObject.kind=Server",
                                      "-o", "json").stdout)["items"]  # fmt: skip
    said = [
        e["reason"] for e in sorted(listed, key=lambda e: int(e["metadata"]["resourceVersion"]))
    ]
    start, stopped = said.index("Active"), said.index("Shutoff")
    assert said[start : stopped + 1] in (
        ["Active", "Stopping", "Shutoff"],
        ["Active", "Shutoff"],  # the stop seen done in one report
    ), said
    assert said[-1] == "Active", said


def _instance(cloud: Cloud, name: str, ns: str) -> str | None:
    """The uid of the server's VMI, None while there is none."""
    found = cloud.kubectl("get", "virtualmachineinstances.kubevirt.io", name, "-n", ns, "-o",
                          "jsonpath={.metadata.uid}", check=False)  # fmt: skip
    return found.stdout or None


def _paused_condition(cloud: Cloud, name: str, ns: str) -> list[dict[str, Any]]:
    vmi = cloud.get("virtualmachineinstances.kubevirt.io", name, ns)
    return [c for c in vmi["status"].get("conditions", []) if c["type"] == "Paused"]


def test_pause_and_unpause(cloud: Cloud, operator: pathlib.Path) -> None:
    """Nova's pause is KubeVirt's, through its aggregated API: the instance keeps its host and
    addresses, and a new instance (a reboot) is paused again while powerState says so."""
    ns = cloud.namespace()
    cloud.apply_text(BASE, ns)
    cloud.apply_text(_server("napper"), ns)
    active = _active(cloud, "napper", ns)
    cloud.kubectl("patch", "osserver", "napper", "-n", ns, "--type=merge",
                  "-p", '{"spec": {"powerState": "Paused"}}')  # fmt: skip
    paused = wait_for(cloud, "servers.compute.nimbus.dev", "napper", ns, "{.status.status}",
                      "PAUSED")  # fmt: skip
    assert (paused["status"]["powerState"], paused["status"].get("taskState")) == ("PAUSED", None)
    assert paused["status"]["host"] == active["status"]["host"]
    assert paused["status"]["addresses"] == active["status"]["addresses"]
    assert [c["reason"] for c in _paused_condition(cloud, "napper", ns)] == ["PausedByUser"]
    assert cloud.get("virtualmachines.kubevirt.io", "napper", ns)["status"]["printableStatus"] == (
        "Paused"
    )
    events = cloud.kubectl("get", "events", "-n", ns, "--field-selector",
                           "involvedObject.name=napper", "-o", "json").stdout  # fmt: skip
    assert any(e["reason"] == "Paused" for e in json.loads(events)["items"])

    uid = cloud.get("virtualmachineinstances.kubevirt.io", "napper", ns)["metadata"]["uid"]
    cloud.kubectl("annotate", "osserver", "napper", "-n", ns, "--overwrite",
                  "compute.nimbus.dev/reboot=2026-11-22T10:00:00Z")  # fmt: skip
    deadline = time.monotonic() + 60
    while _instance(cloud, "napper", ns) in (uid, None) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _instance(cloud, "napper", ns) not in (uid, None), "the reboot made a new instance"
    wait_for(cloud, "virtualmachineinstances.kubevirt.io", "napper", ns,
             "{.status.conditions[?(@.type=='Paused')].status}", "True")  # fmt: skip
    wait_for(cloud, "servers.compute.nimbus.dev", "napper", ns, "{.status.status}", "PAUSED")

    cloud.kubectl("patch", "osserver", "napper", "-n", ns, "--type=merge",
                  "-p", '{"spec": {"powerState": "Running"}}')  # fmt: skip
    running = _active(cloud, "napper", ns)
    assert running["status"]["powerState"] == "RUNNING"
    assert _paused_condition(cloud, "napper", ns) == []


def test_a_server_made_paused_starts_then_pauses(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    cloud.apply_text(BASE, ns)
    cloud.apply_text(_server("dozer", powerState="Paused"), ns)
    server = wait_for(cloud, "servers.compute.nimbus.dev", "dozer", ns, "{.status.status}",
                      "PAUSED", timeout=90)  # fmt: skip
    assert server["status"]["host"]
    assert cloud.get("virtualmachines.kubevirt.io", "dozer", ns)["spec"]["runStrategy"] == (
        "Always"
    )


def test_a_server_waits_for_its_network_then_builds(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    cloud.apply_text(BASE, ns)
    cloud.apply_text(_server("patient", networks=[{"network": "late"}]), ns)
    server = wait_for(cloud, "servers.compute.nimbus.dev", "patient", ns, READY, "False")
    ready = next(c for c in server["status"]["conditions"] if c["type"] == "Ready")
    if ready["reason"] == "ImageNotActive":  # the image first; then the network
        reason = "{.status.conditions[?(@.type=='Ready')].reason}"
        server = wait_for(cloud, "servers.compute.nimbus.dev", "patient", ns, reason,
                          "NetworkNotFound")  # fmt: skip
        ready = next(c for c in server["status"]["conditions"] if c["type"] == "Ready")
    assert ready["message"] == "spec.networks[0].network: Network late could not be found."
    assert server["status"]["status"] == "BUILD"
    cloud.apply_text(NETWORK.replace("NAME", "late"), ns)
    server = _active(cloud, "patient", ns)
    assert server["status"]["networks"] == "late=10.9.0.2"
