"""Server status from its VirtualMachine and VirtualMachineInstance, in Nova's words."""

from __future__ import annotations

import dataclasses
from typing import Any

from nimbus.runtime.conditions import Condition, Status

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


@dataclasses.dataclass(frozen=True)
class ServerState:
    """What `openstack server show` would say."""

    status: str
    task_state: str | None
    power_state: str
    fault: dict[str, Any] | None = None
    host: str | None = None
    addresses: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    networks: str = ""


# KubeVirt's printableStatus -> (Nova status, task_state, power_state)
_PRINTABLE = {
    "Provisioning": ("BUILD", "block_device_mapping", "NOSTATE"),
    "WaitingForVolumeBinding": ("BUILD", "block_device_mapping", "NOSTATE"),
    "WaitingForReceiver": ("BUILD", "spawning", "NOSTATE"),
    "Starting": ("BUILD", "spawning", "NOSTATE"),
    "Running": ("ACTIVE", None, "RUNNING"),
    "Paused": ("PAUSED", None, "PAUSED"),
    "Stopping": ("ACTIVE", "powering-off", "RUNNING"),
    "Stopped": ("SHUTOFF", None, "SHUTDOWN"),
    "Terminating": ("ACTIVE", "deleting", "RUNNING"),
    "Migrating": ("MIGRATING", "migrating", "RUNNING"),
    "Unknown": ("UNKNOWN", None, "NOSTATE"),
}
# printableStatus values that are failures, with the fault a Nova user would read.
_FAULTS = {
    "ErrorUnschedulable": (500, NO_VALID_HOST),
    "ErrorPvcNotFound": (500, "Build of instance aborted: the root disk's volume was not found."),
    "DataVolumeError": (500, "Build of instance aborted: the root disk could not be made."),
    "ErrImagePull": (500, "Build of instance aborted: the image could not be pulled."),
    "ImagePullBackOff": (500, "Build of instance aborted: the image could not be pulled."),
    "CrashLoopBackOff": (500, "The instance crashed repeatedly and is restarting."),
}


def _details(printable: str, vmi: dict[str, Any] | None) -> str:
    """The fault's details: why the pod was not scheduled (each node's reason, as the
    scheduler and placement gave it), else KubeVirt's status word."""
    for condition in (vmi or {}).get("status", {}).get("conditions", []):
        if condition.get("type") == "PodScheduled" and condition.get("message"):
            return f"{printable}: {condition['message']}"
    return printable


def addresses(vmi: dict[str, Any] | None, networks: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Addresses per network from the VMI's interfaces (`net<i>` is the i-th network)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for interface in (vmi or {}).get("status", {}).get("interfaces", []):
        name = interface.get("name", "")
        if name == "default":
            network = "pod"
        elif name.startswith("net") and name[3:].isdigit() and int(name[3:]) < len(networks):
            network = networks[int(name[3:])]
        else:
            continue
        ips = interface.get("ipAddresses") or (
            [interface["ipAddress"]] if interface.get("ipAddress") else []
        )
        for ip in ips:
            entry = {"addr": ip, "version": 6 if ":" in ip else 4, "type": "fixed"}
            if interface.get("mac"):
                entry["mac"] = interface["mac"]
            if entry not in out.get(network, []):
                out.setdefault(network, []).append(entry)
    return out


def with_floating(
    found: dict[str, list[dict[str, Any]]], floating: dict[str, str]
) -> dict[str, list[dict[str, Any]]]:
    """The addresses with each fixed IP's floating IP after it (fixed -> floating), `type:
    floating`, as Nova lists them (OS-EXT-IPS:type)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for network, entries in found.items():
        listed = out.setdefault(network, [])
        for entry in entries:
            listed.append(entry)
            address = floating.get(entry["addr"]) if entry.get("type") == "fixed" else None
            if address is not None:
                extra = {"mac": entry["mac"]} if entry.get("mac") else {}
                listed.append({"addr": address, "version": 4, "type": "floating", **extra})
    return out


def networks_column(addresses_by_network: dict[str, list[dict[str, Any]]]) -> str:
    """The NETWORKS column of `openstack server list`: private=10.0.0.12, fd00::12; other=..."""
    return "; ".join(
        f"{network}={', '.join(a['addr'] for a in entries)}"
        for network, entries in addresses_by_network.items()
    )


def server_state(
    vm: dict[str, Any] | None,
    vmi: dict[str, Any] | None,
    networks: list[str],
    *,
    paused_requested: bool = False,
    stop_requested: bool = False,
    launched: bool = False,
) -> ServerState:
    """The Server's status word, task and power state, fault, host and addresses. A VM that
    KubeVirt shows Stopped while the server asks to run has not started yet: BUILD before its
    first launch, SHUTOFF powering on after."""
    if vm is None:
        return ServerState("BUILD", "scheduling", "NOSTATE")
    printable = vm.get("status", {}).get("printableStatus", "Provisioning")
    host = (vmi or {}).get("status", {}).get("nodeName")
    found = addresses(vmi, networks)
    if printable in _FAULTS:
        code, message = _FAULTS[printable]
        return ServerState(
            "ERROR", None, "NOSTATE",
            {"code": code, "message": message, "details": _details(printable, vmi)},
            host, found, networks_column(found),
        )  # fmt: skip
    status, task, power = _PRINTABLE.get(printable, ("UNKNOWN", None, "NOSTATE"))
    if status == "SHUTOFF" and not stop_requested:
        status, task, power = ("SHUTOFF", "powering-on", "SHUTDOWN") if launched else (
            "BUILD", "scheduling", "NOSTATE"
        )  # fmt: skip
    if status == "ACTIVE" and paused_requested:
        task = "pausing"
    elif status == "PAUSED" and not paused_requested:
        task = "unpausing"
    return ServerState(status, task, power, None, host, found, networks_column(found))


def paused(vmi: dict[str, Any] | None) -> bool:
    """The instance is paused: KubeVirt's Paused condition."""
    conditions = ((vmi or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Paused" and c.get("status") == "True" for c in conditions)


# The conditions a build waits on (the handler's WaitingError), as they read once past them.
RESOLVED = {
    "FlavorFound": Condition("FlavorFound", "True", "FlavorFound"),
    "ImageReady": Condition("ImageReady", "True", "ImageActive"),
    "VolumesReady": Condition("VolumesReady", "True", "VolumesAvailable"),
    "KeyPairFound": Condition("KeyPairFound", "True", "KeyPairFound"),
    "SecurityGroupsFound": Condition("SecurityGroupsFound", "True", "SecurityGroupsFound"),
    "NetworksReady": Condition("NetworksReady", "True", "PortsReady"),
    "UserDataReady": Condition("UserDataReady", "True", "UserDataRead"),
    "Built": Condition("Built", "True", "Built"),
}
_RUNNING: dict[str, tuple[Status, str, str]] = {
    "ACTIVE": ("True", "Active", ""),
    "SHUTOFF": ("True", "Shutoff", "stopped, as asked"),
    "PAUSED": ("True", "Paused", "paused, as asked"),
    "REBOOT": ("False", "Rebooting", "server {name} is rebooting"),
    "HARD_REBOOT": ("False", "Rebooting", "server {name} is rebooting"),
    "RESIZE": ("False", "Resizing", "server {name} is resizing"),
    "REBUILD": ("False", "Rebuilding", "server {name} is rebuilding"),
}


# Nova's task_state while an instance stops, starts or goes -> Running's reason and message.
_GOING = {
    "powering-off": ("Stopping", "server {name} is stopping"),
    "powering-on": ("Starting", "server {name} is starting"),
    "deleting": ("Deleting", "server {name} is being deleted"),
}


def server_conditions(
    name: str,
    state: ServerState,
    *,
    operation: bool = False,
    resize_refused: str | None = None,
    built_flavor: str | None = None,
    current: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
) -> list[Condition]:
    """A server's conditions from its state: Scheduled (but while stopped, in error or in an
    operation: no host to wait for), Running, Resized once a resize was refused, and every
    condition the build waited on, True now that it is built (an ACTIVE server keeps no "image
    cirros is saving, not active"). What is not here is no longer the server's."""
    if state.status == "ERROR":
        running = Condition("Running", "False", "Error", (state.fault or {}).get("message", ""))
    elif state.task_state in _GOING:  # stopping or deleting: no host to wait for any more
        reason, message = _GOING[state.task_state]
        running = Condition("Running", "False", reason, message.format(name=name))
    elif state.status in _RUNNING:
        word, reason, message = _RUNNING[state.status]
        running = Condition("Running", word, reason, message.format(name=name))
    else:
        running = Condition(
            "Running", "False", state.status.title(), f"server {name} is {state.status}"
        )
    scheduled = (
        Condition("Scheduled", "True", "Scheduled", f"on {state.host}")
        if state.host
        else Condition("Scheduled", "False", "Scheduling", "waiting for a host")
    )
    quiet = state.status in ("SHUTOFF", "ERROR") or state.task_state in _GOING or operation
    wanted = [running] if quiet else [scheduled, running]
    if resize_refused:
        wanted.append(Condition("Resized", "False", "ResizeRefused", resize_refused))
    elif any(c["type"] == "Resized" for c in current):
        wanted.append(Condition("Resized", "True", "Resized", f"on flavor {built_flavor}"))
    wanted += [RESOLVED[c["type"]] for c in current if c["type"] in RESOLVED]
    return wanted
