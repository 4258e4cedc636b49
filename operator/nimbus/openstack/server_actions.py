"""Nova's server actions, and its server update and metadata, as merge patches of the Server.

Kubernetes has no verbs for Nova's actions: each is a merge patch of the Server that asks the
operator for it (docs/compute.md): spec.powerState, the reboot annotations, spec.flavor,
spec.image, spec.securityGroups. The state checks are Nova's (nova.compute.api's
check_instance_state). Pure: the Server (and what the caller may use) in, the patch or Nova's
400, 404 or 409 out."""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from typing import Any

from nimbus.compute import lifecycle
from nimbus.openstack import documents, faults, server_request

_ANY_TASK = frozenset({None})
# Nova lets a hard reboot through these task states (nova.compute.api.reboot).
_HARD_REBOOT_TASKS = frozenset({
    None, "rebooting", "reboot_pending", "reboot_started", "rebooting_hard", "resuming",
    "unpausing", "pausing", "suspending",
})  # fmt: skip
# The name Nova's conflict gives an action -> (vm_states, task_states) it is allowed in.
ALLOWED: dict[str, tuple[frozenset[str], frozenset[str | None]]] = {
    "start": (frozenset({"stopped"}), _ANY_TASK),
    "stop": (frozenset({"active", "rescued", "error"}), _ANY_TASK),
    "pause": (frozenset({"active"}), _ANY_TASK),
    "unpause": (frozenset({"paused"}), _ANY_TASK),
    "reboot": (frozenset({"active"}), _ANY_TASK),
    "reboot HARD": (frozenset({"active", "stopped", "paused", "suspended", "error"}),
                    _HARD_REBOOT_TASKS),
    "resize": (frozenset({"active", "stopped"}), _ANY_TASK),
    "rebuild": (frozenset({"active", "stopped", "error"}), _ANY_TASK),
}  # fmt: skip
# (vm_state, the powerState the spec asks for) -> the task state Nova would show until the
# operator has begun: Nova sets it when it accepts the action.
_POWER_TASKS = {
    ("active", "Stopped"): "powering-off", ("paused", "Stopped"): "powering-off",
    ("stopped", "Running"): "powering-on", ("stopped", "Paused"): "powering-on",
    ("active", "Paused"): "pausing", ("paused", "Running"): "unpausing",
}  # fmt: skip
_POWER_ACTIONS = {"os-start": ("start", "Running"), "os-stop": ("stop", "Stopped"),
                  "pause": ("pause", "Paused"), "unpause": ("unpause", "Running")}  # fmt: skip
_REBOOT_TYPES = ["HARD", "Hard", "hard", "SOFT", "Soft", "soft"]
REVERT_REFUSED = (
    "Cannot 'revertResize' instance {id} while it is in vm_state {state}: Nimbus confirms a "
    "resize at once and keeps no old instance to revert to; resize to the old flavor instead."
)


def server_state(server: dict[str, Any]) -> tuple[str, str | None]:
    """Nova's (vm_state, task_state) of the server now, counting a power change or reboot its
    spec and annotations ask for that the operator has not begun yet."""
    spec, status = server.get("spec") or {}, server.get("status") or {}
    # documents' mapping of a status word to Nova's vm_state, the one the server document shows
    vm_state = documents.vm_state(status.get("status") or "BUILD",
                                  status.get("powerState") or "NOSTATE")  # fmt: skip
    if status.get("taskState"):
        return vm_state, str(status["taskState"])
    pending = _POWER_TASKS.get((vm_state, spec.get("powerState") or "Running"))
    if pending:
        return vm_state, pending
    asked = lifecycle.reboot_asked(server)
    built = status.get("built") or {}
    if built and asked and asked != built.get("reboot"):
        annotations = server["metadata"].get("annotations") or {}
        hard = str(annotations.get(lifecycle.REBOOT_TYPE, "")).upper() == "HARD"
        return vm_state, "rebooting_hard" if hard else "rebooting"
    return vm_state, None


def check_state(server: dict[str, Any], action: str) -> None:
    """Nova's 409 for an action the server's state does not allow, in Nova's words."""
    vm_states, task_states = ALLOWED[action]
    vm_state, task_state = server_state(server)
    ident, name = server["metadata"]["uid"], action.split()[0]
    if vm_state not in vm_states:
        raise faults.Fault(
            409, f"Cannot '{name}' instance {ident} while it is in vm_state {vm_state}"
        )
    if task_state not in task_states:
        raise faults.Fault(
            409, f"Cannot '{name}' instance {ident} while it is in task_state {task_state}"
        )


def _find(objects: list[dict[str, Any]], ref: str) -> dict[str, Any] | None:
    return next((o for o in objects if ref in (o["metadata"]["uid"], o["metadata"]["name"])),
                None)  # fmt: skip


def action_patch(
    action: str,
    argument: Any,
    server: dict[str, Any],
    *,
    flavors: list[dict[str, Any]],
    images: list[dict[str, Any]],
    now: datetime.datetime,
    security_groups: Sequence[dict[str, Any]] = (),
) -> dict[str, Any] | None:
    """The merge patch of the Server that asks for Nova's `action` (None: nothing to change),
    or Nova's 400, 404 or 409 in its words. `flavors`, `images` and `security_groups` are what
    the caller may use."""
    spec = server.get("spec") or {}
    ident = server["metadata"]["uid"]
    if action in _POWER_ACTIONS:
        name, power = _POWER_ACTIONS[action]
        check_state(server, name)
        return {"spec": {"powerState": power}}
    if action == "reboot":
        if not isinstance(argument, dict) or "type" not in argument:
            raise faults.invalid("reboot", argument, "'type' is a required property")
        kind = argument["type"]
        if kind not in _REBOOT_TYPES:
            raise faults.invalid("type", kind, f"{kind!r} is not one of {_REBOOT_TYPES}")
        hard = kind.upper() == "HARD"
        check_state(server, "reboot HARD" if hard else "reboot")
        stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        patch: dict[str, Any] = {"metadata": {"annotations": {
            lifecycle.REBOOT: stamp, lifecycle.REBOOT_TYPE: "HARD" if hard else None}}}  # fmt: skip
        if hard and (spec.get("powerState") or "Running") != "Running":
            patch["spec"] = {"powerState": "Running"}  # Nova's hard reboot powers it on
        return patch
    if action == "resize":
        if not isinstance(argument, dict) or "flavorRef" not in argument:
            raise faults.invalid("resize", argument, "'flavorRef' is a required property")
        ref = str(argument["flavorRef"])
        check_state(server, "resize")
        flavor = _find(flavors, ref)
        if flavor is None:
            raise faults.Fault(400, f"Flavor {ref} could not be found.")
        running = ((server.get("status") or {}).get("built") or {}).get("flavor")
        current = running or spec.get("flavor")
        if flavor["metadata"]["name"] == current:
            raise faults.Fault(400, "When resizing, instances must change flavor!")
        old = next((f for f in flavors if f["metadata"]["name"] == current), None)
        old_disk = int(((old or {}).get("spec") or {}).get("diskGB") or 0)
        new_disk = int((flavor.get("spec") or {}).get("diskGB") or 0)
        if 0 < new_disk < old_disk:
            raise faults.Fault(400, lifecycle.RESIZE_DOWN)
        return {"spec": {"flavor": flavor["metadata"]["name"]}}
    if action == "confirmResize":
        return None  # Nimbus confirmed it when it resized (docs/compute.md)
    if action == "revertResize":
        raise faults.Fault(409, REVERT_REFUSED.format(id=ident, state=server_state(server)[0]))
    if action == "rebuild":
        if not isinstance(argument, dict) or "imageRef" not in argument:
            raise faults.invalid("rebuild", argument, "'imageRef' is a required property")
        check_state(server, "rebuild")
        image = _find(images, str(argument["imageRef"]))
        if image is None:
            raise faults.Fault(400, "Cannot find image for rebuild")
        if spec.get("bootVolume"):
            raise faults.Fault(400, "Unable to rebuild with a different image for a volume-backed "
                        "server.")  # fmt: skip
        wanted = {"name": image["metadata"]["name"], "project": None}
        if lifecycle.image_key(spec.get("image")) == lifecycle.image_key(wanted):
            raise faults.Fault(
                400,
                f"Server {ident} already runs image {documents.display_name(image)}: Nimbus "
                "rebuilds a server when spec.image changes; give another image",
            )
        return {"spec": {"image": wanted}}
    if action in ("addSecurityGroup", "removeSecurityGroup"):
        return _security_group_patch(action, argument, server, security_groups)
    raise faults.Fault(400, f"There is no such action: {action}")


def _security_group_patch(
    action: str, argument: Any, server: dict[str, Any], groups: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    """spec.securityGroups with the group (by id, Kubernetes name or OpenStack name) added or
    taken out, as Nova's security group actions; None when it is there already."""
    if not isinstance(argument, dict):
        raise faults.Fault(400, "Missing parameter dict")
    ref = argument.get("name")
    if not isinstance(ref, str):
        raise faults.Fault(400, "Security group not specified")
    if not ref.strip():
        raise faults.Fault(400, "Security group name cannot be empty")
    found = [g for g in groups if ref in (g["metadata"]["uid"], g["metadata"]["name"])] or [
        g for g in groups if documents.display_name(g) == ref
    ]
    if len(found) > 1:
        raise faults.Fault(409, f"Multiple security_group matches found for name '{ref}', use "
                           "an ID to be more specific.")  # fmt: skip
    if not found and ref != "default":  # the operator makes `default` when a server needs it
        raise faults.Fault(404, f"Security group {ref} not found.")
    name = found[0]["metadata"]["name"] if found else ref
    current = list((server.get("spec") or {}).get("securityGroups", ["default"]))
    if action == "addSecurityGroup":
        return None if name in current else {"spec": {"securityGroups": [*current, name]}}
    if name not in current:
        raise faults.Fault(404, f"Security group {ref} not associated with the instance "
                           f"{server['metadata']['uid']}")  # fmt: skip
    return {"spec": {"securityGroups": [g for g in current if g != name]}}


_HOSTNAME = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"  # spec.hostname's pattern
# What the server document always shows for what Nimbus does not keep: an update may repeat it.
_NOT_KEPT = {"accessIPv4": "", "accessIPv6": "", "OS-DCF:diskConfig": "MANUAL"}


def update_patch(request: Any, server: dict[str, Any], version: tuple[int, int]) -> dict[str, Any]:
    """PUT /servers/{id}'s merge patch: the name (in the name annotation; the Kubernetes name
    stays), from 2.19 the description, from 2.90 the hostname; Nova's 400 for anything else."""
    body = request.get("server") if isinstance(request, dict) else None
    if not isinstance(body, dict):
        raise faults.invalid("server", body, "'server' is a required property")
    allowed = {"name", *_NOT_KEPT, *(["description"] if version >= (2, 19) else []),
               *(["hostname"] if version >= (2, 90) else [])}  # fmt: skip
    unexpected = sorted(set(body) - allowed)
    if unexpected:
        raise faults.invalid("server", body, "Additional properties are not allowed "
                             f"({', '.join(map(repr, unexpected))} unexpected)")  # fmt: skip
    for field, shown in _NOT_KEPT.items():
        if field in body and body[field] != shown:
            raise faults.Fault(400, f"{field} {body[field]!r}: Nimbus keeps no {field} of its "
                               f"own (a server shows {shown!r})")  # fmt: skip
    patch: dict[str, Any] = {}
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise faults.invalid("server/name", name, f"{name!r} is not 1 to 255 characters")
        if name.strip() != name:
            raise faults.invalid("server/name", name, "Leading/trailing whitespace is not allowed")
        shown_as = None if name == server["metadata"]["name"] else name
        patch["metadata"] = {"annotations": {documents.NAME_ANNOTATION: shown_as}}
    spec: dict[str, Any] = {}
    if "description" in body:
        description = body["description"] or ""
        if not isinstance(description, str) or len(description) > 255:
            why = f"{description!r} is not a string of at most 255 characters"
            raise faults.invalid("server/description", description, why)
        spec["description"] = description
    if "hostname" in body:
        hostname = body["hostname"]
        if not isinstance(hostname, str) or not re.fullmatch(_HOSTNAME, hostname):
            why = f"{hostname!r} is not a DNS label: lowercase letters, digits and '-'"
            raise faults.invalid("server/hostname", hostname, why)
        spec["hostname"] = hostname
    if spec:
        patch["spec"] = spec
    return patch


def metadata_patch(request: Any, server: dict[str, Any], *, replace: bool) -> dict[str, Any]:
    """POST /servers/{id}/metadata's merge patch of spec.metadata (the items given, merged in),
    or PUT's (replacing them all); Nova's 400 for a body its schema refuses."""
    given = request.get("metadata") if isinstance(request, dict) else None
    try:
        metadata = server_request.server_metadata(given, "metadata")
    except server_request.BadRequest as refused:
        raise faults.Fault(400, refused.message) from None
    current = (server.get("spec") or {}).get("metadata") or {}
    removed = {key: None for key in current if key not in metadata} if replace else {}
    return {"spec": {"metadata": {**removed, **metadata}}}


def metadata_item_delete(server: dict[str, Any], key: str) -> dict[str, Any]:
    """DELETE /servers/{id}/metadata/{key}'s merge patch, or Nova's 404."""
    if key not in ((server.get("spec") or {}).get("metadata") or {}):
        raise faults.Fault(404, "Metadata item was not found")
    return {"spec": {"metadata": {key: None}}}


def console_length(argument: Any) -> None:
    """os-getConsoleOutput's length: an integer of at least -1, or null."""
    length = (argument or {}).get("length") if isinstance(argument, dict) else None
    if length is None:
        return
    if isinstance(length, str) and re.fullmatch(r"-?\d+", length):
        length = int(length)
    if isinstance(length, bool) or not isinstance(length, int) or length < -1:
        raise faults.invalid("length", length, f"{length!r} is not valid under any of the given "
                       "schemas")  # fmt: skip
