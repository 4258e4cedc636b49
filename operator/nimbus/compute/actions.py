"""What a pass does to a server's objects beyond applying them: Nova's reboot, resize and
rebuild (a new instance), pause and unpause through virt-api, and delete_on_termination."""

from __future__ import annotations

from typing import Any

from nimbus.blockstorage import status as storage_status
from nimbus.compute import lifecycle, render, status
from nimbus.k8s import client
from nimbus.runtime import cache

STORAGE = "blockstorage.nimbus.dev/v1alpha1"
KUBEVIRT = "kubevirt.io/v1"
CDI = "cdi.kubevirt.io/v1beta1"

TERMINATION_MANAGER = "nimbus-delete-on-termination"


async def delete_on_termination(
    api_client: client.Client, view: cache.View, server_body: dict[str, Any]
) -> None:
    """Nova's delete_on_termination: a volume so marked is owned by its server (an
    ownerReference that is not its controller), so Kubernetes' garbage collector deletes it once
    the server is gone, whether the operator saw the server go or not. A volume not marked (or
    no longer) is not owned by it and stays. The reference is applied under a field manager of
    its own, so that nothing else of the volume (a Stack's spec) changes hands."""
    namespace, uid = server_body["metadata"]["namespace"], server_body["metadata"]["uid"]
    spec = server_body.get("spec") or {}
    marked = {v["volume"] for v in spec.get("volumes") or [] if v.get("deleteOnTermination")}
    boot = spec.get("bootVolume") or {}
    if boot.get("deleteOnTermination"):
        marked.add(boot["name"])
    for volume in view.list("volumes", namespace):
        name = volume["metadata"]["name"]
        owned = any(o.get("uid") == uid for o in volume["metadata"].get("ownerReferences") or [])
        if (name in marked) == owned or volume["metadata"].get("deletionTimestamp"):
            continue
        references = (
            [{**client.owner_reference(server_body), "controller": False,
              "blockOwnerDeletion": False}]
            if name in marked
            else []
        )  # fmt: skip
        await api_client.apply(
            {"apiVersion": STORAGE, "kind": "Volume",
             "metadata": {"name": name, "namespace": namespace,
                          "ownerReferences": references}},
            field_manager=TERMINATION_MANAGER,
        )  # fmt: skip


async def power(api_client: client.Client, view: cache.View, server_body: dict[str, Any]) -> None:
    """Pause or unpause the running instance as spec.powerState asks, through KubeVirt's
    virt-api (a pause lasts as long as the instance: a new one, after a reboot, is paused
    again). An instance that moved meanwhile (virt-api's 409) is left to its next event."""
    name, namespace = server_body["metadata"]["name"], server_body["metadata"]["namespace"]
    vmi = view.get("virtualmachineinstances", name, namespace)
    if (vmi or {}).get("status", {}).get("phase") != "Running":
        return
    wanted = server_body["spec"].get("powerState") == "Paused"
    if status.paused(vmi) == wanted:
        return
    try:
        await api_client.put_subresource(
            "subresources.kubevirt.io/v1", "virtualmachineinstances", name, namespace,
            "pause" if wanted else "unpause",
        )  # fmt: skip
    except client.ApiError as error:
        if error.status != 409:
            raise


async def act(
    api_client: client.Client,
    server_body: dict[str, Any],
    action: lifecycle.Action,
    annotations: dict[str, str],
    machine: dict[str, Any],
) -> dict[str, Any]:
    """Reboot, resize or rebuild, as the change asked: restart the running instance (KubeVirt
    starts a new one from the updated VM), after a new root disk (rebuild) or a larger one
    (resize). Returns the status fields that record it."""
    name, namespace = server_body["metadata"]["name"], server_body["metadata"]["namespace"]
    fields: dict[str, Any] = {"built": lifecycle.built(server_body["spec"], annotations, action)}
    if action.operation is None:
        return fields
    built_before = (server_body.get("status") or {}).get("built") or {}
    if action.operation == "REBUILD":  # the old root disk goes: its image is no longer wanted
        old_root = render.root_volume_name(name, int(built_before.get("rootGeneration", 0)))
        await api_client.delete(CDI, "DataVolume", old_root, namespace)
    if action.operation == "RESIZE":
        await grow_root_disk(api_client, machine, name, namespace, action.root_generation)
    vmi = await api_client.get(KUBEVIRT, "VirtualMachineInstance", name, namespace)
    if vmi is not None and not vmi["metadata"].get("deletionTimestamp"):
        await api_client.delete(KUBEVIRT, "VirtualMachineInstance", name, namespace)
        fields["operation"] = {"type": action.operation, "instance": vmi["metadata"]["uid"]}
    return fields


async def grow_root_disk(
    api_client: client.Client,
    machine: dict[str, Any],
    name: str,
    namespace: str,
    generation: int,
) -> None:
    """A larger flavor's root disk: the existing claim is expanded (never shrunk)."""
    root = render.root_volume_name(name, generation)
    wanted = next(
        (
            t["spec"]["storage"]["resources"]["requests"]["storage"]
            for t in machine["spec"].get("dataVolumeTemplates", [])
            if t["metadata"]["name"] == root
        ),
        None,
    )
    claim = await api_client.get("v1", "PersistentVolumeClaim", root, namespace)
    if wanted is None or claim is None:
        return
    current = claim["spec"]["resources"]["requests"]["storage"]
    if storage_status.gigabytes(wanted) > storage_status.gigabytes(current):
        await api_client.patch(
            "v1",
            "PersistentVolumeClaim",
            root,
            namespace,
            {"spec": {"resources": {"requests": {"storage": wanted}}}},
        )
