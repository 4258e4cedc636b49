"""The blockstorage.nimbus.dev kinds: VolumeType, Volume and Snapshot."""

from __future__ import annotations

from typing import ClassVar, Literal

import pydantic

from nimbus.api import meta

GROUP = "blockstorage.nimbus.dev"


class VolumeTypeSpec(meta.Model):
    """A Cinder volume type: an existing StorageClass, or one Nimbus makes from a CSI driver."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "has(self.storageClass) != has(self.provisioner)",
                "a volume type names exactly one of storageClass (an existing StorageClass) or "
                "provisioner (a CSI driver Nimbus makes a StorageClass for)",
            ),
            meta.rule(
                "!self.isPublic || !has(self.projects) || size(self.projects) == 0",
                "projects: an access list is only for private volume types (isPublic: false)",
                field_path=".projects",
            ),
        )
    )

    storage_class: meta.Name | None = pydantic.Field(
        default=None,
        json_schema_extra=meta.immutable("storageClass", "create a new volume type"),
    )
    provisioner: str | None = pydantic.Field(
        default=None,
        max_length=253,
        json_schema_extra=meta.immutable("provisioner", "create a new volume type"),
    )
    parameters: dict[str, meta.Value] = pydantic.Field(
        default_factory=dict,
        max_length=64,
        description="StorageClass parameters for the provisioner.",
        json_schema_extra=meta.immutable(
            "parameters", "a StorageClass's parameters cannot change; create a new volume type"
        ),
    )
    snapshot_class: meta.Name | None = pydantic.Field(
        default=None, description="An existing VolumeSnapshotClass; default: one Nimbus makes."
    )
    allow_volume_expansion: bool = True
    is_public: bool = True
    projects: list[meta.Name] = pydantic.Field(
        default_factory=list, max_length=1024, json_schema_extra=meta.LIST_SET
    )
    extra_specs: dict[str, meta.Value] = pydantic.Field(default_factory=dict, max_length=128)
    description: str = pydantic.Field(default="", max_length=255)


class VolumeTypeStatus(meta.Status):
    storage_class: str | None = None
    volume_snapshot_class: str | None = None


class VolumeType(meta.Resource):
    """A Cinder volume type: a StorageClass (and VolumeSnapshotClass)."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "volumetypes"
    short_names: ClassVar[tuple[str, ...]] = ("osvoltype",)
    scope: ClassVar[Literal["Namespaced", "Cluster"]] = "Cluster"
    openstack: ClassVar[str] = "Cinder volume type"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Is Public", ".spec.isPublic", "boolean"),
        meta.Column("Storage Class", ".status.storageClass"),
        meta.Column("Description", ".spec.description", priority=1),
        meta.AGE,
    )

    spec: VolumeTypeSpec
    status: VolumeTypeStatus | None = None


class ImageSource(meta.Model):
    name: meta.Name
    project: str | None = pydantic.Field(default=None, max_length=63)


class VolumeSource(meta.Model):
    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "[has(self.image), has(self.snapshot), has(self.volume)].filter(x, x).size() <= 1",
                "source names at most one of image, snapshot or volume",
            )
        )
    )

    image: ImageSource | None = None
    snapshot: meta.Name | None = None
    volume: meta.Name | None = None


VolumeState = Literal[
    "creating", "available", "reserved", "attaching", "in-use", "detaching", "maintenance",
    "deleting", "awaiting-transfer", "error", "error_deleting", "backing-up",
    "restoring-backup", "error_restoring", "error_extending", "downloading", "uploading",
    "retyping", "extending",
]  # fmt: skip


class VolumeSpec(meta.Model):
    """A Cinder volume: blank, or from an image, a snapshot or another volume."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "has(self.sizeGB) || (has(self.source) && "
                "(has(self.source.snapshot) || has(self.source.volume)))",
                "sizeGB is required, unless the volume is made from a snapshot or a volume",
                field_path=".sizeGB",
            ),
            meta.rule(
                "has(self.sizeGB) == has(oldSelf.sizeGB) || has(self.sizeGB)",
                "sizeGB cannot be removed once set",
                field_path=".sizeGB",
            ),
        )
    )

    size_gb: int | None = pydantic.Field(
        default=None,
        ge=1,
        le=65536,
        json_schema_extra=meta.validations(
            meta.rule(
                "self >= oldSelf",
                "sizeGB may only grow: a volume can be extended, never shrunk, as in Cinder",
            )
        ),
    )
    volume_type: meta.Name | None = pydantic.Field(
        default=None,
        description="Default: the cluster's default volume type.",
        json_schema_extra=meta.immutable(
            "volumeType", "retyping is not supported; create a volume of the new type"
        ),
    )
    source: VolumeSource | None = pydantic.Field(
        default=None,
        json_schema_extra=meta.immutable("source", "a volume is made from its source once"),
    )
    availability_zone: str | None = pydantic.Field(default=None, max_length=63)
    multiattach: bool = pydantic.Field(
        default=False,
        json_schema_extra=meta.immutable("multiattach", "create a multiattach volume instead"),
    )
    bootable: bool | None = pydantic.Field(
        default=None, description="Default: true when made from an image."
    )
    description: str = pydantic.Field(default="", max_length=255)
    metadata: dict[str, meta.Value] = pydantic.Field(default_factory=dict, max_length=128)


class Attachment(meta.Model):
    server: str
    device: str | None = None
    attached_at: str | None = pydantic.Field(
        default=None, json_schema_extra={"format": "date-time"}
    )


class VolumeStatus(meta.Status):
    status: VolumeState | None = None
    size_gb: int | None = None
    bootable: bool | None = None
    attachments: list[Attachment] = pydantic.Field(
        default_factory=list, json_schema_extra=meta.list_map("server")
    )
    persistent_volume_claim: str | None = None


class Volume(meta.Resource):
    """A Cinder volume: a PersistentVolumeClaim (through a CDI DataVolume where it is cloned)."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "volumes"
    short_names: ClassVar[tuple[str, ...]] = ("osvol",)
    openstack: ClassVar[str] = "Cinder volume"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Status", ".status.status"),
        meta.Column("Size", ".spec.sizeGB", "integer", description="GB"),
        meta.Column("Type", ".spec.volumeType"),
        meta.Column("Bootable", ".status.bootable", "boolean"),
        meta.Column("Attached To", ".status.attachments[*].server"),
        meta.AGE,
    )

    spec: VolumeSpec
    status: VolumeStatus | None = None


class SnapshotSpec(meta.Model):
    """A Cinder snapshot of a volume."""

    volume: meta.Name = pydantic.Field(
        json_schema_extra=meta.immutable("volume", "a snapshot is of one volume")
    )
    force: bool = pydantic.Field(
        default=False, description="Snapshot a volume that is in use, as Cinder's --force."
    )
    description: str = pydantic.Field(default="", max_length=255)
    metadata: dict[str, meta.Value] = pydantic.Field(default_factory=dict, max_length=128)


class SnapshotStatus(meta.Status):
    status: Literal["creating", "available", "deleting", "error", "error_deleting"] | None = None
    progress: str | None = None
    size_gb: int | None = None
    volume_snapshot: str | None = None


class Snapshot(meta.Resource):
    """A Cinder volume snapshot: a CSI VolumeSnapshot (snapshot.storage.k8s.io)."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "snapshots"
    short_names: ClassVar[tuple[str, ...]] = ("ossnap",)
    openstack: ClassVar[str] = "Cinder snapshot"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Volume", ".spec.volume"),
        meta.Column("Status", ".status.status"),
        meta.Column("Size", ".status.sizeGB", "integer", description="GB"),
        meta.AGE,
    )

    spec: SnapshotSpec
    status: SnapshotStatus | None = None
