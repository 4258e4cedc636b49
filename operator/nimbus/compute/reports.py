"""A server's status, from its VM and instance: one report at a time per server, computed when
its turn comes from the freshest copies, so an older picture is never written last."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from nimbus.compute import lifecycle, references, status
from nimbus.k8s import client
from nimbus.runtime import cache, reporting
from nimbus.runtime.conditions import Condition


async def report_error(
    api_client: client.Client,
    server_body: dict[str, Any],
    fault: dict[str, Any],
    conditions: list[Condition],
) -> None:
    """A server that will not build: ERROR, Nova's fault, and why in conditions."""
    await reporting.report(
        api_client,
        server_body,
        fields={"status": "ERROR", "taskState": None, "powerState": "NOSTATE",
                "fault": {**fault, "created": reporting.now()}},
        wanted=conditions,
    )  # fmt: skip


async def report_failed_reference(
    api_client: client.Client, server_body: dict[str, Any], condition: Condition
) -> None:
    """A reference that will never be ready as it is (an image killed, a volume in error): the
    build fails, as Nova's does, with the reference's reason as the fault."""
    message = condition.message.split(": ", 1)[-1]
    await report_error(
        api_client,
        server_body,
        {"code": 500, "message": f"Build of instance {server_body['metadata']['name']} aborted: "
                                 f"{message}"},
        [condition, Condition("Running", "False", "Error", message)],
    )  # fmt: skip


async def report_no_valid_host(
    api_client: client.Client, server_body: dict[str, Any], results: list[str]
) -> None:
    details = f"Filter results: {results}"
    await report_error(
        api_client,
        server_body,
        {"code": 500, "message": status.NO_VALID_HOST, "details": details},
        [
            Condition("Scheduled", "False", "NoValidHost", f"{status.NO_VALID_HOST} {details}"),
            Condition("Running", "False", "Error", status.NO_VALID_HOST),
        ],
    )


def _fresher(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    """Of two copies of one object, the later: a VM just applied may be older than the index's
    copy by the time the report is written (the machine moved on meanwhile)."""
    if a is None or b is None:
        return a or b
    try:
        older = int(a["metadata"]["resourceVersion"]) < int(b["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return a
    return b if older else a


@dataclasses.dataclass
class _Reports:
    """One server's reports: taken one at a time, and the last status written."""

    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    written: dict[str, Any] | None = None


# Two writers report a server: its own handler and its VM's and VMI's events. Computed
# concurrently, an older picture could be written last (a server back in BUILD after ACTIVE,
# with no event left to correct it). So each report waits its turn and is computed then, from
# the indexes as they are and the freshest copy of the server (the event's, the index's, or
# what the last report wrote).
_REPORTS: dict[tuple[str, str], _Reports] = {}


@dataclasses.dataclass(frozen=True)
class Built:
    """What a pass of the server's handler built: the VM as applied, the status fields that
    record the build, and the action it planned for what the server asked then
    (`lifecycle.asked`). A report after a VM's event has none; nor is it used when the report
    starts from a copy of the server that asks something else (a newer spec): the report plans
    it itself then."""

    vm: dict[str, Any] | None = None
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)
    action: lifecycle.Action | None = None
    asked: tuple[Any, Any] | None = None


async def report_server(
    api_client: client.Client,
    view: cache.View,
    server_body: dict[str, Any],
    built: Built = Built(),
    *,
    wait_turn: bool = True,
) -> dict[str, Any] | None:
    """The server's status from its VM and VMI (the indexes' copies, or the VM just applied);
    returns the reboot, resize or rebuild still under way, if any. It waits for servers being
    built unless told not to."""
    if wait_turn:
        await reporting.BUILDS.turn()
    key = (server_body["metadata"]["namespace"], server_body["metadata"]["name"])
    reports = _REPORTS.setdefault(key, _Reports())
    async with reports.lock:
        fresh = _fresher(server_body, view.get("servers", key[1], key[0]))
        fresh = _fresher(fresh, reports.written)
        if fresh is not None and fresh["metadata"].get("uid") == server_body["metadata"].get("uid"):
            server_body = fresh
        operation, written = await _report_server(api_client, view, server_body, built)
        if written is not None:
            reports.written = written
        return operation


def floating_ips(view: cache.View, namespace: str, server: str) -> dict[str, str]:
    """fixed IP -> floating IP, of the floating IPs associated with the server's ports (a
    port's deviceID names the server using it)."""
    found = {}
    for each in view.list("floatingips", namespace):
        held = each.get("status") or {}
        if not (held.get("router") and held.get("fixedIPAddress") and held.get("port")):
            continue
        if (each.get("spec") or {}).get("port") != held["port"]:
            continue  # being dissociated or moved: the status has not caught up
        port = view.get("ports", held["port"], namespace)
        if port is not None and (port.get("status") or {}).get("deviceID") == server:
            found[held["fixedIPAddress"]] = held["floatingIPAddress"]
    return found


def forget_reports(namespace: str, name: str) -> None:
    _REPORTS.pop((namespace, name), None)


async def _report_server(
    api_client: client.Client, view: cache.View, server_body: dict[str, Any], built: Built
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The report itself: the operation still under way, and the server as written (None when
    nothing needed writing)."""
    name, namespace = server_body["metadata"]["name"], server_body["metadata"]["namespace"]
    vm = _fresher(built.vm, view.get("virtualmachines", name, namespace))
    vmi = view.get("virtualmachineinstances", name, namespace)
    networks = []
    for entry in server_body["spec"].get("networks", []):
        if entry.get("port"):  # addresses of a port are listed under the port's network
            port = view.get("ports", entry["port"], namespace)
            networks.append((port or {}).get("spec", {}).get("network", entry["port"]))
        else:
            networks.append(entry.get("network"))
    state = status.server_state(
        vm,
        vmi,
        [str(n) for n in networks],
        paused_requested=server_body["spec"].get("powerState") == "Paused",
        stop_requested=server_body["spec"].get("powerState") == "Stopped",
        launched=bool((server_body.get("status") or {}).get("launchedAt")),
    )
    floating = floating_ips(view, namespace, name)
    if floating and state.addresses:
        found = status.with_floating(state.addresses, floating)
        state = dataclasses.replace(state, addresses=found, networks=status.networks_column(found))
    extra = dict(built.fields)
    operation = extra.pop("operation", (server_body.get("status") or {}).get("operation"))
    if operation and lifecycle.finished(operation, vmi):
        operation = None
    if operation and state.status not in ("ERROR", "SHUTOFF"):
        kind = operation["type"]
        state = dataclasses.replace(state, status=kind, task_state=lifecycle.TASK_STATES[kind])
        if state.host is None:  # between two instances: Nova shows the server where it was
            before = server_body.get("status") or {}
            state = dataclasses.replace(
                state,
                host=before.get("host"),
                addresses=before.get("addresses") or {},
                networks=before.get("networks") or "",
            )
    zone = None
    if state.host:
        node = view.get("nodes", state.host)
        zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(
            "topology.kubernetes.io/zone"
        )
    fields: dict[str, Any] = {
        "status": state.status,
        "taskState": state.task_state,
        "powerState": state.power_state,
        "host": state.host,
        "availabilityZone": zone,
        "addresses": state.addresses,
        "networks": state.networks or None,
        "virtualMachine": name,
        "fault": state.fault,
        "operation": operation,
        **extra,
    }
    current = server_body.get("status") or {}
    if reporting.unchanged(server_body, fields):
        return operation, None
    if state.fault is not None:
        fields["fault"] = {**state.fault, "created": reporting.now()}
    if state.status == "ACTIVE" and not current.get("launchedAt"):
        fields["launchedAt"] = reporting.now()
    recorded = fields.get("built") or current.get("built") or {}
    action = built.action if built.asked == lifecycle.asked(server_body) else None
    if action is None:  # what the server's change asks, against what it was built
        action = lifecycle.plan(
            server_body["spec"],
            server_body["metadata"].get("annotations") or {},
            {**current, "built": recorded},
            references.flavor_disks(view),
        )
    refused = action.refused
    wanted = status.server_conditions(
        name,
        state,
        operation=bool(operation),
        resize_refused=refused,
        built_flavor=recorded.get("flavor"),
        current=current.get("conditions") or [],
    )
    written = await reporting.report(api_client, server_body, fields=fields, wanted=wanted)
    return operation, written
