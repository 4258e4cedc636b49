"""kopf handlers of blockstorage.nimbus.dev: volume types, volumes and snapshots.

A volume follows its children, its servers and their instances by watches, not by polling:
its claim's and DataVolume's events, every server event that attaches or detaches it, and
every event of an instance that holds it (or that it is attaching to or detaching from)
report it again."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from nimbus.api import meta
from nimbus.blockstorage import api, render, status
from nimbus.k8s import client
from nimbus.runtime import cache, handling, reporting, retrying
from nimbus.runtime.conditions import Condition, FailedError, WaitingError


@handling.reconciler(api.VolumeType)
async def volume_type(body: kopf.Body, name: str, memo: kopf.Memo, **_: Any) -> None:
    """A StorageClass (and VolumeSnapshotClass) for a provisioner; an existing class is used
    as it is, once it is there."""
    spec = api.VolumeTypeSpec.model_validate(body["spec"])
    for obj in render.render_storage_class(name, spec, client.owner_reference(dict(body))):
        await memo.api.apply(obj)
    storage_class = spec.storage_class or render.storage_class_name(name)
    snapshot_class = spec.snapshot_class or (
        render.storage_class_name(name) if spec.provisioner else None
    )
    found = await memo.api.get("storage.k8s.io/v1", "StorageClass", storage_class)
    exists = (
        Condition("StorageClassFound", "True", "StorageClassFound")
        if found is not None
        else Condition(
            "StorageClassFound",
            "False",
            "StorageClassNotFound",
            f'spec.storageClass: StorageClass "{storage_class}" not found',
        )
    )
    await reporting.report(
        memo.api,
        dict(body),
        fields={"storageClass": storage_class, "volumeSnapshotClass": snapshot_class},
        wanted=[exists],
        observed=found is not None,
    )
    if found is None:
        raise kopf.TemporaryError(exists.message, delay=15)


CDI = "cdi.kubevirt.io/v1beta1"
API_VERSION = f"{api.GROUP}/{meta.VERSION}"
SERVERS = "compute.nimbus.dev/v1alpha1"
IMAGES = "image.nimbus.dev/v1alpha1"
SNAPSHOTS = "snapshot.storage.k8s.io/v1"
SNAPSHOT_LABEL = "blockstorage.nimbus.dev/snapshot"  # on the VolumeSnapshot: its Snapshot


VOLUME_LABEL = "blockstorage.nimbus.dev/volume"  # on a volume's claim and DataVolume
IN_USE = ("in-use", "attaching", "detaching")
IMAGE_FAILED = (
    "killed",
    "deleted",
    "pending_delete",
    "deactivated",
)  # never to be active  # a server has it, or is taking or letting it go


def _attached_to(view: cache.View, namespace: str, volume: str) -> list[str]:
    """The servers that use the volume, as a boot volume or an attached one (the index's)."""
    return sorted(
        s["metadata"]["name"]
        for s in view.list("servers", namespace)
        if not s["metadata"].get("deletionTimestamp")
        and (
            ((s["spec"].get("bootVolume") or {}).get("name") == volume)
            or any(v["volume"] == volume for v in s["spec"].get("volumes", []))
        )
    )


def _instances(view: cache.View, namespace: str) -> dict[str, dict[str, Any]]:
    """The namespace's KubeVirt instances' status, by name (a server's carries its name)."""
    return {
        i["metadata"]["name"]: i.get("status") or {}
        for i in view.list("virtualmachineinstances", namespace)
    }


async def _volume_inputs(
    api_client: client.Client, body: dict[str, Any], name: str, namespace: str
) -> render.VolumeInputs:
    spec = api.VolumeSpec.model_validate(body["spec"])
    storage_class = None
    if spec.volume_type:
        volume_type = await api_client.get(API_VERSION, "VolumeType", spec.volume_type)
        if volume_type is None:
            raise WaitingError(
                "VolumeTypeFound",
                "VolumeTypeNotFound",
                f'spec.volumeType: volume type "{spec.volume_type}" not found',
            )
        storage_class = (volume_type.get("status") or {}).get("storageClass")
    size_gb = spec.size_gb
    changes: dict[str, Any] = {}
    source = spec.source
    if source is not None and source.image is not None:
        project = source.image.project or namespace
        image = await api_client.get(
            "image.nimbus.dev/v1alpha1", "Image", source.image.name, project
        )
        image_status = ((image or {}).get("status") or {}).get("status") or "queued"
        if image is not None and image_status in IMAGE_FAILED:
            reason = (image.get("status") or {}).get("reason")
            raise FailedError(
                "SourceReady", "ImageUnusable",
                f'spec.source.image: image "{source.image.name}" in project {project} is '
                f"{image_status}" + (f" ({reason})" if reason else ""),
            )  # fmt: skip
        if image is None or image_status != "active":
            state = "not found" if image is None else image_status
            raise WaitingError(
                "SourceReady",
                "ImageNotActive",
                f'spec.source.image: image "{source.image.name}" in project {project} is {state}',
            )
        changes["image_source"] = (project, f"image-{source.image.name}")
        size_gb = size_gb or max(image["spec"].get("minDiskGB", 0), 1)
    elif source is not None and source.snapshot is not None:
        snapshot = await api_client.get(API_VERSION, "Snapshot", source.snapshot, namespace)
        if (snapshot or {}).get("status", {}).get("status") == "error":
            raise FailedError(
                "SourceReady", "SnapshotError",
                f'spec.source.snapshot: snapshot "{source.snapshot}" is error',
            )  # fmt: skip
        if snapshot is None or (snapshot.get("status") or {}).get("status") != "available":
            raise WaitingError(
                "SourceReady",
                "SnapshotNotAvailable",
                f'spec.source.snapshot: snapshot "{source.snapshot}" is not available',
            )
        changes["snapshot_source"] = source.snapshot
        size_gb = size_gb or snapshot["status"].get("sizeGB") or 1
    elif source is not None and source.volume is not None:
        origin = await api_client.get(API_VERSION, "Volume", source.volume, namespace)
        if (origin or {}).get("status", {}).get("status") == "error":
            raise FailedError(
                "SourceReady", "VolumeError",
                f'spec.source.volume: volume "{source.volume}" is error',
            )  # fmt: skip
        if origin is None or (origin.get("status") or {}).get("status") not in (
            "available",
            *IN_USE,
        ):
            raise WaitingError(
                "SourceReady",
                "VolumeNotAvailable",
                f'spec.source.volume: volume "{source.volume}" is not available',
            )
        changes["volume_source"] = render.claim_name(source.volume)
        size_gb = size_gb or origin["spec"].get("sizeGB") or 1
    return render.VolumeInputs(
        name=name,
        namespace=namespace,
        spec=spec,
        size_gb=size_gb or 1,
        storage_class=storage_class,
        owner=client.owner_reference(body),
        **changes,
    )


@handling.reconciler(api.Volume)
async def volume(
    body: kopf.Body, name: str, namespace: str | None, memo: kopf.Memo, **kwargs: Any
) -> None:
    """A PVC (blank) or DataVolume clone; growing sizeGB extends the claim."""
    assert namespace is not None, "volumes are namespaced"
    api_client: client.Client = memo.api
    try:
        inputs = await _volume_inputs(api_client, dict(body), name, namespace)
    except FailedError as failed:  # its source will never be ready as it is: Cinder's error
        await reporting.report(
            api_client, dict(body), fields={"status": "error"}, wanted=[failed.condition]
        )
        raise kopf.TemporaryError(failed.condition.message, delay=60) from None
    except WaitingError as missing:
        await reporting.report(
            api_client,
            dict(body),
            fields={"status": "creating"},
            wanted=[missing.condition],
            observed=False,
        )
        raise kopf.TemporaryError(missing.condition.message, delay=5) from None
    claim = await api_client.get("v1", "PersistentVolumeClaim", render.claim_name(name), namespace)
    data_volume = await api_client.get(CDI, "DataVolume", render.claim_name(name), namespace)
    desired = render.render_volume(inputs)
    if desired["kind"] == "PersistentVolumeClaim" or data_volume is None:
        await api_client.apply(desired)
    if claim is not None and data_volume is not None:
        # The claim of a DataVolume is CDI's: growing it is a resize of the claim itself.
        requested = claim["spec"]["resources"]["requests"]["storage"]
        if status.gigabytes(requested) < inputs.size_gb:
            grown = {"requests": {"storage": f"{inputs.size_gb}Gi"}}
            metadata = {"name": claim["metadata"]["name"], "namespace": namespace}
            await api_client.apply(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": metadata,
                    "spec": {"resources": grown},
                }
            )
    bootable = (
        inputs.spec.bootable
        if inputs.spec.bootable is not None
        else inputs.image_source is not None
    )
    await report_volume(
        api_client, cache.View.of(kwargs, memo), namespace, name,
        size_gb=inputs.size_gb, bootable=bootable,
    )  # fmt: skip


# One report at a time per volume, each from what it reads when its turn comes: its own
# reconciler and the events of its claim, DataVolume and servers all report it.
_VOLUME_REPORTS: dict[tuple[str, str], asyncio.Lock] = {}


async def report_volume(
    api_client: client.Client,
    view: cache.View,
    namespace: str,
    name: str,
    *,
    size_gb: int | None = None,
    bootable: bool | None = None,
) -> None:
    """The volume's status from its claim, its DataVolume and the servers that use it."""
    async with _VOLUME_REPORTS.setdefault((namespace, name), asyncio.Lock()):
        body = await api_client.get(API_VERSION, "Volume", name, namespace)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return
        current = body.get("status") or {}
        if size_gb is None:  # a child's or a server's event: what the last reconcile worked out
            if "sizeGB" not in current:
                return  # not reconciled yet: its reconciler reports it
            size_gb, bootable = int(current["sizeGB"]), current.get("bootable")
        claim_name = render.claim_name(name)
        claim = await api_client.get("v1", "PersistentVolumeClaim", claim_name, namespace)
        data_volume = await api_client.get(CDI, "DataVolume", claim_name, namespace)
        named = _attached_to(view, namespace, name)
        word = status.volume_status(claim, data_volume, attached=bool(named), size_gb=size_gb)
        moving, attached = status.attachment(claim_name, named, _instances(view, namespace))
        if word in ("available", "in-use"):
            word = moving or word
        fields = {
            "status": word,
            "sizeGB": size_gb,
            "bootable": bootable,
            "attachments": [{"server": s} for s in attached],
            "persistentVolumeClaim": claim_name,
        }
        if reporting.unchanged(body, fields):
            return
        ready = word in ("available", "in-use")
        wanted = [
            Condition(
                "VolumeReady",
                "True" if ready else "False",
                "VolumeReady" if ready else f"Volume{word.title().replace('-', '')}",
                "" if ready else f"volume {name} is {word}",
            )
        ]
        await reporting.report(api_client, body, fields=fields, wanted=wanted)


@kopf.on.event("", "v1", "persistentvolumeclaims", labels={VOLUME_LABEL: kopf.PRESENT})
@kopf.on.event("cdi.kubevirt.io", "v1beta1", "datavolumes", labels={VOLUME_LABEL: kopf.PRESENT})
@retrying.retried
async def volume_child_changed(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """The claim or DataVolume moved (bound, imported, resized): the volume's status follows."""
    namespace = body["metadata"].get("namespace")
    volume_name = body["metadata"]["labels"][VOLUME_LABEL]
    if namespace:
        await report_volume(memo.api, cache.View.of(kwargs, memo), namespace, volume_name)


@handling.follows("kubevirt.io", "v1", "virtualmachineinstances")
async def volume_instances_changed(
    type: str | None, body: dict[str, Any], memo: kopf.Memo, view: cache.View
) -> None:
    """An instance attached or detached a volume (KubeVirt's hotplug), started or went: the
    volumes it holds, and those attaching or detaching, follow."""
    namespace = body["metadata"].get("namespace")
    labels = body["metadata"].get("labels") or {}
    if not namespace or labels.get("app.kubernetes.io/managed-by") != "nimbus":
        return
    held = {
        (v.get("persistentVolumeClaimInfo") or {}).get("claimName")
        for v in (body.get("status") or {}).get("volumeStatus") or []
    }
    for volume_body in view.list("volumes", namespace):
        name = volume_body["metadata"]["name"]
        word = (volume_body.get("status") or {}).get("status")
        if render.claim_name(name) in held or word in ("attaching", "detaching"):
            await report_volume(memo.api, view, namespace, name)


@handling.follows("compute.nimbus.dev", meta.VERSION, "servers")
async def volume_servers_changed(
    type: str | None, body: dict[str, Any], memo: kopf.Memo, view: cache.View
) -> None:
    """A server attached, detached or went: the volumes whose attachment to it changed follow
    (a volume's recorded attachments against what the server's spec names now)."""
    namespace, server = body["metadata"].get("namespace"), body["metadata"]["name"]
    if not namespace:
        return
    spec = body.get("spec") or {}
    named: set[str] = set()
    if type != "DELETED" and not body["metadata"].get("deletionTimestamp"):
        named = {v["volume"] for v in spec.get("volumes") or []}
        named.add((spec.get("bootVolume") or {}).get("name") or "")
    for volume_body in view.list("volumes", namespace):
        current = volume_body.get("status") or {}
        recorded = {a["server"] for a in current.get("attachments") or []}
        name = volume_body["metadata"]["name"]
        if "sizeGB" in current and (server in recorded) != (name in named):
            await report_volume(memo.api, view, namespace, name)


@kopf.on.delete(api.GROUP, meta.VERSION, "volumes")
async def volume_deleted(name: str, namespace: str | None, memo: kopf.Memo, **kwargs: Any) -> None:
    """A volume in use cannot be deleted, as in Cinder: detach it from its servers first."""
    assert namespace is not None, "volumes are namespaced"
    _VOLUME_REPORTS.pop((namespace, name), None)
    view = cache.View.of(kwargs, memo)
    attached = _attached_to(view, namespace, name)
    if attached:
        raise kopf.TemporaryError(
            f"Invalid volume: volume {name} status must be available or error, but current "
            f"status is: in-use (attached to {', '.join(attached)}); detach it first",
            delay=5,
        )
    snapshots = status.dependent_snapshots(view.list("snapshots", namespace), name)
    if snapshots:  # its claim stays until they are gone: they were taken of it
        raise kopf.TemporaryError(status.snapshots_refusal(name, snapshots), delay=5)


@kopf.on.resume(api.GROUP, meta.VERSION, "snapshots")
@kopf.on.create(api.GROUP, meta.VERSION, "snapshots")
@kopf.on.update(api.GROUP, meta.VERSION, "snapshots", field="spec")  # force set after a refusal
async def snapshot(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    await reconcile_snapshot(memo.api, dict(body))


@handling.children(
    "snapshot.storage.k8s.io", "v1", "volumesnapshots", label=SNAPSHOT_LABEL, owner=api.Snapshot
)
async def reconcile_snapshot(api_client: client.Client, body: dict[str, Any]) -> None:
    """A CSI VolumeSnapshot of the volume's claim; in-use volumes only with force, as Cinder."""
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    spec = api.SnapshotSpec.model_validate(body["spec"])
    origin = await api_client.get(API_VERSION, "Volume", spec.volume, namespace)
    existing = await api_client.get(SNAPSHOTS, "VolumeSnapshot", name, namespace)
    if origin is None and existing is None:
        # Cinder refuses it (VolumeNotFound); here it may have got through without the webhook.
        condition = Condition(
            "VolumeFound",
            "False",
            "VolumeNotFound",
            f"spec.volume: Volume {spec.volume} could not be found: nothing to snapshot",
        )
        await reporting.report(api_client, body, fields={"status": "error"}, wanted=[condition])
        raise kopf.TemporaryError(condition.message, delay=30)  # the volume may come yet
    if existing is None:
        assert origin is not None
        if (origin.get("status") or {}).get("status") in IN_USE and not spec.force:
            condition = Condition(
                "SnapshotTaken",
                "False",
                "VolumeInUse",
                f"Invalid volume: volume {spec.volume} is in-use; set force: "
                "true to snapshot it anyway",
            )
            await reporting.report(api_client, body, fields={"status": "error"}, wanted=[condition])
            return
        volume_type = origin["spec"].get("volumeType")
        snapshot_class = None
        if volume_type:
            found = await api_client.get(API_VERSION, "VolumeType", volume_type)
            snapshot_class = ((found or {}).get("status") or {}).get("volumeSnapshotClass")
        existing = await api_client.apply(
            render.render_snapshot(
                name,
                namespace,
                render.claim_name(spec.volume),
                snapshot_class,
                client.owner_reference(body),
            )
        )
    word, size_gb = status.snapshot_status(existing)
    fields = {"status": word, "sizeGB": size_gb, "volumeSnapshot": name}
    if reporting.unchanged(body, fields):
        return
    ready = word == "available"
    condition = Condition(
        "SnapshotTaken",
        "True" if ready else "False",
        "SnapshotAvailable" if ready else f"Snapshot{word.title()}",
        "" if ready else f"snapshot {name} is {word}",
    )
    await reporting.report(api_client, body, wanted=[condition], fields=fields)
