"""Custom resources as Nova's server and flavor documents, and what every OpenStack document
of Nimbus shares: names, ids, links and times.

Pure: a CR body (as the API server stores it) in, the document Nova would answer out (Glance's
and Neutron's in glance_documents and neutron_documents; Nova's create request in
server_request). An object's OpenStack id is its metadata.uid; its OpenStack name is the
annotation `openstack.nimbus.dev/name` when Kubernetes cannot hold it as metadata.name
(capitals, spaces, duplicates), else metadata.name (docs: the identity mapping).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import re
import types
import unicodedata
from collections.abc import Collection, Mapping
from typing import Any

from nimbus.compute import api as compute

NAME_ANNOTATION = "openstack.nimbus.dev/name"

MIN_VERSION = (2, 1)
MAX_VERSION = (2, 96)
"""The Nova microversions these documents follow (2.96 is what the `openstack` CLI asks for)."""

_NO_OBJECTS: Mapping[str, Mapping[str, Any]] = types.MappingProxyType({})

# Nova's integer power states (nova.compute.power_state).
POWER_STATES = {
    "NOSTATE": 0, "RUNNING": 1, "PAUSED": 3, "SHUTDOWN": 4, "CRASHED": 6, "SUSPENDED": 7,
}  # fmt: skip

# Nova's status word -> its vm_state (the inverse of nova.api.openstack.common's state map).
# A status that is an action under way keeps the vm_state the action started from: active, or
# stopped for a server resized or rebuilt while shut off (see vm_state).
VM_STATES = {
    "ACTIVE": "active", "BUILD": "building", "SHUTOFF": "stopped", "PAUSED": "paused",
    "SUSPENDED": "suspended", "RESCUE": "rescued", "VERIFY_RESIZE": "resized",
    "REVERT_RESIZE": "resized", "SHELVED": "shelved", "SHELVED_OFFLOADED": "shelved_offloaded",
    "ERROR": "error", "DELETED": "deleted", "SOFT_DELETED": "soft-delete",
}  # fmt: skip
_UNDER_WAY = ("RESIZE", "REBUILD", "REBOOT", "HARD_REBOOT", "MIGRATING", "UNKNOWN")

# Nova shows progress only in these states, and a fault only in the last two.
_PROGRESS_STATUSES = ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")
_FAULT_STATUSES = ("ERROR", "DELETED")

# --- names ----------------------------------------------------------------------------------


def display_name(body: Mapping[str, Any]) -> str:
    """The OpenStack name: the name annotation if present, else metadata.name."""
    metadata = body.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    name = annotations.get(NAME_ANNOTATION)
    return str(name) if name is not None else str(metadata.get("name", ""))


_LABEL_MAX = 63
_SUFFIX = 5


def kube_name(display: str, taken: Collection[str], *, fallback: str = "server") -> str:
    """A DNS label for an OpenStack name: lowercased, accents dropped, anything else but
    letters and digits as '-'; when that changed the name or the result is taken, a short
    suffix from a hash of the name (and a counter) until it is free."""
    ascii_only = unicodedata.normalize("NFKD", display).encode("ascii", "ignore").decode()
    label = re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")[:_LABEL_MAX].rstrip("-")
    label = label or fallback
    if label == display and label not in taken:
        return label
    stem = label[: _LABEL_MAX - _SUFFIX - 1].rstrip("-")
    counter = 0
    while True:
        digest = hashlib.sha256(f"{display}\0{counter}".encode()).hexdigest()[:_SUFFIX]
        candidate = f"{stem}-{digest}"
        if candidate not in taken:
            return candidate
        counter += 1


# --- shared pieces --------------------------------------------------------------------------


# A user's regular expression (a name filter) runs in the API's one event loop: one that could
# backtrack for long matches nothing, as an invalid one does. A group quantified again (`(a+)+`)
# is exponential and more than three quantifiers polynomial of a high degree (`.*.*.*.*.*Z`).
_QUANTIFIED_GROUP = re.compile(r"\)[*+?{]")
_QUANTIFIER = re.compile(r"(?<!\\)[*+?{]")


def user_pattern(text: str) -> re.Pattern[str] | None:
    """A user's regular expression compiled, or None when it is invalid or could take long."""
    if len(text) > 255 or _QUANTIFIED_GROUP.search(text) or len(_QUANTIFIER.findall(text)) > 3:
        return None
    try:
        return re.compile(text)
    except re.error:
        return None


def uid(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("uid", ""))


def _parse_time(stamp: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def _seconds(stamp: str) -> str:
    """Nova's, Glance's and Neutron's timestamps: to the second, with a Z."""
    return _parse_time(stamp).strftime("%Y-%m-%dT%H:%M:%SZ")


def _usage_time(stamp: str | None) -> str | None:
    """OS-SRV-USG's timestamps: a naive datetime's isoformat, as Nova has always printed them."""
    if not stamp:
        return None
    return _parse_time(stamp).strftime("%Y-%m-%dT%H:%M:%S.%f")


def created(body: Mapping[str, Any]) -> str:
    stamp = (body.get("metadata") or {}).get("creationTimestamp")
    return _seconds(stamp) if stamp else "1970-01-01T00:00:00Z"


def updated(body: Mapping[str, Any]) -> str:
    """The last time anything wrote the object: its managed fields, conditions and launch."""
    metadata = body.get("metadata") or {}
    status = body.get("status") or {}
    stamps = [metadata.get("creationTimestamp"), status.get("launchedAt")]
    stamps += [entry.get("time") for entry in metadata.get("managedFields") or []]
    stamps += [c.get("lastTransitionTime") for c in status.get("conditions") or []]
    moments = [_parse_time(s) for s in stamps if s]
    if not moments:
        return created(body)
    return max(moments).strftime("%Y-%m-%dT%H:%M:%SZ")


def _root(base_url: str) -> str:
    """The bookmark root: the endpoint without its version (`.../compute/v2.1` -> `.../compute`)."""
    base = base_url.rstrip("/")
    return re.sub(r"/v\d+(\.\d+)?$", "", base)


def links(base_url: str, collection: str, ident: str) -> list[dict[str, str]]:
    """Nova's self and bookmark links."""
    return [
        {"rel": "self", "href": f"{base_url.rstrip('/')}/{collection}/{ident}"},
        {"rel": "bookmark", "href": f"{_root(base_url)}/{collection}/{ident}"},
    ]


def _bookmark(base_url: str, collection: str, ident: str) -> list[dict[str, str]]:
    return [{"rel": "bookmark", "href": f"{_root(base_url)}/{collection}/{ident}"}]


def host_id(project_id: str, host: str | None) -> str:
    """Nova's hostId: sha224 of the project id and host, '' without a host."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


# --- Nova: servers --------------------------------------------------------------------------


def _check_version(version: tuple[int, int]) -> None:
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise ValueError(f"compute microversion {version[0]}.{version[1]} is not served")


def vm_state(status: str, power_state: str) -> str:
    """Nova's vm_state of a server with this status word and power state."""
    if status in VM_STATES:
        return VM_STATES[status]
    if status in _UNDER_WAY and power_state == "SHUTDOWN":
        return "stopped"
    return "active"


def _addresses(
    status: compute.ServerStatus, networks: Mapping[str, Mapping[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for network, entries in status.addresses.items():
        label = display_name(networks[network]) if network in networks else network
        for entry in entries:
            address: dict[str, Any] = {
                "version": entry.version,
                "addr": entry.addr,
                "OS-EXT-IPS:type": entry.type,
            }
            if entry.mac:
                address["OS-EXT-IPS-MAC:mac_addr"] = entry.mac
            out.setdefault(label, []).append(address)
    return out


def _embedded_flavor(flavor: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    """The flavor a server runs with, as 2.47 embeds it."""
    if flavor is None:  # deleted since: Nova keeps a copy, Nimbus only its name
        return {"vcpus": 0, "ram": 0, "disk": 0, "ephemeral": 0, "swap": 0,
                "original_name": name, "extra_specs": {}}  # fmt: skip
    spec = compute.FlavorSpec.model_validate(flavor.get("spec") or {})
    return {
        "vcpus": spec.vcpus,
        "ram": spec.ram_mb,
        "disk": spec.disk_gb,
        "ephemeral": spec.ephemeral_gb,
        "swap": spec.swap_mb,
        "original_name": display_name(flavor),
        "extra_specs": dict(spec.extra_specs),
    }


def _volumes_attached(
    spec: compute.ServerSpec, volumes: Mapping[str, Mapping[str, Any]], version: tuple[int, int]
) -> list[dict[str, Any]]:
    attached = []
    if spec.boot_volume is not None:
        attached.append((spec.boot_volume.name, spec.boot_volume.delete_on_termination))
    attached += [(v.volume, v.delete_on_termination) for v in spec.volumes]
    out: list[dict[str, Any]] = []
    for name, delete in attached:
        if name not in volumes:
            continue  # not made yet: no id to give
        entry: dict[str, Any] = {"id": uid(volumes[name])}
        if version >= (2, 3):
            entry["delete_on_termination"] = delete
        out.append(entry)
    return out


def _fault(status: compute.ServerStatus, *, admin: bool, when: str) -> dict[str, Any] | None:
    if status.fault is None:
        return None
    fault: dict[str, Any] = {
        "code": status.fault.code,
        "created": _seconds(status.fault.created) if status.fault.created else when,
        "message": status.fault.message,
    }
    # Nova hides a 500's details (a traceback, the filters' results) from all but admins.
    if status.fault.details and (admin or status.fault.code != 500):
        fault["details"] = status.fault.details
    return fault


def server(
    body: Mapping[str, Any],
    *,
    flavor: Mapping[str, Any] | None,
    image: Mapping[str, Any] | None,
    project_id: str,
    user_id: str,
    admin: bool,
    version: tuple[int, int],
    base_url: str,
    volumes: Mapping[str, Mapping[str, Any]] = _NO_OBJECTS,
    networks: Mapping[str, Mapping[str, Any]] = _NO_OBJECTS,
    security_groups: Mapping[str, Mapping[str, Any]] = _NO_OBJECTS,
    server_group: Mapping[str, Any] | None = None,
    listing: bool = False,
) -> dict[str, Any]:
    """Nova's server document at `version`, as GET /servers/{id} answers it (with `listing`,
    as one entry of GET /servers/detail, which has no server_groups). `flavor` is the Flavor it
    runs with (status.built.flavor); `volumes`, `networks` and `security_groups` map Kubernetes
    names to those CRs, for ids and display names."""
    _check_version(version)
    metadata = body.get("metadata") or {}
    spec = compute.ServerSpec.model_validate(body.get("spec") or {})
    status = compute.ServerStatus.model_validate(body.get("status") or {})
    ident = uid(body)
    word = status.status or "BUILD"
    power = status.power_state or "NOSTATE"
    when_updated = updated(body)

    if spec.image is None or image is None:
        image_doc: dict[str, Any] | str = ""  # booted from volume (or the image is gone)
    else:
        image_id = uid(image)
        image_doc = {"id": image_id, "links": _bookmark(base_url, "images", image_id)}
    flavor_name = (status.built.flavor if status.built else None) or spec.flavor
    if version >= (2, 47):
        flavor_doc = _embedded_flavor(flavor, display_name(flavor) if flavor else flavor_name)
    else:
        flavor_id = uid(flavor) if flavor else flavor_name
        flavor_doc = {"id": flavor_id, "links": _bookmark(base_url, "flavors", flavor_id)}

    document: dict[str, Any] = {
        "id": ident,
        "name": display_name(body),
        "status": word,
        "tenant_id": project_id,
        "user_id": user_id,
        "metadata": dict(spec.metadata),
        "hostId": host_id(project_id, status.host),
        "image": image_doc,
        "flavor": flavor_doc,
        "created": created(body),
        "updated": when_updated,
        "addresses": _addresses(status, networks),
        "accessIPv4": "",
        "accessIPv6": "",
        "links": links(base_url, "servers", ident),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": status.availability_zone or spec.availability_zone or "",
        "config_drive": "True" if spec.config_drive else "",
        "key_name": spec.key_name,
        "OS-SRV-USG:launched_at": _usage_time(status.launched_at),
        "OS-SRV-USG:terminated_at": None,
        "OS-EXT-STS:task_state": status.task_state,
        "OS-EXT-STS:vm_state": vm_state(word, power),
        "OS-EXT-STS:power_state": POWER_STATES[power],
        "os-extended-volumes:volumes_attached": _volumes_attached(spec, volumes, version),
        "security_groups": [
            {"name": display_name(security_groups[g]) if g in security_groups else g}
            for g in spec.security_groups
        ],
    }
    if word in _FAULT_STATUSES:
        fault = _fault(status, admin=admin, when=when_updated)
        if fault is not None:
            document["fault"] = fault
    if word in _PROGRESS_STATUSES:
        progress = status.progress
        document["progress"] = (
            progress if progress is not None else (100 if word == "ACTIVE" else 0)
        )

    hostname = spec.hostname or str(metadata.get("name", ""))
    if admin:
        reservation = "r-" + hashlib.sha256(ident.encode()).hexdigest()[:8]
        namespace = str(metadata.get("namespace", ""))
        vm = status.virtual_machine or str(metadata.get("name", ""))
        document.update({
            "OS-EXT-SRV-ATTR:host": status.host,
            "OS-EXT-SRV-ATTR:hypervisor_hostname": status.host,
            # virt-launcher names the libvirt domain <namespace>_<name>, as Nova instance-%08x
            "OS-EXT-SRV-ATTR:instance_name": f"{namespace}_{vm}",
        })  # fmt: skip
        if version >= (2, 3):
            user_data = (
                base64.b64encode(spec.user_data.encode()).decode() if spec.user_data else None
            )
            document.update({
                "OS-EXT-SRV-ATTR:reservation_id": reservation,
                "OS-EXT-SRV-ATTR:launch_index": 0,
                "OS-EXT-SRV-ATTR:kernel_id": "",
                "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:hostname": hostname,
                "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                "OS-EXT-SRV-ATTR:user_data": user_data,
            })  # fmt: skip
        if version >= (2, 16):
            document["host_status"] = "UP" if status.host else ""
    elif version >= (2, 90):
        document["OS-EXT-SRV-ATTR:hostname"] = hostname
    if version >= (2, 9):
        document["locked"] = False
    if version >= (2, 19):
        document["description"] = spec.description or None
    if version >= (2, 26):
        document["tags"] = list(spec.tags)
    if version >= (2, 63):
        document["trusted_image_certificates"] = None
    if version >= (2, 71) and not listing:
        document["server_groups"] = [uid(server_group)] if server_group else []
    if version >= (2, 73):
        document["locked_reason"] = None
    if version >= (2, 96):
        document["pinned_availability_zone"] = spec.availability_zone
    return document


def server_brief(body: Mapping[str, Any], *, base_url: str) -> dict[str, Any]:
    """One entry of GET /servers."""
    ident = uid(body)
    return {"id": ident, "name": display_name(body), "links": links(base_url, "servers", ident)}


# --- Nova: flavors --------------------------------------------------------------------------


def flavor(body: Mapping[str, Any], *, base_url: str, version: tuple[int, int]) -> dict[str, Any]:
    """Nova's flavor detail at `version` (GET /flavors/{id} and /flavors/detail)."""
    _check_version(version)
    spec = compute.FlavorSpec.model_validate(body.get("spec") or {})
    ident = uid(body)
    document: dict[str, Any] = {
        "id": ident,
        "name": display_name(body),
        "ram": spec.ram_mb,
        "vcpus": spec.vcpus,
        "disk": spec.disk_gb,
        "OS-FLV-EXT-DATA:ephemeral": spec.ephemeral_gb,
        # Before 2.75 Nova said "" for no swap.
        "swap": spec.swap_mb if spec.swap_mb or version >= (2, 75) else "",
        "rxtx_factor": spec.rxtx_factor,
        "os-flavor-access:is_public": spec.is_public,
        "OS-FLV-DISABLED:disabled": False,
        "links": links(base_url, "flavors", ident),
    }
    if version >= (2, 55):
        document["description"] = spec.description or None
    if version >= (2, 61):
        document["extra_specs"] = dict(spec.extra_specs)
    return document
