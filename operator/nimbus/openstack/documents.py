"""Custom resources as OpenStack documents, and Nova's create request as a Server spec.

Pure: a CR body (as the API server stores it) in, the document Nova, Glance or Neutron would
answer out. An object's OpenStack id is its metadata.uid; its OpenStack name is the annotation
`openstack.nimbus.dev/name` when Kubernetes cannot hold it as metadata.name (capitals, spaces,
duplicates), else metadata.name (docs: the identity mapping).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import ipaddress
import re
import types
import unicodedata
import urllib.parse
from collections.abc import Collection, Mapping
from typing import Any, Protocol

import pydantic

from nimbus.api import meta
from nimbus.compute import api as compute
from nimbus.image import api as image_api
from nimbus.network import api as network_api
from nimbus.network import render as network_render

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
# stopped for a server resized or rebuilt while shut off (see _vm_state).
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


class BadRequest(Exception):  # noqa: N818 -- Nova's name for the 400 it stands for
    """A request Nova would refuse with 400, in Nova's words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Resolver(Protocol):
    """Finds the Kubernetes name of the object an OpenStack id (uid) or name refers to, in the
    caller's project; None when there is none it may use. `image` may answer `project/name`
    for a public or shared image of another project."""

    def flavor(self, ref: str) -> str | None: ...
    def image(self, ref: str) -> str | None: ...
    def network(self, ref: str) -> str | None: ...
    def port(self, ref: str) -> str | None: ...
    def volume(self, ref: str) -> str | None: ...


class HintResolver(Protocol):
    """What Nova's scheduler hints refer to by id: servers and server groups."""

    def server(self, ref: str) -> str | None: ...
    def server_group(self, ref: str) -> str | None: ...


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


def _vm_state(status: str, power_state: str) -> str:
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
        "OS-EXT-STS:vm_state": _vm_state(word, power),
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


# --- Glance: images -------------------------------------------------------------------------

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
    ident = uid(body)
    prefix = urllib.parse.urlsplit(base_url).path.rstrip("/")
    algo, value = None, None
    if status.checksum and ":" in status.checksum:
        algo, value = status.checksum.split(":", 1)
    document: dict[str, Any] = {
        key: value for key, value in spec.properties.items() if key not in _IMAGE_KEYS
    }
    document.update({
        "id": ident,
        "name": display_name(body),
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
        "created_at": created(body),
        "updated_at": updated(body),
        "tags": list(spec.tags),
        "self": f"{prefix}/v2/images/{ident}",
        "file": f"{prefix}/v2/images/{ident}/file",
        "schema": f"{prefix}/v2/schemas/image",
    })  # fmt: skip
    return document


# --- Neutron: networks and subnets ----------------------------------------------------------


def _revision(body: Mapping[str, Any]) -> int:
    return int((body.get("metadata") or {}).get("generation") or 1)


def network(
    body: Mapping[str, Any], *, subnet_ids: list[str], project_id: str, admin: bool = False
) -> dict[str, Any]:
    """A Neutron v2.0 network; the provider attributes only for admins, as in Neutron."""
    spec = network_api.NetworkSpec.model_validate(body.get("spec") or {})
    status = network_api.NetworkStatus.model_validate(body.get("status") or {})
    document: dict[str, Any] = {
        "id": uid(body),
        "name": display_name(body),
        "status": status.status or ("ACTIVE" if spec.admin_state_up else "DOWN"),
        "admin_state_up": spec.admin_state_up,
        "shared": spec.shared,
        "router:external": spec.external,
        "subnets": list(subnet_ids),
        "mtu": status.mtu or spec.mtu or 1500,
        "tenant_id": project_id,
        "project_id": project_id,
        "port_security_enabled": spec.port_security_enabled,
        "availability_zone_hints": list(spec.availability_zone_hints),
        "availability_zones": [],
        "dns_domain": spec.dns_domain or "",
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "l2_adjacency": True,
        "qos_policy_id": None,
        "is_default": False,
        "description": spec.description,
        "tags": [],
        "created_at": created(body),
        "updated_at": updated(body),
        "revision_number": _revision(body),
    }
    if admin:
        document.update({
            "provider:network_type": spec.provider.network_type,
            "provider:physical_network": spec.provider.physical_network,
            "provider:segmentation_id": spec.provider.segmentation_id,
        })  # fmt: skip
    return document


def _default_pools(spec: network_api.SubnetSpec, gateway: str | None) -> list[dict[str, str]]:
    """Neutron's default allocation pools: the cidr's usable addresses without the gateway."""
    cidr = ipaddress.ip_network(spec.cidr, strict=False)
    first, last = int(cidr.network_address), int(cidr.broadcast_address)
    if cidr.version == 4 and cidr.num_addresses > 2:
        first, last = first + 1, last - 1
    elif cidr.version == 6 and cidr.num_addresses > 1:
        first += 1  # the subnet-router anycast address
    ranges = [(first, last)]
    if gateway is not None and first <= int(ipaddress.ip_address(gateway)) <= last:
        at = int(ipaddress.ip_address(gateway))
        ranges = [(a, b) for a, b in ((first, at - 1), (at + 1, last)) if a <= b]
    return [
        {"start": str(ipaddress.ip_address(a)), "end": str(ipaddress.ip_address(b))}
        for a, b in ranges
    ]


def subnet(body: Mapping[str, Any], *, network_id: str, project_id: str) -> dict[str, Any]:
    """A Neutron v2.0 subnet."""
    spec = network_api.SubnetSpec.model_validate(body.get("spec") or {})
    status = network_api.SubnetStatus.model_validate(body.get("status") or {})
    gateway = None if spec.no_gateway else (status.gateway_ip or network_render.gateway(spec))
    pools = [p.model_dump() for p in status.allocation_pools or spec.allocation_pools]
    return {
        "id": uid(body),
        "name": display_name(body),
        "network_id": network_id,
        "tenant_id": project_id,
        "project_id": project_id,
        "ip_version": spec.ip_version,
        "cidr": spec.cidr,
        "gateway_ip": gateway,
        "allocation_pools": pools or _default_pools(spec, gateway),
        "dns_nameservers": list(spec.dns_nameservers),
        "host_routes": [r.model_dump() for r in spec.host_routes],
        "enable_dhcp": spec.enable_dhcp,
        "ipv6_ra_mode": spec.ipv6_ra_mode,
        "ipv6_address_mode": spec.ipv6_address_mode,
        "subnetpool_id": None,
        "segment_id": None,
        "service_types": [],
        "description": spec.description,
        "tags": [],
        "created_at": created(body),
        "updated_at": updated(body),
        "revision_number": _revision(body),
    }


# --- Nova: POST /servers --------------------------------------------------------------------


def _invalid(path: str, value: Any, why: str) -> BadRequest:
    """Nova's message for a body its JSON schema refuses."""
    return BadRequest(f"Invalid input for field/attribute {path}. Value: {value}. {why}")


def _string(
    container: Mapping[str, Any], key: str, path: str, *, minimum: int = 0, maximum: int = 255
) -> str | None:
    if key not in container:
        return None
    value = container[key]
    if not isinstance(value, str):
        raise _invalid(path, value, f"{value!r} is not of type 'string'")
    if len(value) < minimum:
        raise _invalid(path, value, f"{value!r} is too short")
    if len(value) > maximum:
        raise _invalid(path, value, f"{value!r} is too long")
    return value


def _boolean(container: Mapping[str, Any], key: str, path: str) -> bool | None:
    value = container.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise _invalid(path, value, f"{value!r} is not of type 'boolean'")


def _count(container: Mapping[str, Any], key: str) -> int:
    value = container.get(key, 1)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"server/{key}", value, f"{value!r} is not of type 'integer'")
    if value < 1:
        raise _invalid(f"server/{key}", value, f"{value} is less than the minimum of 1")
    return value


def counts(request: Mapping[str, Any]) -> tuple[int, int]:
    """min_count and max_count of a POST /servers body (1 each by default)."""
    body = request.get("server")
    if not isinstance(body, Mapping):
        return 1, 1
    low, high = _count(body, "min_count"), _count(body, "max_count")
    if "max_count" not in body:
        high = max(low, high)
    if low > high:
        raise BadRequest("min_count must be <= max_count")
    return low, high


def _kube(ref: str, path: str) -> str:
    """A name Kubernetes can hold as a reference, or Nova's refusal naming the field."""
    if len(ref) > 253 or not re.match(meta.NAME_PATTERN, ref):
        raise _invalid(
            path, ref, f"{ref!r} is not a valid name: lowercase letters, digits, '-' and '.'"
        )
    return ref


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _networks(value: Any, resolve: Resolver) -> list[dict[str, Any]]:
    if value in ("auto", "none"):
        return []  # the pod network, which Nimbus always gives a server without networks
    if not isinstance(value, list):
        raise _invalid("networks", value, f"{value!r} is not valid under any of the given schemas")
    out: list[dict[str, Any]] = []
    for index, entry in enumerate(value):
        path = f"networks/{index}"
        if not isinstance(entry, Mapping):
            raise _invalid(path, entry, f"{entry!r} is not of type 'object'")
        uuid = _string(entry, "uuid", f"{path}/uuid", minimum=1)
        port = _string(entry, "port", f"{path}/port", minimum=1)
        fixed_ip = _string(entry, "fixed_ip", f"{path}/fixed_ip", minimum=1)
        if fixed_ip is not None and not _is_ip(fixed_ip):
            raise _invalid(f"{path}/fixed_ip", fixed_ip, f"{fixed_ip!r} is not an IP address")
        if port is not None:
            if fixed_ip is not None:
                raise BadRequest(
                    f"Specified Fixed IP '{fixed_ip}' cannot be used with port '{port}': the two "
                    "cannot be specified together."
                )
            name = resolve.port(port)
            if name is None:
                raise BadRequest(f"Port id {port} could not be found.")
            out.append({"port": name})
        elif uuid is not None:
            name = resolve.network(uuid)
            if name is None:
                raise BadRequest(f"Network {uuid} could not be found.")
            out.append({"network": name, **({"fixedIP": fixed_ip} if fixed_ip else {})})
        else:
            raise BadRequest(f"Bad networks format: networks[{index}] names neither uuid nor port")
    return out


def _block_devices(
    value: Any, image_ref: str | None, resolve: Resolver
) -> tuple[dict[str, Any] | None, str | None, list[dict[str, Any]]]:
    """block_device_mapping_v2 -> (boot volume, image ref, other volumes)."""
    if not isinstance(value, list):
        raise _invalid("block_device_mapping_v2", value, f"{value!r} is not of type 'array'")
    boot: dict[str, Any] | None = None
    volumes: list[dict[str, Any]] = []
    for index, entry in enumerate(value):
        path = f"block_device_mapping_v2/{index}"
        if not isinstance(entry, Mapping):
            raise _invalid(path, entry, f"{entry!r} is not of type 'object'")
        source = entry.get("source_type", "volume" if "uuid" in entry else "blank")
        destination = entry.get("destination_type", "volume" if source == "volume" else "local")
        boot_index = entry.get("boot_index")
        booting = boot_index is not None and str(boot_index) == "0"
        delete = _boolean(entry, "delete_on_termination", f"{path}/delete_on_termination")
        ref = _string(entry, "uuid", f"{path}/uuid", minimum=1)
        if source == "image" and destination == "local":
            if not booting:
                raise BadRequest(f"{path}: an image can only be the boot device (boot_index 0)")
            if image_ref and ref and ref != image_ref:
                raise BadRequest(
                    "Block Device Mapping is Invalid: the boot image differs from imageRef."
                )
            image_ref = ref or image_ref
        elif source == "volume" and destination == "volume":
            if ref is None:
                raise BadRequest(f"{path}: a volume source needs a uuid")
            name = resolve.volume(ref)
            if name is None:
                raise BadRequest(f"Volume {ref} could not be found.")
            if booting:
                boot = {"name": name, **({"deleteOnTermination": delete} if delete else {})}
            else:
                attached: dict[str, Any] = {"volume": name}
                device = entry.get("device_name")
                if device:
                    attached["device"] = device
                if delete:
                    attached["deleteOnTermination"] = True
                volumes.append(attached)
        else:
            raise BadRequest(
                f"{path}: source_type {source} with destination_type {destination} is not "
                "supported; Nimbus boots from an image or from an existing volume (create the "
                "volume first, `openstack volume create --image`, and give its uuid with "
                "source_type volume)"
            )
    return boot, image_ref, volumes


def _hints(value: Any, hints: HintResolver | None) -> tuple[dict[str, Any], str | None]:
    """os:scheduler_hints -> (spec.schedulerHints, spec.serverGroup)."""
    if not isinstance(value, Mapping):
        raise _invalid("os:scheduler_hints", value, f"{value!r} is not of type 'object'")
    out: dict[str, Any] = {}
    group = None
    needs = [k for k in ("group", "same_host", "different_host") if k in value]
    if needs and hints is None:
        raise BadRequest(f"os:scheduler_hints: {', '.join(needs)} cannot be resolved here")
    for key, field in (("same_host", "sameHost"), ("different_host", "differentHost")):
        if key in value and hints is not None:
            refs = value[key] if isinstance(value[key], list) else [value[key]]
            names = []
            for ref in refs:
                name = hints.server(str(ref))
                if name is None:
                    raise BadRequest(f"os:scheduler_hints/{key}: server {ref} could not be found.")
                names.append(name)
            out[field] = names
    if "group" in value and hints is not None:
        group = hints.server_group(str(value["group"]))
        if group is None:
            raise BadRequest(f"Server group {value['group']} could not be found.")
    if "query" in value:
        query = value["query"]
        out["query"] = query if isinstance(query, str) else str(query)
    if "build_near_host_ip" in value:
        out["buildNearHostIP"] = value["build_near_host_ip"]
        out["cidr"] = value.get("cidr")
    return out, group


def server_create(
    request: Mapping[str, Any], *, resolve: Resolver, hints: HintResolver | None = None
) -> tuple[str, dict[str, Any]]:
    """Nova's POST /servers body -> (the server's OpenStack name, its Server spec).
    BadRequest, in Nova's words, for what Nova would refuse."""
    body = request.get("server")
    if not isinstance(body, Mapping):
        raise _invalid("server", body, "'server' is a required property")
    name = _string(body, "name", "server/name", minimum=1)
    if name is None:
        raise _invalid("server", dict(body), "'name' is a required property")
    if name.strip() != name:
        raise _invalid("server/name", name, "Leading/trailing whitespace is not allowed")
    if "flavorRef" not in body:
        raise _invalid("server", dict(body), "'flavorRef' is a required property")
    counts(request)

    flavor_ref = str(body["flavorRef"])
    flavor_name = resolve.flavor(flavor_ref)
    if flavor_name is None:
        raise BadRequest("Invalid flavorRef provided.")
    spec: dict[str, Any] = {"flavor": flavor_name}

    image_ref = _string(body, "imageRef", "server/imageRef") or None
    boot: dict[str, Any] | None = None
    volumes: list[dict[str, Any]] = []
    if "block_device_mapping_v2" in body:
        boot, image_ref, volumes = _block_devices(
            body["block_device_mapping_v2"], image_ref, resolve
        )
    if boot is not None:
        spec["bootVolume"] = boot
    elif image_ref is not None:
        found = resolve.image(image_ref)
        if found is None:
            raise BadRequest("Can not find requested image")
        project, _, image_name = found.rpartition("/")
        spec["image"] = {"name": image_name, **({"project": project} if project else {})}
    else:
        raise BadRequest("Missing imageRef attribute")
    if volumes:
        spec["volumes"] = volumes

    if "networks" in body:
        networks = _networks(body["networks"], resolve)
        if networks:
            spec["networks"] = networks
    key_name = _string(body, "key_name", "server/key_name", minimum=1)
    if key_name is not None:
        spec["keyName"] = _kube(key_name, "server/key_name")
    if "user_data" in body and body["user_data"] is not None:
        encoded = _string(body, "user_data", "server/user_data", maximum=65535) or ""
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("User data needs to be valid base 64.") from None
        try:
            spec["userData"] = raw.decode()
        except UnicodeDecodeError:
            raise BadRequest(
                "user_data: Nimbus keeps user data as text (cloud-init); binary user data, such "
                "as gzip, is not supported: send it uncompressed"
            ) from None
    if "metadata" in body:
        metadata = body["metadata"]
        if not isinstance(metadata, Mapping):
            raise _invalid("server/metadata", metadata, f"{metadata!r} is not of type 'object'")
        for key, value in metadata.items():
            if not 1 <= len(key) <= 255:
                raise _invalid(
                    "server/metadata", dict(metadata), f"key {key!r} is not 1 to 255 characters"
                )
            if not isinstance(value, str) or len(value) > 255:
                raise _invalid(
                    f"server/metadata/{key}",
                    value,
                    f"{value!r} is not a string of at most 255 characters",
                )
        spec["metadata"] = dict(metadata)
    if "security_groups" in body:
        groups = body["security_groups"]
        if not isinstance(groups, list):
            raise _invalid("server/security_groups", groups, f"{groups!r} is not of type 'array'")
        names = []
        for index, group in enumerate(groups):
            if not isinstance(group, Mapping) or not isinstance(group.get("name"), str):
                raise _invalid(
                    f"server/security_groups/{index}", group, "'name' is a required property"
                )
            names.append(_kube(group["name"], f"server/security_groups/{index}/name"))
        spec["securityGroups"] = list(dict.fromkeys(names))
    zone = _string(body, "availability_zone", "server/availability_zone", minimum=1)
    if zone is not None:
        if ":" in zone:
            raise BadRequest(
                f"availability_zone {zone!r}: forcing a host (zone:host:node) is not supported; "
                "give the zone alone"
            )
        spec["availabilityZone"] = zone
    description = _string(body, "description", "server/description")
    if description:
        spec["description"] = description
    if body.get("tags"):
        tags = body["tags"]
        if not isinstance(tags, list) or len(tags) > 50:
            raise _invalid("server/tags", tags, "tags are a list of at most 50 strings")
        for tag in tags:
            if not isinstance(tag, str) or not 1 <= len(tag) <= 60 or re.search("[,/]", tag):
                raise _invalid(
                    "server/tags", tags, f"{tag!r} is not a tag: 1 to 60 characters, no ',' or '/'"
                )
        spec["tags"] = list(tags)
    config_drive = _boolean(body, "config_drive", "server/config_drive")
    if config_drive:
        spec["configDrive"] = True
    hostname = _string(body, "hostname", "server/hostname", minimum=1)
    if hostname is not None:
        spec["hostname"] = hostname
    if "os:scheduler_hints" in request:
        scheduler_hints, group = _hints(request["os:scheduler_hints"], hints)
        if scheduler_hints:
            spec["schedulerHints"] = scheduler_hints
        if group is not None:
            spec["serverGroup"] = group

    try:
        compute.ServerSpec.model_validate(spec)
    except pydantic.ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(p) for p in problem["loc"])
        raise BadRequest(f"spec.{field}: {problem['msg']}") from None
    return name, spec
