"""The compute.nimbus.dev kinds: Flavor, KeyPair, ServerGroup and Server."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import pydantic

from nimbus.api import meta

GROUP = "compute.nimbus.dev"

_FLAVOR_IMMUTABLE = (
    "a flavor's size cannot change, as in Nova; create a new flavor and resize to it"
)

# The extra specs KubeVirt can honour, checked where a typo would otherwise be silently ignored.
_EXTRA_SPEC_RULES = (
    meta.rule(
        "self.all(k, size(k) <= 255)",
        "extra spec keys are at most 255 characters, as in Nova",
    ),
    meta.rule(
        "!('hw:cpu_policy' in self) || self['hw:cpu_policy'] in ['shared', 'dedicated', 'mixed']",
        "hw:cpu_policy must be one of shared, dedicated, mixed",
    ),
    meta.rule(
        "!('hw:cpu_thread_policy' in self) || "
        "self['hw:cpu_thread_policy'] in ['prefer', 'isolate', 'require']",
        "hw:cpu_thread_policy must be one of prefer, isolate, require",
    ),
    meta.rule(
        "!('hw:mem_page_size' in self) || self['hw:mem_page_size'] in ['small', 'large', 'any'] "
        "|| self['hw:mem_page_size'].matches('^[0-9]+([KMG]i?B?)?$')",
        "hw:mem_page_size must be small, large, any or a size such as 2MB or 1GB",
    ),
    meta.rule(
        "['hw:cpu_sockets', 'hw:cpu_cores', 'hw:cpu_threads', 'hw:numa_nodes']"
        ".all(k, !(k in self) || self[k].matches('^[1-9][0-9]{0,3}$'))",
        "hw:cpu_sockets, hw:cpu_cores, hw:cpu_threads and hw:numa_nodes are positive integers",
    ),
)


class FlavorSpec(meta.Model):
    """A Nova flavor: the size of a server. Immutable but for its description and extra specs."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "!self.isPublic || !has(self.projects) || size(self.projects) == 0",
                "projects: an access list is only for private flavors (isPublic: false)",
                field_path=".projects",
            )
        )
    )

    vcpus: int = pydantic.Field(
        ge=1, le=4096, json_schema_extra=meta.immutable("vcpus", _FLAVOR_IMMUTABLE)
    )
    ram_mb: int = pydantic.Field(
        ge=1, le=2**31 - 1, json_schema_extra=meta.immutable("ramMB", _FLAVOR_IMMUTABLE)
    )
    disk_gb: int = pydantic.Field(
        default=0,
        ge=0,
        le=2**31 - 1,
        description="Root disk size; 0 means the size of the image, as in Nova.",
        json_schema_extra=meta.immutable("diskGB", _FLAVOR_IMMUTABLE),
    )
    ephemeral_gb: int = pydantic.Field(
        default=0,
        ge=0,
        le=2**31 - 1,
        json_schema_extra=meta.immutable("ephemeralGB", _FLAVOR_IMMUTABLE),
    )
    swap_mb: int = pydantic.Field(
        default=0, ge=0, le=2**31 - 1, json_schema_extra=meta.immutable("swapMB", _FLAVOR_IMMUTABLE)
    )
    rxtx_factor: float = pydantic.Field(
        default=1.0, gt=0, json_schema_extra=meta.immutable("rxtxFactor", _FLAVOR_IMMUTABLE)
    )
    is_public: bool = pydantic.Field(
        default=True, json_schema_extra=meta.immutable("isPublic", _FLAVOR_IMMUTABLE)
    )
    description: str = pydantic.Field(default="", max_length=65535)
    extra_specs: dict[str, meta.Value] = pydantic.Field(
        default_factory=dict,
        max_length=256,
        json_schema_extra=meta.validations(*_EXTRA_SPEC_RULES),
    )
    projects: list[meta.Name] = pydantic.Field(
        default_factory=list,
        max_length=1024,
        description="Projects that may use a private flavor (Nova's flavor access list).",
        json_schema_extra=meta.LIST_SET,
    )


class FlavorStatus(meta.Status):
    pass


class Flavor(meta.Resource):
    """A Nova flavor: vCPUs, RAM, disks and extra specs a server is sized by."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "flavors"
    short_names: ClassVar[tuple[str, ...]] = ("osflavor",)
    scope: ClassVar[Literal["Namespaced", "Cluster"]] = "Cluster"
    openstack: ClassVar[str] = "Nova flavor"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("RAM", ".spec.ramMB", "integer", description="RAM in MB"),
        meta.Column("Disk", ".spec.diskGB", "integer", description="root disk in GB"),
        meta.Column(
            "Ephemeral", ".spec.ephemeralGB", "integer", description="ephemeral disk in GB"
        ),
        meta.Column("VCPUs", ".spec.vcpus", "integer"),
        meta.Column("Is Public", ".spec.isPublic", "boolean"),
        meta.AGE,
    )

    spec: FlavorSpec
    status: FlavorStatus | None = None


class KeyPairSpec(meta.Model):
    """A Nova keypair. Without a public key, Nimbus generates one and hands out the private key."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "!has(self.publicKey) || (self.type == 'ssh' ? "
                "self.publicKey.matches('^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|"
                "sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh.com) [A-Za-z0-9+/]+=*( .*)?$') : "
                "self.publicKey.startsWith('-----BEGIN CERTIFICATE-----'))",
                "publicKey must be an OpenSSH public key ('ssh-ed25519 AAAA... comment') for "
                "type ssh, or a PEM certificate for type x509",
                field_path=".publicKey",
            )
        )
    )

    public_key: str | None = pydantic.Field(
        default=None,
        min_length=1,
        max_length=16384,
        json_schema_extra=meta.immutable("publicKey", "delete the keypair and import the new key"),
    )
    type: Literal["ssh", "x509"] = pydantic.Field(
        default="ssh", json_schema_extra=meta.immutable("type", "delete and recreate the keypair")
    )


class KeyPairStatus(meta.Status):
    fingerprint: str | None = None
    public_key: str | None = None
    private_key_secret: str | None = pydantic.Field(
        default=None, description="The Secret holding a generated private key, handed out once."
    )


class KeyPair(meta.Resource):
    """A Nova keypair: a public key injected into servers by cloud-init."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "keypairs"
    short_names: ClassVar[tuple[str, ...]] = ("oskeypair",)
    openstack: ClassVar[str] = "Nova keypair"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Fingerprint", ".status.fingerprint"),
        meta.Column("Type", ".spec.type"),
        meta.AGE,
    )

    spec: KeyPairSpec = pydantic.Field(default_factory=KeyPairSpec)
    status: KeyPairStatus | None = None


class ServerGroupRules(meta.Model):
    max_server_per_host: int | None = pydantic.Field(default=None, ge=1, le=1000)


class ServerGroupSpec(meta.Model):
    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "!has(self.rules) || !has(self.rules.maxServerPerHost) || "
                "self.policy == 'anti-affinity'",
                "rules.maxServerPerHost applies only to the anti-affinity policy",
                field_path=".rules.maxServerPerHost",
            )
        )
    )

    policy: Literal["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"] = (
        pydantic.Field(
            json_schema_extra=meta.immutable("policy", "a server group's policy cannot change")
        )
    )
    rules: ServerGroupRules | None = pydantic.Field(
        default=None,
        json_schema_extra=meta.immutable("rules", "a server group's rules cannot change"),
    )


class ServerGroupStatus(meta.Status):
    members: list[str] = pydantic.Field(default_factory=list, json_schema_extra=meta.LIST_SET)
    hosts: list[str] = pydantic.Field(default_factory=list, json_schema_extra=meta.LIST_SET)


class ServerGroup(meta.Resource):
    """A Nova server group: affinity or anti-affinity among its member servers."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "servergroups"
    short_names: ClassVar[tuple[str, ...]] = ("osservergroup",)
    openstack: ClassVar[str] = "Nova server group"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Policy", ".spec.policy"),
        meta.Column("Members", ".status.members"),
        meta.AGE,
    )

    spec: ServerGroupSpec
    status: ServerGroupStatus | None = None


class ImageRef(meta.Model):
    name: meta.Name
    project: str | None = pydantic.Field(
        default=None,
        max_length=63,
        description="The project (namespace) of a public or shared image; default: the server's.",
    )


_DELETE_ON_TERMINATION = "Delete the volume with the server, as Nova's delete_on_termination."


class VolumeRef(meta.Model):
    name: meta.Name
    delete_on_termination: bool = pydantic.Field(default=False, description=_DELETE_ON_TERMINATION)


class ServerNetwork(meta.Model):
    """One interface: on a network (optionally with a fixed IP), or on a pre-made port."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "has(self.network) != has(self.port)",
                "each entry of networks names exactly one of network or port",
            ),
            meta.rule(
                "!has(self.fixedIP) || has(self.network)",
                "fixedIP goes with network; a port carries its own addresses",
                field_path=".fixedIP",
            ),
        )
    )

    network: meta.Name | None = None
    port: meta.Name | None = None
    fixed_ip: str | None = pydantic.Field(
        default=None,
        max_length=45,
        json_schema_extra=meta.validations(
            meta.rule("isIP(self)", "fixedIP must be an IPv4 or IPv6 address")
        ),
    )


class ServerVolume(meta.Model):
    volume: meta.Name
    device: str | None = pydantic.Field(
        default=None, max_length=32, pattern=r"^(/dev/)?[a-z]{2,3}[a-z]$"
    )
    delete_on_termination: bool = pydantic.Field(default=False, description=_DELETE_ON_TERMINATION)


class SchedulerHints(meta.Model):
    """Nova's scheduler hints."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "has(self.buildNearHostIP) == has(self.cidr)",
                "buildNearHostIP and cidr go together",
            ),
        )
    )

    same_host: list[meta.Name] = pydantic.Field(
        default_factory=list, max_length=64, json_schema_extra=meta.LIST_SET
    )
    different_host: list[meta.Name] = pydantic.Field(
        default_factory=list, max_length=64, json_schema_extra=meta.LIST_SET
    )
    query: str | None = pydantic.Field(
        default=None, max_length=4096, description="A JsonFilter query, as Nova's `query` hint."
    )
    build_near_host_ip: str | None = pydantic.Field(
        default=None,
        max_length=45,
        json_schema_extra=meta.validations(
            meta.rule("isIP(self)", "buildNearHostIP must be an IP address")
        ),
    )
    cidr: str | None = pydantic.Field(
        default=None, max_length=4, pattern=r"^/[0-9]{1,3}$", description="Prefix such as /24."
    )


ServerState = Literal[
    "BUILD", "ACTIVE", "SHUTOFF", "PAUSED", "SUSPENDED", "RESCUE", "RESIZE", "VERIFY_RESIZE",
    "REVERT_RESIZE", "REBUILD", "REBOOT", "HARD_REBOOT", "MIGRATING", "SHELVED",
    "SHELVED_OFFLOADED", "ERROR", "DELETED", "UNKNOWN",
]  # fmt: skip


USER_DATA_SECRET_TYPE = "nimbus.dev/user-data"


class UserDataSecret(meta.Model):
    """User data kept in a Secret of type nimbus.dev/user-data, which the reader role cannot
    read (docs/compute.md: who sees user data)."""

    name: meta.Name
    key: str = pydantic.Field(default="userdata", max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")


class ServerSpec(meta.Model):
    """A Nova server: boots from an image or a volume, on networks, sized by a flavor."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "has(self.image) != has(self.bootVolume)",
                "a server boots from exactly one of image or bootVolume",
            ),
            meta.rule(
                "!(has(self.userData) && has(self.userDataSecret))",
                "give user data in one of userData (readable by whoever reads the server) or "
                "userDataSecret (a Secret of type nimbus.dev/user-data), not both",
            ),
            meta.rule(
                "!has(self.serverGroup) == !has(oldSelf.serverGroup)",
                "serverGroup is immutable: a server cannot join or leave a server group, "
                "as in Nova",
                field_path=".serverGroup",
            ),
        )
    )

    flavor: meta.Name
    image: ImageRef | None = None
    boot_volume: VolumeRef | None = None
    networks: list[ServerNetwork] = pydantic.Field(
        default_factory=list, max_length=16, json_schema_extra=meta.LIST_ATOMIC
    )
    security_groups: list[meta.Name] = pydantic.Field(
        default_factory=lambda: ["default"],
        max_length=16,
        description="Default: the project's `default` group, as in Nova.",
        json_schema_extra={**meta.LIST_SET, "default": ["default"]},
    )
    key_name: meta.Name | None = None
    user_data: str | None = pydantic.Field(
        default=None,
        max_length=65535,
        description="cloud-init user data, as plain text.",
        json_schema_extra=meta.validations(
            meta.rule(
                "!self.matches('[\\\\x00-\\\\x08\\\\x0b\\\\x0c\\\\x0e-\\\\x1f\\\\x7f]')",
                "userData must be text (cloud-init user data): control characters other than "
                "tab, newline and carriage return are refused, as YAML refuses them; carry "
                "binary data base64-encoded (a write_files entry with encoding: b64)",
            )
        ),
    )
    user_data_secret: UserDataSecret | None = pydantic.Field(
        default=None,
        description="cloud-init user data from a Secret of type nimbus.dev/user-data, for user "
        "data holding secrets: project readers see userData, but no Secret.",
    )
    metadata: dict[str, meta.Value] = pydantic.Field(
        default_factory=dict,
        max_length=128,
        json_schema_extra=meta.validations(
            meta.rule(
                "self.all(k, size(k) <= 255)",
                "metadata keys are at most 255 characters, as in Nova",
            )
        ),
    )
    volumes: list[ServerVolume] = pydantic.Field(
        default_factory=list, max_length=26, json_schema_extra=meta.list_map("volume")
    )
    availability_zone: str | None = pydantic.Field(
        default=None,
        max_length=63,
        json_schema_extra=meta.immutable("availabilityZone", "migrate the server instead"),
    )
    server_group: meta.Name | None = pydantic.Field(
        default=None,
        json_schema_extra=meta.immutable(
            "serverGroup", "a server cannot join or leave a server group, as in Nova"
        ),
    )
    scheduler_hints: SchedulerHints | None = None
    power_state: Literal["Running", "Stopped", "Paused"] = "Running"
    config_drive: bool = False
    hostname: str | None = pydantic.Field(
        default=None, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    )
    description: str = pydantic.Field(default="", max_length=255)
    tags: list[str] = pydantic.Field(
        default_factory=list, max_length=50, json_schema_extra=meta.LIST_SET
    )


class Address(meta.Model):
    addr: str
    version: Literal[4, 6]
    type: Literal["fixed", "floating"] = "fixed"
    mac: str | None = None


AddressList = Annotated[list[Address], pydantic.Field(json_schema_extra=meta.LIST_ATOMIC)]


class ServerBuilt(meta.Model):
    """What the server's VM was last built with: a change from it is a resize, a rebuild or a
    reboot."""

    flavor: str | None = None
    image: str | None = pydantic.Field(default=None, description="project/name of the image")
    root_generation: int = pydantic.Field(
        default=0, ge=0, description="Rebuilds so far: the root disk's generation."
    )
    reboot: str | None = pydantic.Field(
        default=None, description="The compute.nimbus.dev/reboot annotation last acted on."
    )


class ServerOperation(meta.Model):
    """A reboot, resize or rebuild under way."""

    type: Literal["REBOOT", "HARD_REBOOT", "RESIZE", "REBUILD"]
    instance: str | None = pydantic.Field(
        default=None, description="The UID of the VirtualMachineInstance it restarted."
    )


class ServerStatus(meta.Status):
    status: ServerState | None = None
    task_state: str | None = None
    power_state: (
        Literal["NOSTATE", "RUNNING", "PAUSED", "SHUTDOWN", "CRASHED", "SUSPENDED"] | None
    ) = None
    host: str | None = None
    availability_zone: str | None = None
    addresses: dict[str, AddressList] = pydantic.Field(default_factory=dict)
    networks: str | None = pydantic.Field(
        default=None, description="The addresses as `openstack server list` prints them."
    )
    fault: meta.Fault | None = None
    progress: int | None = pydantic.Field(default=None, ge=0, le=100)
    virtual_machine: str | None = None
    launched_at: str | None = pydantic.Field(
        default=None, json_schema_extra={"format": "date-time"}
    )
    built: ServerBuilt | None = None
    operation: ServerOperation | None = None


class Server(meta.Resource):
    """A Nova server: a KubeVirt VirtualMachine booted from an image or a volume."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "servers"
    short_names: ClassVar[tuple[str, ...]] = ("osserver",)
    openstack: ClassVar[str] = "Nova server"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Status", ".status.status"),
        meta.Column("Networks", ".status.networks"),
        meta.Column("Image", ".spec.image.name"),
        meta.Column(
            "Flavor",
            ".status.built.flavor",
            description="the flavor it runs with (a refused resize leaves it as it was)",
        ),
        meta.Column("Host", ".status.host"),
        meta.AGE,
    )
    object_rules: ClassVar[tuple[dict[str, str], ...]] = (
        meta.rule(
            "size(self.metadata.name) <= 63 && "
            "self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
            "metadata.name: a server's name is its hostname, so it must be a DNS label "
            "(at most 63 lowercase letters, digits and '-')",
        ),
    )

    spec: ServerSpec
    status: ServerStatus | None = None
