"""kopf handlers of network.nimbus.dev: networks (with their subnets) and security groups."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from nimbus.api import meta
from nimbus.k8s import client
from nimbus.network import addressing, api, ipam, render
from nimbus.runtime import cache, handling, reporting
from nimbus.runtime.conditions import Condition

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
    readers = await _external_readers(
        api_client, network, spec, [s["metadata"]["name"] for s in subnets]
    )
    fields = {
        "status": "ACTIVE" if spec.admin_state_up else "DOWN",
        "subnets": [s["metadata"]["name"] for s in subnets],
        "networkAttachmentDefinition": attachment["metadata"]["name"],
        "mtu": spec.mtu,
        "externalReaderRole": readers,
    }
    await reporting.report_changed(
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
            await reporting.report_changed(
                api_client,
                subnet,
                fields=subnet_fields,
                wanted=[Condition("NetworkFound", "True", "NetworkFound")],
            )


async def _external_readers(
    api_client: client.Client, network: dict[str, Any], spec: api.NetworkSpec, subnets: list[str]
) -> str | None:
    """An external network's readers' Role and RoleBinding, applied; removed when it stops
    being external. The Role's name, or None."""
    metadata = network["metadata"]
    if spec.external:
        for manifest in render.render_external_readers(
            metadata["name"], metadata["namespace"], subnets, client.owner_reference(network)
        ):
            await api_client.apply(manifest)
        return render.external_reader_name(metadata["name"])
    had = (network.get("status") or {}).get("externalReaderRole")
    if had:
        for kind in ("RoleBinding", "Role"):
            await api_client.delete(
                "rbac.authorization.k8s.io/v1", kind, had, metadata["namespace"]
            )
    return None


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


@handling.reconciler(api.Network)
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


@handling.reconciler(api.SecurityGroup)
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


@handling.watched(api.Port)
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
    fixed_ips, mac, problem = addressing.port_addresses(view, body, namespace)
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
    device = addressing.device_of(view, body, namespace)
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
        wanted = addressing.device_of(view, port_body, namespace)
        if (port_body.get("status") or {}).get("deviceID") != wanted:
            fresh = await memo.api.get(API_VERSION, "Port", entry["port"], namespace)
            if fresh is not None:
                await reconcile_port(memo, view, fresh, namespace)
