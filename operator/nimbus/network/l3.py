"""A Router and its FloatingIPs -> the data path of its router pod, as Neutron's L3 agent
programs a router namespace: addresses on the legs, a routing table, an nftables ruleset.

Pure: the router agent (nimbus.network.agent) applies what these functions render, and the
operator renders the same plan to know what an applied data path must look like.

The router's legs (`qr-…` on its subnets, `qg-…` on the external network, Neutron's names) route
by their own table, chosen by `ip rule` for packets that arrive on a leg, so the pod's own
traffic (the agent reading the API server) keeps the pod network and a tenant's packets can
never reach it: the table ends in `unreachable default` when the router has no gateway.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

TABLE = "nimbus"  # the nftables table (family ip) the agent owns
ROUTE_TABLE = 100  # the routing table of the router's legs
RULE_PRIORITY = 1000  # the `ip rule` sending the legs' packets to ROUTE_TABLE
UNREACHABLE_METRIC = 4278198272  # the last resort of ROUTE_TABLE, as Neutron's ha routers
INTERNAL_PREFIX = "qr-"
EXTERNAL_PREFIX = "qg-"


def device(prefix: str, key: str) -> str:
    """Neutron's device naming: a prefix and 11 characters from the port (here: the leg's key),
    15 in all, the kernel's limit."""
    return prefix + hashlib.sha256(key.encode()).hexdigest()[:11]


def internal_device(subnet_or_port: str) -> str:
    return device(INTERNAL_PREFIX, subnet_or_port)


def external_device(project: str, network: str) -> str:
    return device(EXTERNAL_PREFIX, f"{project}/{network}")


@dataclasses.dataclass(frozen=True, order=True)
class Leg:
    """One interface of the router: its device, its address and the network it is on."""

    device: str
    address: str
    cidr: str

    @property
    def interface(self) -> str:
        """`address/prefixlen`, as `ip address` takes it."""
        return f"{self.address}/{ipaddress.ip_network(self.cidr).prefixlen}"


@dataclasses.dataclass(frozen=True)
class Gateway(Leg):
    nexthop: str | None = None  # the external subnet's gateway: the default route
    snat: bool = True


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything the router pod's data path holds; equal plans are equal data paths."""

    legs: tuple[Leg, ...] = ()
    gateway: Gateway | None = None
    floating: tuple[tuple[str, str], ...] = ()  # (floating IP, fixed IP), sorted
    routes: tuple[tuple[str, str], ...] = ()  # (destination, nexthop), sorted
    ha: str | None = None  # the router's key (namespace/name) when two pods share it by VRRP

    def digest(self) -> str:
        """A short digest of the plan: the router's status compares what the agent applied
        with what it should have applied by this."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(leg.device for leg in self.all_legs)

    @property
    def all_legs(self) -> tuple[Leg, ...]:
        return self.legs + ((self.gateway,) if self.gateway else ())


DEVICE = re.compile(r"^q[rg]-[0-9a-z]{1,12}$")  # a kernel name: 15 characters at most


def _ipv4(text: Any) -> str | None:
    """`text` as an IPv4 address, or None: nothing else reaches `ip`, `nft` or keepalived."""
    try:
        address = ipaddress.ip_address(str(text))
    except ValueError:
        return None
    return str(address) if address.version == 4 else None


def _leg(entry: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(device, address, cidr) of an IPv4 leg whose address lies in its network and whose
    device is named as the operator names them; None for anything else. The status is the
    operator's (and the agent's report), but the agent checks what it puts in a command."""
    device, address = str(entry.get("device")), _ipv4(entry.get("ipAddress"))
    try:
        cidr = ipaddress.ip_network(str(entry.get("cidr")), strict=False)
    except ValueError:
        return None
    if not DEVICE.match(device) or address is None or cidr.version != 4:
        return None
    if ipaddress.ip_address(address) not in cidr:
        return None
    return device, address, str(cidr)


def _route(route: Mapping[str, Any]) -> tuple[str, str] | None:
    try:
        destination = ipaddress.ip_network(str(route.get("destination")), strict=False)
    except ValueError:
        return None
    nexthop = _ipv4(route.get("nexthop"))
    if destination.version != 4 or nexthop is None:
        return None
    return str(destination), nexthop


def plan_of(router: Mapping[str, Any], floating_ips: Iterable[Mapping[str, Any]]) -> Plan:
    """The plan of a Router as the operator reported it (its legs' addresses in status) and of
    the FloatingIPs it NATs (those whose status names it). An admin-down router has nothing:
    Neutron unplugs its ports. Only IPv4 is programmed; whatever does not parse is left out."""
    spec = router.get("spec") or {}
    status = router.get("status") or {}
    if not spec.get("adminStateUp", True):
        return Plan()
    name = router["metadata"]["name"]
    legs = tuple(
        sorted(Leg(*found) for found in map(_leg, status.get("interfaces") or []) if found)
    )
    gateway = None
    outside = _leg(status.get("externalGateway") or {})
    if outside and spec.get("externalGateway"):
        nexthop = _ipv4((status.get("externalGateway") or {}).get("gatewayIP"))
        on_link = nexthop and ipaddress.ip_address(nexthop) in ipaddress.ip_network(outside[2])
        gateway = Gateway(
            *outside,
            nexthop=nexthop if on_link else None,
            snat=bool(spec["externalGateway"].get("enableSNAT", True)),
        )
    floating: tuple[tuple[str, str], ...] = ()
    if gateway is not None:
        pairs = set()
        for f in floating_ips:
            held = f.get("status") or {}
            if held.get("router") != name or f["metadata"].get("deletionTimestamp"):
                continue
            outer, inner = _ipv4(held.get("floatingIPAddress")), _ipv4(held.get("fixedIPAddress"))
            if outer and inner:
                pairs.add((outer, inner))
        floating = tuple(sorted(pairs))
    routes = tuple(sorted({r for r in map(_route, spec.get("routes") or []) if r} if legs else ()))
    # HA needs a leg to speak VRRP on; without one there is nothing to hold.
    speaks = bool(legs or gateway)
    ha = f"{router['metadata'].get('namespace')}/{name}" if spec.get("ha") and speaks else None
    return Plan(legs=legs, gateway=gateway, floating=floating, routes=routes, ha=ha)


# -- the nftables ruleset ----------------------------------------------------------------------


def _set(items: Iterable[str]) -> str:
    return "{ " + ", ".join(items) + " }"


def _quoted(devices: Iterable[str]) -> str:
    return _set(f'"{d}"' for d in devices)


def ruleset(plan: Plan) -> str:
    """The router's nftables table, to load with `nft -f`: it replaces the previous one in one
    transaction, so a packet never meets half a ruleset.

    - forward: established flows; between the router's subnets; from them to the outside; from
      the outside only to a floating IP's server (DNATed) — or, with SNAT off, to the subnets,
      which are then routed, not hidden, as in Neutron.
    - prerouting: a floating IP's packets go to its fixed IP (a map: one rule for any number).
    - postrouting: a floating IP's server leaves as its floating IP; the rest of the subnets as
      the router's gateway address unless enable_snat is off.
    """
    lines = [f"table ip {TABLE}", f"delete table ip {TABLE}", f"table ip {TABLE} {{"]
    dnat = ", ".join(f"{floating} : {fixed}" for floating, fixed in plan.floating)
    snat = ", ".join(f"{fixed} : {floating}" for floating, fixed in plan.floating)
    for name, elements in (("floating_dnat", dnat), ("floating_snat", snat)):
        lines += [f"\tmap {name} {{", "\t\ttype ipv4_addr : ipv4_addr"]
        if elements:
            lines.append(f"\t\telements = {{ {elements} }}")
        lines.append("\t}")
    inside = [leg.device for leg in plan.legs]
    cidrs = sorted({leg.cidr for leg in plan.legs})
    gateway = plan.gateway
    forward = [
        "\t\tct state established,related accept",
        "\t\tct state invalid drop",
    ]
    if inside:
        forward.append(f"\t\tiifname {_quoted(inside)} oifname {_quoted(inside)} accept")
    prerouting: list[str] = []
    postrouting: list[str] = []
    if gateway is not None:
        outside = f'"{gateway.device}"'
        if inside:
            forward.append(f"\t\tiifname {_quoted(inside)} oifname {outside} accept")
        forward.append(f"\t\tiifname {outside} ct status dnat accept")
        if not gateway.snat and cidrs:
            forward.append(f"\t\tiifname {outside} ip daddr {_set(cidrs)} accept")
        prerouting.append(f"\t\tiifname {outside} dnat to ip daddr map @floating_dnat")
        postrouting.append(f"\t\toifname {outside} snat to ip saddr map @floating_snat")
        if gateway.snat and cidrs:
            postrouting.append(
                f"\t\toifname {outside} ip saddr {_set(cidrs)} snat to {gateway.address}"
            )
    for chain, hook, priority, policy, rules in (
        ("forward", "forward", "filter", "drop", forward),
        ("prerouting", "prerouting", "dstnat", "accept", prerouting),
        ("postrouting", "postrouting", "srcnat", "accept", postrouting),
    ):
        lines += [
            f"\tchain {chain} {{",
            f"\t\ttype {'filter' if chain == 'forward' else 'nat'} hook {hook} "
            f"priority {priority}; policy {policy};",
            *rules,
            "\t}",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- addresses and routes ----------------------------------------------------------------------


def addresses(plan: Plan) -> dict[str, set[str]]:
    """device -> `address/prefixlen` it holds: each leg's address and, on the gateway, every
    floating IP as a /32 (the router answers ARP for them, as Neutron's qg- device does)."""
    held = {leg.device: {leg.interface} for leg in plan.legs}
    if plan.gateway is not None:
        held[plan.gateway.device] = {plan.gateway.interface} | {
            f"{floating}/32" for floating, _ in plan.floating
        }
    return held


@dataclasses.dataclass(frozen=True)
class Route:
    """One route of ROUTE_TABLE, in the words of `ip route`."""

    destination: str
    device: str | None = None
    via: str | None = None
    source: str | None = None
    unreachable: bool = False

    def arguments(self) -> list[str]:
        if self.unreachable:
            return ["unreachable", self.destination, "metric", str(UNREACHABLE_METRIC)]
        words = [self.destination]
        if self.via:
            words += ["via", self.via]
        if self.device:
            words += ["dev", self.device]
        if self.source:
            words += ["src", self.source]
        return words


def routes(plan: Plan) -> list[Route]:
    """ROUTE_TABLE: the legs' own networks, the static routes through a nexthop on a leg, the
    default route through the external subnet's gateway, and `unreachable` for the rest. An HA
    router's routes name no source address: the backup holds none of the legs' addresses
    (keepalived moves them), and the table must stand on both."""
    table = [
        Route(leg.cidr, device=leg.device, source=None if plan.ha else leg.address)
        for leg in plan.all_legs
    ]
    for destination, nexthop in plan.routes:
        leg = leg_for(plan, nexthop)
        if leg is not None:
            table.append(Route(destination, device=leg.device, via=nexthop))
    gateway = plan.gateway
    if gateway is not None and gateway.nexthop:
        table.append(Route("default", device=gateway.device, via=gateway.nexthop))
    table.append(Route("default", unreachable=True))
    return sorted(table, key=lambda r: (r.unreachable, r.destination, r.device or ""))


def leg_for(plan: Plan, address: str) -> Leg | None:
    """The leg whose network holds `address`."""
    ip = ipaddress.ip_address(address)
    for leg in plan.all_legs:
        if ip in ipaddress.ip_network(leg.cidr):
            return leg
    return None


# -- HA: keepalived's VRRP between two router pods ---------------------------------------------


HA_CIDR = "169.254.192.0/18"  # Neutron's l3_ha_net_cidr: the VRRP speakers' own addresses


def vrrp_device(plan: Plan) -> str | None:
    """Where VRRP speaks: the gateway leg, else the first leg (Neutron has a network of its
    own for it)."""
    legs = plan.all_legs
    return plan.gateway.device if plan.gateway else (legs[0].device if legs else None)


def virtual_router_id(key: str) -> int:
    """VRRP's router id (1 to 255), from the router's namespace/name."""
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % 255 + 1


def ha_address(speaker: str) -> str:
    """A VRRP speaker's own address in HA_CIDR, from its name (the pod's): a /18 of link-local
    addresses, so two pods of one router practically never draw the same."""
    network = ipaddress.ip_network(HA_CIDR)
    offset = int(hashlib.sha256(speaker.encode()).hexdigest(), 16) % (network.num_addresses - 2)
    return f"{network.network_address + offset + 1}/{network.prefixlen}"


def keepalived_config(plan: Plan) -> str:
    """keepalived's configuration of an HA router, as Neutron's L3 agent writes it: one VRRP
    instance, every pod BACKUP with nopreempt at one priority (the first up becomes master and
    stays), the legs' addresses and the floating IPs as its virtual addresses (only the master
    holds them), gratuitous ARP when one takes over."""
    assert plan.ha is not None
    device = vrrp_device(plan)
    held = addresses(plan)
    virtual = [f"        {address} dev {leg}" for leg in sorted(held) for address in
               sorted(held[leg])]  # fmt: skip
    secret = hashlib.sha256(f"vrrp:{plan.ha}".encode()).hexdigest()[:8]
    return "\n".join([
        "global_defs {",
        f"    router_id {plan.ha.replace('/', '.')}",
        "    enable_script_security",
        "    vrrp_garp_master_delay 1",
        "    vrrp_garp_master_repeat 3",
        "}",
        f"vrrp_instance {plan.ha.replace('/', '_')} {{",
        "    state BACKUP",
        f"    interface {device}",
        f"    virtual_router_id {virtual_router_id(plan.ha)}",
        "    priority 50",
        "    nopreempt",
        "    advert_int 1",
        "    authentication {",
        "        auth_type PASS",
        f"        auth_pass {secret}",
        "    }",
        "    virtual_ipaddress {",
        *virtual,
        "    }",
        "}",
        "",
    ])  # fmt: skip


# -- what a router may not be ------------------------------------------------------------------


def overlapping(cidrs: Mapping[str, str]) -> str | None:
    """Neutron's refusal of a router whose subnets overlap (subnet name -> cidr)."""
    seen: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]] = []
    for name, text in sorted(cidrs.items()):
        try:
            cidr = ipaddress.ip_network(text, strict=False)
        except ValueError:
            continue
        for other, theirs in seen:
            if theirs.version == cidr.version and cidr.overlaps(theirs):
                return (
                    f"Bad router request: Cidr {cidr} of subnet {name} overlaps with cidr "
                    f"{theirs} of subnet {other}."
                )
        seen.append((name, cidr))
    return None
