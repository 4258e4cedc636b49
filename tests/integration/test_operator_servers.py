"""Servers end to end on the real control plane, with the devcloud's simulators: images import,
networks get attachments, ports get addresses, volumes bind, servers become ACTIVE on a node."""

from __future__ import annotations

import base64
import json
import pathlib
import time

import pytest
import yaml

from tests.integration.conftest import CIRROS, Cloud, wait_for

READY = "{.status.conditions[?(@.type=='Ready')].status}"
CLOUD = (
    CIRROS
    + """  minRamMB: 128
---
apiVersion: network.nimbus.dev/v1alpha1
kind: Network
metadata: {name: private}
---
apiVersion: network.nimbus.dev/v1alpha1
kind: Subnet
metadata: {name: private-v4}
spec:
  network: private
  cidr: 10.0.0.0/24
  allocationPools: [{start: 10.0.0.10, end: 10.0.0.200}]
  dnsNameservers: [10.0.0.2]
---
apiVersion: compute.nimbus.dev/v1alpha1
kind: KeyPair
metadata: {name: ops}
---
apiVersion: blockstorage.nimbus.dev/v1alpha1
kind: Volume
metadata: {name: data-1}
spec: {sizeGB: 2}
"""
)
FLAVORS = """
apiVersion: compute.nimbus.dev/v1alpha1
kind: Flavor
metadata: {name: s1.small}
spec: {vcpus: 1, ramMB: 2048, diskGB: 2}
---
apiVersion: compute.nimbus.dev/v1alpha1
kind: Flavor
metadata: {name: s1.nano}
spec: {vcpus: 1, ramMB: 64, diskGB: 1}
"""


def server(name: str, flavor: str = "s1.small", **spec: object) -> str:
    body = {"flavor": flavor, "image": {"name": "cirros"}, **spec}
    return yaml.safe_dump({"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
                           "metadata": {"name": name}, "spec": body})  # fmt: skip


def test_a_server_boots_with_addresses_on_a_host(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    cloud.apply_text(FLAVORS)
    cloud.apply_text(CLOUD, ns)
    web_1 = server("web-1", networks=[{"network": "private"}], keyName="ops",
                   volumes=[{"volume": "data-1"}], availabilityZone="zone-b")  # fmt: skip
    cloud.apply_text(web_1, ns)
    image = wait_for(cloud, "images.image.nimbus.dev", "cirros", ns, "{.status.status}", "active")
    assert image["status"]["progress"] == "100.0%"
    web = wait_for(cloud, "servers.compute.nimbus.dev", "web-1", ns, "{.status.status}", "ACTIVE",
                   timeout=120)  # fmt: skip
    status = web["status"]
    assert status["host"] == "compute-3"
    assert status["availabilityZone"] == "zone-b"
    assert status["powerState"] == "RUNNING"
    assert status["addresses"]["private"][0]["addr"] == "10.0.0.10"
    assert status["networks"] == "private=10.0.0.10"
    row = cloud.kubectl("get", "osserver", "web-1", "-n", ns, "--no-headers").stdout.split()
    assert row[:6] == ["web-1", "ACTIVE", "private=10.0.0.10", "cirros", "s1.small", "compute-3"]

    # Nova's implicit port, the default security group, the cloud-init keys and network data.
    port = cloud.get("ports.network.nimbus.dev", "web-1-port-0", ns)
    assert port["status"]["fixedIPs"] == [{"subnet": "private-v4", "ipAddress": "10.0.0.10"}]
    assert port["status"]["deviceID"] == "web-1"
    cloud.get("networkpolicy", "sg-default", ns)
    secret = cloud.get("secret", "web-1-cloudinit", ns)
    user_data = base64.b64decode(secret["data"]["userdata"]).decode()
    keypair = cloud.get("keypairs.compute.nimbus.dev", "ops", ns)
    assert keypair["status"]["publicKey"] in user_data
    network_data = yaml.safe_load(base64.b64decode(secret["data"]["networkdata"]))
    assert network_data["ethernets"]["eth0"]["addresses"] == ["10.0.0.10/24"]

    volume = wait_for(cloud, "volumes.blockstorage.nimbus.dev", "data-1", ns, "{.status.status}",
                      "in-use")  # fmt: skip
    assert volume["status"]["attachments"] == [{"server": "web-1"}]
    # In use once the running instance has it: KubeVirt's hotplug attached it at a SCSI target.
    assert _held(cloud, "web-1", ns) == {"data-1": ("Ready", "sda")}
    # Detached, it is available again once the instance let it go; attached again, in use once
    # the instance has it again: each followed by watches, no polling.
    volumes = cloud.get("servers.compute.nimbus.dev", "web-1", ns)["spec"]["volumes"]
    cloud.kubectl("patch", "osserver", "web-1", "-n", ns, "--type=merge",
                  "-p", json.dumps({"spec": {"volumes": []}}))  # fmt: skip
    volume = wait_for(cloud, "volumes.blockstorage.nimbus.dev", "data-1", ns, "{.status.status}",
                      "available")  # fmt: skip
    assert volume["status"]["attachments"] == []
    assert _held(cloud, "web-1", ns) == {}
    cloud.kubectl("patch", "osserver", "web-1", "-n", ns, "--type=merge",
                  "-p", json.dumps({"spec": {"volumes": volumes}}))  # fmt: skip
    wait_for(cloud, "volumes.blockstorage.nimbus.dev", "data-1", ns, "{.status.status}", "in-use")
    assert _held(cloud, "web-1", ns) == {"data-1": ("Ready", "sda")}
    seen = {(e["reason"], e["type"], e["message"]) for e in _events(cloud, "data-1", ns)}
    assert {("VolumeAttaching", "Normal", "volume data-1 is attaching"),
            ("VolumeDetaching", "Normal", "volume data-1 is detaching")} <= seen, seen  # fmt: skip

    # An in-use volume cannot be deleted: its deletion waits while the server uses it.
    cloud.kubectl("delete", "osvol", "data-1", "-n", ns, "--wait=false")
    time.sleep(3)
    held = cloud.get("volumes.blockstorage.nimbus.dev", "data-1", ns)
    assert held["metadata"]["deletionTimestamp"]
    assert "nimbus.dev/finalizer" in held["metadata"]["finalizers"]
    # Deleting the server takes its VM and port, never the volume; detached, the volume goes.
    cloud.kubectl("delete", "osserver", "web-1", "-n", ns, "--timeout=60s")
    cloud.kubectl("wait", "--for=delete", "volumes.blockstorage.nimbus.dev/data-1", "-n", ns,
                  "--timeout=60s")  # fmt: skip


def test_a_floating_ip_is_among_its_servers_addresses(cloud: Cloud, operator: pathlib.Path) -> None:
    """Nova lists a server's floating IP after the fixed IP it is NATed to, `type: floating`
    (OS-EXT-IPS:type), and `openstack server list` (the NETWORKS column) shows both."""
    ns = cloud.namespace()
    cloud.apply_text(FLAVORS)
    cloud.apply_text(CLOUD, ns)
    cloud.apply_text(server("fip-1", networks=[{"network": "private"}]), ns)
    layer3 = """
apiVersion: network.nimbus.dev/v1alpha1
kind: Network
metadata: {name: public}
spec: {external: true}
---
apiVersion: network.nimbus.dev/v1alpha1
kind: Subnet
metadata: {name: public-v4}
spec: {network: public, cidr: 203.0.113.0/24, allocationPools: [{start: 203.0.113.40, end: 203.0.113.49}]}
---
apiVersion: network.nimbus.dev/v1alpha1
kind: Router
metadata: {name: router1}
spec: {externalGateway: {network: public}, interfaces: [{subnet: private-v4}]}
---
apiVersion: network.nimbus.dev/v1alpha1
kind: FloatingIP
metadata: {name: fip-1}
spec: {floatingNetwork: {network: public}, port: fip-1-port-0}
"""  # noqa: E501
    cloud.apply_text(layer3, ns)
    wait_for(cloud, "servers.compute.nimbus.dev", "fip-1", ns, "{.status.status}", "ACTIVE",
             timeout=90)  # fmt: skip
    floating = wait_for(cloud, "floatingips.network.nimbus.dev", "fip-1", ns,
                        "{.status.router}", "router1")["status"]  # fmt: skip
    address = floating["floatingIPAddress"]
    web = wait_for(cloud, "servers.compute.nimbus.dev", "fip-1", ns, "{.status.networks}",
                   f"private={floating['fixedIPAddress']}, {address}")  # fmt: skip
    fixed, nat = web["status"]["addresses"]["private"]
    assert (fixed["type"], nat["type"], nat["addr"]) == ("fixed", "floating", address)
    assert nat["mac"] == fixed["mac"]
    # Disassociated: gone from the server's addresses.
    cloud.kubectl("patch", "floatingips.network.nimbus.dev", "fip-1", "-n", ns, "--type=json",
                  "-p", '[{"op": "remove", "path": "/spec/port"}]')  # fmt: skip
    wait_for(cloud, "servers.compute.nimbus.dev", "fip-1", ns, "{.status.networks}",
             f"private={floating['fixedIPAddress']}")  # fmt: skip


def test_missing_references_wait_in_novas_words(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    cloud.apply_text(server("web-2", flavor="s1.missing"), ns)
    web = wait_for(cloud, "servers.compute.nimbus.dev", "web-2", ns, READY, "False")
    ready = next(c for c in web["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "FlavorNotFound"
    assert ready["message"].startswith('spec.flavor: flavor "s1.missing" not found; available: ')
    assert web["status"]["status"] == "BUILD"


def test_a_flavor_too_small_for_the_image_is_novas_error(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    ns = cloud.namespace()
    cloud.apply_text(FLAVORS)
    cloud.apply_text(CLOUD, ns)
    cloud.apply_text(server("tiny", flavor="s1.nano"), ns)
    web = wait_for(cloud, "servers.compute.nimbus.dev", "tiny", ns, "{.status.status}", "ERROR",
                   timeout=90)  # fmt: skip
    assert web["status"]["fault"]["message"].startswith(
        "Flavor's memory is too small for requested image. (flavor s1.nano: "
    )


def _instance_uid(cloud: Cloud, name: str, ns: str) -> str:
    return str(cloud.get("virtualmachineinstances.kubevirt.io", name, ns)["metadata"]["uid"])


def _restarted(cloud: Cloud, name: str, ns: str, before: str, timeout: float = 120) -> str:
    """The uid of the instance that replaced `before`, once the server is ACTIVE on it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server_now = cloud.get("servers.compute.nimbus.dev", name, ns)
        found = cloud.kubectl("get", "vmi", name, "-n", ns, "-o", "jsonpath={.metadata.uid}",
                              check=False).stdout  # fmt: skip
        if found and found != before and server_now["status"]["status"] == "ACTIVE":
            return found
        time.sleep(0.5)
    state = cloud.kubectl("get", "vm,vmi,dv,pvc,pods,osserver", "-n", ns, "-o", "wide",
                          check=False).stdout  # fmt: skip
    state += cloud.kubectl("get", "vmi,osserver", "-n", ns, "-o", "yaml", check=False).stdout
    raise AssertionError(f"server {name} was not restarted on a new instance:\n{state}")


def _history(cloud: Cloud, ns: str) -> str:
    """Every Event of the namespace in order, and the server: what restarted an instance."""
    events = cloud.kubectl("get", "events", "-n", ns, "--sort-by=.metadata.creationTimestamp",
                           "-o", "custom-columns=TIME:.metadata.creationTimestamp,KIND:"
                           ".involvedObject.kind,NAME:.involvedObject.name,UID:"
                           ".involvedObject.uid,REASON:.reason,MESSAGE:.message",
                           check=False).stdout  # fmt: skip
    server = cloud.kubectl("get", "osserver", "-n", ns, "-o", "yaml", check=False).stdout
    return f"\n{events}\n{server}"


def _held(cloud: Cloud, name: str, ns: str) -> dict[str, tuple[str, str]]:
    """The instance's hotplugged volumes: claim -> (phase, target)."""
    vmi = cloud.get("virtualmachineinstances.kubevirt.io", name, ns)
    return {
        v["persistentVolumeClaimInfo"]["claimName"]: (v["phase"], v.get("target", ""))
        for v in vmi["status"].get("volumeStatus", [])
        if "hotplugVolume" in v
    }


def _events(cloud: Cloud, name: str, ns: str) -> list[dict[str, object]]:
    events = cloud.kubectl("get", "events", "-n", ns, "-o", "json",
                           "--field-selector", f"involvedObject.name={name}").stdout  # fmt: skip
    return list(yaml.safe_load(events)["items"])


def _reasons(cloud: Cloud, name: str, ns: str) -> list[str]:
    events = cloud.kubectl("get", "events", "-n", ns, "-o", "json",
                           "--field-selector", f"involvedObject.name={name}").stdout  # fmt: skip
    return [e["reason"] for e in yaml.safe_load(events)["items"]]


@pytest.mark.timeout(300)
def test_reboot_resize_and_rebuild_restart_the_server(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    cloud.apply_text(FLAVORS)
    cloud.apply_text(CLOUD, ns)
    cloud.apply_text(
        """
apiVersion: compute.nimbus.dev/v1alpha1
kind: Flavor
metadata: {name: s1.large}
spec: {vcpus: 2, ramMB: 4096, diskGB: 4}
---
apiVersion: image.nimbus.dev/v1alpha1
kind: Image
metadata: {name: fedora}
spec:
  source: {http: {url: "https://example.com/fedora.qcow2"}}
  minDiskGB: 3
""",
        ns,
    )
    cloud.apply_text(server("life", networks=[{"network": "private"}]), ns)
    try:
        wait_for(cloud, "servers.compute.nimbus.dev", "life", ns, "{.status.status}", "ACTIVE",
                 timeout=180)  # fmt: skip
    except AssertionError as error:  # say what it waited for
        state = cloud.kubectl("get", "osserver,vm,vmi,pods,dv,osimage", "-n", ns, "-o", "yaml",
                              check=False).stdout  # fmt: skip
        raise AssertionError(f"{error}\n{state[-6000:]}") from None
    first = _instance_uid(cloud, "life", ns)

    # Reboot: a new value of the annotation restarts the instance, once.
    cloud.kubectl("annotate", "osserver", "life", "-n", ns,
                  "compute.nimbus.dev/reboot=2026-11-21T10:00:00Z")  # fmt: skip
    second = _restarted(cloud, "life", ns, first)
    life = cloud.get("servers.compute.nimbus.dev", "life", ns)
    assert life["status"]["built"]["reboot"] == "2026-11-21T10:00:00Z"
    assert "operation" not in life["status"] or life["status"]["operation"] is None
    assert "Rebooting" in _reasons(cloud, "life", ns)

    # Resize: the VM gets the new flavor's CPUs and memory, its root disk grows.
    cloud.kubectl("patch", "osserver", "life", "-n", ns, "--type=merge",
                  "-p", '{"spec": {"flavor": "s1.large"}}')  # fmt: skip
    third = _restarted(cloud, "life", ns, second)
    vm = cloud.get("virtualmachines.kubevirt.io", "life", ns)
    assert vm["spec"]["template"]["spec"]["domain"]["cpu"]["cores"] * vm["spec"]["template"][
        "spec"]["domain"]["cpu"]["sockets"] == 2  # fmt: skip
    # Rendered as 4096Mi; virt-api's mutating webhook writes the quantity in its canonical form.
    assert vm["spec"]["template"]["spec"]["domain"]["memory"]["guest"] == "4Gi"
    claim = cloud.get("persistentvolumeclaims", "life-root", ns)
    assert claim["spec"]["resources"]["requests"]["storage"] == "4Gi"
    assert "Resizing" in _reasons(cloud, "life", ns)
    assert "ResizeRefused" not in _reasons(cloud, "life", ns)

    # Resizing the disk down is refused in Nova's words; the server runs on as it was.
    cloud.kubectl("patch", "osserver", "life", "-n", ns, "--type=merge",
                  "-p", '{"spec": {"flavor": "s1.small"}}')  # fmt: skip
    life = wait_for(cloud, "servers.compute.nimbus.dev", "life", ns, READY, "False")
    ready = next(c for c in life["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"]) == (
        "ResizeRefused",
        "Resize error: Unable to resize disk down.",
    )
    assert life["status"]["status"] == "ACTIVE"
    assert life["status"]["built"]["flavor"] == "s1.large"
    row = cloud.kubectl("get", "osserver", "life", "-n", ns, "--no-headers").stdout.split()
    assert (row[1], row[4]) == ("ACTIVE", "s1.large")  # the list shows what runs
    assert _instance_uid(cloud, "life", ns) == third, _history(cloud, ns)
    cloud.kubectl("patch", "osserver", "life", "-n", ns, "--type=merge",
                  "-p", '{"spec": {"flavor": "s1.large"}}')  # fmt: skip
    wait_for(cloud, "servers.compute.nimbus.dev", "life", ns, READY, "True")

    # Rebuild: a new root disk from the new image; the old disk goes.
    wait_for(cloud, "images.image.nimbus.dev", "fedora", ns, "{.status.status}", "active")
    cloud.kubectl("patch", "osserver", "life", "-n", ns, "--type=merge",
                  "-p", '{"spec": {"image": {"name": "fedora"}}}')  # fmt: skip
    _restarted(cloud, "life", ns, third)
    vm = cloud.get("virtualmachines.kubevirt.io", "life", ns)
    assert [t["metadata"]["name"] for t in vm["spec"]["dataVolumeTemplates"]] == ["life-root-1"]
    assert vm["spec"]["dataVolumeTemplates"][0]["spec"]["source"]["pvc"]["name"] == "image-fedora"
    cloud.kubectl("wait", "--for=delete", "datavolumes.cdi.kubevirt.io/life-root", "-n", ns,
                  "--timeout=60s")  # fmt: skip
    life = cloud.get("servers.compute.nimbus.dev", "life", ns)
    assert life["status"]["built"] == {
        "flavor": "s1.large", "image": "/fedora", "rootGeneration": 1,
        "reboot": "2026-11-21T10:00:00Z",
    }  # fmt: skip
    assert "Rebuilding" in _reasons(cloud, "life", ns)
