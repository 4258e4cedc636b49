"""Bad input gets a clear refusal from the real API server: schema, enums, bounds, CEL rules."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from tests.integration.conftest import Cloud

NS = "invalid-corpus"


def _obj(api: str, kind: str, name: str, spec: dict[str, Any], *, cluster: bool = False) -> Any:
    metadata: dict[str, Any] = {"name": name}
    if not cluster:
        metadata["namespace"] = NS
    return {"apiVersion": api, "kind": kind, "metadata": metadata, "spec": spec}


COMPUTE = "compute.nimbus.dev/v1alpha1"
NETWORK = "network.nimbus.dev/v1alpha1"
STORAGE = "blockstorage.nimbus.dev/v1alpha1"

BASE = {
    "server": _obj(COMPUTE, "Server", "srv", {"flavor": "m1.small", "image": {"name": "cirros"}}),
    "flavor": _obj(COMPUTE, "Flavor", "t1.small", {"vcpus": 1, "ramMB": 512}, cluster=True),
    "keypair": _obj(
        COMPUTE,
        "KeyPair",
        "kp",
        {"publicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9ok a@b"},
    ),
    "servergroup": _obj(COMPUTE, "ServerGroup", "sg", {"policy": "anti-affinity"}),
    "image": _obj(
        "image.nimbus.dev/v1alpha1",
        "Image",
        "img",
        {"source": {"http": {"url": "https://example.com/cirros.img"}}},
    ),
    "network": _obj(NETWORK, "Network", "net", {}),
    "subnet": _obj(NETWORK, "Subnet", "sub", {"network": "net", "cidr": "10.0.0.0/24"}),
    "port": _obj(NETWORK, "Port", "port", {"network": "net"}),
    "secgroup": _obj(NETWORK, "SecurityGroup", "web", {"rules": [{"protocol": "tcp"}]}),
    "volumetype": _obj(STORAGE, "VolumeType", "fast", {"storageClass": "fast"}, cluster=True),
    "volume": _obj(STORAGE, "Volume", "vol", {"sizeGB": 10}),
    "snapshot": _obj(STORAGE, "Snapshot", "snap", {"volume": "vol"}),
    "project": _obj("identity.nimbus.dev/v1alpha1", "Project", "acme", {}, cluster=True),
    "stack": _obj(
        "orchestration.nimbus.dev/v1alpha1",
        "Stack",
        "stk",
        {"template": "heat_template_version: 2021-04-16\nresources: {}\n"},
    ),
}

DELETE = object()


def patched(base: Any, patch: Any) -> Any:
    """`base` with `patch` merged in (JSON merge patch; DELETE removes a key)."""
    if not isinstance(patch, dict) or not isinstance(base, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is DELETE:
            out.pop(key, None)
        else:
            out[key] = patched(out.get(key), value)
    return out


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    base: str
    patch: dict[str, Any]
    expect: tuple[str, ...]


def spec(**fields: Any) -> dict[str, Any]:
    return {"spec": fields}


CREATE = [
    # Server
    Case("server-missing-flavor", "server", spec(flavor=DELETE), ("spec.flavor: Required value",)),
    Case("server-flavor-wrong-type", "server", spec(flavor=5),
         ("spec.flavor", 'in body must be of type string: "integer"')),
    Case("server-image-and-bootvolume", "server", spec(bootVolume={"name": "root"}),
         ("a server boots from exactly one of image or bootVolume",)),
    Case("server-neither-image-nor-bootvolume", "server", spec(image=DELETE),
         ("a server boots from exactly one of image or bootVolume",)),
    Case("server-power-state-enum", "server", spec(powerState="Hibernated"),
         ('spec.powerState: Unsupported value: "Hibernated"',
          'supported values: "Running", "Stopped", "Paused"')),
    Case("server-network-and-port", "server",
         spec(networks=[{"network": "net-a", "port": "port-a"}]),
         ("each entry of networks names exactly one of network or port",)),
    Case("server-fixed-ip-with-port", "server",
         spec(networks=[{"port": "port-a", "fixedIP": "10.0.0.5"}]),
         ("spec.networks[0].fixedIP", "fixedIP goes with network; a port carries its own address")),
    Case("server-fixed-ip-not-an-ip", "server",
         spec(networks=[{"network": "net-a", "fixedIP": "10.0.0.300"}]),
         ("spec.networks[0].fixedIP", "fixedIP must be an IPv4 or IPv6 address")),
    Case("server-name-not-a-hostname", "server", {"metadata": {"name": "web.1"}},
         ("a server's name is its hostname, so it must be a DNS label",)),
    Case("server-user-data-binary", "server", spec(userData="#!/bin/sh\n\x00\x07\x1b[0m"),
         ("spec.userData", "userData must be text (cloud-init user data)")),
    Case("server-user-data-over-64k", "server", spec(userData="x" * 65536),
         ("spec.userData: Too long: may not be more than 65535 bytes",)),
    Case("server-metadata-over-128-items", "server",
         spec(metadata={f"k{i}": "v" for i in range(129)}),
         ("spec.metadata: Too many: 129: must have at most 128 items",)),
    Case("server-metadata-value-over-255", "server", spec(metadata={"k": "v" * 256}),
         ("spec.metadata.k: Too long: may not be more than 255 bytes",)),
    Case("server-over-16-networks", "server",
         spec(networks=[{"network": f"n{i}"} for i in range(17)]),
         ("spec.networks: Too many: 17: must have at most 16 items",)),
    Case("server-build-near-host-without-cidr", "server",
         spec(schedulerHints={"buildNearHostIP": "192.0.2.10"}),
         ("buildNearHostIP and cidr go together",)),
    Case("server-duplicate-volume", "server",
         spec(volumes=[{"volume": "data"}, {"volume": "data"}]),
         ('spec.volumes[1]: Duplicate value: {"volume":"data"}',)),
    # Flavor
    Case("flavor-zero-vcpus", "flavor", spec(vcpus=0),
         ("spec.vcpus: Invalid value: 0:",
          "spec.vcpus in body should be greater than or equal to 1")),
    Case("flavor-ram-not-a-number", "flavor", spec(ramMB="lots"),
         ("spec.ramMB", 'in body must be of type integer: "string"')),
    Case("flavor-negative-disk", "flavor", spec(diskGB=-1),
         ("spec.diskGB in body should be greater than or equal to 0",)),
    Case("flavor-cpu-policy", "flavor", spec(extraSpecs={"hw:cpu_policy": "pinned"}),
         ("spec.extraSpecs", "hw:cpu_policy must be one of shared, dedicated, mixed")),
    Case("flavor-mem-page-size", "flavor", spec(extraSpecs={"hw:mem_page_size": "huge"}),
         ("hw:mem_page_size must be small, large, any or a size such as 2MB or 1GB",)),
    Case("flavor-cpu-cores-not-a-number", "flavor", spec(extraSpecs={"hw:cpu_cores": "two"}),
         ("hw:cpu_sockets, hw:cpu_cores, hw:cpu_threads and hw:numa_nodes are positive integers",)),
    Case("flavor-access-list-on-public", "flavor", spec(projects=["acme"]),
         ("spec.projects", "an access list is only for private flavors (isPublic: false)")),
    # KeyPair, ServerGroup
    Case("keypair-not-a-key", "keypair", spec(publicKey="not-a-key"),
         ("spec.publicKey", "publicKey must be an OpenSSH public key")),
    Case("keypair-type-enum", "keypair", spec(type="pgp"),
         ('spec.type: Unsupported value: "pgp": supported values: "ssh", "x509"',)),
    Case("servergroup-policy-enum", "servergroup", spec(policy="spread"),
         ('spec.policy: Unsupported value: "spread"',)),
    Case("servergroup-max-per-host-on-affinity", "servergroup",
         spec(policy="affinity", rules={"maxServerPerHost": 2}),
         ("spec.rules.maxServerPerHost",
          "rules.maxServerPerHost applies only to the anti-affinity policy")),
    # Image
    Case("image-two-sources", "image",
         spec(source={"registry": {"url": "docker://quay.io/containerdisks/fedora:40"}}),
         ("source names exactly one of http or registry",)),
    Case("image-checksum-format", "image",
         spec(source={"http": {"checksum": "md5:0123"}}),
         ("spec.source.http.checksum", "should match '^sha256:[0-9a-f]{64}$'")),
    Case("image-url-scheme", "image", spec(source={"http": {"url": "ftp://example.com/x.img"}}),
         ("spec.source.http.url", "only http:// and https:// URLs are imported",
          "ftp://, file:// and others are not")),
    Case("image-disk-format-enum", "image", spec(diskFormat="qcow3"),
         ('spec.diskFormat: Unsupported value: "qcow3"',)),
    Case("image-members-when-private", "image", spec(members=["acme"]),
         ("spec.members", "only a shared image has members; set visibility: shared")),
    Case("image-firmware-property", "image", spec(properties={"hw_firmware_type": "efi"}),
         ("spec.properties", "hw_firmware_type must be bios or uefi")),
    Case("image-negative-min-disk", "image", spec(minDiskGB=-5),
         ("spec.minDiskGB in body should be greater than or equal to 0",)),
    # Network, Subnet, Port, SecurityGroup
    Case("network-vlan-without-segment", "network", spec(provider={"networkType": "vlan",
         "physicalNetwork": "physnet1"}),
         ("a vlan network needs segmentationID from 1 to 4094",)),
    Case("network-flat-without-physnet", "network", spec(provider={"networkType": "flat"}),
         ("a flat or vlan network needs physicalNetwork",)),
    Case("network-mtu-too-small", "network", spec(mtu=60),
         ("spec.mtu in body should be greater than or equal to 68",)),
    Case("network-cni-enum", "network", spec(provider={"cni": "calico"}),
         ('spec.provider.cni: Unsupported value: "calico"',)),
    Case("subnet-not-a-cidr", "subnet", spec(cidr="10.0.0.0/33"),
         ("spec.cidr", "must be a CIDR, such as 10.0.0.0/24")),
    Case("subnet-host-bits-set", "subnet", spec(cidr="10.0.0.1/24"),
         ("cidr must be a network address: host bits must be zero",)),
    Case("subnet-gateway-outside-cidr", "subnet", spec(gatewayIP="10.0.1.1"),
         ("spec.gatewayIP", "gatewayIP must be inside cidr")),
    Case("subnet-family-mismatch", "subnet", spec(cidr="fd00::/64"),
         ("spec.cidr", "cidr is not of ipVersion: set ipVersion: 6 for an IPv6 cidr")),
    Case("subnet-pool-outside-cidr", "subnet",
         spec(allocationPools=[{"start": "10.0.0.10", "end": "10.0.5.10"}]),
         ("spec.allocationPools", "every allocation pool must lie inside cidr")),
    Case("subnet-over-5-nameservers", "subnet",
         spec(dnsNameservers=[f"10.0.0.{i}" for i in range(1, 7)]),
         ("spec.dnsNameservers: Too many: 6: must have at most 5 items",)),
    Case("subnet-ipv6-mode-on-ipv4", "subnet", spec(ipv6RaMode="slaac"),
         ("ipv6RaMode and ipv6AddressMode are only for ipVersion 6",)),
    Case("subnet-gateway-and-no-gateway", "subnet", spec(gatewayIP="10.0.0.1", noGateway=True),
         ("noGateway and gatewayIP contradict each other",)),
    Case("port-multicast-mac", "port", spec(macAddress="01:00:5e:00:00:01"),
         ("spec.macAddress", "should match")),
    Case("port-security-off-with-groups", "port",
         spec(portSecurityEnabled=False, securityGroups=["web"]),
         ("a port with portSecurityEnabled: false cannot have securityGroups",)),
    Case("secgroup-inverted-range", "secgroup",
         spec(rules=[{"protocol": "tcp", "portRangeMin": 90, "portRangeMax": 80}]),
         ("spec.rules[0].portRangeMin",
          "portRangeMin must be less than or equal to portRangeMax")),
    Case("secgroup-range-without-protocol", "secgroup",
         spec(rules=[{"portRangeMin": 80, "portRangeMax": 80}]),
         ("a port range needs protocol tcp, udp or sctp",)),
    Case("secgroup-two-remotes", "secgroup",
         spec(rules=[{"remoteIPPrefix": "10.0.0.0/8", "remoteGroup": "default"}]),
         ("a rule names at most one of remoteIPPrefix or remoteGroup",)),
    Case("secgroup-ethertype-mismatch", "secgroup", spec(rules=[{"remoteIPPrefix": "::/0"}]),
         ("spec.rules[0].remoteIPPrefix", "remoteIPPrefix does not match ethertype",
          "an IPv6 prefix with ethertype IPv6")),
    Case("secgroup-ipv6-rule-ipv4-prefix", "secgroup",
         spec(rules=[{"ethertype": "IPv6", "remoteIPPrefix": "10.0.0.0/8"}]),
         ("spec.rules[0].remoteIPPrefix", "an IPv4 prefix goes with ethertype IPv4")),
    Case("secgroup-direction-enum", "secgroup", spec(rules=[{"direction": "inbound"}]),
         ('spec.rules[0].direction: Unsupported value: "inbound"',)),
    Case("secgroup-icmp-type-over-255", "secgroup",
         spec(rules=[{"protocol": "icmp", "portRangeMin": 300}]),
         ("for icmp, portRangeMin is the ICMP type and portRangeMax the code: 0 to 255",)),
    # VolumeType, Volume, Snapshot
    Case("volumetype-class-and-provisioner", "volumetype",
         spec(provisioner="csi.example.com"),
         ("a volume type names exactly one of storageClass",)),
    Case("volume-blank-without-size", "volume", spec(sizeGB=DELETE),
         ("spec.sizeGB", "sizeGB is required, unless the volume is made from a snapshot")),
    Case("volume-zero-size", "volume", spec(sizeGB=0),
         ("spec.sizeGB in body should be greater than or equal to 1",)),
    Case("volume-two-sources", "volume",
         spec(source={"snapshot": "snap", "volume": "vol2"}),
         ("source names at most one of image, snapshot or volume",)),
    Case("snapshot-without-volume", "snapshot", spec(volume=DELETE),
         ("spec.volume: Required value",)),
    # Project, Stack
    Case("project-quota-below-unlimited", "project", spec(quota={"cores": -2}),
         ("spec.quota.cores in body should be greater than or equal to -1",)),
    Case("project-member-user-and-group", "project",
         spec(members=[{"user": "alice", "group": "ops", "role": "member"}]),
         ("a member names exactly one of user or group",)),
    Case("project-role-enum", "project", spec(members=[{"user": "alice", "role": "owner"}]),
         ('spec.members[0].role: Unsupported value: "owner"',)),
    Case("project-name-not-a-namespace", "project", {"metadata": {"name": "acme.eu"}},
         ("a project's name becomes its namespace",)),
    Case("stack-without-template", "stack", spec(template=DELETE),
         ("spec.template: Required value",)),
    Case("stack-zero-timeout", "stack", spec(timeoutMins=0),
         ("spec.timeoutMins in body should be greater than or equal to 1",)),
]  # fmt: skip

# (case, the change that is refused) after the base object was created for real.
UPDATE = [
    Case("flavor-vcpus-immutable", "flavor", spec(vcpus=2),
         ("spec.vcpus", "vcpus is immutable: a flavor's size cannot change, as in Nova")),
    Case("flavor-ram-immutable", "flavor", spec(ramMB=1024), ("ramMB is immutable",)),
    Case("flavor-public-immutable", "flavor", spec(isPublic=False), ("isPublic is immutable",)),
    Case("subnet-cidr-immutable", "subnet", spec(cidr="10.1.0.0/24"),
         ("spec.cidr", "cidr is immutable: create a new subnet")),
    Case("subnet-network-immutable", "subnet", spec(network="other"),
         ("network is immutable",)),
    Case("volume-shrink", "volume", spec(sizeGB=5),
         ("spec.sizeGB", "sizeGB may only grow: a volume can be extended, never shrunk")),
    Case("volume-type-immutable", "volume", spec(volumeType="fast"),
         ("spec.volumeType",)),
    Case("image-source-immutable", "image",
         spec(source={"http": {"url": "https://example.com/other.img"}}),
         ("source is immutable: an image's data cannot change once uploaded",)),
    Case("image-disk-format-immutable", "image", spec(diskFormat="raw"),
         ("diskFormat is immutable",)),
    Case("server-zone-immutable", "server", spec(availabilityZone="zone-b"),
         ("availabilityZone",)),
    Case("server-join-group", "server", spec(serverGroup="sg"),
         ("spec.serverGroup", "serverGroup is immutable")),
    Case("keypair-key-immutable", "keypair",
         spec(publicKey="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBB other@key"),
         ("publicKey is immutable",)),
    Case("servergroup-policy-immutable", "servergroup", spec(policy="affinity"),
         ("policy is immutable",)),
    Case("port-mac-immutable", "port", spec(macAddress="02:00:00:00:00:99"),
         ("macAddress",)),
    Case("network-provider-immutable", "network", spec(provider={"networkType": "vxlan"}),
         ("provider is immutable",)),
    Case("project-namespace-immutable", "project", spec(namespace="acme-2"),
         ("namespace",)),
]  # fmt: skip

# Legal changes next to the refused ones: the rules refuse exactly what they should.
ALLOWED_UPDATES = [
    ("flavor-description", "flavor", spec(description="now with a description")),
    ("flavor-extra-specs", "flavor", spec(extraSpecs={"hw:cpu_policy": "dedicated"})),
    ("volume-grow", "volume", spec(sizeGB=20)),
    ("image-visibility", "image", spec(visibility="public")),
    ("server-power-off", "server", spec(powerState="Stopped")),
    ("server-resize", "server", spec(flavor="m1.medium")),
]

# Cases whose update sets a field that the base lacks start from a base that has it.
UPDATE_BASES = {
    "server-zone-immutable": spec(availabilityZone="zone-a"),
    "port-mac-immutable": spec(macAddress="02:00:00:00:00:50"),
    "project-namespace-immutable": spec(namespace="acme-1"),
    "volume-type-immutable": spec(volumeType="standard"),
    # Its own range: with the operator's webhook up (another module started it), the subnets
    # of one network may not overlap.
    "subnet-network-immutable": spec(cidr="10.0.2.0/24"),
}


@pytest.fixture(scope="module")
def corpus_namespace(cloud: Cloud) -> str:
    cloud.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    return NS


def _named(obj: Any, suffix: str) -> Any:
    """A copy of `obj` with a name of its own, so that update cases do not collide."""
    out = copy.deepcopy(obj)
    name = out["metadata"]["name"]
    out["metadata"]["name"] = f"{suffix}.{name}" if "." in name else f"{suffix}-{name}"
    return out


def test_the_corpus_is_large_enough() -> None:
    assert len(CREATE) + len(UPDATE) >= 30
    assert len({c.id for c in CREATE + UPDATE}) == len(CREATE) + len(UPDATE)


@pytest.mark.parametrize("case", CREATE, ids=lambda c: c.id)
def test_invalid_create_is_refused(cloud: Cloud, corpus_namespace: str, case: Case) -> None:
    manifest = patched(BASE[case.base], case.patch)
    # The base object itself is valid: the refusal is the patch's doing.
    cloud.kubectl("create", "--dry-run=server", "-f", "-", stdin=_yaml(BASE[case.base]))
    message = cloud.refusal(manifest)
    for fragment in case.expect:
        assert fragment in message, f"{fragment!r} not in: {message}"


@pytest.mark.parametrize("case", UPDATE, ids=lambda c: c.id)
def test_invalid_update_is_refused(cloud: Cloud, corpus_namespace: str, case: Case) -> None:
    base = _named(patched(BASE[case.base], UPDATE_BASES.get(case.id, {})), case.id[:20])
    cloud.apply(base)
    result = cloud.kubectl(
        "apply", "--server-side", "--field-manager=tests", "-f", "-",
        stdin=_yaml(patched(base, case.patch)), check=False,
    )  # fmt: skip
    assert result.returncode != 0, f"update accepted: {case.patch}"
    for fragment in case.expect:
        assert fragment in result.stderr, f"{fragment!r} not in: {result.stderr}"


@pytest.mark.parametrize(("name", "base", "patch"), ALLOWED_UPDATES, ids=lambda v: str(v)[:24])
def test_legal_update_is_accepted(
    cloud: Cloud, corpus_namespace: str, name: str, base: str, patch: dict[str, Any]
) -> None:
    obj = _named(BASE[base], name[:20])
    cloud.apply(obj)
    cloud.apply(patched(obj, patch))


def _yaml(obj: Any) -> str:
    import yaml

    return yaml.safe_dump(obj)
