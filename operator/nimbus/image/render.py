"""Image -> CDI DataVolume, and the RBAC that lets other projects clone a shared image."""

from __future__ import annotations

import dataclasses
from typing import Any

from nimbus.identity.api import PROJECT_GROUP
from nimbus.image import api
from nimbus.runtime import templating

DEFAULT_SIZE_GB = 10
"""An image's DataVolume size when the image names no minDiskGB (Glance stores no size first)."""


@dataclasses.dataclass(frozen=True)
class ImageInputs:
    name: str
    namespace: str
    spec: api.ImageSpec
    owner: dict[str, Any] | None = None
    storage_class: str | None = None
    default_size_gb: int = DEFAULT_SIZE_GB


def data_volume_name(image: str) -> str:
    """The DataVolume (and PVC) holding an image's golden disk."""
    return f"image-{image}"


def _labels(inputs: ImageInputs) -> dict[str, str]:
    return {"app.kubernetes.io/managed-by": "nimbus", "image.nimbus.dev/image": inputs.name}


def render_data_volume(inputs: ImageInputs) -> dict[str, Any]:
    """The DataVolume importing the image: from http (checksum verified by CDI) or a registry."""
    source = inputs.spec.source
    if source is None:
        raise ValueError("an image without a source has no data to import yet")
    if source.http is not None:
        http: dict[str, Any] = {"url": source.http.url}
        if source.http.checksum:
            http["checksum"] = source.http.checksum
        data_source: dict[str, Any] = {"http": http}
    elif source.registry is not None:
        data_source = {"registry": {"url": source.registry.url}}
    else:
        raise ValueError("an image's source names exactly one of http or registry")
    storage: dict[str, Any] = {
        "resources": {
            "requests": {"storage": f"{inputs.spec.min_disk_gb or inputs.default_size_gb}Gi"}
        }
    }
    if inputs.storage_class:
        storage["storageClassName"] = inputs.storage_class
    return templating.render(
        "image-datavolume.yaml.j2",
        name=data_volume_name(inputs.name),
        namespace=inputs.namespace,
        labels=_labels(inputs),
        owner=[inputs.owner] if inputs.owner else [],
        source=data_source,
        storage=storage,
    )


def clone_subjects(spec: api.ImageSpec) -> list[dict[str, str]]:
    """Who may read and clone the image: nobody else when private; when shared, the members'
    service accounts and their projects' group (which the OpenStack API asserts for a token
    scoped to the project); everyone when public."""
    if spec.visibility == "public":
        groups = ["system:authenticated", "system:serviceaccounts"]
    elif spec.visibility == "shared":
        groups = [
            group
            for member in sorted(spec.members)
            for group in (f"system:serviceaccounts:{member}", PROJECT_GROUP + member)
        ]
    else:
        groups = []
    return [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in groups]


def render_clone_rbac(inputs: ImageInputs) -> list[dict[str, Any]]:
    """A Role allowing CDI's clone (datavolumes/source) of this image only, and reading the Image
    (for a shared one also patching it: a member's answer, which the ValidatingAdmissionPolicy
    `nimbus-image-member-status` confines to its own annotation), and its binding; nothing for
    a private image (the handler deletes what a previous visibility made)."""
    subjects = clone_subjects(inputs.spec)
    if not subjects:
        return []
    name = f"{data_volume_name(inputs.name)}-clone"
    common = {
        "namespace": inputs.namespace,
        "labels": _labels(inputs),
        "owner": [inputs.owner] if inputs.owner else [],
    }
    role = templating.render(
        "image-clone-role.yaml.j2",
        name=name,
        data_volume=data_volume_name(inputs.name),
        image=inputs.name,
        image_verbs=["get", "patch"] if inputs.spec.visibility == "shared" else ["get"],
        **common,
    )
    binding = templating.render(
        "image-clone-rolebinding.yaml.j2", name=name, subjects=subjects, **common
    )
    return [role, binding]
