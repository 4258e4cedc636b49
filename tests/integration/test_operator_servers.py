"""Servers end to end on the real control plane, with the devcloud's simulators: images import,
networks get attachments, ports get addresses, volumes bind, servers become ACTIVE on a node."""

from __future__ import annotations

import base64
import pathlib
import time

import yaml

from tests.integration.conftest import Cloud, wait_for

READY = "{.status.conditions[?(@.type=='Ready')].status}"
CLOUD = """
apiVersion: image.nimbus.dev/v1alpha1
kind: Image
metadata: {name: cirros}
spec:
  source: {http: {url: "https://download.cirros-cloud.net/0.6.2/cirros-0.6.2-x86_64-disk.img"}}
  minDiskGB: 1
  minRamMB: 128
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


def _apply(cloud: Cloud, text: str, namespace: str | None = None) -> None:
    docs = [d for d in yaml.safe_load_all(text) if d]
    if namespace:
        for doc in docs:
            doc["metadata"]["namespace"] = namespace
    cloud.apply(*docs)


def server(name: str, flavor: str = "s1.small", **spec: object) -> str:
    body = {"flavor": flavor, "image": {"name": "cirros"}, **spec}
    return yaml.safe_dump({"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
                           "metadata": {"name": name}, "spec": body})  # fmt: skip


def test_a_server_boots_with_addresses_on_a_host(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    _apply(cloud, FLAVORS)
    _apply(cloud, CLOUD, ns)
    web_1 = server("web-1", networks=[{"network": "private"}], keyName="ops",
                   volumes=[{"volume": "data-1"}], availabilityZone="zone-b")  # fmt: skip
    _apply(cloud, web_1, ns)
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


def test_missing_references_wait_in_novas_words(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    _apply(cloud, server("web-2", flavor="s1.missing"), ns)
    web = wait_for(cloud, "servers.compute.nimbus.dev", "web-2", ns, READY, "False")
    ready = next(c for c in web["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "FlavorNotFound"
    assert ready["message"].startswith('spec.flavor: flavor "s1.missing" not found; available: ')
    assert web["status"]["status"] == "BUILD"


def test_a_flavor_too_small_for_the_image_is_novas_error(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    ns = cloud.namespace()
    _apply(cloud, FLAVORS)
    _apply(cloud, CLOUD, ns)
    _apply(cloud, server("tiny", flavor="s1.nano"), ns)
    web = wait_for(cloud, "servers.compute.nimbus.dev", "tiny", ns, "{.status.status}", "ERROR",
                   timeout=90)  # fmt: skip
    assert web["status"]["fault"]["message"] == "Flavor's memory is too small for requested image."
