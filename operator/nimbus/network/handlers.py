"""kopf handlers of network.nimbus.dev: networks (with their subnets) and security groups."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from nimbus import handling, meta, reporting
from nimbus.conditions import Condition
from nimbus.k8s import client
from nimbus.network import api, render

API_VERSION = f"{api.GROUP}/{meta.VERSION}"
SERVERS = "compute.nimbus.dev/v1alpha1"


async def reconcile_network(api_client: client.Client, namespace: str, name: str) -> None:
    """Render the network's attachment from the network and all its subnets; report both."""
    network = await api_client.get(API_VERSION, "Network", name, namespace)
    if network is None:
        return
    subnets = [
        s
        for s in await api_client.list(API_VERSION, "Subnet", namespace)
        if s["spec"]["network"] == name and not s["metadata"].get("deletionTimestamp")
    ]
    subnets.sort(key=lambda s: s["metadata"]["name"])
    ports = [
        p
        for p in await api_client.list(API_VERSION, "Port", namespace)
        if p["spec"]["network"] == name
    ]
    reserved = tuple(
        ip["ipAddress"] for p in ports for ip in p["spec"].get("fixedIPs", []) if "ipAddress" in ip
    )
    spec = api.NetworkSpec.model_validate(network["spec"])
    inputs = render.NetworkInputs(
        name=name,
        namespace=namespace,
        spec=spec,
        subnets=tuple(
            render.SubnetInputs(s["metadata"]["name"], api.SubnetSpec.model_validate(s["spec"]))
            for s in subnets
        ),
        reserved=reserved,
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
            await reporting.report(
                api_client,
                subnet,
                fields=subnet_fields,
                wanted=[Condition("NetworkFound", "True", "NetworkFound")],
            )


@handling.reconciler(api.GROUP, "networks")
async def network(name: str, namespace: str | None, memo: kopf.Memo, **_: Any) -> None:
    assert namespace is not None, "networks are namespaced"
    await reconcile_network(memo.api, namespace, name)


@kopf.on.resume(api.GROUP, meta.VERSION, "subnets")
@kopf.on.create(api.GROUP, meta.VERSION, "subnets")
@kopf.on.update(api.GROUP, meta.VERSION, "subnets")
@kopf.on.delete(api.GROUP, meta.VERSION, "subnets", optional=True)
async def subnet(body: kopf.Body, namespace: str | None, memo: kopf.Memo, **_: Any) -> None:
    """A subnet is part of its network's attachment: reconcile the network."""
    assert namespace is not None, "subnets are namespaced"
    network_name = body["spec"]["network"]
    if await memo.api.get(API_VERSION, "Network", network_name, namespace) is None:
        message = f'spec.network: network "{network_name}" not found in project {namespace}'
        await reporting.report(
            memo.api,
            dict(body),
            wanted=[Condition("NetworkFound", "False", "NetworkNotFound", message)],
            observed=False,
        )
        raise kopf.TemporaryError(message, delay=10)
    await reconcile_network(memo.api, namespace, network_name)


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


_ALLOCATION_LOCKS: dict[str, asyncio.Lock] = {}


async def port_addresses(
    api_client: client.Client, port: dict[str, Any], namespace: str
) -> tuple[list[dict[str, str]], str | None]:
    """The port's fixed IPs, allocated once (kept in its status), or why they cannot be."""
    recorded = (port.get("status") or {}).get("fixedIPs") or []
    if recorded:
        return recorded, None
    spec = api.PortSpec.model_validate(port["spec"])
    subnets = {
        s["metadata"]["name"]: api.SubnetSpec.model_validate(s["spec"])
        for s in await api_client.list(API_VERSION, "Subnet", namespace)
        if s["spec"]["network"] == spec.network
    }
    if not subnets:
        return [], f'network "{spec.network}" has no subnet to allocate an address from'
    lock = _ALLOCATION_LOCKS.setdefault(namespace, asyncio.Lock())
    async with lock:
        taken = {
            ip["ipAddress"]
            for other in await api_client.list(API_VERSION, "Port", namespace)
            if other["metadata"]["uid"] != port["metadata"]["uid"]
            for ip in (other.get("status") or {}).get("fixedIPs") or []
        }
        wanted = spec.fixed_ips or [api.FixedIP(subnet=sorted(subnets)[0])]
        allocated = []
        for fixed in wanted:
            names = [fixed.subnet] if fixed.subnet else sorted(subnets)
            address = None
            for subnet_name in names:
                if subnet_name not in subnets:
                    return [], f'fixedIPs: subnet "{subnet_name}" not found on {spec.network}'
                address = render.allocate(subnets[subnet_name], taken, fixed.ip_address)
                if address is not None:
                    allocated.append({"subnet": subnet_name, "ipAddress": address})
                    taken.add(address)
                    break
            if address is None:
                what = fixed.ip_address or "a free address"
                return [], f"IP address {what} is not available on network {spec.network}"
        metadata = port["metadata"]
        await api_client.patch_status(
            API_VERSION, "Port", metadata["name"], namespace, {"fixedIPs": allocated}
        )
    return allocated, None


@handling.reconciler(api.GROUP, "ports", poll=3)
async def port(
    body: kopf.Body, name: str, namespace: str | None, memo: kopf.Memo, **_: Any
) -> None:
    """A fixed IP and MAC for one server interface."""
    assert namespace is not None, "ports are namespaced"
    api_client: client.Client = memo.api
    network_name = body["spec"]["network"]
    if await api_client.get(API_VERSION, "Network", network_name, namespace) is None:
        message = f'spec.network: network "{network_name}" not found in project {namespace}'
        await reporting.report(
            api_client,
            dict(body),
            fields={"status": "DOWN"},
            wanted=[Condition("NetworkFound", "False", "NetworkNotFound", message)],
            observed=False,
        )
        raise kopf.TemporaryError(message, delay=5)
    fixed_ips, problem = await port_addresses(api_client, dict(body), namespace)
    if problem is not None:
        await reporting.report(
            api_client,
            dict(body),
            fields={"status": "DOWN"},
            wanted=[Condition("AddressAllocated", "False", "IpAddressNotAvailable", problem)],
            observed=False,
        )
        raise kopf.TemporaryError(problem, delay=10)
    device = await _device(api_client, dict(body), namespace)
    mac = body["spec"].get("macAddress") or render.mac_address(namespace, name)
    fields = {
        "status": "ACTIVE" if device else "DOWN",
        "macAddress": mac,
        "fixedIPs": fixed_ips,
        "deviceID": device,
        "deviceOwner": "compute:nova" if device else None,
    }
    if reporting.unchanged(dict(body), fields):
        return
    await reporting.report(
        api_client,
        dict(body),
        fields=fields,
        wanted=[Condition("AddressAllocated", "True", "AddressAllocated")],
    )
    # The attachment excludes the port's addresses from the CNI's own IPAM.
    await reconcile_network(api_client, namespace, network_name)


async def _device(api_client: client.Client, port: dict[str, Any], namespace: str) -> str | None:
    """The server using the port: its owner (Nova's implicit port) or a server naming it."""
    for owner in port["metadata"].get("ownerReferences", []):
        if owner["kind"] == "Server":
            return str(owner["name"])
    name = port["metadata"]["name"]
    for server in await api_client.list(SERVERS, "Server", namespace):
        if any(entry.get("port") == name for entry in server["spec"].get("networks", [])):
            return str(server["metadata"]["name"])
    return None
