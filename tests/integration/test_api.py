"""The API as a user meets it on a real API server: examples, defaults, columns, names."""

from __future__ import annotations

import json
import pathlib

import pytest
import yaml

from nimbus.api import kinds
from tests.conftest import EXAMPLES
from tests.integration.conftest import Cloud

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


@pytest.fixture(scope="module")
def examples(cloud: Cloud) -> list[dict[str, object]]:
    """Every example, applied in one go as the README's `make demo` does."""
    documents = [
        doc for path in EXAMPLE_FILES for doc in yaml.safe_load_all(path.read_text()) if doc
    ]
    cloud.kubectl(
        "apply", "--server-side", "--field-manager=tests", "-f", "-",
        stdin=yaml.safe_dump_all(documents),
    )  # fmt: skip
    return documents


def test_there_is_an_example_of_every_kind(examples: list[dict[str, object]]) -> None:
    shown = {doc["kind"] for doc in examples}
    assert {kind.__name__ for kind in kinds.ALL} <= shown


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_is_accepted_as_is(cloud: Cloud, path: pathlib.Path) -> None:
    result = cloud.kubectl(
        "apply", "--dry-run=server", "--server-side", "--field-manager=tests", "-f", str(path)
    )
    assert "Error" not in result.stderr
    for doc in yaml.safe_load_all(path.read_text()):
        assert f"{doc['metadata']['name']} serverside-applied" in result.stdout


def test_every_example_is_stored(cloud: Cloud, examples: list[dict[str, object]]) -> None:
    for doc in examples:
        metadata = doc["metadata"]
        assert isinstance(metadata, dict)
        kind = f"{doc['kind']}.{str(doc['apiVersion']).split('/')[0]}"
        if doc["apiVersion"] == "v1":
            kind = str(doc["kind"])
        cloud.get(kind, metadata["name"], metadata.get("namespace"))


def test_defaults_are_openstacks(cloud: Cloud, examples: list[dict[str, object]]) -> None:
    flavor = cloud.get("flavors.compute.nimbus.dev", "m1.tiny")["spec"]
    assert flavor == {
        "vcpus": 1, "ramMB": 512, "diskGB": 1, "ephemeralGB": 0, "swapMB": 0,
        "rxtxFactor": 1.0, "isPublic": True, "description": "",
    }  # fmt: skip
    server = cloud.get("servers.compute.nimbus.dev", "web-2", "demo")["spec"]
    assert server["securityGroups"] == ["default"]
    assert server["powerState"] == "Running"
    assert server["bootVolume"] == {"name": "root-1", "deleteOnTermination": False}
    project = cloud.get("projects.identity.nimbus.dev", "demo")["spec"]
    assert project["quota"] == {
        "instances": 10, "cores": 20, "ramMB": 51200, "keyPairs": 100, "serverGroups": 10,
        "serverGroupMembers": 10, "metadataItems": 128, "volumes": 10, "gigabytes": 1000,
        "snapshots": 10, "networks": 100, "subnets": 100, "ports": 500, "routers": 10,
        "floatingIPs": 50, "securityGroups": 10, "securityGroupRules": 100,
    }  # fmt: skip
    network = cloud.get("networks.network.nimbus.dev", "private", "demo")["spec"]
    assert network["provider"] == {"networkType": "local", "cni": "bridge"}
    subnet = cloud.get("subnets.network.nimbus.dev", "private-v4", "demo")["spec"]
    assert subnet["enableDHCP"] is True


def _table(cloud: Cloud, resource: str, *args: str) -> list[list[str]]:
    out = cloud.kubectl("get", resource, *args).stdout.splitlines()
    return [line.split("  ") for line in out]


def _header(cloud: Cloud, resource: str, *args: str) -> list[str]:
    line = cloud.kubectl("get", resource, *args).stdout.splitlines()[0]
    return line.split()


EXPECTED_COLUMNS = {
    "servers": "NAME STATUS NETWORKS IMAGE FLAVOR HOST AGE",
    "flavors": "NAME RAM DISK EPHEMERAL VCPUS IS PUBLIC AGE",
    "keypairs": "NAME FINGERPRINT TYPE AGE",
    "servergroups": "NAME POLICY MEMBERS AGE",
    "images": "NAME STATUS DISK FORMAT VISIBILITY SIZE AGE",
    "networks": "NAME STATUS SUBNETS SHARED AGE",
    "subnets": "NAME NETWORK SUBNET AGE",
    "ports": "NAME NETWORK MAC ADDRESS FIXED IP ADDRESSES STATUS AGE",
    "securitygroups": "NAME DESCRIPTION AGE",
    "volumetypes": "NAME IS PUBLIC STORAGE CLASS AGE",
    "volumes": "NAME STATUS SIZE TYPE BOOTABLE ATTACHED TO AGE",
    "snapshots": "NAME VOLUME STATUS SIZE AGE",
    "projects": "NAME NAMESPACE ENABLED STATUS AGE",
    "users": "NAME ENABLED DOMAIN DEFAULT PROJECT AGE",
    "stacks": "NAME STACK STATUS AGE",
    "routers": "NAME STATUS EXTERNAL GATEWAY SUBNETS AGE",
    "floatingips": "NAME FLOATING IP ADDRESS FIXED IP ADDRESS PORT STATUS AGE",
    "loadbalancers": "NAME VIP ADDRESS PROVISIONING STATUS OPERATING STATUS AGE",
    "listeners": "NAME LOAD BALANCER PROTOCOL PROTOCOL PORT PROVISIONING STATUS OPERATING STATUS "
    "AGE",
    "pools": "NAME LOAD BALANCER PROTOCOL LB ALGORITHM PROVISIONING STATUS OPERATING STATUS AGE",
    "members": "NAME POOL ADDRESS PROTOCOL PORT PROVISIONING STATUS OPERATING STATUS AGE",
    "healthmonitors": "NAME POOL TYPE PROVISIONING STATUS OPERATING STATUS AGE",
}


@pytest.mark.parametrize("kind", kinds.ALL, ids=lambda k: k.__name__)
def test_printer_columns(cloud: Cloud, examples: list[dict[str, object]], kind: type) -> None:
    plural = kind.plural  # type: ignore[attr-defined]
    scope = [] if kind.scope == "Cluster" else ["-n", "demo"]  # type: ignore[attr-defined]
    header = _header(cloud, f"{plural}.{kind.group}", *scope)  # type: ignore[attr-defined]
    assert " ".join(header) == EXPECTED_COLUMNS[plural]


def test_flavor_list_reads_like_openstack_flavor_list(
    cloud: Cloud, examples: list[dict[str, object]]
) -> None:
    rows = cloud.kubectl("get", "osflavor", "-o", "custom-columns=X:.metadata.name", "--no-headers")
    assert rows.stdout.split() == [
        "m1.large",
        "m1.large.dedicated",
        "m1.medium",
        "m1.small",
        "m1.tiny",
        "m1.xlarge",
    ]
    out = cloud.kubectl("get", "flavors.compute.nimbus.dev", "m1.small").stdout.splitlines()
    assert out[1].split()[:6] == ["m1.small", "2048", "20", "0", "1", "true"]


def test_server_list_shows_image_and_flavor(
    cloud: Cloud, examples: list[dict[str, object]]
) -> None:
    out = cloud.kubectl("get", "servers.compute.nimbus.dev", "-n", "demo").stdout.splitlines()
    web1 = next(line.split() for line in out if line.startswith("web-1 "))
    # IMAGE, then AGE: STATUS, NETWORKS, FLAVOR (the one it runs) and HOST are empty until the
    # operator has built it.
    assert (web1[1], len(web1)) == ("cirros", 3)


@pytest.mark.parametrize("kind", kinds.ALL, ids=lambda k: k.__name__)
def test_short_names_reach_the_kind(
    cloud: Cloud, examples: list[dict[str, object]], kind: type
) -> None:
    (short,) = kind.short_names  # type: ignore[attr-defined]
    assert short.startswith("os")
    scope = [] if kind.scope == "Cluster" else ["-n", "demo"]  # type: ignore[attr-defined]
    names = cloud.kubectl("get", short, *scope, "-o", "name").stdout.split()
    assert names, f"kubectl get {short} listed nothing"
    assert all(n.startswith(f"{kind.singular()}.{kind.group}/") for n in names)  # type: ignore[attr-defined]


def test_category_nimbus_lists_every_kind(cloud: Cloud) -> None:
    resources = cloud.kubectl("api-resources", "--categories=nimbus", "-o", "name").stdout
    assert sorted(resources.split()) == sorted(k.crd_name() for k in kinds.ALL)


def test_get_nimbus_lists_everything(cloud: Cloud, examples: list[dict[str, object]]) -> None:
    listed = cloud.kubectl("get", "nimbus", "-A", "-o", "name").stdout.split()
    expected = {
        f"{str(doc['kind']).lower()}.{str(doc['apiVersion']).split('/')[0]}/"
        f"{doc['metadata']['name']}"  # type: ignore[index]
        for doc in examples
        if doc["apiVersion"] != "v1"
    }
    assert expected <= set(listed)


def test_status_is_a_subresource(cloud: Cloud, examples: list[dict[str, object]]) -> None:
    """Users cannot write status through the main resource; the operator writes it."""
    cloud.kubectl(
        "patch", "volumes.blockstorage.nimbus.dev", "data-1", "-n", "demo", "--type=merge",
        "-p", json.dumps({"status": {"status": "available"}}),
    )  # fmt: skip
    volume = cloud.get("volumes.blockstorage.nimbus.dev", "data-1", "demo")
    assert "status" not in volume
    cloud.kubectl(
        "patch", "volumes.blockstorage.nimbus.dev", "data-1", "-n", "demo", "--type=merge",
        "--subresource=status", "-p", json.dumps({"status": {"status": "available"}}),
    )  # fmt: skip
    volume = cloud.get("volumes.blockstorage.nimbus.dev", "data-1", "demo")
    assert volume["status"]["status"] == "available"
    row = cloud.kubectl("get", "osvol", "data-1", "-n", "demo", "--no-headers").stdout.split()
    assert row[:3] == ["data-1", "available", "10"]


def test_server_side_apply_merges_lists_by_key(
    cloud: Cloud, examples: list[dict[str, object]]
) -> None:
    """Two managers own different volumes of one server: listType map merges, not replaces."""
    cloud.kubectl(
        "apply", "--server-side", "--field-manager=other", "-f", "-",
        stdin=yaml.safe_dump({
            "apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
            "metadata": {"name": "web-1", "namespace": "demo"},
            "spec": {"flavor": "m1.small", "image": {"name": "cirros"},
                     "volumes": [{"volume": "logs-1"}]},
        }),
    )  # fmt: skip
    volumes = cloud.get("servers.compute.nimbus.dev", "web-1", "demo")["spec"]["volumes"]
    assert [v["volume"] for v in volumes] == ["data-1", "logs-1"]
