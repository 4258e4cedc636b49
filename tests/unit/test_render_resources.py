"""Image, Network, SecurityGroup, VolumeType, Volume and Snapshot renders: tables and schemas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nimbus.blockstorage import api as storage_api
from nimbus.blockstorage import render as storage
from nimbus.image import api as image_api
from nimbus.image import render as image
from nimbus.network import api as network_api
from nimbus.network import render as network
from tests import upstream

OWNER = {"apiVersion": "x.nimbus.dev/v1alpha1", "kind": "X", "name": "x", "uid": "u-1",
         "controller": True, "blockOwnerDeletion": True}  # fmt: skip


# -- Image ----------------------------------------------------------------------------------


def image_inputs(**spec: Any) -> image.ImageInputs:
    base = {"source": {"http": {"url": "https://example.com/cirros.img"}}}
    return image.ImageInputs(
        name="cirros",
        namespace="demo",
        spec=image_api.ImageSpec.model_validate({**base, **spec}),
        owner=OWNER,
    )


def test_http_image_imports_with_its_checksum() -> None:
    checksum = "sha256:" + "ab" * 32
    dv = image.render_data_volume(
        image_inputs(
            source={"http": {"url": "https://example.com/c.img", "checksum": checksum}}, minDiskGB=2
        )
    )
    upstream.assert_valid(dv)
    assert dv["metadata"]["name"] == "image-cirros"
    assert dv["metadata"]["ownerReferences"] == [OWNER]
    assert dv["spec"]["source"] == {"http": {"url": "https://example.com/c.img",
                                             "checksum": checksum}}  # fmt: skip
    assert dv["spec"]["storage"] == {"resources": {"requests": {"storage": "2Gi"}}}
    assert dv["spec"]["contentType"] == "kubevirt"


def test_registry_image_without_min_disk_gets_the_default_size() -> None:
    dv = image.render_data_volume(
        image_inputs(source={"registry": {"url": "docker://quay.io/containerdisks/fedora:40"}})
    )
    upstream.assert_valid(dv)
    assert dv["spec"]["source"] == {
        "registry": {"url": "docker://quay.io/containerdisks/fedora:40"}
    }
    assert dv["spec"]["storage"]["resources"]["requests"]["storage"] == "10Gi"


@pytest.mark.parametrize(
    ("spec", "groups", "verbs"),
    [
        ({"visibility": "private"}, [], []),
        ({"visibility": "shared", "members": ["research", "alpha"]},
         ["system:serviceaccounts:alpha", "nimbus:project:alpha",
          "system:serviceaccounts:research", "nimbus:project:research"], ["get", "patch"]),
        ({"visibility": "public"}, ["system:authenticated", "system:serviceaccounts"], ["get"]),
    ],
)  # fmt: skip
def test_clone_rbac_follows_visibility(
    spec: dict[str, Any], groups: list[str], verbs: list[str]
) -> None:
    """Who may clone the image's DataVolume and read the Image: a shared image's members also
    patch it (their answer, which the member-status policy confines to one annotation)."""
    objects = image.render_clone_rbac(image_inputs(**spec))
    if not groups:
        assert objects == []
        return
    role, binding = objects
    assert role["rules"] == [
        {
            "apiGroups": ["cdi.kubevirt.io"],
            "resources": ["datavolumes/source"],
            "resourceNames": ["image-cirros"],
            "verbs": ["create"],
        },
        {
            "apiGroups": ["image.nimbus.dev"],
            "resources": ["images"],
            "resourceNames": ["cirros"],
            "verbs": verbs,
        },
    ]
    assert [s["name"] for s in binding["subjects"]] == groups
    assert binding["roleRef"]["name"] == role["metadata"]["name"] == "image-cirros-clone"


# -- Network --------------------------------------------------------------------------------


def subnet(name: str, **spec: Any) -> network.SubnetInputs:
    return network.SubnetInputs(
        name, network_api.SubnetSpec.model_validate({"network": "private", **spec})
    )


def network_inputs(provider: dict[str, Any] | None = None, **changes: Any) -> network.NetworkInputs:
    spec = network_api.NetworkSpec.model_validate({"mtu": 1450, "provider": provider or {}})
    fields: dict[str, Any] = {"name": "private", "namespace": "demo", "spec": spec, "owner": OWNER}
    return network.NetworkInputs(**{**fields, **changes})


def config(nad: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(nad["spec"]["config"])
    return parsed


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"cidr": "10.0.0.0/24"}, "10.0.0.1"),
        ({"cidr": "10.0.0.0/24", "gatewayIP": "10.0.0.254"}, "10.0.0.254"),
        ({"cidr": "10.0.0.0/24", "noGateway": True}, None),
        ({"cidr": "fd00::/64", "ipVersion": 6}, "fd00::1"),
    ],
)
def test_gateway_is_neutrons(spec: dict[str, Any], expected: str | None) -> None:
    assert network.gateway(network_api.SubnetSpec.model_validate({"network": "n", **spec})) == (
        expected
    )


def test_bridge_network_with_two_subnets() -> None:
    nad = network.render_network_attachment(
        network_inputs(
            subnets=(
                subnet(
                    "v4",
                    cidr="10.0.0.0/24",
                    gatewayIP="10.0.0.1",
                    allocationPools=[{"start": "10.0.0.10", "end": "10.0.0.200"}],
                ),
                subnet("v6", cidr="fd00::/64", ipVersion=6),
            ),
            reserved=("10.0.0.50", "10.9.9.9"),
        )
    )
    upstream.assert_valid(nad)
    assert nad["metadata"]["name"] == "private"
    cni = config(nad)
    assert cni["type"] == "bridge"
    assert cni["bridge"] == network.bridge_name("demo", "private")
    assert len(cni["bridge"]) <= 15
    assert cni["mtu"] == 1450
    assert cni["ipam"] == {
        "type": "whereabouts",
        "ipRanges": [
            {"range": "10.0.0.0/24", "range_start": "10.0.0.10", "range_end": "10.0.0.200",
             "exclude": ["10.0.0.1/32", "10.0.0.50/32"]},
            {"range": "fd00::/64", "exclude": ["fd00::1/128"]},
        ],
    }  # fmt: skip


def test_vlan_bridge_on_a_physical_network() -> None:
    vlan = {"networkType": "vlan", "physicalNetwork": "br-ex", "segmentationID": 100}
    cni = config(network.render_network_attachment(network_inputs(vlan)))
    assert (cni["bridge"], cni["vlan"]) == ("br-ex", 100)
    assert cni["ipam"] == {}


def test_macvlan_and_ovn_layer2() -> None:
    flat = {"cni": "macvlan", "networkType": "flat", "physicalNetwork": "eth1"}
    macvlan = config(network.render_network_attachment(network_inputs(flat)))
    assert (macvlan["type"], macvlan["master"], macvlan["mode"]) == ("macvlan", "eth1", "bridge")
    layer2 = network_inputs({"cni": "ovn-k8s-layer2"}, subnets=(subnet("v4", cidr="10.1.0.0/16"),))
    ovn = config(network.render_network_attachment(layer2))
    assert ovn["type"] == "ovn-k8s-cni-overlay"
    assert ovn["topology"] == "layer2"
    assert ovn["subnets"] == "10.1.0.0/16"
    assert ovn["netAttachDefName"] == "demo/private"


def test_port_macs_are_stable_unicast_and_local() -> None:
    mac = network.mac_address("demo", "web-1-port-0")
    assert mac == network.mac_address("demo", "web-1-port-0")
    assert mac != network.mac_address("demo", "web-1-port-1")
    assert mac != network.mac_address("other", "web-1-port-0")
    assert mac.startswith("02:")  # locally administered, unicast
    assert len(mac.split(":")) == 6


# -- SecurityGroup --------------------------------------------------------------------------


def test_security_group_rules_become_network_policy_rules() -> None:
    spec = network_api.SecurityGroupSpec.model_validate({"rules": [
        {"protocol": "tcp", "portRangeMin": 80, "portRangeMax": 80, "remoteIPPrefix": "0.0.0.0/0"},
        {"protocol": "tcp", "portRangeMin": 8000, "portRangeMax": 8100},
        {"protocol": "udp", "remoteGroup": "dns"},
        {"direction": "egress", "ethertype": "IPv6"},
        {"protocol": "icmp", "portRangeMin": 8, "portRangeMax": 0},
    ]})  # fmt: skip
    policy, unsupported = network.render_network_policy("web", "demo", spec, OWNER)
    assert policy["metadata"]["name"] == "sg-web"
    assert policy["spec"]["podSelector"] == {"matchLabels": {"sg.network.nimbus.dev/web": "true"}}
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == [
        {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 80}]},
        {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
         "ports": [{"protocol": "TCP", "port": 8000, "endPort": 8100}]},
        {"from": [{"podSelector": {"matchLabels": {"sg.network.nimbus.dev/dns": "true"}}}],
         "ports": [{"protocol": "UDP"}]},
    ]  # fmt: skip
    assert policy["spec"]["egress"] == [{"to": [{"ipBlock": {"cidr": "::/0"}}]}]
    assert unsupported == [
        "rules[4]: protocol icmp cannot be expressed by a Kubernetes NetworkPolicy (only tcp, "
        "udp and sctp); it is not applied"
    ]


def test_the_default_group_is_neutrons() -> None:
    policy, unsupported = network.render_network_policy(
        "default", "demo", network.default_security_group()
    )
    assert unsupported == []
    same_group = {"podSelector": {"matchLabels": {"sg.network.nimbus.dev/default": "true"}}}
    assert policy["spec"]["ingress"] == [{"from": [same_group]}, {"from": [same_group]}]
    assert policy["spec"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]},
        {"to": [{"ipBlock": {"cidr": "::/0"}}]},
    ]


def test_a_group_with_no_rules_denies_everything() -> None:
    policy, _ = network.render_network_policy("closed", "demo", network_api.SecurityGroupSpec())
    assert (policy["spec"]["ingress"], policy["spec"]["egress"]) == ([], [])


# -- VolumeType, Volume, Snapshot -----------------------------------------------------------


def test_volume_type_over_an_existing_class_makes_nothing() -> None:
    spec = storage_api.VolumeTypeSpec.model_validate({"storageClass": "standard"})
    assert storage.render_storage_class("standard", spec) == []


def test_volume_type_with_a_provisioner_makes_its_classes() -> None:
    spec = storage_api.VolumeTypeSpec.model_validate(
        {"provisioner": "rbd.csi.ceph.com", "parameters": {"pool": "fast"}}
    )
    storage_class, snapshot_class = storage.render_storage_class("fast", spec, OWNER)
    assert storage_class["metadata"]["name"] == "nimbus-fast"
    assert (storage_class["provisioner"], storage_class["parameters"]) == (
        "rbd.csi.ceph.com", {"pool": "fast"},
    )  # fmt: skip
    assert storage_class["allowVolumeExpansion"] is True
    upstream.assert_valid(snapshot_class)
    assert snapshot_class["driver"] == "rbd.csi.ceph.com"


def volume(**changes: Any) -> storage.VolumeInputs:
    spec = storage_api.VolumeSpec.model_validate({"sizeGB": 10})
    fields: dict[str, Any] = {"name": "data-1", "namespace": "demo", "spec": spec, "size_gb": 10,
                              "owner": OWNER}  # fmt: skip
    return storage.VolumeInputs(**{**fields, **changes})


def test_blank_volume_is_a_pvc() -> None:
    pvc = storage.render_volume(volume(storage_class="nimbus-fast"))
    assert pvc["kind"] == "PersistentVolumeClaim"
    assert pvc["metadata"]["name"] == "data-1"
    assert pvc["spec"]["resources"] == {"requests": {"storage": "10Gi"}}
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["spec"]["storageClassName"] == "nimbus-fast"


@pytest.mark.parametrize(
    ("changes", "source"),
    [
        ({"image_source": ("public", "image-cirros")},
         {"pvc": {"namespace": "public", "name": "image-cirros"}}),
        ({"snapshot_source": "data-1-nightly"},
         {"snapshot": {"namespace": "demo", "name": "data-1-nightly"}}),
        ({"volume_source": "data-0"}, {"pvc": {"namespace": "demo", "name": "data-0"}}),
    ],
)  # fmt: skip
def test_volumes_from_a_source_are_datavolume_clones(
    changes: dict[str, Any], source: dict[str, Any]
) -> None:
    dv = storage.render_volume(volume(**changes))
    upstream.assert_valid(dv)
    assert dv["spec"]["source"] == source
    assert dv["spec"]["storage"]["resources"] == {"requests": {"storage": "10Gi"}}


def test_multiattach_volume_is_read_write_many() -> None:
    spec = storage_api.VolumeSpec.model_validate({"sizeGB": 5, "multiattach": True})
    pvc = storage.render_volume(volume(spec=spec, size_gb=5))
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]


def test_snapshot_is_a_volume_snapshot() -> None:
    snapshot = storage.render_snapshot("nightly", "demo", "data-1", "nimbus-fast", OWNER)
    upstream.assert_valid(snapshot)
    assert snapshot["spec"] == {
        "source": {"persistentVolumeClaimName": "data-1"},
        "volumeSnapshotClassName": "nimbus-fast",
    }
