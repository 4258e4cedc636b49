"""Nova's server actions on a declarative object: reboot, resize and rebuild.

Kubernetes has no verbs for them, so a change to the Server asks for them:

- reboot: the annotation `compute.nimbus.dev/reboot` set to a new value (a timestamp, as
  `kubectl annotate` or `nimbus` writes it); `compute.nimbus.dev/reboot-type: HARD` makes it a
  hard reboot;
- resize: a new spec.flavor;
- rebuild: a new spec.image.

Each restarts the running VM, as KubeVirt restarts one: its VirtualMachineInstance is deleted
and KubeVirt starts a new one from the VM's (updated) template. The server shows REBOOT,
HARD_REBOOT, RESIZE or REBUILD until the new instance runs. A resize is confirmed at once (as
Nova does with resize_confirm_window = 1 s): Kubernetes keeps no old instance to revert to.
A stopped server is resized or rebuilt without a start; it stays SHUTOFF.
"""

from __future__ import annotations

import dataclasses
from typing import Any

REBOOT = "compute.nimbus.dev/reboot"
REBOOT_TYPE = "compute.nimbus.dev/reboot-type"

# Nova's status word -> its task_state while the action runs.
TASK_STATES = {
    "REBOOT": "reboot_started",
    "HARD_REBOOT": "reboot_started_hard",
    "RESIZE": "resize_migrating",
    "REBUILD": "rebuild_spawning",
}
RESIZE_DOWN = "Resize error: Unable to resize disk down."


@dataclasses.dataclass(frozen=True)
class Action:
    """What a pass of the server's handler must do beyond applying its VM."""

    operation: str | None  # REBOOT, HARD_REBOOT, RESIZE or REBUILD; None: nothing to restart
    flavor: str  # the flavor to run with
    root_generation: int  # the root disk's generation: a rebuild makes a new disk
    refused: str | None = None  # why the asked-for change is not made


def reboot_asked(server: dict[str, Any]) -> str | None:
    """The reboot the server asks for: its annotation's value (no generation counts it)."""
    return (server["metadata"].get("annotations") or {}).get(REBOOT)


def asked(server: dict[str, Any]) -> tuple[Any, str | None]:
    """What an action is planned from, besides the status: the spec's generation and the
    reboot asked for."""
    return server["metadata"].get("generation"), reboot_asked(server)


def image_key(image: dict[str, Any] | None) -> str | None:
    if not image:
        return None
    return f"{image.get('project') or ''}/{image['name']}"


def plan(
    spec: dict[str, Any],
    annotations: dict[str, str],
    status: dict[str, Any],
    flavors: dict[str, int],
) -> Action:
    """The action a server's change asks for, from its spec and annotations against what its
    status says it was built with. `flavors` maps a flavor name to its root disk (GB)."""
    built = status.get("built") or {}
    if not built:  # the first build: nothing to act on
        return Action(None, spec["flavor"], 0)
    generation = int(built.get("rootGeneration", 0))
    if image_key(spec.get("image")) != built.get("image") and spec.get("image"):
        return Action("REBUILD", spec["flavor"], generation + 1)
    if spec["flavor"] != built.get("flavor"):
        old, new = flavors.get(built.get("flavor", ""), 0), flavors.get(spec["flavor"], 0)
        if 0 < new < old:
            return Action(None, built["flavor"], generation, RESIZE_DOWN)
        return Action("RESIZE", spec["flavor"], generation)
    requested = annotations.get(REBOOT)
    if requested and requested != built.get("reboot"):
        hard = annotations.get(REBOOT_TYPE, "SOFT").upper() == "HARD"
        return Action("HARD_REBOOT" if hard else "REBOOT", spec["flavor"], generation)
    return Action(None, spec["flavor"], generation)


def built(spec: dict[str, Any], annotations: dict[str, str], action: Action) -> dict[str, Any]:
    """What status.built records once the action is under way."""
    return {
        "flavor": action.flavor,
        "image": image_key(spec.get("image")),
        "rootGeneration": action.root_generation,
        "reboot": annotations.get(REBOOT),
    }


def finished(operation: dict[str, Any] | None, vmi: dict[str, Any] | None) -> bool:
    """An action is over once an instance other than the one it restarted is running."""
    if not operation:
        return True
    if vmi is None:
        return False
    running = (vmi.get("status") or {}).get("phase") == "Running"
    return running and vmi["metadata"].get("uid") != operation.get("instance")
