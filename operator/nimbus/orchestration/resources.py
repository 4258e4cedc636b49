"""Heat resource types as Nimbus resources, pure: each type's properties (already evaluated)
become the manifest of a Nimbus kind, a change to another resource (a volume attachment, a
security group rule), or a value of Heat's own; a ResourceGroup becomes its members. What the
live objects say back (attributes, completion) is read in observed.py.

A resource's physical name is `<stack>-<resource>`, made a DNS label, as Heat names what it
creates after the stack and the resource.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import string
from collections.abc import Callable, Mapping
from typing import Any

import pydantic
import yaml

from nimbus.api import kinds
from nimbus.orchestration.hot import template as hot_template
from nimbus.orchestration.hot.template import HotError

STACK_LABEL = "orchestration.nimbus.dev/stack"
RESOURCE_LABEL = "orchestration.nimbus.dev/resource"


@dataclasses.dataclass(frozen=True)
class Stack:
    name: str
    namespace: str
    uid: str


@dataclasses.dataclass(frozen=True)
class Apply:
    """A Nimbus object the resource is."""

    manifest: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Append:
    """An item the resource adds to another object's list (removed with the resource)."""

    kind: str
    name: str
    field: str  # the list in the object's spec
    item: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Value:
    """A resource of Heat's own, which is only a value (OS::Heat::Value, RandomString, ...)."""

    value: Any
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)


Made = Apply | Append | Value


class NotSupportedYetError(HotError):
    """A Heat type whose Nimbus kind does not exist yet: the resource fails with this."""


def physical_name(stack: str, resource: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", f"{stack}-{resource}".lower()).strip("-")
    return name[:63].rstrip("-") or "resource"


def _manifest(
    kind_name: str,
    name: str,
    stack: Stack,
    resource: str,
    spec: dict[str, Any],
    *,
    namespaced: bool = True,
) -> dict[str, Any]:
    kind = kinds.by_kind(kind_name)
    clean = {k: v for k, v in spec.items() if v is not None}
    try:  # the kind's own model: what its CRD would refuse is refused here, by field
        kind.model_fields["spec"].annotation.model_validate(clean)  # type: ignore[union-attr]
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise HotError(f"Property error: {resource}.properties: {field}: {first['msg']}") from None
    metadata: dict[str, Any] = {
        "name": name,
        "labels": {STACK_LABEL: stack.name, RESOURCE_LABEL: resource},
    }
    if namespaced:
        metadata["namespace"] = stack.namespace
    return {
        "apiVersion": kind.api_version_name(),
        "kind": kind_name,
        "metadata": metadata,
        "spec": clean,
    }


Render = Callable[[str, Mapping[str, Any], Stack], Made]


def _server(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    spec: dict[str, Any] = {"flavor": p.get("flavor")}
    if p.get("image"):
        spec["image"] = {"name": p["image"]}
    for mapping in p.get("block_device_mapping_v2") or p.get("block_device_mapping") or []:
        volume = mapping.get("volume_id")
        boot = mapping.get("boot_index", 0) == 0 or mapping.get("device_name") in ("vda", "sda")
        if volume and boot and "image" not in spec:
            spec["bootVolume"] = {
                "name": volume,
                "deleteOnTermination": bool(mapping.get("delete_on_termination", False)),
            }
    networks = []
    for net in p.get("networks") or []:
        if net.get("port"):
            networks.append({"port": net["port"]})
        elif net.get("network") or net.get("subnet"):
            entry = {"network": net.get("network") or net.get("subnet")}
            if net.get("fixed_ip"):
                entry["fixedIP"] = net["fixed_ip"]
            networks.append(entry)
    spec["networks"] = networks or None
    if p.get("security_groups"):
        spec["securityGroups"] = list(p["security_groups"])
    if p.get("key_name"):
        spec["keyName"] = p["key_name"]
    if p.get("user_data"):
        data = p["user_data"]
        spec["userData"] = data if isinstance(data, str) else yaml.safe_dump(data)
    if p.get("metadata"):
        spec["metadata"] = {str(k): str(v) for k, v in p["metadata"].items()}
    hints = p.get("scheduler_hints") or {}
    if hints:
        names = {
            "same_host": "sameHost",
            "different_host": "differentHost",
            "query": "query",
            "build_near_host_ip": "buildNearHostIP",
            "cidr": "cidr",
        }
        spec["schedulerHints"] = {
            names[k]: v if k not in ("same_host", "different_host") or isinstance(v, list) else [v]
            for k, v in hints.items()
            if k in names
        }
    if p.get("availability_zone"):
        spec["availabilityZone"] = p["availability_zone"]
    if p.get("config_drive") is not None:
        spec["configDrive"] = bool(p["config_drive"])
    if p.get("name"):
        spec["hostname"] = re.sub(r"[^a-z0-9-]+", "-", str(p["name"]).lower())[:63].strip("-")
    return Apply(_manifest("Server", physical_name(stack.name, resource), stack, resource, spec))


def _flavor(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    spec = {
        "vcpus": p.get("vcpus", 1),
        "ramMB": p.get("ram"),
        "diskGB": p.get("disk", 0),
        "ephemeralGB": p.get("ephemeral", 0),
        "swapMB": p.get("swap", 0),
        "isPublic": p.get("is_public", True),
        "extraSpecs": {str(k): str(v) for k, v in (p.get("extra_specs") or {}).items()},
    }
    name = p.get("name") or physical_name(stack.name, resource)
    return Apply(_manifest("Flavor", name, stack, resource, spec, namespaced=False))


def _keypair(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    spec = {"publicKey": p.get("public_key"), "type": p.get("type")}
    return Apply(
        _manifest(
            "KeyPair", p.get("name") or physical_name(stack.name, resource), stack, resource, spec
        )
    )


def _server_group(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    policies = p.get("policies") or [p.get("policy") or "anti-affinity"]
    spec: dict[str, Any] = {"policy": policies[0]}
    if (p.get("rules") or {}).get("max_server_per_host"):
        spec["rules"] = {"maxServerPerHost": p["rules"]["max_server_per_host"]}
    return Apply(
        _manifest("ServerGroup", physical_name(stack.name, resource), stack, resource, spec)
    )


def _image(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    spec = {
        "source": {"http": {"url": p.get("location")}},
        "diskFormat": p.get("disk_format"),
        "containerFormat": p.get("container_format"),
        "minDiskGB": p.get("min_disk"),
        "minRamMB": p.get("min_ram"),
        "visibility": p.get("visibility") or ("public" if p.get("is_public") else None),
        "protected": p.get("protected"),
        "tags": p.get("tags"),
    }
    return Apply(
        _manifest(
            "Image", p.get("name") or physical_name(stack.name, resource), stack, resource, spec
        )
    )


def _net(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    spec = {
        "shared": p.get("shared"),
        "adminStateUp": p.get("admin_state_up"),
        "portSecurityEnabled": p.get("port_security_enabled"),
    }
    return Apply(_manifest("Network", physical_name(stack.name, resource), stack, resource, spec))


def _subnet(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    spec = {
        "network": p.get("network") or p.get("network_id"),
        "cidr": p.get("cidr"),
        "ipVersion": p.get("ip_version"),
        "gatewayIP": p.get("gateway_ip") or None,
        "noGateway": True if p.get("gateway_ip") == "" else None,
        "allocationPools": p.get("allocation_pools"),
        "dnsNameservers": p.get("dns_nameservers"),
        "enableDhcp": p.get("enable_dhcp"),
        "hostRoutes": p.get("host_routes"),
    }
    return Apply(_manifest("Subnet", physical_name(stack.name, resource), stack, resource, spec))


def _port(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    fixed = [
        {"subnet": f.get("subnet") or f.get("subnet_id"), "ipAddress": f.get("ip_address")}
        for f in p.get("fixed_ips") or []
    ]
    spec = {
        "network": p.get("network") or p.get("network_id"),
        "fixedIPs": [{k: v for k, v in f.items() if v} for f in fixed] or None,
        "macAddress": p.get("mac_address"),
        "securityGroups": p.get("security_groups"),
        "portSecurityEnabled": p.get("port_security_enabled"),
    }
    return Apply(_manifest("Port", physical_name(stack.name, resource), stack, resource, spec))


def _rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    out = {
        "direction": rule.get("direction"),
        "ethertype": rule.get("ethertype"),
        "protocol": rule.get("protocol"),
        "portRangeMin": rule.get("port_range_min"),
        "portRangeMax": rule.get("port_range_max"),
        "remoteIPPrefix": rule.get("remote_ip_prefix"),
        "remoteGroup": rule.get("remote_group_id") or rule.get("remote_group"),
    }
    return {k: v for k, v in out.items() if v is not None}


def _security_group(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    spec = {"description": p.get("description"), "rules": [_rule(r) for r in p.get("rules") or []]}
    return Apply(
        _manifest("SecurityGroup", physical_name(stack.name, resource), stack, resource, spec)
    )


def _security_group_rule(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    return Append("SecurityGroup", str(p.get("security_group")), "rules", _rule(p))


def _volume(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    source = (
        {"image": {"name": p["image"]}}
        if p.get("image")
        else (
            {"snapshot": p["snapshot_id"]}
            if p.get("snapshot_id")
            else ({"volume": p["source_volid"]} if p.get("source_volid") else None)
        )
    )
    spec = {
        "sizeGB": p.get("size"),
        "volumeType": p.get("volume_type"),
        "source": source,
        "availabilityZone": p.get("availability_zone"),
        "multiattach": p.get("multiattach"),
        "description": p.get("description"),
    }
    return Apply(_manifest("Volume", physical_name(stack.name, resource), stack, resource, spec))


def _attachment(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    item = {"volume": p.get("volume_id")}
    if p.get("mountpoint"):
        item["device"] = str(p["mountpoint"])
    return Append("Server", str(p.get("instance_uuid")), "volumes", item)


def _value(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    return Value(p.get("value"), {"value": p.get("value")})


def _none(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    return Value(None)


_CLASSES = {
    "lowercase": string.ascii_lowercase,
    "uppercase": string.ascii_uppercase,
    "digits": string.digits,
    "punctuation": string.punctuation,
}


def random_string(p: Mapping[str, Any]) -> str:
    """Heat's RandomString: `length` characters, at least `min` of each character class."""
    length = int(p.get("length", 32))
    classes = p.get("character_classes") or [{"class": "lettersdigits", "min": 1}]
    pool, chars = "", []
    for item in classes:
        name = item.get("class", "lettersdigits")
        chosen = (
            string.ascii_letters + string.digits
            if name == "lettersdigits"
            else _CLASSES.get(name, string.ascii_letters)
        )
        pool += chosen
        chars += [secrets.choice(chosen) for _ in range(int(item.get("min", 1)))]
    for item in p.get("character_sequences") or []:
        pool += item["sequence"]
        chars += [secrets.choice(item["sequence"]) for _ in range(int(item.get("min", 1)))]
    if len(chars) > length:
        raise HotError(
            f"Length property cannot be smaller than combined character class and "
            f"character sequence minimums ({len(chars)} > {length})"
        )
    chars += [secrets.choice(pool) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return str(p.get("salt", "")) + "".join(chars)


def _random(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    value = random_string(p)
    return Value(value, {"value": value})


def _cloud_config(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    text = "#cloud-config\n" + yaml.safe_dump(p.get("cloud_config") or {}, sort_keys=False)
    return Value(text, {"config": text})


def _software_config(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    text = str(p.get("config") or "")
    return Value(text, {"config": text})


def _multipart(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    """MultipartMime: cloud-init's multipart user data from the parts' configs."""
    boundary = "===============nimbus-" + stack.uid.replace("-", "")[:16] + "=="
    lines = [f'Content-Type: multipart/mixed; boundary="{boundary}"', "MIME-Version: 1.0", ""]
    for part in p.get("parts") or []:
        config = str(part.get("config", ""))
        subtype = part.get("subtype") or (
            "cloud-config" if config.startswith("#cloud-config") else "x-shellscript"
        )
        lines += [
            f"--{boundary}",
            f'Content-Type: text/{subtype}; charset="us-ascii"',
            "MIME-Version: 1.0",
            "",
            config,
        ]
    lines.append(f"--{boundary}--")
    text = "\n".join(lines) + "\n"
    return Value(text, {"config": text})


def _not_yet(kind: str) -> Render:
    def render(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
        raise NotSupportedYetError(
            f"{kind} is not supported yet: Nimbus has no kind for it (a later release will add it)"
        )

    return render


TYPES: dict[str, Render] = {
    "OS::Nova::Server": _server,
    "OS::Nova::Flavor": _flavor,
    "OS::Nova::KeyPair": _keypair,
    "OS::Nova::ServerGroup": _server_group,
    "OS::Glance::WebImage": _image,
    "OS::Glance::Image": _image,
    "OS::Neutron::Net": _net,
    "OS::Neutron::Subnet": _subnet,
    "OS::Neutron::Port": _port,
    "OS::Neutron::SecurityGroup": _security_group,
    "OS::Neutron::SecurityGroupRule": _security_group_rule,
    "OS::Cinder::Volume": _volume,
    "OS::Cinder::VolumeAttachment": _attachment,
    "OS::Heat::Value": _value,
    "OS::Heat::None": _none,
    "OS::Heat::RandomString": _random,
    "OS::Heat::CloudConfig": _cloud_config,
    "OS::Heat::SoftwareConfig": _software_config,
    "OS::Heat::MultipartMime": _multipart,
    # A nested stack; render() gives it the parent's files and resource_registry.
    "OS::Heat::Stack": lambda resource, p, stack: _nested(resource, p, stack, {}, None),
    "OS::Neutron::Router": _not_yet("OS::Neutron::Router"),
    "OS::Neutron::RouterInterface": _not_yet("OS::Neutron::RouterInterface"),
    "OS::Neutron::FloatingIP": _not_yet("OS::Neutron::FloatingIP"),
}


# The Nimbus kind each type that is an object makes (external_id looks it up there).
KINDS = {
    "OS::Nova::Server": "Server",
    "OS::Nova::Flavor": "Flavor",
    "OS::Nova::KeyPair": "KeyPair",
    "OS::Nova::ServerGroup": "ServerGroup",
    "OS::Glance::WebImage": "Image",
    "OS::Glance::Image": "Image",
    "OS::Neutron::Net": "Network",
    "OS::Neutron::Subnet": "Subnet",
    "OS::Neutron::Port": "Port",
    "OS::Neutron::SecurityGroup": "SecurityGroup",
    "OS::Cinder::Volume": "Volume",
    "OS::Heat::Stack": "Stack",
}
GROUP = "OS::Heat::ResourceGroup"
NESTED = "OS::Heat::Stack"
# update_policy keys Heat accepts, by type (Heat refuses any other as an unknown property).
UPDATE_POLICIES = {
    GROUP: {
        "rolling_update": {"min_in_service", "max_batch_size", "pause_time"},
        "batch_create": {"max_batch_size", "pause_time"},
    }
}


def resolve_type(kind: str, registry: Mapping[str, Any]) -> str:
    """A type as the environment's resource_registry maps it: to another type, or to a
    template in spec.files (a template resource). A type naming a file is a template
    resource too."""
    seen = {kind}
    while isinstance(registry.get(kind), str) and registry[kind] != kind:
        kind = registry[kind]
        if kind in seen:
            raise HotError(f'The resource_registry maps "{kind}" in a circle')
        seen.add(kind)
    return kind


def check_types(resources: Mapping[str, Any], files: Mapping[str, str] = ()) -> None:  # type: ignore[assignment]
    """Unknown types are refused at validation, listing the supported ones; so are
    update_policy keys Heat does not know for the type."""
    for name, resource in resources.items():
        kind = resource.get("type")
        policy = resource.get("update_policy")
        if policy:
            allowed = UPDATE_POLICIES.get(str(kind), {})
            for key, value in dict(policy).items():
                if key not in allowed or not set(dict(value or {})) <= allowed[key]:
                    bad = key if key not in allowed else sorted(set(value) - allowed[key])[0]
                    raise HotError(f"Resource {name}: update_policy: Unknown Property {bad}")
        if kind in TYPES or kind == GROUP or kind in files:
            continue
        supported = ", ".join(sorted([*TYPES, GROUP]))
        raise HotError(
            f'Resource {name}: the resource type "{kind}" is not supported; '
            f"supported are {supported}, or a template in spec.files"
        )


def render(
    kind: str,
    resource: str,
    properties: Mapping[str, Any],
    stack: Stack,
    files: Mapping[str, str] | None = None,
    environment: Mapping[str, Any] | None = None,
) -> Made:
    if files and kind in files:  # a template resource: a nested stack of that template
        return template_resource(resource, files[kind], properties, stack, files, environment)
    if kind not in TYPES:
        raise HotError(f'The resource type "{kind}" is not supported')
    if kind == NESTED:
        return _nested(resource, properties or {}, stack, files or {}, environment)
    return TYPES[kind](resource, properties or {}, stack)


def template_resource(
    resource: str,
    source: str,
    properties: Mapping[str, Any],
    stack: Stack,
    files: Mapping[str, str],
    environment: Mapping[str, Any] | None,
) -> Made:
    """A template resource: a nested Stack of the file's template, its properties as the
    nested template's parameters (an unknown one refused, as Heat does)."""
    template = hot_template.load(source)
    for key in properties or {}:
        if key not in template.parameters:
            raise HotError(f"Property error: {resource}.properties: Unknown Property {key}")
    return _stack_manifest(resource, source, dict(properties or {}), stack, files, environment)


def _nested(
    resource: str,
    p: Mapping[str, Any],
    stack: Stack,
    files: Mapping[str, str],
    environment: Mapping[str, Any] | None,
) -> Made:
    """OS::Heat::Stack: a nested Stack of the `template` property (text or a mapping)."""
    template = p.get("template")
    if not template:
        raise HotError(f"Property error: {resource}.properties: Property template not assigned")
    return _stack_manifest(
        resource, template, dict(p.get("parameters") or {}), stack, files, environment
    )


def _stack_manifest(
    resource: str,
    template: Any,
    parameters: dict[str, Any],
    stack: Stack,
    files: Mapping[str, str],
    environment: Mapping[str, Any] | None,
) -> Made:
    spec: dict[str, Any] = {"template": template, "parameters": parameters, "files": dict(files)}
    registry = (environment or {}).get("resource_registry")
    if registry:  # the nested stack sees the same type mapping, as in Heat
        spec["environment"] = {"resource_registry": registry}
    return Apply(_manifest("Stack", physical_name(stack.name, resource), stack, resource, spec))


# -- ResourceGroup ------------------------------------------------------------------------------


def _replace_index(node: Any, var: str, index: int) -> Any:
    if isinstance(node, str):
        return node.replace(var, str(index))
    if isinstance(node, list):
        return [_replace_index(v, var, index) for v in node]
    if isinstance(node, dict):
        return {k: _replace_index(v, var, index) for k, v in node.items()}
    return node


def expand_group(name: str, properties: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A ResourceGroup's members, `<group>-<index>`: `count` copies of `resource_def` with
    `index_var` (default `%index%`) replaced by the index; the indexes that `removal_policies`
    name are left out, as Heat leaves out removed members."""
    count = int(properties.get("count", 1))
    definition = properties.get("resource_def") or {}
    if "type" not in definition:
        raise HotError(f'Resource {name}: "resource_def" must have a "type"')
    var = str(properties.get("index_var", "%index%"))
    removed: set[str] = set()
    for policy in properties.get("removal_policies") or []:
        removed |= {str(i) for i in policy.get("resource_list") or []}
    members: dict[str, dict[str, Any]] = {}
    index = 0
    while len(members) < count:
        if str(index) not in removed:
            members[f"{name}-{index}"] = {
                "type": definition["type"],
                "properties": _replace_index(definition.get("properties") or {}, var, index),
            }
        index += 1
    return members
