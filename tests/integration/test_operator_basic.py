"""The operator on the real control plane: flavors, keypairs, networks, subnets, security
groups and volume types reconcile into their children, status, conditions and events."""

from __future__ import annotations

import base64
import json
import pathlib

from nimbus.compute import keypairs
from tests.integration.conftest import Cloud, wait_for

READY = "{.status.conditions[?(@.type=='Ready')].status}"
PUBLIC = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@x"


FLAVOR = """
apiVersion: compute.nimbus.dev/v1alpha1
kind: Flavor
metadata: {name: o1.small}
spec: {vcpus: 1, ramMB: 2048, diskGB: 20}
"""


def test_flavor_is_ready_with_an_event(cloud: Cloud, operator: pathlib.Path) -> None:
    cloud.apply_text(FLAVOR)
    flavor = wait_for(cloud, "flavors.compute.nimbus.dev", "o1.small", None, READY, "True")
    assert flavor["status"]["observedGeneration"] == flavor["metadata"]["generation"]
    assert "kopf" not in flavor["status"]


def test_imported_keypair_gets_novas_fingerprint(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    cloud.apply(
        {
            "apiVersion": "compute.nimbus.dev/v1alpha1",
            "kind": "KeyPair",
            "metadata": {"name": "ops", "namespace": ns},
            "spec": {"publicKey": PUBLIC},
        }
    )
    keypair = wait_for(cloud, "keypairs.compute.nimbus.dev", "ops", ns, READY, "True")
    assert keypair["status"]["fingerprint"] == keypairs.fingerprint(PUBLIC)
    row = cloud.kubectl("get", "oskeypair", "ops", "-n", ns, "--no-headers").stdout.split()
    assert row[:3] == ["ops", keypairs.fingerprint(PUBLIC), "ssh"]
    events = cloud.kubectl("get", "events", "-n", ns, "-o", "jsonpath={.items[*].reason}").stdout
    assert "Ready" in events.split()


def test_generated_keypair_hands_out_the_private_key_once(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    ns = cloud.namespace()
    cloud.apply_text(
        "apiVersion: compute.nimbus.dev/v1alpha1\nkind: KeyPair\nmetadata: {name: gen}\n", ns
    )
    keypair = wait_for(cloud, "keypairs.compute.nimbus.dev", "gen", ns, READY, "True")
    assert keypair["status"]["privateKeySecret"] == "gen-private-key"
    secret = cloud.get("secret", "gen-private-key", ns)
    private = base64.b64decode(secret["data"]["private_key"]).decode()
    public = base64.b64decode(secret["data"]["public_key"]).decode()
    assert private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert keypair["status"]["publicKey"] == public
    assert keypair["status"]["fingerprint"] == keypairs.fingerprint(public)
    assert secret["metadata"]["ownerReferences"][0]["name"] == "gen"

    # The user takes the private key and deletes the Secret: the key is not generated again.
    cloud.kubectl("delete", "secret", "gen-private-key", "-n", ns)
    cloud.kubectl("annotate", "keypairs.compute.nimbus.dev", "gen", "-n", ns, "touch=1")
    cloud.kubectl("label", "keypairs.compute.nimbus.dev", "gen", "-n", ns, "touched=yes")
    again = cloud.get("keypairs.compute.nimbus.dev", "gen", ns)
    assert again["status"]["publicKey"] == public
    assert (
        "NotFound"
        in cloud.kubectl("get", "secret", "gen-private-key", "-n", ns, check=False).stderr
    )


NETWORK = """
apiVersion: network.nimbus.dev/v1alpha1
kind: Network
metadata: {name: private}
spec: {mtu: 1450}
"""
SUBNET = """
apiVersion: network.nimbus.dev/v1alpha1
kind: Subnet
metadata: {name: private-v4}
spec:
  network: private
  cidr: 10.0.0.0/24
  allocationPools: [{start: 10.0.0.10, end: 10.0.0.200}]
"""


def test_subnet_waits_for_its_network_then_both_become_an_attachment(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    ns = cloud.namespace()
    cloud.apply_text(SUBNET, ns)
    subnet = wait_for(cloud, "subnets.network.nimbus.dev", "private-v4", ns, READY, "False")
    ready = next(c for c in subnet["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "NetworkNotFound"
    assert ready["message"] == f'spec.network: network "private" not found in project {ns}'

    cloud.apply_text(NETWORK, ns)
    network = wait_for(cloud, "networks.network.nimbus.dev", "private", ns, READY, "True")
    assert network["status"]["status"] == "ACTIVE"
    subnet = wait_for(
        cloud, "subnets.network.nimbus.dev", "private-v4", ns, READY, "True", timeout=90
    )
    assert subnet["status"]["gatewayIP"] == "10.0.0.1"
    wait_for(
        cloud, "networks.network.nimbus.dev", "private", ns, "{.status.subnets}", '["private-v4"]'
    )

    nad = cloud.get("network-attachment-definitions.k8s.cni.cncf.io", "private", ns)
    assert nad["metadata"]["ownerReferences"][0]["kind"] == "Network"
    config = json.loads(nad["spec"]["config"])
    assert config["type"] == "bridge"
    assert config["mtu"] == 1450
    assert config["ipam"]["ipRanges"] == [
        {
            "range": "10.0.0.0/24",
            "range_start": "10.0.0.10",
            "range_end": "10.0.0.200",
            "exclude": ["10.0.0.1/32"],
        }
    ]
    row = cloud.kubectl("get", "osnet", "private", "-n", ns, "--no-headers").stdout.split()
    assert row[:3] == ["private", "ACTIVE", '["private-v4"]']

    # Deleting the network takes its attachment with it (owner reference, garbage collection).
    cloud.kubectl("delete", "osnet", "private", "-n", ns)
    cloud.kubectl(
        "wait",
        "--for=delete",
        "network-attachment-definitions.k8s.cni.cncf.io/private",
        "-n",
        ns,
        "--timeout=60s",
    )


def test_security_group_becomes_a_network_policy(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    cloud.apply_text(
        """
apiVersion: network.nimbus.dev/v1alpha1
kind: SecurityGroup
metadata: {name: web}
spec:
  rules:
    - {protocol: tcp, portRangeMin: 443, portRangeMax: 443}
    - {protocol: icmp}
""",
        ns,
    )
    group = wait_for(cloud, "securitygroups.network.nimbus.dev", "web", ns, READY, "False")
    ready = next(c for c in group["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "RulesNotExpressible"
    assert "protocol icmp cannot be expressed" in ready["message"]
    policy = cloud.get("networkpolicy", "sg-web", ns)
    assert policy["spec"]["podSelector"] == {"matchLabels": {"sg.network.nimbus.dev/web": "true"}}
    assert policy["spec"]["ingress"] == [
        {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443, "protocol": "TCP"}]}
    ]
    warnings = cloud.kubectl(
        "get",
        "events",
        "-n",
        ns,
        "--field-selector=type=Warning",
        "-o",
        "jsonpath={.items[*].reason}",
    ).stdout
    assert "RulesNotExpressible" in warnings.split()


def test_volume_types_make_or_find_their_storage_class(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    cloud.apply_text(
        """
apiVersion: blockstorage.nimbus.dev/v1alpha1
kind: VolumeType
metadata: {name: o-fast}
spec: {provisioner: csi.example.com, parameters: {tier: fast}}
---
apiVersion: blockstorage.nimbus.dev/v1alpha1
kind: VolumeType
metadata: {name: o-later}
spec: {storageClass: o-later-class}
""",
    )
    fast = wait_for(cloud, "volumetypes.blockstorage.nimbus.dev", "o-fast", None, READY, "True")
    assert fast["status"]["storageClass"] == "nimbus-o-fast"
    assert cloud.get("storageclass", "nimbus-o-fast")["parameters"] == {"tier": "fast"}
    assert cloud.get("volumesnapshotclass", "nimbus-o-fast")["driver"] == "csi.example.com"

    later = wait_for(cloud, "volumetypes.blockstorage.nimbus.dev", "o-later", None, READY, "False")
    assert later["status"]["conditions"][-1]["message"] == (
        'spec.storageClass: StorageClass "o-later-class" not found'
    )
    cloud.apply(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "o-later-class"},
            "provisioner": "csi.example.com",
        }
    )
    wait_for(
        cloud, "volumetypes.blockstorage.nimbus.dev", "o-later", None, READY, "True", timeout=90
    )
