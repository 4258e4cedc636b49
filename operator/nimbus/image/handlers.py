"""kopf handlers of image.nimbus.dev: an image is a DataVolume, and RBAC for its consumers."""

from __future__ import annotations

from typing import Any

import kopf

from nimbus.blockstorage import status as storage_status
from nimbus.image import api, render, status
from nimbus.k8s import client
from nimbus.runtime import handling, reporting
from nimbus.runtime.conditions import Condition

CDI_GROUP = "cdi.kubevirt.io"
CDI = f"{CDI_GROUP}/v1beta1"
IMAGES = f"{api.GROUP}/v1alpha1"
LABEL = "image.nimbus.dev/image"  # on the image's DataVolume: the image's name


@handling.reconciler(api.Image)
async def image(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    await reconcile_image(memo.api, dict(body))


@handling.children(CDI_GROUP, "v1beta1", "datavolumes", label=LABEL, owner=api.Image)
async def reconcile_image(api_client: client.Client, body: dict[str, Any]) -> None:
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    inputs = render.ImageInputs(
        name=name,
        namespace=namespace,
        spec=api.ImageSpec.model_validate(body["spec"]),
        owner=client.owner_reference(body),
    )
    data_volume_name = render.data_volume_name(name)
    data_volume = await api_client.get(CDI, "DataVolume", data_volume_name, namespace)
    # Without a source the image is queued, as a Glance image waiting for its data: nothing to
    # import until one is set.
    if data_volume is None and inputs.spec.source is not None:
        data_volume = await api_client.apply(render.render_data_volume(inputs))
    rbac = render.render_clone_rbac(inputs)
    for obj in rbac:
        await api_client.apply(obj)
    if not rbac:  # private now: nobody else may clone it any more
        for kind in ("RoleBinding", "Role"):
            await api_client.delete(
                "rbac.authorization.k8s.io/v1",
                kind,
                f"{render.data_volume_name(name)}-clone",
                namespace,
            )
    state = status.image_state(data_volume)
    fields: dict[str, Any] = {
        "status": state.status,
        "progress": state.progress,
        "reason": state.reason,
        "dataVolume": render.data_volume_name(name),
    }
    if state.status == "active":
        http = inputs.spec.source.http if inputs.spec.source else None
        fields["checksum"] = http.checksum if http else None
        # The disk's size is what the DataVolume asked for: CDI's claim is larger by the
        # filesystem's overhead (6 % by default), which the image does not hold.
        storage = (data_volume or {}).get("spec", {}).get("storage") or {}
        requested = storage.get("resources", {}).get("requests", {}).get("storage")
        if requested:
            fields["virtualSize"] = fields["size"] = storage_status.gigabytes(requested) * 2**30
    waiting = Condition(
        "ImageActive",
        "False",
        "ImageQueued",
        f"image {name} has no data yet: it waits for spec.source (Glance's web-download import "
        "sets it)",
    )
    wanted = {
        "active": Condition("ImageActive", "True", "ImageActive"),
        "killed": Condition("ImageActive", "False", "ImageKilled", state.reason or ""),
    }.get(
        state.status,
        waiting
        if inputs.spec.source is None
        else Condition(
            "ImageActive",
            "False",
            "ImageSaving",
            f"image {name} is {state.status} ({state.progress or '0.0%'})",
        ),
    )
    current = body.get("status") or {}
    unchanged = (current.get("status"), current.get("progress"), current.get("observedGeneration"))
    if unchanged == (state.status, state.progress, body["metadata"].get("generation")):
        return  # nothing new: no status write, no event
    await reporting.report(api_client, body, fields=fields, wanted=[wanted])
