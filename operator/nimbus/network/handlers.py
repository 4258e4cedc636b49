"""kopf handlers of network.nimbus.dev: networks (with their subnets) and security groups."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from nimbus import cache, handling, meta, reporting
from nimbus.conditions import Condition
from nimbus.k8s import client
from nimbus.network import api, ipam, render

API_VERSION = f"{api.GROUP}/{meta.VERSION}"
SERVERS_GROUP = "compute.nimbus.dev"


async def reconcile_network(
    api_client: client.Client, view: cache.View, namespace: str, name: str
) -> None:
    """Render the network's attachment from the network, its subnets and the addresses its
    ports hold; report both."""
    network = await api_client.get(API_VERSION, "Network", name, namespace)
    if network is None:
        return
    subnets = [
        s
        for s in view.list("subnets", namespace)
        if s["spec"]["network"] == name and not s["metadata"].get("deletionTimestamp")
    ]
    held = {
        address
        for address in set().union(
            *view.addresses(namespace, name).values(), *ipam.LEDGER.pending_on(namespace, name)
        )
        if ipam.is_ip(address)  # the ledger holds MACs too
    }
    spec = api.NetworkSpec.model_validate(network["spec"])
    inputs = render.NetworkInputs(
        name=name,
        namespace=namespace,
        spec=spec,
        subnets=tuple(
            render.SubnetInputs(s["metadata"]["name"], api.SubnetSpec.model_validate(s["spec"]))
            for s in subnets
        ),
        reserved=tuple(sorted(held)),
        owner=client.owner_reference(network),
    )
    attachment = await api_client.apply(render.render_network_attachment(inputs))
    fields = {
        "status": "ACTIVE" if spec.admin_state_up else "DOWN",
        "subnets": [s["metadata"]["name"] for s in subnets],
        "networkAttachmentDefinition": attachment["metadata"]["name"],
        "mtu": spec.mtu,
    }
    if not reporting.unchanged(network, fields):
        await reporting.report(
            api_client,
            network,
            fields=fields,
            wanted=[Condition("AttachmentReady", "True", "AttachmentApplied")],
        )
    for subnet, subnet_inputs in zip(subnets, inputs.subnets, strict=True):
        pools = subnet_inputs.spec.allocation_pools
        subnet_fields = {
            "gatewayIP": render.gateway(subnet_inputs.spec),
            "allocationPools": [p.to_api() for p in pools],
        }
        if not reporting.unchanged(subnet, subnet_fields):
            subnet = (
                await api_client.get(API_VERSION, "Subnet", subnet["metadata"]["name"], namespace)
                or subnet
            )
            if not reporting.unchanged(subnet, subnet_fields):
                await reporting.report(
                    api_client,
                    subnet,
                    fields=subnet_fields,
                    wanted=[Condition("NetworkFound", "True", "NetworkFound")],
                )


# Networks whose attachment is to be rendered again soon: many ports coming at once (a
# hundred servers) make one render, not a hundred.
_RENDERS: dict[tuple[str, str], asyncio.Task[None]] = {}
RENDER_DELAY = 0.5
logger = logging.getLogger(__name__)


def render_soon(memo: kopf.Memo, namespace: str, name: str, delay: float = RENDER_DELAY) -> None:
    key = (namespace, name)
    if key in _RENDERS:
        return

    async def later() -> None:
        await asyncio.sleep(delay)
        del _RENDERS[key]
        try:
            await reconcile_network(memo.api, memo.view, namespace, name)
        except Exception:  # logged, and tried again
            logger.exception("rendering network %s/%s failed; trying again", namespace, name)
            render_soon(memo, namespace, name, delay=5)

    _RENDERS[key] = asyncio.create_task(later())


@handling.reconciler(api.GROUP, "networks")
async def network(name: str, namespace: str | None, memo: kopf.Memo, **kwargs: Any) -> None:
    assert namespace is not None, "networks are namespaced"
    await reconcile_network(memo.api, cache.View.of(kwargs, memo), namespace, name)


@kopf.on.resume(api.GROUP, meta.VERSION, "subnets")
@kopf.on.create(api.GROUP, meta.VERSION, "subnets")
@kopf.on.update(api.GROUP, meta.VERSION, "subnets")
@kopf.on.delete(api.GROUP, meta.VERSION, "subnets", optional=True)
async def subnet(body: kopf.Body, namespace: str | None, memo: kopf.Memo, **kwargs: Any) -> None:
    """A subnet is part of its network's attachment: reconcile the network."""
    assert namespace is not None, "subnets are namespaced"
    view = cache.View.of(kwargs, memo)
    network_name = body["spec"]["network"]
    if view.get("networks", network_name, namespace) is None:
        message = f'spec.network: network "{network_name}" not found in project {namespace}'
        await reporting.report(
            memo.api,
            dict(body),
            wanted=[Condition("NetworkFound", "False", "NetworkNotFound", message)],
            observed=False,
        )
        raise kopf.TemporaryError(message, delay=10)
    await reconcile_network(memo.api, view, namespace, network_name)


@handling.reconciler(api.GROUP, "securitygroups")
async def security_group(
    body: kopf.Body, name: str, namespace: str | None, memo: kopf.Memo, **_: Any
) -> None:
    assert namespace is not None, "security groups are namespaced"
    spec = api.SecurityGroupSpec.model_validate(body["spec"])
    policy, unsupported = render.render_network_policy(
        name, namespace, spec, client.owner_reference(dict(body))
    )
    applied = await memo.api.apply(policy)
    rules = (
        Condition("RulesApplied", "False", "RulesNotExpressible", "; ".join(unsupported))
        if unsupported
        else Condition("RulesApplied", "True", "RulesApplied")
    )
    await reporting.report(
        memo.api,
        dict(body),
        fields={"networkPolicy": applied["metadata"]["name"]},
        wanted=[rules],
    )


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


@handling.watched(api.GROUP, "ports", "Port")
async def port(body: dict[str, Any], memo: kopf.Memo, view: cache.View) -> None:
    """A fixed IP and MAC for one server interface."""
    await reconcile_port(memo, view, body, body["metadata"]["namespace"])


async def reconcile_port(
    memo: kopf.Memo, view: cache.View, body: dict[str, Any], namespace: str
) -> None:
    api_client: client.Client = memo.api
    await reporting.BUILDS.turn()
    name = body["metadata"]["name"]
    network_name = body["spec"]["network"]
    if view.get("networks", network_name, namespace) is None:
        message = f'spec.network: network "{network_name}" not found in project {namespace}'
        await reporting.report(
            api_client,
            body,
            fields={"status": "DOWN"},
            wanted=[Condition("NetworkFound", "False", "NetworkNotFound", message)],
            observed=False,
        )
        raise kopf.TemporaryError(message, delay=5)
    fixed_ips, mac, problem = port_addresses(view, body, namespace)
    if problem is not None:
        reason, message = problem
        await reporting.report(
            api_client,
            body,
            fields={"status": "DOWN"},
            wanted=[Condition("AddressAllocated", "False", reason, message)],
            observed=False,
        )
        raise kopf.TemporaryError(message, delay=10)
    device = device_of(view, body, namespace)
    fields = {
        "status": "ACTIVE" if device else "DOWN",
        "macAddress": mac,
        "fixedIPs": fixed_ips,
        "deviceID": device,
        "deviceOwner": "compute:nova" if device else None,
    }
    if reporting.unchanged(body, fields):
        return
    try:
        await reporting.report(
            api_client,
            body,
            fields=fields,
            wanted=[Condition("AddressAllocated", "True", "AddressAllocated")],
        )
    except Exception:
        ipam.LEDGER.release(namespace, network_name, name)
        raise
    # The attachment excludes the port's addresses from the CNI's own IPAM.
    render_soon(memo, namespace, network_name)


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


@handling.follows(SERVERS_GROUP, meta.VERSION, "servers")
async def server_ports(
    type: str | None, body: dict[str, Any], memo: kopf.Memo, view: cache.View
) -> None:
    """Ports a server names follow it: ACTIVE with its deviceID while it uses them, DOWN after."""
    namespace = body["metadata"]["namespace"]
    for entry in body["spec"].get("networks", []):
        port_body = view.get("ports", entry["port"], namespace) if entry.get("port") else None
        if port_body is None:
            continue
        wanted = device_of(view, port_body, namespace)
        if (port_body.get("status") or {}).get("deviceID") != wanted:
            fresh = await memo.api.get(API_VERSION, "Port", entry["port"], namespace)
            if fresh is not None:
                await reconcile_port(memo, view, fresh, namespace)
