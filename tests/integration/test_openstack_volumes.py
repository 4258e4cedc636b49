"""Cinder v3 and Nova's volume attachments through `nimbus api`, driven by the real `openstack`
CLI (python-openstackclient) as a user drives it, against the session's control plane and
operator: volumes created, listed, shown, renamed, extended and deleted; snapshots; volume
types; a volume attached to and detached from the tenants' server `web`; limits and quotas;
another project's volume not found, and a reader refused a create by Kubernetes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Cloud, wait_for
from tests.integration.openstack import as_json, call, needs_cli, openstack

pytestmark = needs_cli


@pytest.fixture(scope="module")
def gold(cloud: Cloud, tenants: dict[str, str]) -> Iterator[str]:
    """A public volume type on the cloud's default StorageClass, made by the cluster admin (only
    admins manage volume types, as in Cinder)."""
    name = f"api-gold-{tenants['first'][-5:]}"
    cloud.apply({"apiVersion": "blockstorage.nimbus.dev/v1alpha1", "kind": "VolumeType",
                 "metadata": {"name": name},
                 "spec": {"storageClass": "standard", "description": "the fast disks",
                          "extraSpecs": {"volume_backend_name": "simulated"}}})  # fmt: skip
    wait_for(cloud, "osvoltype", name, None, "{.status.storageClass}", "standard")
    yield name
    cloud.kubectl("delete", "osvoltype", name, "--wait=false", check=False)


def _until(api: str, user: str, project: str, args: tuple[str, ...], column: str,
           expected: str, timeout: float = 180) -> None:  # fmt: skip
    """Poll `openstack <args> -f value -c <column>` until it prints `expected`."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        seen = openstack(api, user, project, *args, "-f", "value", "-c", column).stdout.strip()
        if seen == expected:
            return
        time.sleep(1)
    raise AssertionError(f"openstack {' '.join(args)}: {column} {seen!r}, not {expected!r}")


def _gone(api: str, user: str, project: str, kind: str, name: str, timeout: float = 120) -> None:
    """Until `openstack <kind> list` no longer names it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = as_json(openstack(api, user, project, *kind.split(), "list", "-f", "json"))
        if name not in {entry["Name"] for entry in listed}:
            return
        time.sleep(1)
    raise AssertionError(f"{kind} {name} is still listed")


def _call(url: str, token: str, method: str = "GET") -> tuple[int, Any]:
    """A raw Cinder request: (status, the JSON answered or None)."""
    return call(url, method, token=token, headers={"OpenStack-API-Version": "volume 3.70"})


def test_a_volume_is_created_renamed_extended_and_deleted_through_the_cli(
    cloud: Cloud, api: str, tenants: dict[str, str], gold: str
) -> None:
    first = tenants["first"]
    types = as_json(openstack(api, "alice", first, "volume", "type", "list", "-f", "json"))
    assert {(t["Name"], t["Is Public"]) for t in types} >= {(gold, True)}
    made = as_json(openstack(api, "alice", first, "volume", "create", "--size", "1", "--type",
                             gold, "--description", "db disk", "--property", "tier=db",
                             "-f", "json", "Data Disk"))  # fmt: skip
    assert (made["name"], made["size"], made["type"], made["description"]) == (
        "Data Disk", 1, gold, "db disk")  # fmt: skip
    assert made["status"] in ("creating", "available")
    _until(api, "alice", first, ("volume", "show", "Data Disk"), "status", "available")
    # A name Kubernetes cannot hold: a DNS label for the object, the name in its annotation.
    objects = json.loads(cloud.kubectl("get", "osvol", "-n", first, "-o", "json").stdout)
    mine = next(o for o in objects["items"] if o["metadata"]["uid"] == made["id"])
    assert mine["metadata"]["annotations"]["openstack.nimbus.dev/name"] == "Data Disk"
    assert mine["metadata"]["name"].startswith("data-disk-")
    assert (mine["spec"]["sizeGB"], mine["spec"]["volumeType"], mine["spec"]["metadata"]) == (
        1, gold, {"tier": "db"})  # fmt: skip

    listed = as_json(openstack(api, "alice", first, "volume", "list", "-f", "json"))
    assert [(v["Name"], v["Status"], v["Size"]) for v in listed if v["ID"] == made["id"]] == [
        ("Data Disk", "available", 1)]  # fmt: skip

    openstack(api, "alice", first, "volume", "set", "--name", "Data", "--description", "the db",
              "--property", "owner=alice", "Data Disk")  # fmt: skip
    shown = as_json(openstack(api, "alice", first, "volume", "show", "Data", "-f", "json"))
    assert (shown["id"], shown["description"], shown["attachments"]) == (made["id"], "the db", [])
    assert shown["properties"] == {"tier": "db", "owner": "alice"}

    # Extended: only larger, as in Cinder; the operator grows the claim.
    openstack(api, "alice", first, "volume", "set", "--size", "2", "Data")
    _until(api, "alice", first, ("volume", "show", "Data"), "size", "2")
    _until(api, "alice", first, ("volume", "show", "Data"), "status", "available")
    wait_for(cloud, "pvc", mine["metadata"]["name"], first, "{.status.capacity.storage}", "2Gi")

    # Another project sees nothing of it, even by id: Cinder's 404.
    assert as_json(openstack(api, "bob", tenants["second"], "volume", "list", "-f", "json")) == []
    missing = openstack(api, "bob", tenants["second"], "volume", "show", made["id"], check=False)
    assert missing.returncode != 0
    assert f"No Volume found for {made['id']}" in missing.stderr, missing.stderr
    token = as_json(openstack(api, "bob", tenants["second"], "token", "issue", "-f", "json"))
    url = f"{api}/volume/v3/{token['project_id']}/volumes/{made['id']}"
    assert _call(url, token["id"]) == (404, {"itemNotFound": {
        "code": 404, "message": f"Volume {made['id']} could not be found."}})  # fmt: skip

    # A reader may look, and Kubernetes refuses them more.
    seen = as_json(openstack(api, "carol", first, "volume", "list", "-f", "json"))
    assert made["id"] in {v["ID"] for v in seen}
    refused = openstack(api, "carol", first, "volume", "create", "--size", "1", "nope",
                        check=False)  # fmt: skip
    assert refused.returncode != 0
    assert "cannot create resource" in refused.stderr, refused.stderr

    openstack(api, "alice", first, "volume", "delete", "Data")
    _gone(api, "alice", first, "volume", "Data")


def test_a_snapshot_is_taken_listed_and_deleted(api: str, tenants: dict[str, str]) -> None:
    first = tenants["first"]
    openstack(api, "alice", first, "volume", "create", "--size", "1", "snap-source")
    _until(api, "alice", first, ("volume", "show", "snap-source"), "status", "available")
    made = as_json(openstack(api, "alice", first, "volume", "snapshot", "create", "--volume",
                             "snap-source", "--description", "before", "-f", "json",
                             "nightly"))  # fmt: skip
    assert (made["name"], made["description"], made["size"]) == ("nightly", "before", 1)
    _until(api, "alice", first, ("volume", "snapshot", "show", "nightly"), "status",
           "available")  # fmt: skip
    listed = as_json(openstack(api, "alice", first, "volume", "snapshot", "list", "-f", "json"))
    assert [(s["Name"], s["Status"], s["Size"]) for s in listed] == [("nightly", "available", 1)]

    # A volume with snapshots is not deleted, in Cinder's words.
    refused = openstack(api, "alice", first, "volume", "delete", "snap-source", check=False)
    assert refused.returncode != 0
    assert "has 1 snapshots (nightly): delete them first" in refused.stderr, refused.stderr

    openstack(api, "alice", first, "volume", "snapshot", "delete", "nightly")
    _gone(api, "alice", first, "volume snapshot", "nightly")
    openstack(api, "alice", first, "volume", "delete", "snap-source")
    _gone(api, "alice", first, "volume", "snap-source")


def test_a_volume_is_attached_to_web_and_detached(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    first = tenants["first"]
    volume = as_json(openstack(api, "alice", first, "volume", "create", "--size", "1",
                               "-f", "json", "shared-data"))  # fmt: skip
    _until(api, "alice", first, ("volume", "show", "shared-data"), "status", "available")
    web = as_json(openstack(api, "alice", first, "server", "show", "web", "-f", "json"))

    attached = as_json(openstack(api, "alice", first, "server", "add", "volume", "web",
                                 "shared-data", "-f", "json"))  # fmt: skip
    assert (attached["Server ID"], attached["Volume ID"], attached["Device"]) == (
        web["id"], volume["id"], "/dev/sda")  # fmt: skip
    entries = cloud.get("osserver", "web", first)["spec"]["volumes"]
    assert entries == [{"volume": "shared-data", "deleteOnTermination": False}]
    _until(api, "alice", first, ("volume", "show", "shared-data"), "status", "in-use")
    shown = as_json(openstack(api, "alice", first, "volume", "show", "shared-data", "-f", "json"))
    assert [(a["server_id"], a["device"]) for a in shown["attachments"]] == [
        (web["id"], "/dev/sda")]  # fmt: skip
    listed = as_json(openstack(api, "alice", first, "server", "volume", "list", "web",
                               "-f", "json"))  # fmt: skip
    assert [(a["Volume ID"], a["Device"]) for a in listed] == [(volume["id"], "/dev/sda")]

    # In use: not deleted, and not attached a second time.
    refused = openstack(api, "alice", first, "volume", "delete", "shared-data", check=False)
    assert refused.returncode != 0
    assert "is in-use, attached to web: detach it first" in refused.stderr, refused.stderr
    again = openstack(api, "alice", first, "server", "add", "volume", "web", "shared-data",
                      check=False)  # fmt: skip
    assert again.returncode != 0
    assert f"volume {volume['id']} already attached" in again.stderr, again.stderr

    openstack(api, "alice", first, "server", "remove", "volume", "web", "shared-data")
    assert cloud.get("osserver", "web", first)["spec"].get("volumes", []) == []
    _until(api, "alice", first, ("volume", "show", "shared-data"), "status", "available")
    openstack(api, "alice", first, "volume", "delete", "shared-data")
    _gone(api, "alice", first, "volume", "shared-data")


def test_limits_and_quotas_are_the_project_s(api: str, tenants: dict[str, str]) -> None:
    first = tenants["first"]
    openstack(api, "alice", first, "volume", "create", "--size", "2", "counted")
    absolute = {entry["Name"]: entry["Value"] for entry in as_json(openstack(
        api, "alice", first, "limits", "show", "--absolute", "-f", "json"))}  # fmt: skip
    assert {k: absolute[k] for k in ("max_total_volumes", "max_total_volume_gigabytes",
                                     "max_total_snapshots", "total_volumes_used",
                                     "total_gigabytes_used")} == {
        "max_total_volumes": 10, "max_total_volume_gigabytes": 1000, "max_total_snapshots": 10,
        "total_volumes_used": 1, "total_gigabytes_used": 2}  # fmt: skip
    assert absolute["max_total_instances"] == 10  # Nova's, from the same command

    quota = {q["Resource"]: q["Limit"] for q in as_json(openstack(
        api, "alice", first, "quota", "show", "--volume", "-f", "json"))}  # fmt: skip
    assert {k: quota[k] for k in ("volumes", "gigabytes", "snapshots")} == {
        "volumes": 10, "gigabytes": 1000, "snapshots": 10}  # fmt: skip
    usage = {q["Resource"]: (q["Limit"], q["In Use"]) for q in as_json(openstack(
        api, "alice", first, "quota", "show", "--volume", "--usage", "-f", "json"))}  # fmt: skip
    assert (usage["volumes"], usage["gigabytes"]) == ((10, 1), (1000, 2))
    openstack(api, "alice", first, "volume", "delete", "counted")
    _gone(api, "alice", first, "volume", "counted")


def test_cinder_s_default_type_is_a_volume_without_one(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    """`__DEFAULT__`, as Cinder has it since Train: listed, the answer to `--default`, and the
    type of a volume made without one — which has no VolumeType in Kubernetes (the cluster's
    default StorageClass), made with it or without."""
    first = tenants["first"]
    (default,) = as_json(openstack(api, "alice", first, "volume", "type", "list", "--default",
                                   "-f", "json"))  # fmt: skip
    assert (default["Name"], default["Is Public"]) == ("__DEFAULT__", True)
    types = as_json(openstack(api, "alice", first, "volume", "type", "list", "-f", "json"))
    assert default["ID"] in {t["ID"] for t in types}
    made = []
    for name, extra in (("untyped", ()), ("typed", ("--type", "__DEFAULT__"))):
        create = ("volume", "create", "--size", "1", *extra, "-f", "json", name)
        made.append(as_json(openstack(api, "alice", first, *create)))
    try:
        assert [m["type"] for m in made] == ["__DEFAULT__", "__DEFAULT__"]
        objects = json.loads(cloud.kubectl("get", "osvol", "-n", first, "-o", "json").stdout)
        specs = [o["spec"] for o in objects["items"]
                 if o["metadata"]["uid"] in {m["id"] for m in made}]  # fmt: skip
        assert len(specs) == 2
        assert all("volumeType" not in s for s in specs), specs
    finally:
        for volume in made:
            openstack(api, "alice", first, "volume", "delete", volume["id"], check=False)
