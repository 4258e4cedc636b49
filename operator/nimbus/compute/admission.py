"""The Servers' admission, in Nova's words: unknown references (listing what exists), another
project's private image, an image bigger than the flavor, a port another server holds, an in-use
volume that is not multiattach, and the project's quota (identity/admission.py)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import kopf

from nimbus.blockstorage.admission import attached_to
from nimbus.compute import api as compute_api
from nimbus.compute import render as compute_render
from nimbus.identity.admission import ASSUME_SECONDS, changed, check_server_quota, project_of, refer
from nimbus.runtime import cache


def image_refusal(image: Mapping[str, Any], namespace: str) -> str | None:
    """Glance's visibility: another project's image is usable only when public, or shared
    with this project."""
    owner = image["metadata"]["namespace"]
    spec = image.get("spec") or {}
    visibility = spec.get("visibility", "private")
    if owner == namespace or visibility == "public":
        return None
    if visibility == "shared" and namespace in (spec.get("members") or []):
        return None
    name = image["metadata"]["name"]
    return (
        f'spec.image: image "{name}" of project {owner} is {visibility}'
        + (f" and not shared with project {namespace}" if visibility == "shared" else "")
        + "; only public images, or images shared with this project, may be used"
    )


# Ports named by servers admitted a moment ago, before the index holds them:
# (namespace, port) -> (server, expiry).
PORTS_NAMED: dict[tuple[str, str], tuple[str, float]] = {}


def port_in_use(
    view: cache.View,
    port: Mapping[str, Any],
    namespace: str,
    server: str,
    networks: list[Mapping[str, Any]],
    index: int,
) -> str | None:
    """Nova's PortInUse: a port serves one interface of one server. Another server naming it,
    owning it (an implicit port), or admitted naming it a moment ago holds it."""
    name = port["metadata"]["name"]
    if any(n.get("port") == name for n in networks[:index]):
        return f"Port {name} is still in use (by another interface of this server)."
    users = {
        o["name"]
        for o in port["metadata"].get("ownerReferences") or []
        if o.get("kind") == "Server" and o["name"] != server
    }
    for other in view.list("servers", namespace):
        if other["metadata"]["name"] == server or other["metadata"].get("deletionTimestamp"):
            continue
        if any(n.get("port") == name for n in (other.get("spec") or {}).get("networks") or []):
            users.add(other["metadata"]["name"])
    held, now = PORTS_NAMED.get((namespace, name)), time.monotonic()
    admitted = held is not None and held[0] != server and held[1] > now
    if held is not None and admitted and view.get("servers", held[0], namespace) is None:
        users.add(held[0])  # admitted a moment ago, not in the index yet
    if users:
        return f"Port {name} is still in use (by server {', '.join(sorted(users))})."
    return None


def image_too_big(
    flavor: Mapping[str, Any], image: Mapping[str, Any], flavor_name: str = ""
) -> str | None:
    """Nova's "flavor too small" texts, as the render refuses them."""
    spec = image.get("spec") or {}
    status = image.get("status") or {}
    disk = compute_render.ImageDisk(
        namespace=image["metadata"]["namespace"],
        data_volume="",
        min_disk_gb=int(spec.get("minDiskGB", 0)),
        min_ram_mb=int(spec.get("minRamMB", 0)),
        virtual_size=status.get("virtualSize"),
        name=image["metadata"]["name"],
    )
    try:
        compute_render.check_flavor_fits_image(
            compute_api.FlavorSpec.model_validate(flavor), disk, flavor_name
        )
    except compute_render.BuildError as error:
        return str(error)
    return None


@kopf.on.validate("compute.nimbus.dev", "v1alpha1", "servers", id="servers",
                  operations=["CREATE", "UPDATE"])  # fmt: skip
async def validate_server(body: kopf.Body, dryrun: bool, memo: kopf.Memo, **kwargs: Any) -> None:
    operation, old, new = kwargs.get("operation", ""), kwargs.get("old"), kwargs.get("new")
    view, api = cache.View.of(kwargs, memo), memo.api
    namespace = str(body["metadata"].get("namespace"))
    if not changed(operation, old, new or dict(body)) or project_of(view, namespace) is None:
        return
    name = str(body["metadata"].get("name", ""))
    spec = body.get("spec") or {}
    flavor = await refer(view, api, "flavors", "flavor", "spec.flavor", spec["flavor"], None)
    image_ref = spec.get("image")
    if image_ref:
        project = image_ref.get("project") or namespace
        field = "spec.image" if project == namespace else f"spec.image (project {project})"
        image = await refer(view, api, "images", "image", field, image_ref["name"], project)
        why = image_refusal(image, namespace) or image_too_big(
            flavor.get("spec") or {}, image, spec["flavor"]
        )
        if why:
            raise kopf.AdmissionError(why)
    if spec.get("keyName"):
        await refer(view, api, "keypairs", "key pair", "spec.keyName", spec["keyName"], namespace)
    if spec.get("serverGroup"):
        await refer(view, api, "servergroups", "server group", "spec.serverGroup",
                     spec["serverGroup"], namespace)  # fmt: skip
    for i, entry in enumerate(spec.get("networks") or []):
        if entry.get("network"):
            await refer(view, api, "networks", "network", f"spec.networks[{i}].network",
                         entry["network"], namespace)  # fmt: skip
        if entry.get("port"):
            field = f"spec.networks[{i}].port"
            port = await refer(view, api, "ports", "port", field, entry["port"], namespace)
            why = port_in_use(view, port, namespace, name, spec.get("networks") or [], i)
            if why:
                raise kopf.AdmissionError(f"{field}: {why}", code=409)
    volumes = [("spec.bootVolume.name", (spec.get("bootVolume") or {}).get("name"))]
    volumes += [(f"spec.volumes[{i}].volume", v.get("volume"))
                for i, v in enumerate(spec.get("volumes") or [])]  # fmt: skip
    for field, volume_name in volumes:
        if not volume_name:
            continue
        volume = await refer(view, api, "volumes", "volume", field, volume_name, namespace)
        others = attached_to(view, namespace, volume_name, besides=name)
        if others and not (volume.get("spec") or {}).get("multiattach"):
            raise kopf.AdmissionError(
                f"{field}: Invalid volume: volume {volume_name} is in-use, attached to "
                f"{', '.join(others)}, and is not multiattach; detach it first, or use a "
                "multiattach volume"
            )
    old_flavor = ((old or {}).get("spec") or {}).get("flavor")
    if operation == "CREATE" or old_flavor != spec["flavor"]:
        check_server_quota(view, namespace, name, flavor.get("spec") or {},
                           dry_run=dryrun or operation != "CREATE")  # fmt: skip
    if not dryrun:  # admitted: its ports are held until the index has the server
        until = time.monotonic() + ASSUME_SECONDS
        for entry in spec.get("networks") or []:
            if entry.get("port"):
                PORTS_NAMED[(namespace, entry["port"])] = (name, until)
