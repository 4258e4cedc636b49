"""A server's interfaces: a named port, or the port Nimbus makes on a network for the server
(Nova's implicit port), its address allocated here so the VM needs not wait for the port's own
reconciliation."""

from __future__ import annotations

import dataclasses
from typing import Any

from nimbus.compute import api, render
from nimbus.k8s import client
from nimbus.network import addressing, ipam
from nimbus.network import api as api_network
from nimbus.network import render as network_render
from nimbus.runtime import cache
from nimbus.runtime.conditions import WaitingError

NETWORK = "network.nimbus.dev/v1alpha1"


def interface(
    view: cache.View,
    namespace: str,
    network: str,
    port: str,
    mac: str,
    fixed_ips: list[dict[str, str]],
) -> render.Interface:
    subnets = addressing.subnets_of(view, namespace, network)
    addresses, gateway, dns, routes = [], None, [], []
    for ip in fixed_ips:
        subnet = subnets.get(ip["subnet"])
        if subnet is None:
            continue
        prefix = subnet.cidr.split("/")[1]
        addresses.append(f"{ip['ipAddress']}/{prefix}")
        gateway = gateway or network_render.gateway(subnet)
        dns += subnet.dns_nameservers
        routes += [(r.destination, r.nexthop) for r in subnet.host_routes]
    return render.Interface(
        network=network,
        attachment=f"{namespace}/{network}",
        mac=mac,
        addresses=tuple(addresses),
        gateway=gateway,
        dns=tuple(dns),
        routes=tuple(routes),
        port=port,
    )


@dataclasses.dataclass
class Ports:
    """The implicit ports a pass makes, and the addresses it holds for them in the ledger."""

    namespace: str
    manifests: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    held: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (network, port)

    def release(self) -> None:
        for network, port in self.held:
            ipam.LEDGER.release(self.namespace, network, port)


def interfaces(
    view: cache.View, server: dict[str, Any], spec: api.ServerSpec, namespace: str, made: Ports
) -> tuple[render.Interface, ...]:
    """One interface per entry of spec.networks: a named port, or a port Nimbus makes on the
    network for the server (Nova's implicit port), owned by the server. Its address is
    allocated here, so the VM needs not wait for the port's own reconciliation."""
    interfaces = []
    name = server["metadata"]["name"]
    for index, entry in enumerate(spec.networks):
        if entry.port is not None:
            port = view.get("ports", entry.port, namespace)
            if port is None:
                raise WaitingError(
                    "NetworksReady",
                    "PortNotFound",
                    f"spec.networks[{index}].port: Port {entry.port} could not be found.",
                )
            user = addressing.device_of(view, port, namespace)
            if user not in (None, name) or any(
                other.port == entry.port for other in spec.networks[:index]
            ):
                by = f"server {user}" if user not in (None, name) else "another interface"
                raise WaitingError(
                    "NetworksReady",
                    "PortInUse",
                    f"spec.networks[{index}].port: Port {entry.port} is still in use (by {by}).",
                )
            network = port["spec"]["network"]
            fixed = (port.get("status") or {}).get("fixedIPs") or []
            mac = (port.get("status") or {}).get("macAddress")
            if not fixed or not mac:
                raise WaitingError(
                    "NetworksReady",
                    "PortNotReady",
                    f"port {entry.port} on network {network} has no address yet",
                )
            interfaces.append(interface(view, namespace, network, entry.port, mac, fixed))
            continue
        assert entry.network is not None
        if view.get("networks", entry.network, namespace) is None:
            raise WaitingError(
                "NetworksReady",
                "NetworkNotFound",
                f"spec.networks[{index}].network: Network {entry.network} could not be found.",
            )
        port_name = f"{name}-port-{index}"
        existing = view.get("ports", port_name, namespace) or {}
        fixed = list((existing.get("spec") or {}).get("fixedIPs") or []) or list(
            (existing.get("status") or {}).get("fixedIPs") or []
        )
        if not fixed or not all(ip.get("ipAddress") and ip.get("subnet") for ip in fixed):
            wanted = [api_network.FixedIP(ip_address=entry.fixed_ip)] if entry.fixed_ip else []
            taken = ipam.LEDGER.taken(
                namespace,
                entry.network,
                view.addresses(namespace, entry.network),
                excluding=port_name,
            )
            allocated = ipam.allocate(
                addressing.subnets_of(view, namespace, entry.network),
                wanted,
                taken,
                entry.network,
            )
            if isinstance(allocated, str):
                raise WaitingError(
                    "NetworksReady", "IpAddressNotAvailable", f"spec.networks[{index}]: {allocated}"
                )
            fixed = allocated
            ipam.LEDGER.reserve(
                namespace, entry.network, port_name, {ip["ipAddress"] for ip in fixed}
            )
            made.held.append((entry.network, port_name))
        mac = network_render.mac_address(namespace, port_name)
        made.manifests.append(
            {
                "apiVersion": NETWORK,
                "kind": "Port",
                "metadata": {
                    "name": port_name,
                    "namespace": namespace,
                    "labels": {
                        "app.kubernetes.io/managed-by": "nimbus",
                        "compute.nimbus.dev/server": name,
                    },
                    "ownerReferences": [client.owner_reference(server)],
                },
                "spec": {
                    "network": entry.network,
                    "securityGroups": spec.security_groups,
                    "macAddress": mac,
                    "fixedIPs": fixed,
                },
            }
        )
        interfaces.append(interface(view, namespace, entry.network, port_name, mac, fixed))
    return tuple(interfaces)
