"""Glance v2's image update (PATCH /v2/images/{id}, a JSON patch of draft 4 or 10) as a merge
patch of the Image.

Pure: the Image as read and the changes in; the merge patch, or the fault Glance answers, in
its words, out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nimbus.image import api as image_api
from nimbus.openstack import documents, glance_documents, glance_requests
from nimbus.openstack.faults import Fault

_PATCH_TYPES = {
    "application/openstack-images-v2.0-json-patch": 4,
    "application/openstack-images-v2.1-json-patch": 10,
}


def patch_version(content_type: str) -> int:
    """The JSON schema draft of a PATCH's media type, or Glance's 415."""
    if content_type not in _PATCH_TYPES:
        allowed = ", ".join(sorted(_PATCH_TYPES))
        raise Fault(415, f"Image PATCH expects Content-Type one of: {allowed}")
    return _PATCH_TYPES[content_type]


def _pointer(pointer: Any) -> list[str]:
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise Fault(400, f'Pointer `{pointer}` does not start with "/".')
    if pointer.endswith("/") and len(pointer) > 1:
        raise Fault(400, f'Pointer `{pointer}` end with "/".')
    if "//" in pointer:
        raise Fault(400, f'Pointer `{pointer}` contains adjacent "/".')
    parts = pointer[1:].split("/")
    if any("~" in p.replace("~0", "").replace("~1", "") for p in parts):
        raise Fault(400, f'Pointer `{pointer}` contains "~" not part of a recognized escape '
                    "sequence.")  # fmt: skip
    return [p.replace("~1", "/").replace("~0", "~").strip() for p in parts]


def _operation(change: Any, draft: int) -> tuple[str, list[str], Any]:
    """One change as (op, path, value), read as Glance reads draft 4 and draft 10 patches."""
    if not isinstance(change, Mapping):
        raise Fault(400, "Operations must be JSON objects.")
    ops = ("add", "remove", "replace")
    if draft == 10:
        op = change.get("op")
        if op not in ops:
            raise Fault(400, f"Invalid operation: `{op}`. It must be one of the following: "
                        f"{', '.join(ops)}.")  # fmt: skip
        if "path" not in change:
            raise Fault(400, "Unable to find 'path' in JSON Schema change")
        pointer = change["path"]
    else:
        given = [k for k in ops if k in change]
        if len(given) != 1:
            raise Fault(400, 'Operation objects must contain exactly one member named "add", '
                        '"remove", or "replace".')  # fmt: skip
        op, pointer = given[0], change[given[0]]
    path = _pointer(pointer)
    if len(path) != 1:
        raise Fault(400, f"Invalid JSON pointer for this resource: '/{'/'.join(path)}'")
    if op != "remove" and "value" not in change:
        raise Fault(400, f'Operation "{op}" requires a member named "value".')
    return str(op), path, change.get("value")


def _state(image: Mapping[str, Any]) -> dict[str, Any]:
    """What a PATCH may change, as Glance names it."""
    spec = image_api.ImageSpec.model_validate(image.get("spec") or {})
    return {
        "name": glance_documents.image_name(image),
        "visibility": spec.visibility,
        "protected": spec.protected,
        "min_disk": spec.min_disk_gb,
        "min_ram": spec.min_ram_mb,
        "tags": list(spec.tags),
        "disk_format": spec.disk_format,
        "container_format": spec.container_format,
        "properties": dict(spec.properties),
        "members": list(spec.members),
    }


_SETTERS = {
    "name": glance_requests.name,
    "visibility": glance_requests.visibility,
    "protected": lambda v: glance_requests.boolean("protected", v),
    "min_disk": lambda v: glance_requests.size_limit("min_disk", v),
    "min_ram": lambda v: glance_requests.size_limit("min_ram", v),
    "tags": glance_requests.tags,
}


def _apply(state: dict[str, Any], op: str, key: str, value: Any, draft: int,
           project_id: str) -> None:  # fmt: skip
    glance_requests.check_key(key)
    properties: dict[str, str] = state["properties"]
    if op == "remove":
        if key in glance_requests.BASE or key == "locations":
            raise Fault(403, f"Property {key} may not be removed.")
        if key not in properties:
            raise Fault(409, f"Property {key} does not exist.")
        del properties[key]
        return
    if key == "locations":
        raise Fault(403, glance_requests.LOCATIONS.format(verb="update"))
    if key == "owner":
        if value != project_id:
            raise Fault(403, "Owner can't be updated by non admin. (In Nimbus by no one: an "
                        "image stays in its project's namespace.)")  # fmt: skip
        return
    if key == "os_hidden":
        glance_requests.hidden(value)
        return
    if key in ("disk_format", "container_format"):
        checked = (
            glance_requests.disk_format(value)
            if key == "disk_format"
            else glance_requests.container_format(value)
        )
        if checked != state[key]:
            raise Fault(403, f"Attribute '{key}' cannot be changed: Nimbus fixes an image's "
                        f"disk and container format when the image is created ({key} is "
                        f"{state[key]}); create a new image with the format wanted")  # fmt: skip
        return
    if key in _SETTERS:
        if op == "add" and draft == 4:
            raise Fault(409, f"Property {key} already present.")
        state[key] = _SETTERS[key](value)
        return
    if op == "replace" and key not in properties:
        raise Fault(409, f"Property {key} does not exist.")
    if op == "add" and draft == 4 and key in properties:
        raise Fault(409, f"Property {key} already present.")
    properties[key] = glance_requests.property_value(key, value)
    glance_requests.property_count(properties)


def image_patch(
    image: Mapping[str, Any], changes: Any, *, draft: int, project_id: str
) -> dict[str, Any]:
    """PATCH /v2/images/{id}: the merge patch of the Image that makes the changes, in order (an
    empty one when nothing changes). A name Kubernetes cannot hold is kept in the name
    annotation; an image made other than shared loses its members, whom only a shared image
    has."""
    if not isinstance(changes, list):
        raise Fault(400, "Request body must be a JSON array of operation objects.")
    before = _state(image)
    after = _state(image)
    for change in changes:
        op, (key,), value = _operation(change, draft)
        _apply(after, op, key, value, draft, project_id)
    if after["visibility"] != "shared":
        after["members"] = []
    patch: dict[str, Any] = {}
    spec: dict[str, Any] = {}
    fields = (("visibility", "visibility"), ("protected", "protected"),
              ("min_disk", "minDiskGB"), ("min_ram", "minRamMB"), ("tags", "tags"))  # fmt: skip
    for key, field in fields:
        if after[key] != before[key]:
            spec[field] = after[key]
    if after["members"] != before["members"]:
        spec["members"] = after["members"] or None
    if after["properties"] != before["properties"]:
        gone = {k: None for k in before["properties"] if k not in after["properties"]}
        spec["properties"] = {**gone, **{k: v for k, v in after["properties"].items()
                                         if before["properties"].get(k) != v}}  # fmt: skip
    if spec:
        patch["spec"] = spec
    if after["name"] != before["name"]:
        kube = str((image.get("metadata") or {}).get("name", ""))
        shown = after["name"]
        annotation = None if shown == kube else (shown if shown is not None else "")
        patch["metadata"] = {"annotations": {documents.NAME_ANNOTATION: annotation}}
    return patch
