"""Status words from child objects: Nova's, Glance's and Cinder's, as table tests."""

from __future__ import annotations

from typing import Any

import pytest

from nimbus.blockstorage import status as storage
from nimbus.compute import status as compute
from nimbus.image import status as image
from nimbus.runtime import conditions, reporting


def vm(printable: str) -> dict[str, Any]:
    return {"status": {"printableStatus": printable}}


VMI = {
    "status": {
        "phase": "Running",
        "nodeName": "compute-2",
        "interfaces": [
            {"name": "net0", "ipAddress": "10.0.0.12", "ipAddresses": ["10.0.0.12", "fd00::12"],
             "mac": "02:00:00:00:00:50"},
            {"name": "net1", "ipAddress": "192.168.10.5", "mac": "02:00:00:00:00:51"},
        ],
    }
}  # fmt: skip


@pytest.mark.parametrize(
    ("printable", "status", "task", "power"),
    [
        ("Provisioning", "BUILD", "block_device_mapping", "NOSTATE"),
        ("WaitingForVolumeBinding", "BUILD", "block_device_mapping", "NOSTATE"),
        ("Starting", "BUILD", "spawning", "NOSTATE"),
        ("Running", "ACTIVE", None, "RUNNING"),
        ("Paused", "PAUSED", None, "PAUSED"),
        ("Stopping", "ACTIVE", "powering-off", "RUNNING"),
        ("Stopped", "SHUTOFF", None, "SHUTDOWN"),
        ("Migrating", "MIGRATING", "migrating", "RUNNING"),
        ("Unknown", "UNKNOWN", None, "NOSTATE"),
        ("SomethingNew", "UNKNOWN", None, "NOSTATE"),
    ],
)
def test_server_status_words(printable: str, status: str, task: str | None, power: str) -> None:
    """Each printableStatus as Nova says it, for a server whose powerState it matches."""
    paused, stopped = printable == "Paused", printable == "Stopped"
    state = compute.server_state(
        vm(printable), None, [], paused_requested=paused, stop_requested=stopped
    )
    assert (state.status, state.task_state, state.power_state) == (status, task, power)
    assert state.fault is None


@pytest.mark.parametrize(
    ("printable", "paused_requested", "status", "task"),
    [
        ("Running", True, "ACTIVE", "pausing"),
        ("Paused", False, "PAUSED", "unpausing"),
        ("Stopped", True, "BUILD", "scheduling"),  # starting first: KubeVirt pauses a running one
    ],
)
def test_pausing_and_unpausing(
    printable: str, paused_requested: bool, status: str, task: str | None
) -> None:
    state = compute.server_state(vm(printable), None, [], paused_requested=paused_requested)
    assert (state.status, state.task_state) == (status, task)


@pytest.mark.parametrize(
    ("stop_requested", "launched", "expected"),
    [
        (True, True, ("SHUTOFF", None, "SHUTDOWN")),  # stopped, as asked
        (False, False, ("BUILD", "scheduling", "NOSTATE")),  # a new VM KubeVirt has not started
        (False, True, ("SHUTOFF", "powering-on", "SHUTDOWN")),  # started again, not yet running
    ],
)
def test_a_stopped_vm_is_shutoff_only_when_asked(
    stop_requested: bool, launched: bool, expected: tuple[str, str | None, str]
) -> None:
    state = compute.server_state(
        vm("Stopped"), None, [], stop_requested=stop_requested, launched=launched
    )
    assert (state.status, state.task_state, state.power_state) == expected


@pytest.mark.parametrize(
    ("conditions", "paused"),
    [
        ([{"type": "Ready", "status": "True"}], False),
        ([{"type": "Paused", "status": "True", "reason": "PausedByUser"}], True),
        ([{"type": "Paused", "status": "False"}], False),
        (None, False),
    ],
)
def test_an_instance_is_paused_by_its_condition(
    conditions: list[dict[str, str]] | None, paused: bool
) -> None:
    assert compute.paused({"status": {"conditions": conditions}}) is paused
    assert compute.paused(None) is False


def test_no_vm_yet_is_scheduling() -> None:
    state = compute.server_state(None, None, [])
    assert (state.status, state.task_state) == ("BUILD", "scheduling")


def test_unschedulable_is_novas_no_valid_host() -> None:
    state = compute.server_state(vm("ErrorUnschedulable"), None, [])
    assert state.status == "ERROR"
    assert state.fault == {
        "code": 500,
        "message": "No valid host was found. There are not enough hosts available.",
        "details": "ErrorUnschedulable",
    }


def test_no_valid_host_says_why_each_node_was_left_out() -> None:
    why = "0/2 nodes are available: 2 RamFilter: 1024 MB free < 4096 MB requested."
    vmi = {
        "status": {
            "phase": "Scheduling",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": why,
                }
            ],
        }
    }
    state = compute.server_state(vm("ErrorUnschedulable"), vmi, [])
    assert state.fault is not None
    assert state.fault["details"] == f"ErrorUnschedulable: {why}"


@pytest.mark.parametrize(
    "printable",
    ["ErrorPvcNotFound", "DataVolumeError", "ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff"],
)
def test_failures_are_error_with_a_fault(printable: str) -> None:
    state = compute.server_state(vm(printable), None, [])
    assert state.status == "ERROR"
    assert state.fault is not None
    assert state.fault["code"] == 500


def test_addresses_host_and_networks_column() -> None:
    state = compute.server_state(vm("Running"), VMI, ["private", "storage"])
    assert state.host == "compute-2"
    assert state.addresses == {
        "private": [
            {"addr": "10.0.0.12", "version": 4, "type": "fixed", "mac": "02:00:00:00:00:50"},
            {"addr": "fd00::12", "version": 6, "type": "fixed", "mac": "02:00:00:00:00:50"},
        ],
        "storage": [
            {"addr": "192.168.10.5", "version": 4, "type": "fixed", "mac": "02:00:00:00:00:51"}
        ],
    }
    assert state.networks == "private=10.0.0.12, fd00::12; storage=192.168.10.5"


def test_pod_network_addresses() -> None:
    pod_vmi = {"status": {"interfaces": [{"name": "default", "ipAddress": "10.244.0.7"}]}}
    assert compute.server_state(vm("Running"), pod_vmi, []).networks == "pod=10.244.0.7"


UNREACHABLE = "Unable to connect to http data source"


@pytest.mark.parametrize(
    ("data_volume", "expected"),
    [
        (None, image.ImageState("queued")),
        ({"status": {"phase": "Pending"}}, image.ImageState("queued")),
        ({"status": {"phase": "ImportScheduled"}}, image.ImageState("saving", "0.0%")),
        ({"status": {"phase": "ImportInProgress", "progress": "45.2%"}},
         image.ImageState("saving", "45.2%")),
        ({"status": {"phase": "ImportInProgress", "progress": "N/A"}},
         image.ImageState("saving", "0.0%")),
        ({"status": {"phase": "Succeeded", "progress": "100.0%"}},
         image.ImageState("active", "100.0%")),
        ({"status": {"phase": "Failed", "progress": "12.0%", "conditions": [
            {"type": "Running", "status": "False", "message": UNREACHABLE}
        ]}}, image.ImageState("killed", "12.0%", UNREACHABLE)),
        # CDI restarts a failing importer: the DataVolume stays ImportInProgress.
        ({"status": {"phase": "ImportInProgress", "progress": "N/A", "restartCount": 1,
                     "conditions": [{"type": "Running", "status": "False", "reason": "Error",
                                     "message": UNREACHABLE}]}},
         image.ImageState("killed", None, UNREACHABLE)),
        ({"status": {"phase": "ImportInProgress", "progress": "3.0%", "conditions": [
            {"type": "Running", "status": "True", "reason": "Pod is running"}]}},
         image.ImageState("saving", "3.0%")),
    ],
)  # fmt: skip
def test_image_status_words(data_volume: dict[str, Any] | None, expected: image.ImageState) -> None:
    assert image.image_state(data_volume) == expected


BOUND = {"status": {"phase": "Bound", "capacity": {"storage": "10Gi"}}}


@pytest.mark.parametrize(
    ("claim", "data_volume", "attached", "size_gb", "expected"),
    [
        (None, None, False, 10, "creating"),
        ({"status": {"phase": "Pending"}}, None, False, 10, "creating"),
        (BOUND, None, False, 10, "available"),
        (BOUND, None, True, 10, "in-use"),
        (BOUND, None, False, 20, "extending"),
        ({"status": {"phase": "Bound", "capacity": {"storage": "10Gi"},
                     "conditions": [{"type": "FileSystemResizePending"}]}}, None, False, 10,
         "extending"),
        ({"status": {"phase": "Lost"}}, None, False, 10, "error"),
        (BOUND, {"status": {"phase": "CloneInProgress"}}, False, 10, "creating"),
        (BOUND, {"status": {"phase": "Succeeded"}}, False, 10, "available"),
        (None, {"status": {"phase": "Failed"}}, False, 10, "error"),
    ],
)  # fmt: skip
def test_volume_status_words(
    claim: dict[str, Any] | None,
    data_volume: dict[str, Any] | None,
    attached: bool,
    size_gb: int,
    expected: str,
) -> None:
    assert storage.volume_status(claim, data_volume, attached=attached, size_gb=size_gb) == expected


def _holding(phase: str, *volumes: tuple[str, str | None]) -> dict[str, Any]:
    """An instance's status holding (claim, hotplug phase or None for a boot-time volume)."""
    return {"phase": phase, "volumeStatus": [
        {"name": f"v-{claim}", "persistentVolumeClaimInfo": {"claimName": claim},
         **({"phase": hp, "hotplugVolume": {"attachPodName": "hp-volume-x"}} if hp else {})}
        for claim, hp in volumes]}  # fmt: skip


@pytest.mark.parametrize(
    ("naming", "instances", "expected"),
    [
        ((), {}, (None, [])),
        (("web",), {}, (None, ["web"])),  # stopped: attached, no instance to catch up
        (("web",), {"web": _holding("Running")}, ("attaching", ["web"])),
        (("web",), {"web": _holding("Running", ("data", "AttachedToNode"))},
         ("attaching", ["web"])),
        (("web",), {"web": _holding("Running", ("data", "Ready"))}, (None, ["web"])),
        (("web",), {"web": _holding("Running", ("data", None))}, (None, ["web"])),  # at boot
        (("web",), {"web": _holding("Scheduled")}, (None, ["web"])),  # starting: not yet
        ((), {"web": _holding("Running", ("data", "Ready"))}, ("detaching", ["web"])),
        ((), {"web": _holding("Running", ("data", "UnMountedFromPod"))}, ("detaching", ["web"])),
        ((), {"web": _holding("Succeeded", ("data", "Ready"))}, (None, [])),
        ((), {"web": _holding("Running", ("other", "Ready"))}, (None, [])),
        (("db",), {"web": _holding("Running", ("data", "Ready")), "db": _holding("Running")},
         ("attaching", ["db", "web"])),  # moved from one server to another
    ],
)  # fmt: skip
def test_volume_attaching_and_detaching(
    naming: tuple[str, ...],
    instances: dict[str, dict[str, Any]],
    expected: tuple[str | None, list[str]],
) -> None:
    assert storage.attachment("data", naming, instances) == expected


@pytest.mark.parametrize(
    ("quantity", "gb"),
    [("10Gi", 10), ("1Ti", 1024), ("512Mi", 1), ("1536Mi", 2), ("10G", 10), ("1073741824", 1)],
)
def test_gigabytes(quantity: str, gb: int) -> None:
    assert storage.gigabytes(quantity) == gb


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        (None, ("creating", None)),
        ({"status": {"readyToUse": False}}, ("creating", None)),
        ({"status": {"readyToUse": True, "restoreSize": "10Gi"}}, ("available", 10)),
        ({"status": {"error": {"message": "boom"}}}, ("error", None)),
    ],
)
def test_snapshot_status_words(
    snapshot: dict[str, Any] | None, expected: tuple[str, int | None]
) -> None:
    assert storage.snapshot_status(snapshot) == expected


def test_conditions_keep_transition_times_until_status_changes() -> None:
    first = conditions.apply(
        [], [conditions.Condition("Scheduled", "False", "Waiting")], now="t1", generation=1
    )
    assert first == [{"type": "Scheduled", "status": "False", "reason": "Waiting", "message": "",
                      "lastTransitionTime": "t1", "observedGeneration": 1}]  # fmt: skip
    same = conditions.apply(
        first, [conditions.Condition("Scheduled", "False", "StillWaiting", "m")], now="t2",
        generation=2,
    )  # fmt: skip
    assert same[0]["lastTransitionTime"] == "t1"
    assert (same[0]["reason"], same[0]["observedGeneration"]) == ("StillWaiting", 2)
    changed = conditions.apply(
        same, [conditions.Condition("Ready", "True", "Ready"),
               conditions.Condition("Scheduled", "True", "Scheduled")], now="t3", generation=2,
    )  # fmt: skip
    assert [(c["type"], c["lastTransitionTime"]) for c in changed] == [
        ("Scheduled", "t3"), ("Ready", "t3")
    ]  # fmt: skip


def test_a_condition_a_report_no_longer_states_is_gone() -> None:
    """Each report recomputes every condition: a volume's SourceReady=False from while its
    snapshot was not available does not outlive it."""
    waiting = conditions.apply(
        [], [conditions.Condition("SourceReady", "False", "SnapshotNotAvailable", "m"),
             conditions.Condition("Ready", "False", "SnapshotNotAvailable", "m")],
        now="t1", generation=1,
    )  # fmt: skip
    available = conditions.apply(
        waiting, [conditions.Condition("VolumeReady", "True", "VolumeReady"),
                  conditions.Condition("Ready", "True", "Ready")], now="t2", generation=1,
    )  # fmt: skip
    assert [(c["type"], c["status"]) for c in available] == [("Ready", "True"),
                                                             ("VolumeReady", "True")]  # fmt: skip


def test_ready_summarises_the_first_failing_condition() -> None:
    assert conditions.ready([conditions.Condition("ImageReady", "True", "Active")]) == (
        conditions.Condition("Ready", "True", "Ready")
    )
    failing = conditions.ready([
        conditions.Condition("ImageReady", "True", "Active"),
        conditions.Condition("FlavorFound", "False", "FlavorNotFound", 'flavor "m1.x" not found'),
    ])  # fmt: skip
    assert failing == conditions.Condition(
        "Ready", "False", "FlavorNotFound", 'flavor "m1.x" not found'
    )


@pytest.mark.parametrize(
    ("reason", "status", "event"),
    [
        ("Ready", "True", "Normal"),
        ("Scheduling", "False", "Normal"),
        ("ImageSaving", "False", "Normal"),
        ("VolumeCreating", "False", "Normal"),
        ("FlavorNotFound", "False", "Warning"),
        ("InvalidKeyName", "False", "Warning"),
        ("ImageKilled", "False", "Warning"),
        ("RulesNotExpressible", "False", "Warning"),
    ],
)
def test_progress_is_a_normal_event_and_trouble_a_warning(
    reason: str, status: conditions.Status, event: str
) -> None:
    assert reporting.event_type(conditions.Condition("Ready", status, reason)) == event


@pytest.mark.parametrize(
    ("summary", "word", "event"),
    [
        # Ready, in its status word: one Event per word, in the order they come.
        (conditions.Condition("Ready", "True", "Ready"), "ACTIVE",
         ("Active", "Server web is ACTIVE", "Normal")),
        (conditions.Condition("Ready", "True", "Ready"), "SHUTOFF",
         ("Shutoff", "Server web is SHUTOFF", "Normal")),
        (conditions.Condition("Ready", "True", "Ready"), None,
         ("Ready", "Server web is ready", "Normal")),
        # Not ready: why, progress Normal, trouble a Warning.
        (conditions.Condition("Ready", "False", "Stopping", "server web is stopping"), "ACTIVE",
         ("Stopping", "server web is stopping", "Normal")),
        (conditions.Condition("Ready", "False", "ImageUnusable", "spec.image: ..."), "ERROR",
         ("ImageUnusable", "spec.image: ...", "Warning")),
    ],
)  # fmt: skip
def test_an_event_says_each_status_change(
    summary: conditions.Condition, word: str | None, event: tuple[str, str, str]
) -> None:
    got = reporting.event_of("Server", "web", summary, word)
    assert (got["reason"], got["message"], got["type"]) == event


def test_a_stopping_server_waits_for_no_host() -> None:
    """A stop is Stopping, then SHUTOFF: never "Scheduling: waiting for a host" on the way."""
    stopping = compute.ServerState("ACTIVE", "powering-off", "RUNNING", host=None)
    got = compute.server_conditions("web-1", stopping)
    assert [(c.type, c.status, c.reason) for c in got] == [("Running", "False", "Stopping")]


def _state(word: str, host: str | None = "node-1", fault: str | None = None) -> compute.ServerState:
    return compute.ServerState(status=word, task_state=None, power_state="RUNNING", host=host,
                              fault={"code": 500, "message": fault} if fault else None)  # fmt: skip


@pytest.mark.parametrize(
    ("state", "kwargs", "expected"),
    [
        (_state("ACTIVE"), {}, [("Scheduled", "True", "Scheduled"), ("Running", "True", "Active")]),
        (_state("BUILD", host=None), {},
         [("Scheduled", "False", "Scheduling"), ("Running", "False", "Build")]),
        (_state("SHUTOFF", host=None), {}, [("Running", "True", "Shutoff")]),
        (_state("PAUSED"), {}, [("Scheduled", "True", "Scheduled"), ("Running", "True", "Paused")]),
        (_state("ERROR", host=None, fault="No valid host was found."), {},
         [("Running", "False", "Error")]),
        (_state("REBOOT"), {"operation": True}, [("Running", "False", "Rebooting")]),
        (_state("RESIZE"), {"operation": True}, [("Running", "False", "Resizing")]),
        (_state("ACTIVE"), {"resize_refused": "Resize error: Unable to resize disk down."},
         [("Scheduled", "True", "Scheduled"), ("Running", "True", "Active"),
          ("Resized", "False", "ResizeRefused")]),
        (_state("ACTIVE"), {"built_flavor": "m1.small",
                            "current": [{"type": "Resized", "status": "False"}]},
         [("Scheduled", "True", "Scheduled"), ("Running", "True", "Active"),
          ("Resized", "True", "Resized")]),
        # what the build waited on is True now that it is built; anything else is gone
        (_state("ACTIVE"), {"current": [{"type": "ImageReady", "status": "False"},
                                        {"type": "NetworksReady", "status": "True"},
                                        {"type": "Unrelated", "status": "False"}]},
         [("Scheduled", "True", "Scheduled"), ("Running", "True", "Active"),
          ("ImageReady", "True", "ImageActive"), ("NetworksReady", "True", "PortsReady")]),
    ],
)  # fmt: skip
def test_server_conditions(
    state: compute.ServerState, kwargs: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    got = compute.server_conditions("web-1", state, **kwargs)
    assert [(c.type, c.status, c.reason) for c in got] == expected


def test_server_conditions_messages() -> None:
    (running,) = compute.server_conditions("web-1", _state("ERROR", None, "No valid host"))
    assert running.message == "No valid host"
    rebooting = compute.server_conditions("web-1", _state("HARD_REBOOT"), operation=True)
    assert rebooting[0].message == "server web-1 is rebooting"
    scheduled, _ = compute.server_conditions("web-1", _state("ACTIVE"))
    assert scheduled.message == "on node-1"
