"""Glance v2's request bodies as Image specs and merge patches: create (POST /v2/images),
import (POST /v2/images/{id}/import) and the members'; and the checks of each value, which
glance_patch (PATCH) and glance_listing (the list's filters) share.

Pure: the request and the Image as read in; the OpenStack name and spec, or the merge patch,
out; or the fault Glance answers, in its words. Every refusal of a value names the field, the
value and what is accepted."""

from __future__ import annotations

import typing
import urllib.parse
from collections.abc import Mapping
from typing import Any

from nimbus.image import api as image_api
from nimbus.openstack import glance_documents
from nimbus.openstack.faults import Fault

Body = Mapping[str, Any]

DISK_FORMATS: tuple[str, ...] = typing.get_args(image_api.ImageSpec.model_fields["disk_format"]
                                                .annotation)  # fmt: skip
CONTAINER_FORMATS: tuple[str, ...] = typing.get_args(
    image_api.ImageSpec.model_fields["container_format"].annotation
)
VISIBILITIES = ("private", "shared", "public")  # Glance's, but community: Nimbus has none
MEMBER_STATUSES = image_api.MEMBER_STATUSES
IMPORT_METHODS = glance_documents.IMPORT_METHODS
# The Image kind's bounds (image.api): Glance's defaults are larger (image_property_quota,
# image_tag_quota, image_member_quota: 128 each), so its 413s read the same.
MAX_ITEMS = 128
MAX_MIN_DISK = 65536
MAX_MIN_RAM = 2**31 - 1
MAX_URL = 2048

# Glance's RequestDeserializer: what a client may not write, and the keys of its own.
_DISALLOWED = ("direct_url", "self", "file", "schema", "stores")
_READ_ONLY = (
    "created_at", "updated_at", "status", "checksum", "size", "virtual_size", "direct_url",
    "self", "file", "schema", "id", "os_hash_algo", "os_hash_value",
)  # fmt: skip
_RESERVED = ("location", "deleted", "deleted_at")
_RESERVED_NAMESPACE = "os_glance"
LOCATIONS = (
    "It's not allowed to {verb} locations if locations are invisible: Nimbus imports an image's "
    "data itself (POST /v2/images/{{id}}/import with web-download)"
)
BASE = ("checksum", "created_at", "container_format", "disk_format", "id", "min_disk", "min_ram",
        "name", "size", "virtual_size", "status", "tags", "owner", "updated_at", "visibility",
        "protected", "os_hidden")  # fmt: skip


def invalid(param: str, value: Any, accepted: str) -> Fault:
    """Glance's InvalidParameterValue (400), saying what would be accepted."""
    return Fault(400, f"Invalid value '{value}' for parameter '{param}': {accepted}")


def _read_only(key: str) -> Fault:
    return Fault(403, f"Attribute '{key}' is read-only.")


def _reserved(key: str) -> Fault:
    return Fault(403, f"Attribute '{key}' is reserved.")


def check_key(key: str) -> None:
    """Refuse what no client may write: Glance's read-only and reserved attributes."""
    if key in _READ_ONLY or key in _DISALLOWED:
        raise _read_only(key)
    if key in _RESERVED or key.startswith(_RESERVED_NAMESPACE):
        raise _reserved(key)


# --- values ---------------------------------------------------------------------------------


def name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 255:
        raise invalid("name", value, "a string of at most 255 characters, or null")
    return value


def visibility(value: Any) -> str:
    if value not in VISIBILITIES:
        why = ("Nimbus has no community images: an image is private, shared with chosen "
               "projects, or public" if value == "community" else "")  # fmt: skip
        raise invalid("visibility", value, f"one of {', '.join(VISIBILITIES)}"
                      + (f" ({why})" if why else ""))  # fmt: skip
    return str(value)


def boolean(param: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise invalid(param, value, "true or false")
    return value


def hidden(value: Any) -> None:
    if boolean("os_hidden", value):
        raise invalid("os_hidden", value, "false only: Nimbus does not hide images from lists")


def size_limit(param: str, value: Any) -> int:
    """min_disk (GB) or min_ram (MB): a whole number from 0 to the kind's bound."""
    maximum = MAX_MIN_DISK if param == "min_disk" else MAX_MIN_RAM
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(param, value, f"a whole number from 0 to {maximum}")
    if value < 0:
        raise invalid(param, value, "Cannot be a negative value")
    if value > maximum:
        raise invalid(param, value, f"at most {maximum}")
    return value


def tags(value: Any) -> list[str]:
    """A list of strings (at most 255 characters each); duplicates kept once, as Glance does."""
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise invalid("tags", value, "a list of strings")
    long = next((t for t in value if len(t) > 255), None)
    if long is not None:
        raise invalid("tags", long, "a tag is at most 255 characters")
    unique = list(dict.fromkeys(value))
    if len(unique) > MAX_ITEMS:
        raise Fault(413, "The limit has been exceeded on the number of allowed image tags. "
                    f"Attempted: {len(unique)}, Maximum: {MAX_ITEMS}")  # fmt: skip
    return unique


def disk_format(value: Any) -> str:
    if value not in DISK_FORMATS:
        raise invalid("disk_format", value, f"one of {', '.join(DISK_FORMATS)} (the formats "
                      "CDI imports)")  # fmt: skip
    return str(value)


def container_format(value: Any) -> str:
    if value not in CONTAINER_FORMATS:
        raise invalid("container_format", value, f"one of {', '.join(CONTAINER_FORMATS)}")
    return str(value)


def property_value(key: str, value: Any) -> str:
    """A custom property: Glance's schema holds them to strings; the kind, to 255 characters."""
    if len(key) > 255:
        raise Fault(400, "Custom property should not be greater than 255 characters.")
    if not isinstance(value, str):
        raise invalid(key, value, "a string (Glance's image properties are strings)")
    if len(value) > 255:
        raise invalid(key, value, "at most 255 characters")
    return value


def property_count(properties: Mapping[str, str]) -> None:
    if len(properties) > MAX_ITEMS:
        raise Fault(413, "The limit has been exceeded on the number of allowed image "
                    f"properties. Attempted: {len(properties)}, Maximum: {MAX_ITEMS}")  # fmt: skip


# --- create ---------------------------------------------------------------------------------


def image_create(body: Any, *, project_id: str) -> tuple[str | None, dict[str, Any]]:
    """POST /v2/images: the image's name and the spec of an Image without a source, queued
    until its data is imported. Glance's defaults: visibility shared, nothing protected."""
    if not isinstance(body, Mapping):
        raise Fault(400, "Body expected in request.")
    if "id" in body:
        raise invalid("id", body["id"], "none: leave it out, Nimbus gives every image its id "
                      "(its Kubernetes uid)")  # fmt: skip
    for key in body:
        check_key(str(key))
    spec: dict[str, Any] = {"visibility": "shared"}
    if body.get("visibility") is not None:
        spec["visibility"] = visibility(body["visibility"])
    if "protected" in body:
        spec["protected"] = boolean("protected", body["protected"])
    if "os_hidden" in body:
        hidden(body["os_hidden"])
    if body.get("disk_format") is not None:
        spec["diskFormat"] = disk_format(body["disk_format"])
    if body.get("container_format") is not None:
        spec["containerFormat"] = container_format(body["container_format"])
    for param, field in (("min_disk", "minDiskGB"), ("min_ram", "minRamMB")):
        if body.get(param) is not None:
            spec[field] = size_limit(param, body[param])
    if body.get("tags") is not None:
        spec["tags"] = tags(body["tags"])
    owner = body.get("owner")
    if owner is not None and owner != project_id:
        raise Fault(403, f"You are not permitted to create images owned by '{owner}'.")
    if "locations" in body:
        raise Fault(403, LOCATIONS.format(verb="add"))
    properties = {str(k): property_value(str(k), v) for k, v in body.items() if k not in BASE
                  and k != "locations"}  # fmt: skip
    property_count(properties)
    if properties:
        spec["properties"] = properties
    return name(body.get("name")), spec


# --- import ---------------------------------------------------------------------------------


def image_import(image: Body, status: str, body: Any) -> dict[str, Any]:
    """POST /v2/images/{id}/import with web-download: the merge patch giving the Image its http
    source (the operator then imports it with CDI), or Glance's refusal. `status` is the
    image's Glance status."""
    if not isinstance(body, Mapping):
        raise Fault(400, "Body expected in request.")
    method = body.get("method")
    if not isinstance(method, Mapping):
        raise Fault(400, "Import request requires a 'method' field.")
    if "name" not in method:
        raise Fault(400, "Import request requires a 'name' field.")
    if method["name"] not in IMPORT_METHODS:
        raise Fault(400, f"Unknown import method name '{method['name']}'. This cloud imports "
                    f"with {', '.join(IMPORT_METHODS)} only: CDI downloads the image from a "
                    "URL (create the image, then import it with --method web-download "
                    "--uri <url>)")  # fmt: skip
    for flag in ("all_stores_must_succeed", "all_stores"):
        if flag in body and not isinstance(body[flag], bool):
            raise Fault(400, f"'{flag}' must be boolean value only")
    # all_stores, stores and all_stores_must_succeed mean nothing with the one store there is:
    # `openstack image import` sends all_stores_must_succeed false, and openstacksdk does not
    # check the answer (Glance's 400 for it without enabled_backends would pass unseen).
    uri = method.get("uri")
    if status == "active":
        raise Fault(409, "Image with status active cannot be target for import")
    spec = image.get("spec") or {}
    if status != "queued" or spec.get("source"):
        raise Fault(409, f"Image needs to be in 'queued' state to use '{method['name']}' method")
    if not _downloadable(uri):
        raise Fault(
            400,
            f"URI for web-download does not pass filtering: {uri} (an http:// "
            f"or https:// URL of at most {MAX_URL} characters, which CDI downloads)",
        )
    return {
        "metadata": {"annotations": {glance_documents.IMPORT_ANNOTATION: str(method["name"])}},
        "spec": {"source": {"http": {"url": uri}}},
    }


def _downloadable(uri: Any) -> bool:
    """What CDI's http importer takes (the Image's url rule): http(s), a host, no spaces."""
    if not isinstance(uri, str) or len(uri) > MAX_URL or any(c.isspace() for c in uri):
        return False
    parsed = urllib.parse.urlsplit(uri)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


# --- members --------------------------------------------------------------------------------


def member_create(body: Any) -> str:
    """POST /v2/images/{id}/members: the member (a project id)."""
    if not isinstance(body, Mapping):
        raise Fault(400, 'Expected a member in the form: {"member": "image_id"}')
    if "member" not in body:
        raise Fault(400, "Member to be added not specified")
    member = body["member"]
    if not member:
        raise Fault(400, "Member can't be empty")
    if not isinstance(member, str):
        raise invalid("member", member, "a project's id, as a string")
    return member


def member_status(body: Any) -> str:
    """PUT /v2/images/{id}/members/{member_id}: the status asked for."""
    if not isinstance(body, Mapping):
        raise Fault(400, 'Expected a status in the form: {"status": "status"}')
    if "status" not in body:
        raise Fault(400, "Status not specified")
    if body["status"] not in MEMBER_STATUSES:
        raise Fault(400, 'Incorrect request: Status must be "pending", "accepted" or "rejected".')
    return str(body["status"])
