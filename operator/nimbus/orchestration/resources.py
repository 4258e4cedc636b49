"""Heat resource types as Nimbus resources, pure: each type's properties (already evaluated)
become the manifest of a Nimbus kind, a change to another resource (a volume attachment, a
security group rule, a router's gateway), or a value of Heat's own; a ResourceGroup becomes its
members. Neutron's types are mapped in neutron_resources.py, and what a resource becomes is
defined in made.py. What the live objects say back (attributes, completion) is read in
observed.py.

A resource's physical name is `<stack>-<resource>`, made a DNS label, as Heat names what it
creates after the stack and the resource.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping
from typing import Any

import yaml

from nimbus.orchestration import made, neutron_resources
from nimbus.orchestration.hot import template as hot_template
from nimbus.orchestration.hot.template import HotError

# What a resource becomes, and the stack's labels, as the engine's users know them from here.
from nimbus.orchestration.made import RESOURCE_LABEL as RESOURCE_LABEL
from nimbus.orchestration.made import STACK_LABEL as STACK_LABEL
from nimbus.orchestration.made import Append as Append
from nimbus.orchestration.made import Apply as Apply
from nimbus.orchestration.made import Assign as Assign
from nimbus.orchestration.made import Made as Made
from nimbus.orchestration.made import Render as Render
from nimbus.orchestration.made import Stack as Stack
from nimbus.orchestration.made import Value as Value
from nimbus.orchestration.made import physical_name as physical_name


class NotSupportedYetError(HotError):
    """A Heat type Nimbus knows and does not make (REFUSED): refused with the reason."""


def _server(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    spec: dict[str, Any] = {"flavor": p.get("flavor")}
    if p.get("image"):
        spec["image"] = _image_ref(p["image"])
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
    return Apply(
        made.manifest("Server", physical_name(stack.name, resource), stack, resource, spec)
    )


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
    return Apply(made.manifest("Flavor", name, stack, resource, spec, namespaced=False))


def _keypair(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    spec = {"publicKey": p.get("public_key"), "type": p.get("type")}
    return Apply(
        made.manifest(
            "KeyPair", p.get("name") or physical_name(stack.name, resource), stack, resource, spec
        )
    )


def _server_group(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    policies = p.get("policies") or [p.get("policy") or "anti-affinity"]
    spec: dict[str, Any] = {"policy": policies[0]}
    if (p.get("rules") or {}).get("max_server_per_host"):
        spec["rules"] = {"maxServerPerHost": p["rules"]["max_server_per_host"]}
    return Apply(
        made.manifest("ServerGroup", physical_name(stack.name, resource), stack, resource, spec)
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
        made.manifest(
            "Image", p.get("name") or physical_name(stack.name, resource), stack, resource, spec
        )
    )


# Octavia's name for its amphora driver, which Nimbus's load balancers are.
_PROVIDERS = {"octavia": "amphora"}


def _load_balancer(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    provider = p.get("provider")
    spec = {
        "vipSubnet": p.get("vip_subnet"),
        "vipAddress": p.get("vip_address"),
        "provider": _PROVIDERS.get(str(provider), provider),
        "adminStateUp": p.get("admin_state_up"),
        "description": p.get("description"),
    }
    return _octavia("LoadBalancer", resource, stack, spec)


def _listener(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    spec = {
        "loadBalancer": p.get("loadbalancer"),
        "protocol": p.get("protocol"),
        "protocolPort": p.get("protocol_port"),
        "connectionLimit": p.get("connection_limit"),
        "defaultPool": p.get("default_pool"),
        "allowedCIDRs": p.get("allowed_cidrs"),
        # Octavia's timeouts, which Heat's schema lacks
        "timeoutClientData": p.get("timeout_client_data"),
        "timeoutMemberConnect": p.get("timeout_member_connect"),
        "timeoutMemberData": p.get("timeout_member_data"),
        "adminStateUp": p.get("admin_state_up"),
        "description": p.get("description"),
    }
    return _octavia("Listener", resource, stack, spec)


def _pool(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    if p.get("listener") is not None:  # listener_pools took one of this template's
        raise HotError(
            f"Property error: {resource}.properties: listener: {p['listener']}: a pool is "
            "made the default pool only of an OS::Octavia::Listener of this template, named "
            "with get_resource; name the loadbalancer, and the pool in the listener's "
            "default_pool"
        )
    if p.get("loadbalancer") is None:
        raise HotError(
            f"Property error: {resource}.properties: At least one of the following properties "
            "must be specified: listener, loadbalancer."
        )
    spec: dict[str, Any] = {
        "loadBalancer": p.get("loadbalancer"),
        "protocol": p.get("protocol"),
        "lbAlgorithm": p.get("lb_algorithm"),
        "adminStateUp": p.get("admin_state_up"),
        "description": p.get("description"),
    }
    persistence = p.get("session_persistence")
    if persistence:
        named = {"type": persistence.get("type"), "cookieName": persistence.get("cookie_name")}
        spec["sessionPersistence"] = {k: v for k, v in named.items() if v is not None}
    return _octavia("Pool", resource, stack, spec)


def _pool_member(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    spec = {
        "pool": p.get("pool"),
        "address": p.get("address"),
        "protocolPort": p.get("protocol_port"),
        "subnet": p.get("subnet"),
        "weight": p.get("weight"),
        "backup": p.get("backup"),  # Octavia's, which Heat's schema lacks
        "monitorAddress": p.get("monitor_address"),
        "monitorPort": p.get("monitor_port"),
        "adminStateUp": p.get("admin_state_up"),
    }
    return _octavia("Member", resource, stack, spec)


def _health_monitor(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    spec = {
        "pool": p.get("pool"),
        "type": p.get("type"),
        "delay": p.get("delay"),
        "timeout": p.get("timeout"),
        "maxRetries": p.get("max_retries"),
        "maxRetriesDown": p.get("max_retries_down"),  # Octavia's, which Heat's schema lacks
        "httpMethod": p.get("http_method"),
        "urlPath": p.get("url_path"),
        "expectedCodes": p.get("expected_codes"),
        "adminStateUp": p.get("admin_state_up"),
    }
    return _octavia("HealthMonitor", resource, stack, spec)


def _octavia(kind: str, resource: str, stack: Stack, spec: dict[str, Any]) -> Made:
    return Apply(made.manifest(kind, physical_name(stack.name, resource), stack, resource, spec))


def listener_pools(definitions: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Octavia makes a pool created with a `listener` that listener's default pool, on its load
    balancer. A Nimbus Pool names its load balancer, and a Listener its defaultPool: so a Pool
    naming a Listener of the template (get_resource) takes the listener's `loadbalancer`, and
    the Listener gets `default_pool: {get_resource: <pool>}` (the listener then waits for the
    pool, where Heat has the pool wait for the listener). Returns the definitions it changes."""
    changed: dict[str, dict[str, Any]] = {}
    for name, definition in definitions.items():
        properties = definition.get("properties")
        if definition.get("type") != POOL or not isinstance(properties, dict):
            continue
        named = properties.get("listener")
        listener = (
            named.get("get_resource") if isinstance(named, dict) and len(named) == 1 else None
        )
        if not isinstance(listener, str):
            continue  # the pool's render refuses it, saying what would do
        target = changed.get(listener) or definitions.get(listener)
        if target is None or target.get("type") != LISTENER:
            continue
        theirs = target.get("properties")
        if not isinstance(theirs, dict):
            continue
        if theirs.get("default_pool") not in (None, {"get_resource": name}):
            raise HotError(
                f"Resource {name}: listener {listener} has a default_pool already; a pool made "
                "with a listener is that listener's default pool, as in Octavia"
            )
        depends = definition.get("depends_on") or []
        depends = [depends] if isinstance(depends, str) else list(depends)
        mine = {k: v for k, v in properties.items() if k != "listener"}
        mine.setdefault("loadbalancer", theirs.get("loadbalancer"))
        changed[name] = {
            **definition,
            "properties": mine,
            "depends_on": [d for d in depends if d != listener],
        }
        changed[listener] = {
            **target,
            "properties": {**theirs, "default_pool": {"get_resource": name}},
        }
    return changed


def _image_ref(value: Any) -> dict[str, str]:
    """An image as a template names it: `project/name` is another project's public or shared
    image (plan.named makes it of an id)."""
    project, _, image = str(value).rpartition("/")
    return {"name": image, "project": project} if project else {"name": image}


def _volume(resource: str, p: Mapping[str, Any], stack: Stack) -> Made:
    source = (
        {"image": _image_ref(p["image"])}
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
    return Apply(
        made.manifest("Volume", physical_name(stack.name, resource), stack, resource, spec)
    )


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


TYPES: dict[str, Render] = {
    "OS::Nova::Server": _server,
    "OS::Nova::Flavor": _flavor,
    "OS::Nova::KeyPair": _keypair,
    "OS::Nova::ServerGroup": _server_group,
    "OS::Glance::WebImage": _image,
    "OS::Glance::Image": _image,
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
    **neutron_resources.TYPES,
    "OS::Octavia::LoadBalancer": _load_balancer,
    "OS::Octavia::Listener": _listener,
    "OS::Octavia::Pool": _pool,
    "OS::Octavia::PoolMember": _pool_member,
    "OS::Octavia::HealthMonitor": _health_monitor,
}
# Heat types Nimbus knows and does not make, refused at validation with the reason and what
# does the same instead (none, since the engine sets fields of other objects: Assign).
REFUSED: dict[str, str] = {}


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
    "OS::Neutron::Router": "Router",
    "OS::Neutron::FloatingIP": "FloatingIP",
    "OS::Octavia::LoadBalancer": "LoadBalancer",
    "OS::Octavia::Listener": "Listener",
    "OS::Octavia::Pool": "Pool",
    "OS::Octavia::PoolMember": "Member",
    "OS::Octavia::HealthMonitor": "HealthMonitor",
    "OS::Cinder::Volume": "Volume",
    "OS::Heat::Stack": "Stack",
}
GROUP = "OS::Heat::ResourceGroup"
NESTED = "OS::Heat::Stack"
POOL = "OS::Octavia::Pool"
LISTENER = "OS::Octavia::Listener"
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
    update_policy keys Heat does not know for the type, and two resources that would set the
    same field of one object."""
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
        if kind in REFUSED:
            raise NotSupportedYetError(f"Resource {name}: {kind} is not supported: {REFUSED[kind]}")
        supported = ", ".join(sorted([*TYPES, GROUP]))
        raise HotError(
            f'Resource {name}: the resource type "{kind}" is not supported; '
            f"supported are {supported}, or a template in spec.files"
        )
    neutron_resources.check_assignments(resources)


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
    return Apply(made.manifest("Stack", physical_name(stack.name, resource), stack, resource, spec))


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
