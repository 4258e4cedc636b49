"""Server -> VirtualMachine + cloud-init Secret: table tests, and KubeVirt's own schema."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
import yaml

from nimbus.compute import api, render
from nimbus.network import render as network_render
from tests import upstream

OWNER = {
    "apiVersion": "compute.nimbus.dev/v1alpha1",
    "kind": "Server",
    "name": "web-1",
    "uid": "0b7a5c8e-0000-4000-8000-000000000001",
    "controller": True,
    "blockOwnerDeletion": True,
}
CIRROS = render.ImageDisk(
    namespace="demo",
    data_volume="image-cirros",
    min_disk_gb=1,
    min_ram_mb=128,
    virtual_size=117_440_512,
    name="cirros",
)


def flavor(**fields: Any) -> api.FlavorSpec:
    return api.FlavorSpec.model_validate({"vcpus": 1, "ramMB": 2048, "diskGB": 20, **fields})


def server(**fields: Any) -> api.ServerSpec:
    return api.ServerSpec.model_validate(
        {"flavor": "m1.small", "image": {"name": "cirros"}, **fields}
    )


def inputs(**changes: Any) -> render.ServerInputs:
    base = render.ServerInputs(
        name="web-1",
        namespace="demo",
        spec=server(),
        flavor_name="m1.small",
        flavor=flavor(),
        image=CIRROS,
        owner=OWNER,
    )
    return dataclasses.replace(base, **changes)


def template_spec(vm: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = vm["spec"]["template"]["spec"]
    return spec


# -- Nova's checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flavor_fields", "image", "message"),
    [
        (
            {"ramMB": 64},
            CIRROS,
            "Flavor's memory is too small for requested image. (flavor m1.test: 64 MB of RAM; "
            "image cirros needs minRamMB 128)",
        ),
        (
            {"diskGB": 1},
            dataclasses.replace(CIRROS, min_disk_gb=2),
            "Flavor's disk is smaller than the minimum size specified in image metadata. "
            "Flavor disk is 1073741824 bytes, minimum size is 2147483648 bytes. "
            "(flavor m1.test: 1 GiB of disk; image cirros has minDiskGB 2)",
        ),
        (
            {"diskGB": 1},
            dataclasses.replace(CIRROS, virtual_size=50 * 2**30, min_disk_gb=0),
            "Flavor's disk is too small for requested image. Flavor disk is 1073741824 bytes, "
            "image is 53687091200 bytes. (flavor m1.test: 1 GiB of disk; image cirros: 50 GiB; "
            "choose a flavor with diskGB of at least 50)",
        ),
    ],
)
def test_too_small_flavors_are_refused_in_novas_words(
    flavor_fields: dict[str, Any], image: render.ImageDisk, message: str
) -> None:
    with pytest.raises(render.BuildError) as refused:
        render.check_flavor_fits_image(flavor(**flavor_fields), image, "m1.test")
    assert str(refused.value) == message


def test_disk_zero_flavor_takes_the_image_size() -> None:
    big = dataclasses.replace(CIRROS, virtual_size=10 * render.GIB + 1, min_disk_gb=2)
    render.check_flavor_fits_image(flavor(diskGB=0), big)  # Nova skips the disk checks
    assert render.root_disk_gb(flavor(diskGB=0), big) == 11
    assert (
        render.root_disk_gb(
            flavor(diskGB=0), dataclasses.replace(CIRROS, virtual_size=None, min_disk_gb=3)
        )
        == 3
    )
    assert render.root_disk_gb(flavor(diskGB=40), big) == 40


@pytest.mark.parametrize(
    ("vcpus", "extra_specs", "topology"),
    [
        (4, {}, (4, 1, 1)),  # Nova prefers sockets
        (4, {"hw:cpu_cores": "2"}, (2, 2, 1)),
        (8, {"hw:cpu_cores": "2", "hw:cpu_threads": "2"}, (2, 2, 2)),
        (8, {"hw:cpu_sockets": "1", "hw:cpu_threads": "2"}, (1, 4, 2)),
        (6, {"hw:cpu_sockets": "2", "hw:cpu_cores": "3", "hw:cpu_threads": "1"}, (2, 3, 1)),
    ],
)
def test_cpu_topology(vcpus: int, extra_specs: dict[str, str], topology: tuple[int, ...]) -> None:
    assert render.cpu_topology(vcpus, extra_specs) == topology


@pytest.mark.parametrize(
    ("vcpus", "extra_specs"),
    [
        (4, {"hw:cpu_cores": "3"}),
        (4, {"hw:cpu_sockets": "1", "hw:cpu_cores": "2", "hw:cpu_threads": "1"}),
    ],
)
def test_impossible_cpu_topology_is_refused(vcpus: int, extra_specs: dict[str, str]) -> None:
    with pytest.raises(render.BuildError, match="vcpus"):
        render.cpu_topology(vcpus, extra_specs)


@pytest.mark.parametrize(
    ("value", "page_size"),
    [
        ("small", None),
        ("any", None),
        ("large", "2Mi"),
        ("2MB", "2Mi"),
        ("2MiB", "2Mi"),
        ("1GB", "1Gi"),
        ("1048576KB", "1Gi"),
    ],
)
def test_hugepages(value: str, page_size: str | None) -> None:
    assert render.hugepage_size({"hw:mem_page_size": value}) == page_size


def test_unknown_page_size_is_refused() -> None:
    with pytest.raises(render.BuildError, match="use small, large, 2MB or 1GB"):
        render.hugepage_size({"hw:mem_page_size": "16GB"})


# -- the VirtualMachine ---------------------------------------------------------------------


def test_minimal_server_boots_cirros_on_the_pod_network() -> None:
    vm = render.render_virtual_machine(inputs())
    upstream.assert_valid(vm)
    assert vm["metadata"]["ownerReferences"] == [OWNER]
    assert vm["spec"]["runStrategy"] == "Always"
    assert vm["spec"]["dataVolumeTemplates"] == [
        {
            "metadata": {"name": "web-1-root"},
            "spec": {
                "source": {"pvc": {"namespace": "demo", "name": "image-cirros"}},
                "storage": {"resources": {"requests": {"storage": "20Gi"}}},
            },
        }
    ]
    spec = template_spec(vm)
    assert spec["domain"]["cpu"] == {"sockets": 1, "cores": 1, "threads": 1}
    assert spec["domain"]["memory"] == {"guest": "2048Mi"}
    assert spec["domain"]["devices"]["interfaces"] == [{"name": "default", "masquerade": {}}]
    assert spec["networks"] == [{"name": "default", "pod": {}}]
    assert [d["name"] for d in spec["domain"]["devices"]["disks"]] == ["root", "cloudinit"]
    assert spec["hostname"] == "web-1"
    assert "nodeSelector" not in spec
    assert "schedulerName" not in spec


def test_full_server_renders_every_part() -> None:
    vm = render.render_virtual_machine(
        inputs(
            spec=server(
                availabilityZone="zone-a",
                serverGroup="web-anti",
                securityGroups=["default", "web"],
                schedulerHints={"differentHost": ["web-2"]},
            ),
            flavor_name="m1.large.dedicated",
            flavor=flavor(
                vcpus=4,
                ramMB=8192,
                diskGB=80,
                ephemeralGB=10,
                swapMB=1024,
                extraSpecs={
                    "hw:cpu_policy": "dedicated",
                    "hw:mem_page_size": "large",
                    "hw:cpu_cores": "2",
                    "hw:cpu_threads": "2",
                },
            ),
            image=dataclasses.replace(
                CIRROS, properties={"hw_disk_bus": "sata", "hw_firmware_type": "uefi"}
            ),
            interfaces=(
                render.Interface(
                    "private",
                    "demo/private",
                    "02:00:00:00:00:50",
                    ("10.0.0.50/24",),
                    "10.0.0.1",
                    port="web-1-port",
                ),
                render.Interface(
                    "storage", "demo/storage", "02:00:00:00:00:51", ("192.168.10.5/24",)
                ),
            ),
            volume_claims=(("data-1", "data-1"), ("logs-1", "logs-1")),
            placement=True,
        )
    )
    upstream.assert_valid(vm)
    spec = template_spec(vm)
    domain = spec["domain"]
    assert domain["cpu"] == {"sockets": 1, "cores": 2, "threads": 2, "dedicatedCpuPlacement": True}
    assert domain["memory"] == {"guest": "8192Mi", "hugepages": {"pageSize": "2Mi"}}
    assert domain["firmware"] == {"bootloader": {"efi": {"secureBoot": False}}}
    assert domain["devices"]["disks"] == [
        {"name": "root", "disk": {"bus": "sata"}, "bootOrder": 1},
        {"name": "cloudinit", "disk": {"bus": "virtio"}},
        {"name": "ephemeral", "disk": {"bus": "virtio"}},
        {"name": "swap", "disk": {"bus": "virtio"}},
        {"name": "volume-0", "disk": {"bus": "scsi"}},
        {"name": "volume-1", "disk": {"bus": "scsi"}},
    ]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["ephemeral"]["emptyDisk"] == {"capacity": "10Gi"}
    assert volumes["swap"]["emptyDisk"] == {"capacity": "1024Mi"}
    assert volumes["volume-1"]["persistentVolumeClaim"] == {
        "claimName": "logs-1",
        "hotpluggable": True,
    }
    assert domain["devices"]["interfaces"] == [
        {"name": "net0", "bridge": {}, "macAddress": "02:00:00:00:00:50"},
        {"name": "net1", "bridge": {}, "macAddress": "02:00:00:00:00:51"},
    ]
    assert spec["networks"] == [
        {"name": "net0", "multus": {"networkName": "demo/private"}},
        {"name": "net1", "multus": {"networkName": "demo/storage"}},
    ]
    assert spec["nodeSelector"] == {"topology.kubernetes.io/zone": "zone-a"}
    assert spec["schedulerName"] == "nimbus-scheduler"
    labels = vm["spec"]["template"]["metadata"]["labels"]
    assert labels == {
        "app.kubernetes.io/managed-by": "nimbus",
        "compute.nimbus.dev/server": "web-1",
        "identity.nimbus.dev/project": "demo",
        "compute.nimbus.dev/flavor": "m1.large.dedicated",
        "compute.nimbus.dev/vcpus": "4",
        "compute.nimbus.dev/memory-mb": "8192",
        "compute.nimbus.dev/disk-gb": "91",  # root, ephemeral, and swap rounded up to a GB
        "compute.nimbus.dev/server-group": "web-anti",
        "sg.network.nimbus.dev/default": "true",
        "sg.network.nimbus.dev/web": "true",
    }
    annotations = vm["spec"]["template"]["metadata"]["annotations"]
    assert annotations["compute.nimbus.dev/scheduler-hints"] == (
        '{"differentHost": ["web-2"], "sameHost": []}'
    )


@pytest.mark.parametrize(
    ("power_state", "run_strategy"),
    [("Running", "Always"), ("Paused", "Always"), ("Stopped", "Halted")],
)
def test_power_state(power_state: str, run_strategy: str) -> None:
    vm = render.render_virtual_machine(inputs(spec=server(powerState=power_state)))
    assert vm["spec"]["runStrategy"] == run_strategy


def test_boot_from_volume_uses_its_claim_and_skips_image_checks() -> None:
    vm = render.render_virtual_machine(
        inputs(
            spec=server(image=None, bootVolume={"name": "root-1"}),
            image=None,
            boot_claim="root-1",
            flavor=flavor(diskGB=0, ramMB=64),
        )
    )
    upstream.assert_valid(vm)
    assert vm["spec"]["dataVolumeTemplates"] == []
    root = template_spec(vm)["volumes"][0]
    assert root == {"name": "root", "persistentVolumeClaim": {"claimName": "root-1"}}


def test_too_small_flavor_refuses_the_vm() -> None:
    with pytest.raises(render.BuildError, match="Flavor's memory is too small"):
        render.render_virtual_machine(inputs(flavor=flavor(ramMB=64)))


def test_a_long_security_group_name_becomes_a_valid_label() -> None:
    label = network_render.security_group_label("a" * 200)
    assert label.startswith("sg.network.nimbus.dev/h-")
    assert len(label.split("/")[1]) <= 63


def test_the_upstream_check_catches_a_typo() -> None:
    """The validator is strict: a misspelt field fails, as the issue asks."""
    vm = render.render_virtual_machine(inputs())
    broken = copy.deepcopy(vm)
    broken["spec"]["template"]["spec"]["domain"]["cpu"]["core"] = 2
    assert any("'core' was unexpected" in e for e in upstream.errors(broken))


# -- cloud-init ------------------------------------------------------------------------------


def test_cloud_config_gets_the_keypair_and_hostname_merged() -> None:
    text = render.user_data(
        "#cloud-config\npackages: [nginx]\nssh_authorized_keys: [ssh-rsa AAAA mine]\n",
        ("ssh-ed25519 BBBB ops",),
        "web-1",
    )
    assert text.startswith("#cloud-config\n")
    assert yaml.safe_load(text) == {
        "hostname": "web-1",
        "packages": ["nginx"],
        "ssh_authorized_keys": ["ssh-rsa AAAA mine", "ssh-ed25519 BBBB ops"],
    }


def test_long_keys_stay_on_one_line() -> None:
    key = "ssh-ed25519 " + "A" * 68 + " a-rather-long-comment@some-project"
    assert f"- {key}\n" in render.user_data(None, (key,), "web-1")


def test_no_user_data_still_sets_hostname_and_keys() -> None:
    assert yaml.safe_load(render.user_data(None, ("ssh-ed25519 BBBB ops",), "db")) == {
        "hostname": "db",
        "ssh_authorized_keys": ["ssh-ed25519 BBBB ops"],
    }


def test_a_script_travels_beside_the_keys_in_a_multipart_archive() -> None:
    text = render.user_data("#!/bin/sh\necho hi\n", ("ssh-ed25519 BBBB ops",), "web-1")
    assert 'Content-Type: multipart/mixed; boundary="==NIMBUS-CLOUD-INIT=="' in text
    assert "Content-Type: text/cloud-config" in text
    assert "Content-Type: text/x-shellscript" in text
    assert "#!/bin/sh\necho hi\n" in text
    # Level-triggered rendering must be stable: the same input gives the same bytes.
    assert text == render.user_data("#!/bin/sh\necho hi\n", ("ssh-ed25519 BBBB ops",), "web-1")


def test_network_data_is_static_and_matched_by_mac() -> None:
    data = yaml.safe_load(
        render.network_data(
            (
                render.Interface(
                    "private",
                    "demo/private",
                    "02:00:00:00:00:50",
                    ("10.0.0.50/24",),
                    "10.0.0.1",
                    ("10.0.0.2",),
                    (("192.168.100.0/24", "10.0.0.254"),),
                ),
                render.Interface("other", "demo/other", "02:00:00:00:00:51"),
            )
        )
    )
    assert data == {
        "version": 2,
        "ethernets": {
            "eth0": {
                "match": {"macaddress": "02:00:00:00:00:50"},
                "set-name": "eth0",
                "addresses": ["10.0.0.50/24"],
                "routes": [
                    {"to": "default", "via": "10.0.0.1"},
                    {"to": "192.168.100.0/24", "via": "10.0.0.254"},
                ],
                "nameservers": {"addresses": ["10.0.0.2"]},
            },
            "eth1": {
                "match": {"macaddress": "02:00:00:00:00:51"},
                "set-name": "eth1",
                "dhcp4": True,
            },
        },
    }


def test_cloud_init_secret() -> None:
    secret = render.render_cloud_init_secret(inputs(public_keys=("ssh-ed25519 BBBB ops",)))
    assert secret["metadata"]["name"] == "web-1-cloudinit"
    assert secret["metadata"]["ownerReferences"] == [OWNER]
    assert set(secret["stringData"]) == {"userdata", "networkdata"}
    assert "ssh-ed25519 BBBB ops" in secret["stringData"]["userdata"]
