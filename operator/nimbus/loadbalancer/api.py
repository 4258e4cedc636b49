"""The loadbalancer.nimbus.dev kinds, Octavia's model: LoadBalancer, Listener, Pool, Member and
HealthMonitor, each naming its parent, as Octavia's API objects name theirs by id."""

from __future__ import annotations

from typing import ClassVar, Literal

import pydantic

from nimbus.api import meta
from nimbus.network.api import CIDR, IPAddress

GROUP = "loadbalancer.nimbus.dev"

ProvisioningStatus = Literal[
    "ACTIVE", "PENDING_CREATE", "PENDING_UPDATE", "PENDING_DELETE", "ERROR"
]
OperatingStatus = Literal["ONLINE", "OFFLINE", "DEGRADED", "ERROR", "NO_MONITOR", "DRAINING"]
_PROVISIONING = meta.Column("Provisioning Status", ".status.provisioningStatus")
_OPERATING = meta.Column("Operating Status", ".status.operatingStatus")


class LBStatus(meta.Status):
    """Octavia's two statuses: what the control plane did, and what the amphora sees."""

    provisioning_status: ProvisioningStatus | None = None
    operating_status: OperatingStatus | None = None


class LoadBalancerSpec(meta.Model):
    vip_subnet: meta.Name = pydantic.Field(
        description="The subnet the VIP is on (Octavia's vip_subnet_id).",
        json_schema_extra=meta.immutable("vipSubnet", "create a new load balancer"),
    )
    vip_address: IPAddress | None = pydantic.Field(
        default=None,
        description="Default: allocated from the subnet.",
        json_schema_extra=meta.immutable("vipAddress", "create a new load balancer"),
    )
    provider: Literal["amphora"] = "amphora"
    admin_state_up: bool = True
    description: str = pydantic.Field(default="", max_length=255)


class HealthReport(meta.Model):
    """What the amphora agent last read from HAProxy: operating statuses by object name."""

    config: str = pydantic.Field(description="The digest of the HAProxy configuration running.")
    listeners: dict[str, str] = pydantic.Field(default_factory=dict)
    pools: dict[str, str] = pydantic.Field(default_factory=dict)
    members: dict[str, str] = pydantic.Field(default_factory=dict)
    load_balancer: str | None = None
    reported_at: str | None = None


class LoadBalancerStatus(LBStatus):
    vip_address: str | None = None
    vip_cidr: str | None = pydantic.Field(default=None, description="The VIP subnet's cidr.")
    vip_port: str | None = None
    network: str | None = None
    config: str | None = pydantic.Field(
        default=None, description="The digest of the HAProxy configuration it should run."
    )
    health: HealthReport | None = None
    deployment: str | None = None


class LoadBalancer(meta.Resource):
    """An Octavia load balancer: an amphora pod running HAProxy on the VIP subnet."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "loadbalancers"
    short_names: ClassVar[tuple[str, ...]] = ("oslb",)
    openstack: ClassVar[str] = "Octavia load balancer"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("VIP Address", ".status.vipAddress"),
        _PROVISIONING,
        _OPERATING,
        meta.Column("Subnet", ".spec.vipSubnet", priority=1),
        meta.AGE,
    )

    spec: LoadBalancerSpec
    status: LoadBalancerStatus | None = None


class ListenerSpec(meta.Model):
    load_balancer: meta.Name = pydantic.Field(
        json_schema_extra=meta.immutable("loadBalancer", "create a new listener")
    )
    protocol: Literal["HTTP", "TCP", "HTTPS"] = pydantic.Field(
        json_schema_extra=meta.immutable("protocol", "create a new listener")
    )
    protocol_port: int = pydantic.Field(ge=1, le=65535)
    connection_limit: int = pydantic.Field(default=-1, ge=-1, description="-1: unlimited.")
    default_pool: meta.Name | None = None
    timeout_client_data: int = pydantic.Field(default=50000, ge=0, le=31536000000)
    timeout_member_connect: int = pydantic.Field(default=5000, ge=0, le=31536000000)
    timeout_member_data: int = pydantic.Field(default=50000, ge=0, le=31536000000)
    allowed_cidrs: list[CIDR] = pydantic.Field(
        default_factory=list, max_length=32, json_schema_extra=meta.LIST_SET
    )
    admin_state_up: bool = True
    description: str = pydantic.Field(default="", max_length=255)


class Listener(meta.Resource):
    """An Octavia listener: a port of the load balancer's VIP (an HAProxy frontend)."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "listeners"
    short_names: ClassVar[tuple[str, ...]] = ("oslistener",)
    openstack: ClassVar[str] = "Octavia listener"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Load Balancer", ".spec.loadBalancer"),
        meta.Column("Protocol", ".spec.protocol"),
        meta.Column("Protocol Port", ".spec.protocolPort", "integer"),
        _PROVISIONING,
        _OPERATING,
        meta.AGE,
    )

    spec: ListenerSpec
    status: LBStatus | None = None


class SessionPersistence(meta.Model):
    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "self.type == 'APP_COOKIE' || !has(self.cookieName)",
                "cookieName is for APP_COOKIE only, as in Octavia",
                field_path=".cookieName",
            ),
            meta.rule(
                "self.type != 'APP_COOKIE' || has(self.cookieName)",
                "APP_COOKIE needs cookieName",
                field_path=".cookieName",
            ),
        )
    )

    type: Literal["SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE"]
    cookie_name: str | None = pydantic.Field(
        default=None, max_length=255, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"
    )


class PoolSpec(meta.Model):
    load_balancer: meta.Name = pydantic.Field(
        json_schema_extra=meta.immutable("loadBalancer", "create a new pool")
    )
    protocol: Literal["HTTP", "TCP", "HTTPS", "PROXY"] = pydantic.Field(
        json_schema_extra=meta.immutable("protocol", "create a new pool")
    )
    lb_algorithm: Literal["ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP"] = "ROUND_ROBIN"
    session_persistence: SessionPersistence | None = None
    admin_state_up: bool = True
    description: str = pydantic.Field(default="", max_length=255)


class Pool(meta.Resource):
    """An Octavia pool: the members a listener balances across (an HAProxy backend)."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "pools"
    short_names: ClassVar[tuple[str, ...]] = ("ospool",)
    openstack: ClassVar[str] = "Octavia pool"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Load Balancer", ".spec.loadBalancer"),
        meta.Column("Protocol", ".spec.protocol"),
        meta.Column("LB Algorithm", ".spec.lbAlgorithm"),
        _PROVISIONING,
        _OPERATING,
        meta.AGE,
    )

    spec: PoolSpec
    status: LBStatus | None = None


class MemberSpec(meta.Model):
    pool: meta.Name = pydantic.Field(
        json_schema_extra=meta.immutable("pool", "create a new member")
    )
    address: IPAddress = pydantic.Field(
        json_schema_extra=meta.immutable("address", "create a new member")
    )
    protocol_port: int = pydantic.Field(
        ge=1, le=65535, json_schema_extra=meta.immutable("protocolPort", "create a new member")
    )
    subnet: meta.Name | None = pydantic.Field(
        default=None, description="The member's subnet; default: the VIP's."
    )
    weight: int = pydantic.Field(default=1, ge=0, le=256)
    backup: bool = False
    monitor_address: IPAddress | None = None
    monitor_port: int | None = pydantic.Field(default=None, ge=1, le=65535)
    admin_state_up: bool = True


class MemberStatus(LBStatus):
    pass


class Member(meta.Resource):
    """An Octavia member: one backend server of a pool."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "members"
    short_names: ClassVar[tuple[str, ...]] = ("osmember",)
    openstack: ClassVar[str] = "Octavia member"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Pool", ".spec.pool"),
        meta.Column("Address", ".spec.address"),
        meta.Column("Protocol Port", ".spec.protocolPort", "integer"),
        meta.Column("Weight", ".spec.weight", "integer", priority=1),
        _PROVISIONING,
        _OPERATING,
        meta.AGE,
    )

    spec: MemberSpec
    status: MemberStatus | None = None


class HealthMonitorSpec(meta.Model):
    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "self.timeout <= self.delay",
                "timeout must be less than or equal to delay, as in Octavia",
                field_path=".timeout",
            )
        )
    )

    pool: meta.Name = pydantic.Field(
        json_schema_extra=meta.immutable("pool", "create a new health monitor")
    )
    type: Literal["HTTP", "HTTPS", "TCP", "TLS-HELLO"] = pydantic.Field(
        json_schema_extra=meta.immutable("type", "create a new health monitor")
    )
    delay: int = pydantic.Field(ge=0, le=2147483647, description="Seconds between checks.")
    timeout: int = pydantic.Field(ge=0, le=2147483647, description="Seconds; at most delay.")
    max_retries: int = pydantic.Field(ge=1, le=10, description="Successes that bring it up.")
    max_retries_down: int = pydantic.Field(default=3, ge=1, le=10)
    http_method: Literal["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT",
                         "TRACE"] = "GET"  # fmt: skip
    url_path: str = pydantic.Field(default="/", max_length=2048, pattern=r"^/")
    expected_codes: str = pydantic.Field(
        default="200", max_length=64, pattern=r"^(\d{3}(\s*,\s*\d{3})*)$|^(\d{3}-\d{3})$"
    )
    admin_state_up: bool = True


class HealthMonitor(meta.Resource):
    """An Octavia health monitor: HAProxy's checks of a pool's members."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "healthmonitors"
    short_names: ClassVar[tuple[str, ...]] = ("oshm",)
    openstack: ClassVar[str] = "Octavia health monitor"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Pool", ".spec.pool"),
        meta.Column("Type", ".spec.type"),
        meta.Column("Delay", ".spec.delay", "integer", priority=1),
        _PROVISIONING,
        _OPERATING,
        meta.AGE,
    )

    spec: HealthMonitorSpec
    status: LBStatus | None = None
