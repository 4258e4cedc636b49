"""The network.nimbus.dev kinds: Network, Subnet, Port and SecurityGroup."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import pydantic

from nimbus.api import meta

GROUP = "network.nimbus.dev"

IP_MAX = 45  # the longest textual IPv6 address
CIDR_MAX = 49

_IS_IP = meta.rule("isIP(self)", "must be an IPv4 or IPv6 address, such as 10.0.0.1")
_IS_CIDR = meta.rule("isCIDR(self)", "must be a CIDR, such as 10.0.0.0/24")

IPAddress = Annotated[
    str, pydantic.Field(max_length=IP_MAX, json_schema_extra=meta.validations(_IS_IP))
]
CIDR = Annotated[
    str, pydantic.Field(max_length=CIDR_MAX, json_schema_extra=meta.validations(_IS_CIDR))
]

NetworkState = Literal["ACTIVE", "DOWN", "BUILD", "ERROR"]


class Provider(meta.Model):
    """Neutron's provider attributes, and which CNI plugin realises the network."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "self.networkType != 'vlan' || (has(self.segmentationID) && "
                "self.segmentationID >= 1 && self.segmentationID <= 4094)",
                "a vlan network needs segmentationID from 1 to 4094",
                field_path=".segmentationID",
            ),
            meta.rule(
                "!(self.networkType in ['flat', 'local']) || !has(self.segmentationID)",
                "a flat or local network has no segmentationID",
                field_path=".segmentationID",
            ),
            meta.rule(
                "!(self.networkType in ['flat', 'vlan']) || has(self.physicalNetwork)",
                "a flat or vlan network needs physicalNetwork (the host interface or bridge)",
                field_path=".physicalNetwork",
            ),
        )
    )

    network_type: Literal["local", "flat", "vlan", "vxlan", "geneve"] = "local"
    physical_network: str | None = pydantic.Field(default=None, max_length=64)
    segmentation_id: int | None = pydantic.Field(default=None, ge=1, le=16777215)
    cni: Literal["bridge", "macvlan", "ovn-k8s-layer2"] = pydantic.Field(
        default="bridge",
        description="The CNI plugin of the NetworkAttachmentDefinition: bridge (default), "
        "macvlan or OVN-Kubernetes layer2.",
    )


class NetworkSpec(meta.Model):
    admin_state_up: bool = True
    shared: bool = pydantic.Field(
        default=False, description="A shared network is usable from every project."
    )
    external: bool = pydantic.Field(default=False, description="Neutron's router:external.")
    mtu: int | None = pydantic.Field(default=None, ge=68, le=9216)
    port_security_enabled: bool = True
    provider: Provider = pydantic.Field(
        default_factory=Provider,
        json_schema_extra={
            "default": {},
            **meta.immutable("provider", "a network's provider attributes cannot change"),
        },
    )
    availability_zone_hints: list[str] = pydantic.Field(
        default_factory=list, max_length=16, json_schema_extra=meta.LIST_SET
    )
    dns_domain: str | None = pydantic.Field(default=None, max_length=255)
    description: str = pydantic.Field(default="", max_length=255)


class NetworkStatus(meta.Status):
    status: NetworkState | None = None
    subnets: list[str] = pydantic.Field(default_factory=list, json_schema_extra=meta.LIST_SET)
    network_attachment_definition: str | None = None
    mtu: int | None = None
    external_reader_role: str | None = pydantic.Field(
        default=None,
        description="An external network's Role (and RoleBinding) letting every signed-in user "
        "read it, as Neutron shows an external network to every project.",
    )


class Network(meta.Resource):
    """A Neutron network: a Multus NetworkAttachmentDefinition."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "networks"
    short_names: ClassVar[tuple[str, ...]] = ("osnet",)
    openstack: ClassVar[str] = "Neutron network"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Status", ".status.status"),
        meta.Column("Subnets", ".status.subnets"),
        meta.Column("Shared", ".spec.shared", "boolean"),
        meta.Column("Type", ".spec.provider.networkType", priority=1),
        meta.AGE,
    )

    spec: NetworkSpec = pydantic.Field(default_factory=NetworkSpec)
    status: NetworkStatus | None = None


class AllocationPool(meta.Model):
    start: IPAddress
    end: IPAddress


class HostRoute(meta.Model):
    destination: CIDR
    nexthop: IPAddress


_IPV6_MODE = Literal["slaac", "dhcpv6-stateful", "dhcpv6-stateless"]


class SubnetSpec(meta.Model):
    """A Neutron subnet: the addresses of a network, handed out by IPAM."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "!isCIDR(self.cidr) || cidr(self.cidr).ip().family() == self.ipVersion",
                "cidr is not of ipVersion: set ipVersion: 6 for an IPv6 cidr",
                field_path=".cidr",
            ),
            meta.rule(
                "!has(self.gatewayIP) || !isCIDR(self.cidr) || !isIP(self.gatewayIP) || "
                "cidr(self.cidr).containsIP(self.gatewayIP)",
                "gatewayIP must be inside cidr",
                field_path=".gatewayIP",
            ),
            meta.rule(
                "!(self.noGateway && has(self.gatewayIP))",
                "noGateway and gatewayIP contradict each other: set one",
                field_path=".gatewayIP",
            ),
            meta.rule(
                "!isCIDR(self.cidr) || !has(self.allocationPools) || "
                "self.allocationPools.all(p, !isIP(p.start) || "
                "!isIP(p.end) || (cidr(self.cidr).containsIP(p.start) && "
                "cidr(self.cidr).containsIP(p.end)))",
                "every allocation pool must lie inside cidr",
                field_path=".allocationPools",
            ),
            meta.rule(
                "self.ipVersion == 6 || (!has(self.ipv6RaMode) && !has(self.ipv6AddressMode))",
                "ipv6RaMode and ipv6AddressMode are only for ipVersion 6",
            ),
        )
    )

    network: meta.Name = pydantic.Field(
        json_schema_extra=meta.immutable("network", "a subnet cannot move to another network")
    )
    ip_version: Literal[4, 6] = pydantic.Field(
        default=4, json_schema_extra=meta.immutable("ipVersion", "create a new subnet")
    )
    cidr: str = pydantic.Field(
        max_length=CIDR_MAX,
        json_schema_extra=meta.validations(
            _IS_CIDR,
            meta.rule(
                "!isCIDR(self) || cidr(self) == cidr(self).masked()",
                "cidr must be a network address: host bits must be zero (10.0.0.0/24, not "
                "10.0.0.1/24)",
            ),
            meta.rule("self == oldSelf", "cidr is immutable: create a new subnet"),
        ),
    )
    gateway_ip: IPAddress | None = pydantic.Field(
        default=None, description="Default: the first address of cidr."
    )
    no_gateway: bool = pydantic.Field(
        default=False, description="No gateway at all (Neutron's gateway_ip: null)."
    )
    allocation_pools: list[AllocationPool] = pydantic.Field(
        default_factory=list, max_length=32, json_schema_extra=meta.LIST_ATOMIC
    )
    dns_nameservers: list[IPAddress] = pydantic.Field(
        default_factory=list, max_length=5, json_schema_extra=meta.LIST_ATOMIC
    )
    host_routes: list[HostRoute] = pydantic.Field(
        default_factory=list, max_length=20, json_schema_extra=meta.LIST_ATOMIC
    )
    enable_dhcp: bool = True
    ipv6_ra_mode: _IPV6_MODE | None = None
    ipv6_address_mode: _IPV6_MODE | None = None
    description: str = pydantic.Field(default="", max_length=255)


class SubnetStatus(meta.Status):
    gateway_ip: str | None = None
    allocation_pools: list[AllocationPool] = pydantic.Field(
        default_factory=list, json_schema_extra=meta.LIST_ATOMIC
    )


class Subnet(meta.Resource):
    """A Neutron subnet: an IPAM range of its network's NetworkAttachmentDefinition."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "subnets"
    short_names: ClassVar[tuple[str, ...]] = ("ossubnet",)
    openstack: ClassVar[str] = "Neutron subnet"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Network", ".spec.network"),
        meta.Column("Subnet", ".spec.cidr"),
        meta.Column("Gateway", ".status.gatewayIP", priority=1),
        meta.AGE,
    )

    spec: SubnetSpec
    status: SubnetStatus | None = None


class FixedIP(meta.Model):
    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "has(self.subnet) || has(self.ipAddress)",
                "a fixed IP names a subnet, an ipAddress, or both",
            )
        )
    )

    subnet: meta.Name | None = None
    ip_address: IPAddress | None = None


class AddressPair(meta.Model):
    ip_address: str = pydantic.Field(
        max_length=CIDR_MAX,
        json_schema_extra=meta.validations(
            meta.rule("isIP(self) || isCIDR(self)", "must be an IP address or a CIDR")
        ),
    )
    mac_address: str | None = pydantic.Field(
        default=None, pattern=r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$"
    )


class PortSpec(meta.Model):
    """A Neutron port: a fixed IP and MAC that a server interface consumes."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "self.portSecurityEnabled || !has(self.securityGroups) || "
                "size(self.securityGroups) == 0",
                "a port with portSecurityEnabled: false cannot have securityGroups, as in Neutron",
                field_path=".securityGroups",
            )
        )
    )

    network: meta.Name = pydantic.Field(
        json_schema_extra=meta.immutable("network", "a port cannot move to another network")
    )
    fixed_ips: list[FixedIP] = pydantic.Field(
        default_factory=list, max_length=16, json_schema_extra=meta.LIST_ATOMIC
    )
    mac_address: str | None = pydantic.Field(
        default=None,
        pattern=r"^[0-9a-fA-F][02468aceACE](:[0-9a-fA-F]{2}){5}$",
        description="A unicast MAC; default: generated.",
        json_schema_extra=meta.immutable("macAddress", "create a new port"),
    )
    security_groups: list[meta.Name] = pydantic.Field(
        default_factory=list,
        max_length=16,
        description="Default: the project's `default` group.",
        json_schema_extra=meta.LIST_SET,
    )
    port_security_enabled: bool = True
    allowed_address_pairs: list[AddressPair] = pydantic.Field(
        default_factory=list, max_length=10, json_schema_extra=meta.LIST_ATOMIC
    )
    vnic_type: Literal["normal", "direct", "macvtap"] = pydantic.Field(
        default="normal",
        description="normal (bridged), direct (SR-IOV) or macvtap, as Neutron's binding:vnic_type.",
    )
    admin_state_up: bool = True
    description: str = pydantic.Field(default="", max_length=255)


class PortStatus(meta.Status):
    status: NetworkState | None = None
    mac_address: str | None = None
    fixed_ips: list[FixedIP] = pydantic.Field(
        default_factory=list, json_schema_extra=meta.LIST_ATOMIC
    )
    device_id: str | None = pydantic.Field(default=None, description="The server using it.")
    device_owner: str | None = None


class Port(meta.Resource):
    """A Neutron port: a reserved address and MAC for one server interface."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "ports"
    short_names: ClassVar[tuple[str, ...]] = ("osport",)
    openstack: ClassVar[str] = "Neutron port"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Network", ".spec.network"),
        meta.Column("MAC Address", ".status.macAddress"),
        meta.Column("Fixed IP Addresses", ".status.fixedIPs[*].ipAddress"),
        meta.Column("Status", ".status.status"),
        meta.Column("Server", ".status.deviceID", priority=1),
        meta.AGE,
    )

    spec: PortSpec
    status: PortStatus | None = None


class SecurityGroupRule(meta.Model):
    """A Neutron security group rule."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "!(has(self.remoteIPPrefix) && has(self.remoteGroup))",
                "a rule names at most one of remoteIPPrefix or remoteGroup",
            ),
            meta.rule(
                "!has(self.portRangeMin) || !has(self.portRangeMax) || "
                "self.protocol in ['icmp', 'ipv6-icmp', 'icmpv6'] || "
                "self.portRangeMin <= self.portRangeMax",
                "portRangeMin must be less than or equal to portRangeMax",
                field_path=".portRangeMin",
            ),
            meta.rule(
                "(!has(self.portRangeMin) && !has(self.portRangeMax)) || "
                "self.protocol in ['tcp', 'udp', 'sctp', 'icmp', 'ipv6-icmp', 'icmpv6']",
                "a port range needs protocol tcp, udp or sctp (or icmp, for type and code)",
                field_path=".protocol",
            ),
            meta.rule(
                "!(self.protocol in ['icmp', 'ipv6-icmp', 'icmpv6']) || "
                "((!has(self.portRangeMin) || self.portRangeMin <= 255) && "
                "(!has(self.portRangeMax) || self.portRangeMax <= 255))",
                "for icmp, portRangeMin is the ICMP type and portRangeMax the code: 0 to 255",
            ),
            meta.rule(
                "!has(self.remoteIPPrefix) || !isCIDR(self.remoteIPPrefix) || "
                "cidr(self.remoteIPPrefix).ip().family() == (self.ethertype == 'IPv4' ? 4 : 6)",
                "remoteIPPrefix does not match ethertype (Neutron's \"Conflicting value "
                'ethertype"): an IPv4 prefix goes with ethertype IPv4 and an IPv6 prefix with '
                "ethertype IPv6",
                field_path=".remoteIPPrefix",
            ),
        )
    )

    direction: Literal["ingress", "egress"] = "ingress"
    ethertype: Literal["IPv4", "IPv6"] = "IPv4"
    protocol: str = pydantic.Field(
        default="any",
        max_length=9,
        pattern=r"^(any|tcp|udp|sctp|icmp|ipv6-icmp|icmpv6|[0-9]{1,3})$",
        description="tcp, udp, sctp, icmp, ipv6-icmp, an IP protocol number, or any.",
    )
    port_range_min: int | None = pydantic.Field(default=None, ge=0, le=65535)
    port_range_max: int | None = pydantic.Field(default=None, ge=0, le=65535)
    remote_ip_prefix: CIDR | None = None
    remote_group: meta.Name | None = None
    description: str = pydantic.Field(default="", max_length=255)


class SecurityGroupSpec(meta.Model):
    description: str = pydantic.Field(default="", max_length=255)
    stateful: bool = True
    rules: list[SecurityGroupRule] = pydantic.Field(
        default_factory=list, max_length=128, json_schema_extra=meta.LIST_ATOMIC
    )


class SecurityGroupStatus(meta.Status):
    network_policy: str | None = None


class SecurityGroup(meta.Resource):
    """A Neutron security group: a NetworkPolicy over the servers that use it."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "securitygroups"
    short_names: ClassVar[tuple[str, ...]] = ("ossg",)
    openstack: ClassVar[str] = "Neutron security group"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Description", ".spec.description"),
        meta.Column("Stateful", ".spec.stateful", "boolean", priority=1),
        meta.AGE,
    )

    spec: SecurityGroupSpec = pydantic.Field(default_factory=SecurityGroupSpec)
    status: SecurityGroupStatus | None = None


class ExternalNetworkRef(meta.Model):
    """An external network (router:external), usually an admin project's."""

    network: meta.Name
    project: str | None = pydantic.Field(
        default=None,
        max_length=63,
        description="The project (namespace) of the external network; default: this object's.",
    )


class ExternalGateway(ExternalNetworkRef):
    """Neutron's external_gateway_info: the router's leg on an external network."""

    enable_snat: bool = pydantic.Field(
        default=True,
        description="Source-NAT the router's subnets to its external address (Neutron's "
        "enable_snat).",
    )
    external_fixed_ips: list[FixedIP] = pydantic.Field(
        default_factory=list,
        max_length=4,
        description="The gateway's address on the external network; default: allocated.",
        json_schema_extra=meta.LIST_ATOMIC,
    )


class RouterInterface(meta.Model):
    """One of the router's legs on its project's networks (`openstack router add subnet`)."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "has(self.subnet) != has(self.port)",
                "an interface names exactly one of subnet (the router takes its gatewayIP) or port",
            )
        )
    )

    subnet: meta.Name | None = None
    port: meta.Name | None = None


class RouterSpec(meta.Model):
    """A Neutron router: routes between its subnets and NATs them to an external network."""

    admin_state_up: bool = True
    external_gateway: ExternalGateway | None = None
    interfaces: list[RouterInterface] = pydantic.Field(
        default_factory=list, max_length=32, json_schema_extra=meta.LIST_ATOMIC
    )
    routes: list[HostRoute] = pydantic.Field(
        default_factory=list,
        max_length=32,
        description="Static routes: a destination CIDR through a nexthop on one of the "
        "router's subnets.",
        json_schema_extra=meta.LIST_ATOMIC,
    )
    ha: bool = pydantic.Field(
        default=False,
        description="Two router pods with keepalived VRRP, as Neutron's L3 HA.",
        json_schema_extra=meta.immutable("ha", "create a new router"),
    )
    description: str = pydantic.Field(default="", max_length=255)


class RouterLeg(meta.Model):
    """One interface of the router pod, as the router agent programs it."""

    device: str = pydantic.Field(max_length=15, description="The interface in the router pod.")
    network: str
    project: str | None = None
    subnet: str | None = None
    port: str | None = None
    ip_address: str | None = None
    cidr: str | None = None
    gateway_ip: str | None = pydantic.Field(
        default=None, description="On the external leg: the default route's nexthop."
    )


class DataPath(meta.Model):
    """What the router agent last applied."""

    plan: str = pydantic.Field(description="The digest of the plan applied.")
    agent: str | None = None
    applied_at: str | None = None


class RouterStatus(meta.Status):
    status: NetworkState | None = None
    external_gateway: RouterLeg | None = None
    interfaces: list[RouterLeg] = pydantic.Field(
        default_factory=list, json_schema_extra=meta.LIST_ATOMIC
    )
    plan: str | None = pydantic.Field(
        default=None, description="The digest of the data path the router should have."
    )
    data_path: DataPath | None = None
    deployment: str | None = None


class Router(meta.Resource):
    """A Neutron router: a router pod whose nftables ruleset routes and NATs."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "routers"
    short_names: ClassVar[tuple[str, ...]] = ("osrouter",)
    openstack: ClassVar[str] = "Neutron router"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Status", ".status.status"),
        meta.Column("External Gateway", ".status.externalGateway.ipAddress"),
        meta.Column("Subnets", ".spec.interfaces[*].subnet"),
        meta.Column("HA", ".spec.ha", "boolean", priority=1),
        meta.AGE,
    )

    spec: RouterSpec = pydantic.Field(default_factory=RouterSpec)
    status: RouterStatus | None = None


class FloatingIPSpec(meta.Model):
    """A Neutron floating IP: an external address DNATed to a port's fixed IP."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "!has(self.fixedIPAddress) || has(self.port)",
                "fixedIPAddress needs port: it picks one of the port's fixed IPs",
                field_path=".fixedIPAddress",
            )
        )
    )

    floating_network: ExternalNetworkRef = pydantic.Field(
        json_schema_extra=meta.immutable(
            "floatingNetwork", "a floating IP cannot move to another network"
        )
    )
    floating_ip_address: IPAddress | None = pydantic.Field(
        default=None,
        description="Default: allocated from the external network's subnets.",
        json_schema_extra=meta.immutable("floatingIPAddress", "create a new floating IP"),
    )
    port: meta.Name | None = pydantic.Field(
        default=None, description="The associated port; none: the floating IP is DOWN."
    )
    fixed_ip_address: IPAddress | None = pydantic.Field(
        default=None, description="Which of the port's fixed IPs; default: its first IPv4 one."
    )
    description: str = pydantic.Field(default="", max_length=255)


class FloatingIPStatus(meta.Status):
    status: NetworkState | None = None
    floating_ip_address: str | None = None
    fixed_ip_address: str | None = None
    port: str | None = None
    router: str | None = pydantic.Field(default=None, description="The router that NATs it.")
    floating_port: str | None = pydantic.Field(
        default=None, description="The port holding the address on the external network."
    )


class FloatingIP(meta.Resource):
    """A Neutron floating IP: DNAT and SNAT in its router's nftables ruleset."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "floatingips"
    short_names: ClassVar[tuple[str, ...]] = ("osfip",)
    openstack: ClassVar[str] = "Neutron floating IP"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Floating IP Address", ".status.floatingIPAddress"),
        meta.Column("Fixed IP Address", ".status.fixedIPAddress"),
        meta.Column("Port", ".spec.port"),
        meta.Column("Status", ".status.status"),
        meta.Column("Router", ".status.router", priority=1),
        meta.AGE,
    )

    spec: FloatingIPSpec
    status: FloatingIPStatus | None = None
