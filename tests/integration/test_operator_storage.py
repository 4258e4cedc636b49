"""Volumes, snapshots and images through the operator on the real control plane: a snapshot of a
volume, a volume from the snapshot, growing a volume, and an image that cannot be imported."""

from __future__ import annotations

import pathlib

from tests.integration.conftest import Cloud, wait_for

STORAGE = "blockstorage.nimbus.dev/v1alpha1"
READY = "{.status.conditions[?(@.type=='Ready')]}"
READY_REASON = "{.status.conditions[?(@.type=='Ready')].reason}"


def volume(namespace: str, name: str, **spec: object) -> dict[str, object]:
    return {"apiVersion": STORAGE, "kind": "Volume",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}  # fmt: skip


def snapshot_of(namespace: str, name: str, volume_name: str) -> dict[str, object]:
    return {
        "apiVersion": STORAGE,
        "kind": "Snapshot",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"volume": volume_name},
    }


def test_snapshot_then_a_volume_from_it_then_grow(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    cloud.apply(volume(ns, "data", sizeGB=1))
    wait_for(cloud, "osvol", "data", ns, "{.status.status}", "available")
    cloud.apply(snapshot_of(ns, "nightly", "data"))  # fmt: skip
    snapshot = wait_for(cloud, "ossnap", "nightly", ns, "{.status.status}", "available")
    assert snapshot["status"]["sizeGB"] == 1
    assert cloud.get("volumesnapshot", "nightly", ns)["spec"]["source"] == {
        "persistentVolumeClaimName": "data"
    }

    cloud.apply(volume(ns, "restored", source={"snapshot": "nightly"}))
    restored = wait_for(cloud, "osvol", "restored", ns, "{.status.status}", "available")
    assert restored["status"]["sizeGB"] == 1
    data_volume = cloud.get("datavolumes.cdi.kubevirt.io", "restored", ns)
    assert data_volume["spec"]["source"] == {"snapshot": {"namespace": ns, "name": "nightly"}}

    cloud.apply(volume(ns, "data", sizeGB=3))
    wait_for(cloud, "pvc", "data", ns, "{.status.capacity.storage}", "3Gi")
    wait_for(cloud, "osvol", "data", ns, "{.status.status}/{.status.sizeGB}", "available/3")


def test_a_snapshot_of_a_missing_volume_is_an_error(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    cloud.apply(snapshot_of(ns, "orphan", "ghost"))  # fmt: skip
    wait_for(cloud, "ossnap", "orphan", ns, "{.status.conditions[?(@.type=='Ready')].reason}",
             "VolumeNotFound")  # fmt: skip
    snapshot = cloud.get("ossnap", "orphan", ns)
    ready = next(c for c in snapshot["status"]["conditions"] if c["type"] == "Ready")
    assert ready["message"] == "spec.volume: Volume ghost could not be found: nothing to snapshot"
    assert snapshot["status"]["status"] == "error"


def test_an_unreachable_image_is_killed_with_the_reason(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    ns = cloud.namespace()
    url = "https://images.example.invalid/broken.qcow2"
    cloud.apply({"apiVersion": "image.nimbus.dev/v1alpha1", "kind": "Image",
                 "metadata": {"name": "broken", "namespace": ns},
                 "spec": {"source": {"http": {"url": url}}}})  # fmt: skip
    image = wait_for(cloud, "osimage", "broken", ns, "{.status.status}", "killed")
    assert image["status"]["reason"].startswith(
        f'Unable to connect to http data source: Get "{url}"'
    )
    warnings = cloud.kubectl("get", "events", "-n", ns, "--field-selector=type=Warning",
                             "-o", "jsonpath={.items[*].reason}").stdout  # fmt: skip
    assert "ImageKilled" in warnings.split()

    # A server or a volume made from it fails, as Nova's and Cinder's do, rather than waiting.
    cloud.apply({"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Flavor",
                 "metadata": {"name": "k1.small"}, "spec": {"vcpus": 1, "ramMB": 512,
                                                           "diskGB": 1}})  # fmt: skip
    cloud.apply({"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
                 "metadata": {"name": "doomed", "namespace": ns},
                 "spec": {"flavor": "k1.small", "image": {"name": "broken"}}})  # fmt: skip
    server = wait_for(cloud, "osserver", "doomed", ns, "{.status.status}", "ERROR")
    assert server["status"]["fault"]["message"] == (
        f"Build of instance doomed aborted: Image broken is not active: it is killed "
        f"({image['status']['reason']})"
    )
    cloud.apply(volume(ns, "from-broken", sizeGB=1, source={"image": {"name": "broken"}}))
    failed = wait_for(cloud, "osvol", "from-broken", ns, "{.status.status}", "error")
    ready = next(c for c in failed["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"].split(" (")[0]) == (
        "ImageUnusable",
        f'spec.source.image: image "broken" in project {ns} is killed',
    )


def test_a_refused_snapshot_takes_its_fix_and_a_waiting_volume_keeps_no_trace(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    ns = cloud.namespace()
    cloud.apply(volume(ns, "data", sizeGB=1))
    wait_for(cloud, "osvol", "data", ns, "{.status.status}", "available")
    # In use by a server (one still waiting for its flavor names it all the same).
    cloud.apply({"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
                 "metadata": {"name": "holder", "namespace": ns},
                 "spec": {"flavor": "m1.missing", "image": {"name": "cirros"},
                          "volumes": [{"volume": "data"}]}})  # fmt: skip
    wait_for(cloud, "osvol", "data", ns, "{.status.status}", "in-use")

    # Refused without force, in Cinder's words; setting force is the fix, and it is taken.
    cloud.apply(snapshot_of(ns, "nightly", "data"))
    refused = wait_for(cloud, "ossnap", "nightly", ns, READY_REASON, "VolumeInUse")
    assert refused["status"]["status"] == "error"
    cloud.kubectl("patch", "ossnap", "nightly", "-n", ns, "--type=merge",
                  "-p", '{"spec": {"force": true}}')  # fmt: skip
    taken = wait_for(cloud, "ossnap", "nightly", ns, "{.status.status}", "available")
    assert taken["status"]["observedGeneration"] == taken["metadata"]["generation"] == 2
    assert [(c["type"], c["status"]) for c in taken["status"]["conditions"]] == [
        ("SnapshotTaken", "True"), ("Ready", "True")
    ]  # fmt: skip

    # A volume made from a snapshot not there yet waits (SourceReady False), then is made;
    # once available, nothing of the wait is left in its conditions.
    cloud.apply(volume(ns, "restored", source={"snapshot": "later"}))
    wait_for(cloud, "osvol", "restored", ns, READY_REASON, "SnapshotNotAvailable")
    cloud.apply({**snapshot_of(ns, "later", "data"), "spec": {"volume": "data", "force": True}})
    restored = wait_for(cloud, "osvol", "restored", ns, "{.status.status}", "available")
    assert {c["type"]: c["status"] for c in restored["status"]["conditions"]} == {
        "VolumeReady": "True", "Ready": "True"
    }  # fmt: skip
