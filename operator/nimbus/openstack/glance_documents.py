"""Image custom resources as Glance v2 documents: images, members, the schemas the clients
fetch, and the import methods.

Pure: an Image body in, the document Glance would answer out; ids, names and times as
documents gives them."""

from __future__ import annotations

import typing
import urllib.parse
from collections.abc import Mapping
from typing import Any

from nimbus.image import api as image_api
from nimbus.openstack import documents

IMPORT_ANNOTATION = "openstack.nimbus.dev/import-method"
"""On an Image given its source by Glance's import: it is `importing` until the operator has it."""
IMPORT_METHODS = ("web-download",)

# Keys of Glance's image document that a property may not shadow.
_IMAGE_KEYS = frozenset({
    "id", "name", "status", "visibility", "protected", "os_hidden", "disk_format",
    "container_format", "size", "virtual_size", "min_disk", "min_ram", "checksum",
    "os_hash_algo", "os_hash_value", "owner", "created_at", "updated_at", "tags", "self", "file",
    "schema", "locations", "direct_url",
})  # fmt: skip


def image_name(body: Mapping[str, Any]) -> str | None:
    """The image's OpenStack name; null for one created without a name (an empty name
    annotation)."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    if annotations.get(documents.NAME_ANNOTATION) == "":
        return None
    return documents.display_name(body)


def image_status(body: Mapping[str, Any]) -> str:
    """Glance's status word: `queued` while the image has no source (no data yet),
    `importing` while the operator imports what Glance's import gave it, else the operator's."""
    spec = body.get("spec") or {}
    word = (body.get("status") or {}).get("status") or "queued"
    if not spec.get("source"):
        return "queued"
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    if IMPORT_ANNOTATION in annotations and word in ("queued", "saving"):
        return "importing"
    return str(word)


def image(body: Mapping[str, Any], *, base_url: str, owner: str) -> dict[str, Any]:
    """A Glance v2 image, its properties as top-level keys. self, file and schema are paths,
    as Glance gives them, under the path of `base_url` (`/image/v2/images/<id>` for an image
    endpoint at `http://host/image`)."""
    spec = image_api.ImageSpec.model_validate(body.get("spec") or {})
    status = image_api.ImageStatus.model_validate(body.get("status") or {})
    ident = documents.uid(body)
    prefix = urllib.parse.urlsplit(base_url).path.rstrip("/")
    algo, value = None, None
    if status.checksum and ":" in status.checksum:
        algo, value = status.checksum.split(":", 1)
    document: dict[str, Any] = {
        key: value for key, value in spec.properties.items() if key not in _IMAGE_KEYS
    }
    document.update({
        "id": ident,
        "name": image_name(body),
        "status": image_status(body),
        "visibility": spec.visibility,
        "protected": spec.protected,
        "os_hidden": False,
        "disk_format": spec.disk_format,
        "container_format": spec.container_format,
        "size": status.size,
        "virtual_size": status.virtual_size,
        "min_disk": spec.min_disk_gb,
        "min_ram": spec.min_ram_mb,
        "checksum": None,  # Glance's md5: CDI verifies sha256 only
        "os_hash_algo": algo,
        "os_hash_value": value,
        "owner": owner,
        "created_at": documents.created(body),
        "updated_at": documents.updated(body),
        "tags": list(spec.tags),
        "self": f"{prefix}/v2/images/{ident}",
        "file": f"{prefix}/v2/images/{ident}/file",
        "schema": f"{prefix}/v2/schemas/image",
    })  # fmt: skip
    return document


# --- members --------------------------------------------------------------------------------


def member(body: Mapping[str, Any], member_id: str, project: str) -> dict[str, Any]:
    """A member (`project`, of that id) of a shared image, as Glance shows it: its status is the
    member's answer (the annotation image_api.MEMBER_STATUS + project), pending until given."""
    annotations = body["metadata"].get("annotations") or {}
    return {
        "member_id": member_id,
        "image_id": documents.uid(body),
        "status": annotations.get(image_api.MEMBER_STATUS + project) or "pending",
        "created_at": documents.created(body),
        "updated_at": documents.updated(body),
        "schema": "/v2/schemas/member",
    }


def members(body: Mapping[str, Any], projects: Mapping[str, str]) -> dict[str, Any]:
    """The members (member id -> project name) of a shared image."""
    return {"members": [member(body, m, p) for m, p in projects.items()],
            "schema": "/v2/schemas/members"}  # fmt: skip


def import_info() -> dict[str, Any]:
    """GET /v2/info/import: the import methods this cloud serves."""
    return {"import-methods": {"description": "Import methods available.", "type": "array",
                               "value": list(IMPORT_METHODS)}}  # fmt: skip


# --- schemas (GET /v2/schemas/...) ----------------------------------------------------------

_UUID = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"


def _text(description: str, *, nullable: bool = False, read_only: bool = False,
          max_length: int | None = None) -> dict[str, Any]:  # fmt: skip
    schema: dict[str, Any] = {"type": ["null", "string"] if nullable else "string",
                              "description": description}  # fmt: skip
    if read_only:
        schema["readOnly"] = True
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def _image_properties() -> dict[str, Any]:
    """Glance's base image properties, with the formats and visibilities Nimbus takes, and the
    properties the Image kind checks (`is_base: false`, as Glance marks a deployer's own)."""
    spec = image_api.ImageSpec.model_fields
    disks = list(typing.get_args(spec["disk_format"].annotation))
    containers = list(typing.get_args(spec["container_format"].annotation))
    visibilities = list(typing.get_args(spec["visibility"].annotation))
    states = list(typing.get_args(image_api.ImageState))
    integer = {"type": ["null", "integer"], "readOnly": True}
    properties: dict[str, Any] = {
        "id": {"type": "string", "description": "The image's id", "pattern": _UUID},
        "name": _text("The image's name", nullable=True, max_length=255),
        "status": {"type": "string", "readOnly": True, "description": "The image's status",
                   "enum": states},
        "visibility": {"type": "string", "description": "Who may see and use the image",
                       "enum": visibilities},
        "protected": {"type": "boolean", "description": "A protected image cannot be deleted"},
        "os_hidden": {"type": "boolean", "description": "Left out of image lists (never here)"},
        "checksum": _text("md5 of the image's data", nullable=True, read_only=True, max_length=32),
        "os_hash_algo": _text("The algorithm of os_hash_value", nullable=True, read_only=True,
                              max_length=64),
        "os_hash_value": _text("The image data's digest", nullable=True, read_only=True,
                               max_length=128),
        "owner": _text("The project owning the image", nullable=True, max_length=255),
        "size": {**integer, "description": "The image data's size, in bytes"},
        "virtual_size": {**integer, "description": "The disk's size, in bytes"},
        "container_format": {"type": ["null", "string"], "description": "The container format",
                             "enum": [None, *containers]},
        "disk_format": {"type": ["null", "string"], "description": "The disk format",
                        "enum": [None, *disks]},
        "created_at": _text("When the image was made", read_only=True),
        "updated_at": _text("When the image last changed", read_only=True),
        "tags": {"type": "array", "description": "The image's tags",
                 "items": {"type": "string", "maxLength": 255}},
        "direct_url": _text("Where the image's data is kept", read_only=True),
        "min_ram": {"type": "integer", "description": "RAM needed to boot the image, in MB"},
        "min_disk": {"type": "integer", "description": "Disk needed to boot the image, in GB"},
        "self": _text("The image's URL", read_only=True),
        "file": _text("The image data's URL", read_only=True),
        "stores": _text("The stores holding the image's data", read_only=True),
        "schema": _text("The image schema's URL", read_only=True),
        "locations": {"type": "array", "description": "Where the image's data is kept",
                      "items": {"type": "object", "required": ["url", "metadata"],
                                "properties": {"url": {"type": "string", "maxLength": 255},
                                               "metadata": {"type": "object"}}}},
    }  # fmt: skip
    architectures = ["x86_64", "aarch64", "i686", "ppc64le", "s390x", "riscv64", "armv7l"]
    checked = {
        "architecture": architectures, "hw_architecture": architectures,
        "hw_firmware_type": ["bios", "uefi"],
        "hw_disk_bus": ["virtio", "scsi", "sata", "ide", "usb"],
        "os_type": ["linux", "windows"],
    }  # fmt: skip
    for key, values in checked.items():
        properties[key] = {"type": "string", "description": f"Checked by Nimbus: {key}",
                           "enum": values, "is_base": False}  # fmt: skip
    return properties


_IMAGE_LINKS = [{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"},
                {"rel": "describedby", "href": "{schema}"}]  # fmt: skip


def image_schema() -> dict[str, Any]:
    """GET /v2/schemas/image: Glance's permissive image schema (custom properties are strings)."""
    return {"name": "image", "properties": _image_properties(),
            "additionalProperties": {"type": "string"}, "links": _IMAGE_LINKS}  # fmt: skip


def images_schema() -> dict[str, Any]:
    return {
        "name": "images",
        "properties": {"images": {"type": "array", "items": image_schema()},
                       "first": {"type": "string"}, "next": {"type": "string"},
                       "schema": {"type": "string"}},
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }  # fmt: skip


def member_schema() -> dict[str, Any]:
    return {
        "name": "member",
        "properties": {
            "member_id": {"type": "string", "description": "The member project's id"},
            "image_id": {"type": "string", "description": "The image's id", "pattern": _UUID},
            "created_at": {"type": "string", "description": "When the member was added"},
            "updated_at": {"type": "string", "description": "When the member last changed"},
            "status": {"type": "string", "description": "The member's answer",
                       "enum": ["pending", "accepted", "rejected"]},
            "schema": {"readOnly": True, "type": "string"},
        },
    }  # fmt: skip


def members_schema() -> dict[str, Any]:
    return {
        "name": "members",
        "properties": {"members": {"type": "array", "items": member_schema()},
                       "schema": {"type": "string"}},
        "links": [{"rel": "describedby", "href": "{schema}"}],
    }  # fmt: skip
