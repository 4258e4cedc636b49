"""kopf handlers of network.nimbus.dev: networks (with their subnets) and security groups."""

from __future__ import annotations

from typing import Any

import kopf

from nimbus import meta, reporting
from nimbus.conditions import Condition
from nimbus.k8s import client
from nimbus.network import api, render

API_VERSION = f"{api.GROUP}/{meta.VERSION}"


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
        p for p in await api_client.list(API_VERSION, "Port", namespace)
        if p["spec"]["network"] == name
    ]  # fmt: skip
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
    await reporting.report(
        api_client,
        network,
        fields={
            "status": "ACTIVE" if spec.admin_state_up else "DOWN",
            "subnets": [s["metadata"]["name"] for s in subnets],
            "networkAttachmentDefinition": attachment["metadata"]["name"],
            "mtu": spec.mtu,
        },
        wanted=[Condition("AttachmentReady", "True", "AttachmentApplied")],
    )
    for subnet, subnet_inputs in zip(subnets, inputs.subnets, strict=True):
        pools = subnet_inputs.spec.allocation_pools
        await reporting.report(
            api_client,
            subnet,
            fields={
                "gatewayIP": render.gateway(subnet_inputs.spec),
                "allocationPools": [p.to_api() for p in pools],
            },
            wanted=[Condition("NetworkFound", "True", "NetworkFound")],
        )


@kopf.on.resume(api.GROUP, meta.VERSION, "networks")
@kopf.on.create(api.GROUP, meta.VERSION, "networks")
@kopf.on.update(api.GROUP, meta.VERSION, "networks")
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


@kopf.on.resume(api.GROUP, meta.VERSION, "securitygroups")
@kopf.on.create(api.GROUP, meta.VERSION, "securitygroups")
@kopf.on.update(api.GROUP, meta.VERSION, "securitygroups")
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
