"""A port's addresses read from the indexes: a network's subnets, what the other ports hold, the
fixed IPs and MAC a port gets, and the server using it. Pure reads over a View (and the
reservation ledger); the handlers write what they decide."""

from __future__ import annotations

from typing import Any

from nimbus.network import api, ipam, render
from nimbus.runtime import cache


def subnets_of(view: cache.View, namespace: str, network: str) -> dict[str, api.SubnetSpec]:
    return {
        s["metadata"]["name"]: api.SubnetSpec.model_validate(s["spec"])
        for s in view.list("subnets", namespace)
        if s["spec"]["network"] == network
    }


def claims(
    view: cache.View, port: dict[str, Any], namespace: str, spec: api.PortSpec
) -> dict[str, set[str]]:
    """What each other port of the network holds, as `port` must respect it: the index's
    addresses (status and spec), less what `port` asks for by address in its spec and a port
    made no sooner, not allocated yet, asks for too. Then the first to be allocated has it (the
    ledger decides between two made in the same second), and two ports asking for one address
    never both wait on each other. A server's implicit port holds its spec: the operator
    allocated it."""
    held = view.addresses(namespace, spec.network)
    asked = {f.ip_address for f in spec.fixed_ips if f.ip_address}
    owners = port["metadata"].get("ownerReferences") or []
    if not asked or any(o.get("kind") == "Server" for o in owners):
        return held
    mine = port["metadata"].get("creationTimestamp") or ""
    for other in view.list("ports", namespace):
        metadata = other["metadata"]
        name = metadata["name"]
        if name == port["metadata"]["name"] or not held.get(name, set()) & asked:
            continue
        if (other.get("status") or {}).get("fixedIPs") or (
            metadata.get("creationTimestamp") or ""
        ) < mine:
            continue
        if any(o.get("kind") == "Server" for o in metadata.get("ownerReferences") or []):
            continue
        if not ipam.LEDGER.holds(namespace, spec.network, name):
            held[name] = held[name] - asked
    return held


def port_addresses(
    view: cache.View, port: dict[str, Any], namespace: str
) -> tuple[list[dict[str, str]], str, tuple[str, str] | None]:
    """The port's fixed IPs and MAC: kept in its status once allocated, else allocated now (and
    held in the ledger until the index shows them), or why they cannot be (reason, message).
    No two ports of a network hold one address or one MAC, whatever order their events come
    in."""
    status = port.get("status") or {}
    recorded, recorded_mac = status.get("fixedIPs") or [], status.get("macAddress")
    if recorded and recorded_mac:
        return recorded, recorded_mac, None
    spec = api.PortSpec.model_validate(port["spec"])
    name = port["metadata"]["name"]
    taken = ipam.LEDGER.taken(
        namespace, spec.network, claims(view, port, namespace, spec), excluding=name
    )
    mac = recorded_mac or spec.mac_address or render.mac_address(namespace, name)
    if mac.lower() in taken:
        if spec.mac_address:
            return [], mac, ("MacAddressInUse", (
                f"MacAddressInUse: Unable to complete operation for network {spec.network}. "
                f"The mac address {mac} is in use."
            ))  # fmt: skip
        mac = ipam.free_mac(namespace, name, taken)
    allocated = recorded or ipam.allocate(
        subnets_of(view, namespace, spec.network), spec.fixed_ips, taken, spec.network
    )
    if isinstance(allocated, str):
        return [], mac, ("IpAddressNotAvailable", allocated)
    ipam.LEDGER.reserve(
        namespace, spec.network, name, {a["ipAddress"] for a in allocated} | {mac.lower()}
    )
    return allocated, mac, None


def device_of(view: cache.View, port: dict[str, Any], namespace: str) -> str | None:
    """The server using the port: its owner (Nova's implicit port), else the first server to
    name it (the oldest, then by name), which keeps it until it lets it go. Any other server
    naming it waits with PortInUse, as Nova refuses it."""
    for owner in port["metadata"].get("ownerReferences", []):
        if owner["kind"] == "Server":
            return str(owner["name"])
    name = port["metadata"]["name"]
    naming = [
        server
        for server in view.list("servers", namespace)
        if not server["metadata"].get("deletionTimestamp")
        and any(entry.get("port") == name for entry in server["spec"].get("networks", []))
    ]
    if not naming:
        return None
    first = min(
        naming,
        key=lambda s: (s["metadata"].get("creationTimestamp") or "", s["metadata"]["name"]),
    )
    return str(first["metadata"]["name"])
