"""Image custom resources as Glance v2 image documents.

Pure: an Image body in, the document Glance would answer out; ids, names and times as
documents gives them."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from nimbus.image import api as image_api
from nimbus.openstack import documents

# Keys of Glance's image document that a property may not shadow.
_IMAGE_KEYS = frozenset({
    "id", "name", "status", "visibility", "protected", "os_hidden", "disk_format",
    "container_format", "size", "virtual_size", "min_disk", "min_ram", "checksum",
    "os_hash_algo", "os_hash_value", "owner", "created_at", "updated_at", "tags", "self", "file",
    "schema", "locations", "direct_url",
})  # fmt: skip


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
        "name": documents.display_name(body),
        "status": status.status or "queued",
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
