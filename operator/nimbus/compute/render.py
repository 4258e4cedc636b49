"""Server -> KubeVirt VirtualMachine + cloud-init Secret, as pure functions of resolved inputs."""

from __future__ import annotations

import dataclasses
import email.mime.multipart
import email.mime.text
import json
import math
from typing import Any

import yaml

from nimbus.compute import api, scheduling
from nimbus.network import render as network_render
from nimbus.runtime import templating

GIB = 1024**3
LABEL = "compute.nimbus.dev"
MULTIPART_BOUNDARY = "==NIMBUS-CLOUD-INIT=="

# Nova's words, so that an OpenStack user recognises them.
DISK_TOO_SMALL = (
    "Flavor's disk is too small for requested image. Flavor disk is {flavor} bytes, "
    "image is {image} bytes."
)
DISK_BELOW_MIN = (
    "Flavor's disk is smaller than the minimum size specified in image metadata. "
    "Flavor disk is {flavor} bytes, minimum size is {image} bytes."
)
MEMORY_TOO_SMALL = "Flavor's memory is too small for requested image."

# libyaml's emitter and parser, when PyYAML has them: cloud-init is rendered for every server.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _dump(data: Any, **options: Any) -> str:
    return str(yaml.dump(data, Dumper=_DUMPER, **options))


class BuildError(ValueError):
    """The server cannot be built as asked; the message is Nova's where Nova has one."""


@dataclasses.dataclass(frozen=True)
class Interface:
    """One server interface, resolved: its network attachment, MAC and static addresses."""

    network: str  # the Neutron network's name
    attachment: str  # the NetworkAttachmentDefinition, as namespace/name
    mac: str
    addresses: tuple[str, ...] = ()  # with prefix length, such as 10.0.0.12/24
    gateway: str | None = None
    dns: tuple[str, ...] = ()
    routes: tuple[tuple[str, str], ...] = ()  # (destination, nexthop)
    port: str | None = None


@dataclasses.dataclass(frozen=True)
class ImageDisk:
    """The root disk cloned from an Image's DataVolume."""

    namespace: str
    data_volume: str
    min_disk_gb: int = 0
    min_ram_mb: int = 0
    virtual_size: int | None = None  # bytes, once the image is active
    properties: dict[str, str] = dataclasses.field(default_factory=dict)
    name: str = ""  # the Image's, for messages


@dataclasses.dataclass(frozen=True)
class ServerInputs:
    """A Server with everything it references, resolved by the handler."""

    name: str
    namespace: str
    spec: api.ServerSpec
    flavor_name: str
    flavor: api.FlavorSpec
    image: ImageDisk | None = None
    boot_claim: str | None = None  # the PVC of spec.bootVolume
    public_keys: tuple[str, ...] = ()
    interfaces: tuple[Interface, ...] = ()
    volume_claims: tuple[tuple[str, str], ...] = ()  # (volume, PVC) in spec order
    placement: bool = False
    owner: dict[str, Any] | None = None  # the ownerReference to the Server
    root_generation: int = 0  # rebuilds so far: the root disk's generation
    secret_user_data: str | None = None  # spec.userDataSecret's text, read by the handler


def _gib(size: int) -> str:
    return f"{size / GIB:g} GiB"


def check_flavor_fits_image(
    flavor: api.FlavorSpec, image: ImageDisk, flavor_name: str = ""
) -> None:
    """Refuse, in Nova's words, a flavor too small for the image (skipped when diskGB is 0);
    then which flavor and image, in GiB."""
    which_flavor = f"flavor {flavor_name}" if flavor_name else "the flavor"
    which_image = f"image {image.name}" if image.name else "the image"
    if flavor.ram_mb < image.min_ram_mb:
        raise BuildError(
            f"{MEMORY_TOO_SMALL} ({which_flavor}: {flavor.ram_mb} MB of RAM; {which_image} "
            f"needs minRamMB {image.min_ram_mb})"
        )
    if flavor.disk_gb == 0:
        return
    flavor_bytes = flavor.disk_gb * GIB
    if image.virtual_size is not None and image.virtual_size > flavor_bytes:
        raise BuildError(
            DISK_TOO_SMALL.format(flavor=flavor_bytes, image=image.virtual_size)
            + f" ({which_flavor}: {_gib(flavor_bytes)} of disk; {which_image}: "
            f"{_gib(image.virtual_size)}; choose a flavor with diskGB of at least "
            f"{math.ceil(image.virtual_size / GIB)})"
        )
    if image.min_disk_gb * GIB > flavor_bytes:
        raise BuildError(
            DISK_BELOW_MIN.format(flavor=flavor_bytes, image=image.min_disk_gb * GIB)
            + f" ({which_flavor}: {_gib(flavor_bytes)} of disk; {which_image} has minDiskGB "
            f"{image.min_disk_gb})"
        )


def root_disk_gb(flavor: api.FlavorSpec, image: ImageDisk) -> int:
    """The root disk's size: the flavor's, or with diskGB 0 the image's, as Nova sizes it."""
    if flavor.disk_gb:
        return flavor.disk_gb
    image_gb = math.ceil(image.virtual_size / GIB) if image.virtual_size else 0
    return max(image.min_disk_gb, image_gb, 1)


def cpu_topology(vcpus: int, extra_specs: dict[str, str]) -> tuple[int, int, int]:
    """(sockets, cores, threads) from hw:cpu_* extra specs; Nova prefers sockets otherwise."""
    given = {
        part: int(extra_specs[f"hw:cpu_{part}"])
        for part in ("sockets", "cores", "threads")
        if f"hw:cpu_{part}" in extra_specs
    }
    missing = [part for part in ("sockets", "cores", "threads") if part not in given]
    known = math.prod(given.values())
    if vcpus % known:
        raise BuildError(
            f"flavor extra specs hw:cpu_sockets, hw:cpu_cores and hw:cpu_threads "
            f"({given}) do not divide the flavor's {vcpus} vcpus"
        )
    for part in missing:
        given[part] = vcpus // known if part == missing[0] else 1
    if given["sockets"] * given["cores"] * given["threads"] != vcpus:
        raise BuildError(
            f"flavor extra specs give {given['sockets']} sockets x {given['cores']} cores x "
            f"{given['threads']} threads, which is not the flavor's {vcpus} vcpus"
        )
    return given["sockets"], given["cores"], given["threads"]


_PAGE_SIZES = {"large": "2Mi", "2mb": "2Mi", "2048kb": "2Mi", "2m": "2Mi", "1gb": "1Gi",
               "1g": "1Gi", "1024mb": "1Gi", "1048576kb": "1Gi"}  # fmt: skip


def hugepage_size(extra_specs: dict[str, str]) -> str | None:
    """KubeVirt's hugepages pageSize for hw:mem_page_size; small and any mean none."""
    value = extra_specs.get("hw:mem_page_size", "small").lower().replace("i", "")
    if value in ("small", "any", "4kb", "4k"):
        return None
    if value not in _PAGE_SIZES:
        raise BuildError(
            f"hw:mem_page_size {extra_specs['hw:mem_page_size']!r} is not a page size this "
            f"cloud has; use small, large, 2MB or 1GB"
        )
    return _PAGE_SIZES[value]


def user_data(text: str | None, public_keys: tuple[str, ...], hostname: str) -> str:
    """cloud-init user data: the user's own, with the keypair and hostname added as Nova does.

    A #cloud-config document gets ssh_authorized_keys and hostname merged in; anything else
    (a script, a MIME archive) travels as one part of a multipart archive beside them.
    """
    ours: dict[str, Any] = {"hostname": hostname}
    if public_keys:
        ours["ssh_authorized_keys"] = list(public_keys)
    if text is None or not text.strip():
        return "#cloud-config\n" + _dump(ours, sort_keys=False, width=65536)
    if text.lstrip().startswith("#cloud-config"):
        theirs = yaml.load(text, Loader=_LOADER) or {}
        if isinstance(theirs, dict):
            keys = [*theirs.get("ssh_authorized_keys", []), *ours.pop("ssh_authorized_keys", [])]
            merged = {**ours, **theirs}
            if keys:
                merged["ssh_authorized_keys"] = keys
            return "#cloud-config\n" + _dump(merged, sort_keys=False, width=65536)
    archive = email.mime.multipart.MIMEMultipart(boundary=MULTIPART_BOUNDARY)
    config = "#cloud-config\n" + _dump(ours, sort_keys=False, width=65536)
    archive.attach(email.mime.text.MIMEText(config, "cloud-config"))
    subtype = "x-shellscript" if text.startswith("#!") else "x-not-multipart"
    archive.attach(email.mime.text.MIMEText(text, subtype))
    return archive.as_string()


def network_data(interfaces: tuple[Interface, ...]) -> str:
    """cloud-init network config (version 2): static addresses matched by MAC."""
    ethernets: dict[str, Any] = {}
    for index, interface in enumerate(interfaces):
        config: dict[str, Any] = {"match": {"macaddress": interface.mac}, "set-name": f"eth{index}"}
        if interface.addresses:
            config["addresses"] = list(interface.addresses)
        else:
            config["dhcp4"] = True
        routes = [{"to": dest, "via": hop} for dest, hop in interface.routes]
        if interface.gateway and index == 0:
            routes.insert(0, {"to": "default", "via": interface.gateway})
        if routes:
            config["routes"] = routes
        if interface.dns:
            config["nameservers"] = {"addresses": list(interface.dns)}
        ethernets[f"eth{index}"] = config
    return _dump({"version": 2, "ethernets": ethernets}, sort_keys=False)


def run_strategy(power_state: str) -> str:
    """Nimbus's powerState -> KubeVirt's runStrategy (a paused VM keeps running)."""
    return "Halted" if power_state == "Stopped" else "Always"


def pod_labels(inputs: ServerInputs) -> dict[str, str]:
    """Labels the VM template carries to the virt-launcher pod, for placement and policy."""
    spec, flavor = inputs.spec, inputs.flavor
    out = {
        "app.kubernetes.io/managed-by": "nimbus",
        scheduling.SERVER: inputs.name,
        scheduling.PROJECT: inputs.namespace,
        scheduling.FLAVOR: inputs.flavor_name,
        scheduling.VCPUS: str(flavor.vcpus),
        scheduling.MEMORY_MB: str(flavor.ram_mb),
        scheduling.DISK_GB: str(disk_request_gb(flavor, boot_from_volume=inputs.image is None)),
    }
    if spec.server_group:
        out[scheduling.SERVER_GROUP] = spec.server_group
    for group in spec.security_groups:
        out[network_render.security_group_label(group)] = "true"
    return out


def disk_request_gb(flavor: api.FlavorSpec, *, boot_from_volume: bool) -> int:
    """The disk placement asks of a host, as Nova's resources_from_flavor: root (none when
    booting from a volume), ephemeral, and swap rounded up to whole GB."""
    root = 0 if boot_from_volume else flavor.disk_gb
    return root + flavor.ephemeral_gb + -(-flavor.swap_mb // 1024)


def pod_annotations(inputs: ServerInputs) -> dict[str, str]:
    hints = inputs.spec.scheduler_hints
    out = {scheduling.FLAVOR_SPEC: json.dumps(inputs.flavor.to_api(), sort_keys=True)}
    if inputs.spec.image is not None:
        out[scheduling.IMAGE] = inputs.spec.image.name
    if hints is not None:
        out[scheduling.SCHEDULER_HINTS] = json.dumps(hints.to_api(), sort_keys=True)
    if inputs.image is not None and inputs.image.properties:
        out[scheduling.IMAGE_PROPERTIES] = json.dumps(inputs.image.properties, sort_keys=True)
    return out


def cloud_init_secret_name(server: str) -> str:
    return f"{server}-cloudinit"


def root_volume_name(server: str, generation: int = 0) -> str:
    """The root disk's DataVolume: each rebuild makes a new one, a generation on."""
    return f"{server}-root" if generation == 0 else f"{server}-root-{generation}"


def render_cloud_init_secret(inputs: ServerInputs) -> dict[str, Any]:
    """The NoCloud Secret (never inline: KubeVirt refuses inline user data over 2 KiB)."""
    hostname = inputs.spec.hostname or inputs.name
    return templating.render(
        "cloudinit-secret.yaml.j2",
        name=cloud_init_secret_name(inputs.name),
        namespace=inputs.namespace,
        labels={"app.kubernetes.io/managed-by": "nimbus", f"{LABEL}/server": inputs.name},
        owner=[inputs.owner] if inputs.owner else [],
        user_data=user_data(
            inputs.spec.user_data if inputs.secret_user_data is None else inputs.secret_user_data,
            inputs.public_keys,
            hostname,
        ),
        network_data=network_data(inputs.interfaces),
    )


def render_virtual_machine(inputs: ServerInputs) -> dict[str, Any]:
    """The KubeVirt VirtualMachine of a Server."""
    spec, flavor = inputs.spec, inputs.flavor
    properties = inputs.image.properties if inputs.image else {}
    bus = properties.get("hw_disk_bus", "virtio")
    disks: list[dict[str, Any]] = [{"name": "root", "disk": {"bus": bus}, "bootOrder": 1}]
    volumes: list[dict[str, Any]] = []
    data_volume_templates: list[dict[str, Any]] = []
    if inputs.image is not None:
        check_flavor_fits_image(flavor, inputs.image, inputs.flavor_name)
        root = root_volume_name(inputs.name, inputs.root_generation)
        volumes.append({"name": "root", "dataVolume": {"name": root}})
        data_volume_templates.append(
            {
                "metadata": {"name": root},
                "spec": {
                    "source": {
                        "pvc": {
                            "namespace": inputs.image.namespace,
                            "name": inputs.image.data_volume,
                        }
                    },
                    "storage": {
                        "resources": {
                            "requests": {"storage": f"{root_disk_gb(flavor, inputs.image)}Gi"}
                        }
                    },
                },
            }
        )
    elif inputs.boot_claim is not None:
        volumes.append({"name": "root", "persistentVolumeClaim": {"claimName": inputs.boot_claim}})
    else:
        raise BuildError("a server boots from exactly one of image or bootVolume")

    disks.append({"name": "cloudinit", "disk": {"bus": "virtio"}})
    volumes.append(
        {
            "name": "cloudinit",
            "cloudInitNoCloud": {
                "secretRef": {"name": cloud_init_secret_name(inputs.name)},
                "networkDataSecretRef": {"name": cloud_init_secret_name(inputs.name)},
            },
        }
    )
    if flavor.ephemeral_gb:
        disks.append({"name": "ephemeral", "disk": {"bus": "virtio"}})
        volumes.append({"name": "ephemeral", "emptyDisk": {"capacity": f"{flavor.ephemeral_gb}Gi"}})
    if flavor.swap_mb:
        disks.append({"name": "swap", "disk": {"bus": "virtio"}})
        volumes.append({"name": "swap", "emptyDisk": {"capacity": f"{flavor.swap_mb}Mi"}})
    for index, (_volume, claim) in enumerate(inputs.volume_claims):
        # Hotplugged disks must sit on the SCSI bus.
        disks.append({"name": f"volume-{index}", "disk": {"bus": "scsi"}})
        volumes.append(
            {
                "name": f"volume-{index}",
                "persistentVolumeClaim": {"claimName": claim, "hotpluggable": True},
            }
        )

    if inputs.interfaces:
        interfaces = [
            {"name": f"net{i}", "bridge": {}, "macAddress": interface.mac}
            for i, interface in enumerate(inputs.interfaces)
        ]
        networks = [
            {"name": f"net{i}", "multus": {"networkName": interface.attachment}}
            for i, interface in enumerate(inputs.interfaces)
        ]
    else:
        interfaces = [{"name": "default", "masquerade": {}}]
        networks = [{"name": "default", "pod": {}}]

    sockets, cores, threads = cpu_topology(flavor.vcpus, flavor.extra_specs)
    cpu: dict[str, Any] = {"sockets": sockets, "cores": cores, "threads": threads}
    if flavor.extra_specs.get("hw:cpu_policy") == "dedicated":
        cpu["dedicatedCpuPlacement"] = True
    memory: dict[str, Any] = {"guest": f"{flavor.ram_mb}Mi"}
    page_size = hugepage_size(flavor.extra_specs)
    if page_size:
        memory["hugepages"] = {"pageSize": page_size}
    domain: dict[str, Any] = {
        "cpu": cpu,
        "memory": memory,
        "devices": {"disks": disks, "interfaces": interfaces},
    }
    if properties.get("hw_firmware_type") == "uefi":
        domain["firmware"] = {"bootloader": {"efi": {"secureBoot": False}}}

    template_spec: dict[str, Any] = {
        "domain": domain,
        "networks": networks,
        "volumes": volumes,
        "hostname": spec.hostname or inputs.name,
    }
    if spec.availability_zone:
        template_spec["nodeSelector"] = {"topology.kubernetes.io/zone": spec.availability_zone}
    if inputs.placement:
        template_spec["schedulerName"] = "nimbus-scheduler"

    template_labels = pod_labels(inputs)
    return templating.render(
        "virtualmachine.yaml.j2",
        name=inputs.name,
        namespace=inputs.namespace,
        labels={k: template_labels[k] for k in ("app.kubernetes.io/managed-by", f"{LABEL}/server")},
        owner=[inputs.owner] if inputs.owner else [],
        run_strategy=run_strategy(spec.power_state),
        data_volume_templates=data_volume_templates,
        template_labels=template_labels,
        template_annotations=pod_annotations(inputs),
        template_spec=template_spec,
    )
