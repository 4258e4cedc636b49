"""The image.nimbus.dev kinds: Image."""

from __future__ import annotations

from typing import ClassVar, Literal

import pydantic

from nimbus.api import meta

GROUP = "image.nimbus.dev"

_DATA_IMMUTABLE = "an image's data cannot change once uploaded, as in Glance; create a new image"


class HttpSource(meta.Model):
    url: str = pydantic.Field(
        max_length=2048,
        description="An http:// or https:// URL: CDI's http importer fetches it.",
        json_schema_extra=meta.validations(
            meta.rule(
                "self.matches('^https?://[^\\\\s]+$')",
                "url: only http:// and https:// URLs are imported (CDI's http importer "
                "downloads them, and checks checksum); ftp://, file:// and others are not, as "
                "Glance's web-download takes only http(s); for a container disk use "
                "source.registry with a docker:// URL",
            )
        ),
    )
    checksum: str | None = pydantic.Field(
        default=None,
        max_length=71,
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="sha256:<64 hex digits>; the downloaded image is verified against it.",
    )


class RegistrySource(meta.Model):
    url: str = pydantic.Field(
        max_length=2048,
        pattern=r"^docker://[^\s]+$",
        description="A container disk, such as docker://quay.io/containerdisks/fedora:40.",
    )


class ImageSource(meta.Model):
    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "has(self.http) != has(self.registry)",
                "source names exactly one of http or registry",
            )
        )
    )

    http: HttpSource | None = None
    registry: RegistrySource | None = None


# Glance's image properties that Nimbus reads, with the values it understands.
_PROPERTY_RULES = (
    meta.rule(
        "self.all(k, size(k) <= 255)",
        "property keys are at most 255 characters, as in Glance",
    ),
    meta.rule(
        "!('hw_firmware_type' in self) || self['hw_firmware_type'] in ['bios', 'uefi']",
        "hw_firmware_type must be bios or uefi",
    ),
    meta.rule(
        "!('hw_disk_bus' in self) || "
        "self['hw_disk_bus'] in ['virtio', 'scsi', 'sata', 'ide', 'usb']",
        "hw_disk_bus must be one of virtio, scsi, sata, ide, usb",
    ),
    meta.rule(
        "!('os_type' in self) || self['os_type'] in ['linux', 'windows']",
        "os_type must be linux or windows",
    ),
    meta.rule(
        "['architecture', 'hw_architecture'].all(k, !(k in self) || self[k] in "
        "['x86_64', 'aarch64', 'i686', 'ppc64le', 's390x', 'riscv64', 'armv7l'])",
        "architecture must be one of x86_64, aarch64, i686, ppc64le, s390x, riscv64, armv7l",
    ),
)


class ImageSpec(meta.Model):
    """A Glance image: a golden disk that servers and volumes are cloned from."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "self.visibility == 'shared' || !has(self.members) || size(self.members) == 0",
                "members: only a shared image has members; set visibility: shared",
                field_path=".members",
            ),
            meta.rule(
                "has(self.source) || !has(oldSelf.source)",
                "source cannot be removed once set: " + _DATA_IMMUTABLE,
                field_path=".source",
            ),
        )
    )

    source: ImageSource | None = pydantic.Field(
        default=None,
        description="Where the image's data comes from. Without it the image is queued, as a "
        "Glance image before its data: setting it once (Glance's web-download import does) "
        "starts the import.",
        json_schema_extra=meta.immutable("source", _DATA_IMMUTABLE),
    )
    disk_format: Literal["raw", "qcow2", "iso", "vmdk", "vhd", "vhdx", "vdi"] = pydantic.Field(
        default="qcow2", json_schema_extra=meta.immutable("diskFormat", _DATA_IMMUTABLE)
    )
    container_format: Literal["bare", "ovf", "ova", "docker", "compressed"] = pydantic.Field(
        default="bare", json_schema_extra=meta.immutable("containerFormat", _DATA_IMMUTABLE)
    )
    min_disk_gb: int = pydantic.Field(default=0, ge=0, le=65536)
    min_ram_mb: int = pydantic.Field(default=0, ge=0, le=2**31 - 1)
    visibility: Literal["private", "shared", "public"] = "private"
    members: list[str] = pydantic.Field(
        default_factory=list,
        max_length=128,
        description="Projects a shared image is shared with.",
        json_schema_extra=meta.LIST_SET,
    )
    protected: bool = pydantic.Field(
        default=False, description="A protected image cannot be deleted, as in Glance."
    )
    tags: list[str] = pydantic.Field(
        default_factory=list, max_length=128, json_schema_extra=meta.LIST_SET
    )
    properties: dict[str, meta.Value] = pydantic.Field(
        default_factory=dict,
        max_length=128,
        description="Glance image properties: hw_firmware_type, hw_disk_bus, os_type, ...",
        json_schema_extra=meta.validations(*_PROPERTY_RULES),
    )


# A member project's answer to an image shared with it (Glance's member status), kept on the
# Image as the annotation `member-status.image.nimbus.dev/<project>`: absent means pending. The
# member writes it (the image's Role grants its project's group patch on this one Image), and
# the ValidatingAdmissionPolicy `nimbus-image-member-status` lets such a writer change nothing
# else (nimbus.identity.roles.member_status_policy).
MEMBER_STATUS = "member-status.image.nimbus.dev/"
MEMBER_STATUSES = ("pending", "accepted", "rejected")


ImageState = Literal[
    "queued", "saving", "uploading", "importing", "active", "killed", "deleted",
    "pending_delete", "deactivated",
]  # fmt: skip


class ImageStatus(meta.Status):
    status: ImageState | None = None
    progress: str | None = pydantic.Field(default=None, description="Download progress, as 45.2%.")
    size: int | None = pydantic.Field(default=None, ge=0, description="Bytes stored.")
    virtual_size: int | None = pydantic.Field(default=None, ge=0, description="Disk size, bytes.")
    checksum: str | None = None
    data_volume: str | None = None
    reason: str | None = None


class Image(meta.Resource):
    """A Glance image: a CDI DataVolume holding a golden disk."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "images"
    short_names: ClassVar[tuple[str, ...]] = ("osimage",)
    openstack: ClassVar[str] = "Glance image"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Status", ".status.status"),
        meta.Column("Disk Format", ".spec.diskFormat"),
        meta.Column("Visibility", ".spec.visibility"),
        meta.Column("Size", ".status.size", "integer", description="bytes"),
        meta.Column("Progress", ".status.progress", priority=1),
        meta.AGE,
    )

    spec: ImageSpec
    status: ImageStatus | None = None
