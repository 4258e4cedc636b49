"""Everything Nimbus renders is accepted by the real API server, upstream CRDs included."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import yaml

from nimbus.blockstorage import api as storage_api
from nimbus.blockstorage import render as storage
from nimbus.compute import render as compute
from nimbus.image import render as image
from nimbus.network import render as network
from tests.integration.conftest import Cloud
from tests.unit import test_render_resources as resources
from tests.unit import test_render_server as servers


def _rendered(namespace: str) -> list[dict[str, Any]]:
    full = servers.inputs(
        namespace=namespace,
        spec=servers.server(availabilityZone="zone-a", serverGroup="web", userData="#!/bin/sh\n"),
        flavor=servers.flavor(vcpus=4, ephemeralGB=5, swapMB=512,
                              extraSpecs={"hw:cpu_policy": "dedicated"}),
        interfaces=(compute.Interface("private", f"{namespace}/private", "02:00:00:00:00:50",
                                      ("10.0.0.50/24",), "10.0.0.1"),),
        volume_claims=(("data-1", "data-1"),),
        public_keys=("ssh-ed25519 AAAA ops",),
        placement=True,
    )  # fmt: skip
    image_inputs = dataclasses.replace(
        resources.image_inputs(visibility="shared", members=["research"]), namespace=namespace
    )
    network_inputs = resources.network_inputs(
        namespace=namespace, subnets=(resources.subnet("v4", cidr="10.0.0.0/24"),)
    )
    volume_type = storage_api.VolumeTypeSpec.model_validate({"provisioner": "csi.example.com"})
    objects = [
        compute.render_virtual_machine(full),
        compute.render_cloud_init_secret(full),
        image.render_data_volume(image_inputs),
        *image.render_clone_rbac(image_inputs),
        network.render_network_attachment(network_inputs),
        network.render_network_policy("web", namespace, network.default_security_group())[0],
        *storage.render_storage_class(f"{namespace}-fast", volume_type),
        storage.render_volume(dataclasses.replace(resources.volume(), namespace=namespace)),
        storage.render_volume(
            dataclasses.replace(resources.volume(), namespace=namespace, name="data-2",
                                image_source=(namespace, "image-cirros"))),
        storage.render_snapshot("nightly", namespace, "data-1"),
    ]  # fmt: skip
    for obj in objects:
        # Owner UIDs of objects that do not exist are fine for a dry run, but a cluster-scoped
        # object may not have a namespaced owner.
        if "namespace" not in obj["metadata"]:
            obj["metadata"]["ownerReferences"] = []
    return objects


@pytest.fixture(scope="module")
def rendered(cloud: Cloud) -> list[dict[str, Any]]:
    return _rendered(cloud.namespace())


def test_every_rendered_kind_is_covered(rendered: list[dict[str, Any]]) -> None:
    kinds = {obj["kind"] for obj in rendered}
    assert kinds == {
        "VirtualMachine", "Secret", "DataVolume", "Role", "RoleBinding",
        "NetworkAttachmentDefinition", "NetworkPolicy", "StorageClass", "VolumeSnapshotClass",
        "PersistentVolumeClaim", "VolumeSnapshot",
    }  # fmt: skip


def test_the_api_server_accepts_everything_rendered(
    cloud: Cloud, rendered: list[dict[str, Any]]
) -> None:
    result = cloud.kubectl(
        "apply", "--server-side", "--dry-run=server", "--field-manager=nimbus",
        "--validate=strict", "-f", "-", stdin=yaml.safe_dump_all(rendered), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("serverside-applied (server dry run)") == len(rendered)


def test_the_api_server_refuses_a_misspelt_field(
    cloud: Cloud, rendered: list[dict[str, Any]]
) -> None:
    """The strict check above can fail: a field KubeVirt does not know is refused."""
    vm = next(obj for obj in rendered if obj["kind"] == "VirtualMachine")
    vm = yaml.safe_load(yaml.safe_dump(vm))
    vm["spec"]["template"]["spec"]["domain"]["cpu"]["core"] = 2
    result = cloud.kubectl(
        "apply", "--server-side", "--dry-run=server", "--validate=strict", "-f", "-",
        stdin=yaml.safe_dump(vm), check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert ".spec.template.spec.domain.cpu.core: field not declared in schema" in result.stderr
