"""Neutron's IPAM over the operator's indexes: which addresses are free, and a ledger of the
allocations made since the last watch event, so two allocations can never meet.

Allocation is synchronous (no await between reading what is taken and recording the choice),
and one operator is active at a time (kopf peering), so the ledger needs no lock.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from collections.abc import Mapping

from nimbus.network import api, render


@dataclasses.dataclass
class Ledger:
    """Allocations the index may not show yet: (namespace, network) -> port -> addresses.

    An entry stands until the index holds the port with every address of the entry (its status
    was written and watched: the index is then the record), or until the write that would have
    recorded it failed. A port is in the index from its creation on, before any address is
    written, so its name alone says nothing: dropping the entry then let two ports take one
    address."""

    pending: dict[tuple[str, str], dict[str, set[str]]] = dataclasses.field(default_factory=dict)

    def taken(
        self,
        namespace: str,
        network: str,
        indexed: Mapping[str, set[str]],
        *,
        excluding: str | None = None,
    ) -> set[str]:
        """Addresses held on the network by any port but `excluding`."""
        pending = self.pending.get((namespace, network), {})
        for port in [p for p, held in pending.items() if held <= indexed.get(p, set())]:
            del pending[port]  # the index has it now
        held: set[str] = set()
        for source in (indexed, pending):
            for port, addresses in source.items():
                if port != excluding:
                    held |= addresses
        return held

    def reserve(self, namespace: str, network: str, port: str, addresses: set[str]) -> None:
        self.pending.setdefault((namespace, network), {})[port] = set(addresses)

    def holds(self, namespace: str, network: str, port: str) -> bool:
        return port in self.pending.get((namespace, network), {})

    def pending_on(self, namespace: str, network: str) -> list[set[str]]:
        return list(self.pending.get((namespace, network), {}).values())

    def release(self, namespace: str, network: str, port: str) -> None:
        self.pending.get((namespace, network), {}).pop(port, None)


def allocate(
    subnets: Mapping[str, api.SubnetSpec],
    wanted: list[api.FixedIP],
    taken: set[str],
    network: str,
) -> list[dict[str, str]] | str:
    """Addresses for a port, as Neutron allocates them: each wanted (subnet, address) pair, an
    address from the first subnet with one free when none is named. A string says why not."""
    if not subnets:
        return f'network "{network}" has no subnet to allocate an address from'
    taken = set(taken)
    allocated = []
    for fixed in wanted or [api.FixedIP(subnet=sorted(subnets)[0])]:
        names = [fixed.subnet] if fixed.subnet else sorted(subnets)
        address = None
        for subnet_name in names:
            if subnet_name not in subnets:
                return f'fixedIPs: subnet "{subnet_name}" not found on {network}'
            address = free_address(subnets[subnet_name], taken, fixed.ip_address)
            if address is not None:
                allocated.append({"subnet": subnet_name, "ipAddress": address})
                taken.add(address)
                break
        if address is None:
            what = fixed.ip_address or "a free address"
            return f"IP address {what} is not available on network {network}"
    return allocated


def free_address(subnet: api.SubnetSpec, taken: set[str], wanted: str | None = None) -> str | None:
    """The wanted address if it is free and in the subnet, else the first free address of the
    allocation pools (the whole cidr without its gateway when there are none)."""
    cidr = ipaddress.ip_network(subnet.cidr)
    reserved = taken | {g for g in [render.gateway(subnet)] if g}
    if wanted is not None:
        inside = ipaddress.ip_address(wanted) in cidr
        return wanted if inside and wanted not in reserved else None
    first, last = int(cidr.network_address), int(cidr.broadcast_address)
    held = {n for n in map(_as_int, reserved) if n is not None and first <= n <= last}
    if cidr.num_addresses > 2 and cidr.version == 4:
        first, last = first + 1, last - 1  # no network or broadcast address
    elif cidr.version == 6 and cidr.num_addresses > 1:
        first += 1  # the subnet-router anycast address
    pools = [
        (int(ipaddress.ip_address(p.start)), int(ipaddress.ip_address(p.end)))
        for p in subnet.allocation_pools
    ] or [(first, last)]
    pools.sort()
    for start, end in pools:
        for host in range(max(start, first), min(end, last) + 1):
            if host not in held:
                return str(ipaddress.ip_address(host))
    return None


@functools.lru_cache(maxsize=1 << 16)
def _as_int(address: str) -> int | None:
    """An address as an integer (parsed once: a thousand allocations each look at every address
    held on the network). None for what is not an address."""
    try:
        return int(ipaddress.ip_address(address))
    except ValueError:
        return None


def is_ip(address: str) -> bool:
    """Whether a held address is an IP (the ledger and the index hold MACs beside them)."""
    return _as_int(address) is not None


def free_mac(namespace: str, port: str, taken: set[str]) -> str:
    """A generated MAC no other port of the network holds: the port's own hash, drawn again
    with a counter on the rare collision."""
    for attempt in range(1, 1 << 16):
        mac = render.mac_address(namespace, f"{port}/{attempt}")
        if mac not in taken:
            return mac
    raise AssertionError("no free MAC in 65,535 draws")  # 2**40 addresses: cannot happen


LEDGER = Ledger()  # the operator process's one ledger
