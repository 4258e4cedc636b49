"""Nova's create request (POST /servers) as a Server spec.

Pure: the request body and what its references resolve to in, the OpenStack name and the
Server's spec out, or Nova's 400 in Nova's words."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Protocol

import pydantic

from nimbus.api import meta
from nimbus.compute import api as compute


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


class GroupResolver(Protocol):
    """The Kubernetes name of the project's security group an OpenStack name (one Kubernetes
    cannot hold, such as `allow_ssh`) or id refers to; None when there is none, or several."""

    def security_group(self, ref: str) -> str | None: ...


class HintResolver(Protocol):
    """What Nova's scheduler hints refer to by id: servers and server groups."""

    def server(self, ref: str) -> str | None: ...
    def server_group(self, ref: str) -> str | None: ...


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


def server_metadata(metadata: Any, path: str) -> dict[str, str]:
    """Nova's server metadata (keys of 1 to 255 characters, string values of at most 255), or
    its refusal naming the field."""
    if not isinstance(metadata, Mapping):
        raise _invalid(path, metadata, f"{metadata!r} is not of type 'object'")
    for key, value in metadata.items():
        if not 1 <= len(key) <= 255:
            raise _invalid(path, dict(metadata), f"key {key!r} is not 1 to 255 characters")
        if not isinstance(value, str) or len(value) > 255:
            raise _invalid(
                f"{path}/{key}", value, f"{value!r} is not a string of at most 255 characters"
            )
    return dict(metadata)


def server_create(
    request: Mapping[str, Any],
    *,
    resolve: Resolver,
    hints: HintResolver | None = None,
    security_groups: GroupResolver | None = None,
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
        spec["metadata"] = server_metadata(body["metadata"], "server/metadata")
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
            # Nova takes a group's name or id: the Kubernetes name of the group it is, else the
            # name as it is (`default` is made by the operator for a project's first server).
            found = (security_groups.security_group(group["name"])
                     if security_groups is not None else None)  # fmt: skip
            names.append(found or _kube(group["name"], f"server/security_groups/{index}/name"))
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
    # Nova takes the hints under either key; openstacksdk (the CLI) sends OS-SCH-HNT:'s.
    hint_key = next((k for k in ("os:scheduler_hints", "OS-SCH-HNT:scheduler_hints")
                     if k in request), None)  # fmt: skip
    if hint_key is not None:
        scheduler_hints, group = _hints(request[hint_key], hints)
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
