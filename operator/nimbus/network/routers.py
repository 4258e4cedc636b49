"""kopf handlers of Routers and FloatingIPs: Neutron's layer 3.

A router's gateway and a floating IP hold their external address as a Port on the external
network (in its project), as in Neutron (device_owner network:router_gateway and
network:floatingip): the network's IPAM hands it out and no two can meet. The router's legs,
their addresses and the floating IPs it NATs go into the Router's status, which the router
agent in the router pod programs (nimbus.network.l3, nimbus.network.agent) and reports applied:
the Router is ACTIVE when the plan applied is the plan it should have, and so is a floating IP
that plan carries.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from nimbus.api import meta
from nimbus.k8s import client
from nimbus.network import api, l3, render, router_pod
from nimbus.runtime import cache, handling, reporting
from nimbus.runtime.conditions import Condition

API_VERSION = f"{api.GROUP}/{meta.VERSION}"
GATEWAY_OF = "network.nimbus.dev/gateway-of"  # a gateway port's label: <project>.<router>
FLOATING_OF = "network.nimbus.dev/floatingip-of"  # a floating IP's port: <project>.<name>
_LOCKS: dict[tuple[str, str, str], asyncio.Lock] = {}
# (namespace, port) -> the floating IPs naming it, from the floating IPs' events: a port's
# event (a server's, most of them) finds whether a floating IP follows it without a request.
_NAMED_BY: dict[tuple[str, str], set[str]] = {}


class RefusedError(Exception):
    """Input Neutron refuses: the object is ERROR with this message until it changes."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class WaitingError(Exception):
    """A reference not there or not ready yet: BUILD (or DOWN), tried again."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def port_name(prefix: str, namespace: str, name: str) -> str:
    return f"{prefix}.{namespace}.{name}"[:253]


async def _locked(
    key: tuple[str, str, str], work: Callable[[], Awaitable[None]], *, quiet: bool = False
) -> None:
    """Run one reconciliation of the object at a time. `quiet`, for a pass an event of another
    object asked for: "not yet" is already in the status, and the object's own reconciler,
    or the next event, tries again."""
    async with _LOCKS.setdefault(key, asyncio.Lock()):
        try:
            await work()
        except kopf.TemporaryError:
            if not quiet:
                raise


def _external(view: cache.View, ref: api.ExternalNetworkRef, namespace: str) -> dict[str, Any]:
    project = ref.project or namespace
    network = view.get("networks", ref.network, project)
    if network is None:
        raise WaitingError(
            "NetworkNotFound", f"Network {ref.network} could not be found in project {project}."
        )
    if not (network.get("spec") or {}).get("external"):
        raise RefusedError(
            "NotExternalNetwork", f"Network {ref.network} is not a valid external network."
        )
    return network


async def _external_port(
    memo: kopf.Memo,
    view: cache.View,
    *,
    prefix: str,
    label: str,
    owner: dict[str, Any],
    ref: api.ExternalNetworkRef,
    fixed_ips: list[dict[str, Any]],
) -> dict[str, Any]:
    """The Port holding an external address for `owner` (a router's gateway, a floating IP),
    applied in the external network's project; its first fixed IP, once allocated."""
    namespace, name = owner["metadata"]["namespace"], owner["metadata"]["name"]
    project = ref.project or namespace
    wanted_name = port_name(prefix, namespace, name)
    selector = f"{label}={f'{namespace}.{name}'[:63].rstrip('-.')}"
    for held in await memo.api.list(API_VERSION, "Port", None, label_selector=selector):
        metadata = held["metadata"]
        if metadata["name"] != wanted_name:
            continue
        if (metadata["namespace"], held["spec"].get("network")) != (project, ref.network):
            # The gateway moved to another network: its old address goes first.
            await memo.api.delete(API_VERSION, "Port", metadata["name"], metadata["namespace"])
            raise WaitingError("ReleasingAddress", f"releasing {metadata['namespace']}/"
                               f"{held['spec'].get('network')}'s address first")  # fmt: skip
    if not fixed_ips:  # Neutron's external addresses are IPv4: the first IPv4 subnet's
        subnets = sorted(
            s["metadata"]["name"]
            for s in view.list("subnets", project)
            if s["spec"].get("network") == ref.network and s["spec"].get("ipVersion", 4) == 4
        )
        if not subnets:
            raise WaitingError("NoIPv4Subnet", f"Network {ref.network} has no IPv4 subnet to "
                               "allocate an external address from.")  # fmt: skip
        fixed_ips = [{"subnet": subnets[0]}]
    port = {
        "apiVersion": API_VERSION,
        "kind": "Port",
        "metadata": {
            "name": port_name(prefix, namespace, name),
            "namespace": project,
            "labels": {label: f"{namespace}.{name}"[:63].rstrip("-.")},
            "annotations": {label: f"{namespace}/{name}"},
        },
        "spec": {
            "network": ref.network,
            "fixedIPs": fixed_ips,
            "portSecurityEnabled": False,
            "description": f"{owner['kind']} {namespace}/{name}",
        },
    }
    try:
        held = await memo.api.apply(port)
    except client.ApiError as error:
        if error.status != 403:  # the external project's port quota, say
            raise
        raise WaitingError("OverQuota", str(error)) from error
    status = held.get("status") or {}
    fixed = next(iter(status.get("fixedIPs") or []), None)
    if fixed is None or not fixed.get("ipAddress"):
        failed = next(
            (c for c in status.get("conditions") or [] if c["type"] == "AddressAllocated"), None
        )
        if failed is not None and failed["status"] == "False":
            raise WaitingError("IpAddressGenerationFailure", failed["message"])
        raise WaitingError("AllocatingAddress", f"allocating an address on {ref.network}")
    return {"port": held, "fixed": fixed, "project": project}


def _subnet_leg(
    view: cache.View, namespace: str, project: str, fixed: dict[str, Any]
) -> api.RouterLeg:
    subnet = view.get("subnets", fixed["subnet"], project) if fixed.get("subnet") else None
    if subnet is None:
        raise WaitingError("SubnetNotFound", f"subnet {fixed.get('subnet')} not found in {project}")
    spec = api.SubnetSpec.model_validate(subnet["spec"])
    return api.RouterLeg(
        device="",
        network=spec.network,
        subnet=fixed["subnet"],
        ip_address=fixed["ipAddress"],
        cidr=str(ipaddress.ip_network(spec.cidr, strict=False)),
        gateway_ip=render.gateway(spec),
    )


# -- routers -------------------------------------------------------------------------------------


async def interfaces(
    view: cache.View, api_client: client.Client, body: dict[str, Any], spec: api.RouterSpec
) -> list[api.RouterLeg]:
    """The router's legs on its project's subnets, refused in Neutron's words where Neutron
    refuses them."""
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    legs = []
    for interface in spec.interfaces:
        if interface.subnet:
            subnet = view.get("subnets", interface.subnet, namespace)
            if subnet is None:
                raise WaitingError(
                    "SubnetNotFound", f"Subnet {interface.subnet} could not be found."
                )
            subnet_spec = api.SubnetSpec.model_validate(subnet["spec"])
            gateway = render.gateway(subnet_spec)
            if gateway is None:
                raise RefusedError(
                    "SubnetWithoutGateway",
                    f"Bad router request: Subnet {interface.subnet} does not have a gateway IP.",
                )
            legs.append(
                api.RouterLeg(
                    device=l3.internal_device(f"subnet/{interface.subnet}"),
                    network=subnet_spec.network,
                    subnet=interface.subnet,
                    ip_address=gateway,
                    cidr=str(ipaddress.ip_network(subnet_spec.cidr, strict=False)),
                )
            )
        else:
            assert interface.port is not None
            port = view.get("ports", interface.port, namespace)
            if port is None:
                raise WaitingError("PortNotFound", f"Port {interface.port} could not be found.")
            fixed = next(iter((port.get("status") or {}).get("fixedIPs") or []), None)
            if fixed is None:
                raise WaitingError("AllocatingAddress", f"port {interface.port} has no address yet")
            leg = _subnet_leg(view, namespace, namespace, fixed)
            legs.append(
                leg.model_copy(
                    update={
                        "device": l3.internal_device(f"port/{interface.port}"),
                        "port": interface.port,
                        "gateway_ip": None,
                    }
                )
            )
    why = l3.overlapping({leg.subnet or "": leg.cidr or "" for leg in legs})
    if why:
        raise RefusedError("OverlappingSubnets", why)
    mine = {leg.subnet for leg in legs}
    for other in await api_client.list(API_VERSION, "Router", namespace):
        if other["metadata"]["name"] == name or other["metadata"].get("deletionTimestamp"):
            continue
        if (other["metadata"]["creationTimestamp"], other["metadata"]["name"]) > (
            body["metadata"]["creationTimestamp"],
            name,
        ):
            continue  # the older router keeps the subnet
        theirs = {i.get("subnet") for i in other["spec"].get("interfaces") or []}
        for shared in sorted(s for s in mine & theirs if s):
            address = next(leg.ip_address for leg in legs if leg.subnet == shared)
            raise RefusedError(
                "IpAddressAlreadyAllocated",
                f"IP address {address} already allocated in subnet {shared}: router "
                f"{other['metadata']['name']} routes it.",
            )
    return legs


async def reconcile_router(memo: kopf.Memo, view: cache.View, namespace: str, name: str) -> None:
    api_client: client.Client = memo.api
    body = await api_client.get(API_VERSION, "Router", name, namespace)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    spec = api.RouterSpec.model_validate(body["spec"])
    status = body.get("status") or {}
    try:
        legs = await interfaces(view, api_client, body, spec)
        gateway = None
        if spec.external_gateway is not None:
            ref = spec.external_gateway
            _external(view, ref, namespace)
            held = await _external_port(
                memo,
                view,
                prefix="router-gateway",
                label=GATEWAY_OF,
                owner=body,
                ref=ref,
                fixed_ips=[f.to_api() for f in ref.external_fixed_ips],
            )
            gateway = _subnet_leg(view, namespace, held["project"], held["fixed"]).model_copy(
                update={
                    "device": l3.external_device(held["project"], ref.network),
                    "project": held["project"],
                }
            )
        else:
            await _release(api_client, GATEWAY_OF, "router-gateway", namespace, name)
    except RefusedError as error:
        await _report_router(api_client, body, "ERROR", error.reason, str(error), status)
        return
    except WaitingError as error:
        await _report_router(api_client, body, "BUILD", error.reason, str(error), status)
        raise kopf.TemporaryError(str(error), delay=5) from error
    fields: dict[str, Any] = {
        "interfaces": [leg.to_api() for leg in legs],
        "externalGateway": gateway.to_api() if gateway else None,
    }
    floating = await api_client.list(API_VERSION, "FloatingIP", namespace)
    plan = l3.plan_of({**body, "status": fields}, floating).digest()
    fields["plan"] = plan
    nads = await _attachments(view, fields, namespace)
    owner = client.owner_reference(body)
    image = os.environ.get("NIMBUS_AGENT_IMAGE", router_pod.AGENT_IMAGE)
    for child in router_pod.render(body, fields, nads, image=image, owner=owner):
        await api_client.apply(child)
    fields["deployment"] = router_pod.name_of(name)
    applied = (status.get("dataPath") or {}).get("plan")
    if not spec.admin_state_up:
        word, condition = "DOWN", Condition("DataPathProgrammed", "True", "AdminStateDown")
    elif applied == plan:
        word, condition = "ACTIVE", Condition("DataPathProgrammed", "True", "PlanApplied")
    else:
        word = "BUILD"
        condition = Condition(
            "DataPathProgrammed",
            "False",
            "AwaitingAgent",
            f"the router agent has not applied plan {plan} yet",
        )
    fields["status"] = word
    await reporting.report_changed(api_client, body, fields=fields, wanted=[condition])


async def _report_router(
    api_client: client.Client,
    body: dict[str, Any],
    word: str,
    reason: str,
    message: str,
    status: dict[str, Any],
) -> None:
    fields = {"status": word}
    condition = Condition("DataPathProgrammed", "False", reason, message)
    if status.get("status") == word and any(
        c.get("message") == message for c in status.get("conditions") or []
    ):
        return
    await reporting.report(api_client, body, fields=fields, wanted=[condition], observed=False)


async def _attachments(
    view: cache.View, status: dict[str, Any], namespace: str
) -> dict[tuple[str, str], str]:
    """(project, network) -> the network's attachment, for each leg: the subnets' legs are on
    the router's own project's networks (project ""), the gateway on the external one's."""
    nads = {}
    for leg in [*status["interfaces"], *filter(None, [status.get("externalGateway")])]:
        network = view.get("networks", leg["network"], leg.get("project") or namespace)
        if network is None:
            continue
        nad = (network.get("status") or {}).get("networkAttachmentDefinition")
        if nad:
            nads[(leg.get("project") or "", leg["network"])] = nad
    return nads


async def _release(
    api_client: client.Client, label: str, prefix: str, namespace: str, name: str
) -> None:
    """Delete the external port held for namespace/name, wherever it is."""
    selector = f"{label}={f'{namespace}.{name}'[:63].rstrip('-.')}"
    for port in await api_client.list(API_VERSION, "Port", None, label_selector=selector):
        if port["metadata"]["name"] == port_name(prefix, namespace, name):
            await api_client.delete(
                API_VERSION, "Port", port["metadata"]["name"], port["metadata"]["namespace"]
            )


async def _reconcile_router_locked(
    memo: kopf.Memo, view: cache.View, namespace: str, name: str, *, quiet: bool = True
) -> None:
    await _locked(
        ("router", namespace, name),
        lambda: reconcile_router(memo, view, namespace, name),
        quiet=quiet,
    )


@handling.reconciler(api.Router)
async def router(name: str, namespace: str | None, memo: kopf.Memo, **kwargs: Any) -> None:
    assert namespace is not None, "routers are namespaced"
    await _reconcile_router_locked(memo, cache.View.of(kwargs, memo), namespace, name, quiet=False)


@kopf.on.delete(api.GROUP, meta.VERSION, "routers")
async def router_deleted(name: str, namespace: str | None, memo: kopf.Memo, **_: Any) -> None:
    """The gateway's port on the external network is not in the router's project: release it
    (under the router's lock: a pass under way would apply it again)."""
    assert namespace is not None
    async with _LOCKS.setdefault(("router", namespace, name), asyncio.Lock()):
        await _release(memo.api, GATEWAY_OF, "router-gateway", namespace, name)


@handling.follows(api.GROUP, meta.VERSION, "routers")
async def router_changed(
    type: str | None, body: dict[str, Any], memo: kopf.Memo, view: cache.View
) -> None:
    """The agent reported a plan applied (or a new plan is due): the Router's status word, then
    the floating IPs of its project follow."""
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    if type == "DELETED" or body["metadata"].get("deletionTimestamp"):
        # Its floating IPs are no longer NATed by it: they look for another router.
        for floating in await memo.api.list(API_VERSION, "FloatingIP", namespace):
            if (floating.get("status") or {}).get("router") == name:
                await _reconcile_floating_locked(
                    memo, view, namespace, floating["metadata"]["name"]
                )
        return
    status = body.get("status") or {}
    applied = (status.get("dataPath") or {}).get("plan")
    if status.get("plan") and (status.get("status") == "ACTIVE") != (applied == status["plan"]):
        await _reconcile_router_locked(memo, view, namespace, name)
    for floating in await memo.api.list(API_VERSION, "FloatingIP", namespace):
        if floating["spec"].get("port"):
            await _reconcile_floating_locked(memo, view, namespace, floating["metadata"]["name"])


# -- floating IPs --------------------------------------------------------------------------------


def _fixed_address(port: dict[str, Any], wanted: str | None) -> str:
    fixed = [f["ipAddress"] for f in (port.get("status") or {}).get("fixedIPs") or []]
    name = port["metadata"]["name"]
    if wanted:
        if ipaddress.ip_address(wanted).version != 4:
            raise RefusedError(
                "InvalidFixedIP",
                f"Bad floatingip request: fixed IP {wanted} is not IPv4: a floating IP NATs to "
                "an IPv4 address.",
            )
        if wanted not in fixed:
            raise RefusedError(
                "InvalidFixedIP",
                f"Bad floatingip request: Port {name} does not have fixed ip {wanted}.",
            )
        return wanted
    for address in fixed:
        if ipaddress.ip_address(address).version == 4:
            return str(address)
    raise RefusedError(
        "NoIPv4FixedIP", f"Bad floatingip request: Port {name} does not have any IPv4 fixed IP."
    )


def router_for(
    routers: list[dict[str, Any]], project: str, network: str, fixed: str
) -> dict[str, Any] | None:
    """The router NATing `fixed` to `network`: its gateway on the network, a leg on the fixed
    IP's subnet."""
    address = ipaddress.ip_address(fixed)
    for each in sorted(routers, key=lambda r: r["metadata"]["name"]):
        status = each.get("status") or {}
        gateway = status.get("externalGateway") or {}
        if (gateway.get("project"), gateway.get("network")) != (project, network):
            continue
        if each["metadata"].get("deletionTimestamp"):
            continue
        for leg in status.get("interfaces") or []:
            if leg.get("cidr") and address in ipaddress.ip_network(leg["cidr"]):
                return each
    return None


async def reconcile_floating_ip(
    memo: kopf.Memo, view: cache.View, namespace: str, name: str
) -> None:
    api_client: client.Client = memo.api
    body = await api_client.get(API_VERSION, "FloatingIP", name, namespace)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    spec = api.FloatingIPSpec.model_validate(body["spec"])
    ref = spec.floating_network
    project = ref.project or namespace
    fields: dict[str, Any] = {"port": spec.port, "router": None, "fixedIPAddress": None}
    try:
        _external(view, ref, namespace)
        wanted = [{"ipAddress": spec.floating_ip_address}] if spec.floating_ip_address else []
        held = await _external_port(
            memo,
            view,
            prefix="floatingip",
            label=FLOATING_OF,
            owner=body,
            ref=ref,
            fixed_ips=wanted,
        )
        fields["floatingIPAddress"] = held["fixed"]["ipAddress"]
        fields["floatingPort"] = held["port"]["metadata"]["name"]
        condition = Condition("Associated", "True", "NotAssociated")
        word = "DOWN"
        if spec.port:
            port = view.get("ports", spec.port, namespace)
            if port is None:
                raise RefusedError("PortNotFound", f"Port {spec.port} could not be found.")
            fixed = _fixed_address(port, spec.fixed_ip_address)
            for other in await api_client.list(API_VERSION, "FloatingIP", namespace):
                theirs = other.get("status") or {}
                if other["metadata"]["name"] == name or (
                    theirs.get("port"),
                    theirs.get("fixedIPAddress"),
                ) != (spec.port, fixed):
                    continue
                theirs_first = (other["metadata"]["creationTimestamp"], other["metadata"]["name"])
                if theirs_first < (body["metadata"]["creationTimestamp"], name):
                    raise RefusedError(
                        "FloatingIPPortAlreadyAssociated",
                        f"Cannot associate floating IP {fields['floatingIPAddress']} "
                        f"({name}) with port {spec.port} using fixed IP {fixed}, as "
                        "that fixed IP already has a floating IP on external network "
                        f"{ref.network}.",
                    )
            routers = await api_client.list(API_VERSION, "Router", namespace)
            found = router_for(routers, project, ref.network, fixed)
            if found is None:
                subnet = next(
                    (
                        f.get("subnet")
                        for f in port["status"]["fixedIPs"]
                        if f["ipAddress"] == fixed
                    ),
                    None,
                )
                raise RefusedError(
                    "ExternalGatewayForFloatingIPNotFound",
                    f"External network {ref.network} is not reachable from subnet "
                    f"{subnet}. Therefore, cannot associate Port {spec.port} with a "
                    "Floating IP.",
                )
            fields["fixedIPAddress"] = fixed
            fields["router"] = found["metadata"]["name"]
            mine = {**body, "status": {**(body.get("status") or {}), **fields}}
            floating = [
                mine if f["metadata"]["name"] == name else f
                for f in await api_client.list(API_VERSION, "FloatingIP", namespace)
            ]
            router_status = found.get("status") or {}
            plan = l3.plan_of(found, floating).digest()
            applied = (router_status.get("dataPath") or {}).get("plan")
            if applied == plan:
                word = "ACTIVE"
                condition = Condition("Associated", "True", "Associated")
            else:
                condition = Condition(
                    "Associated",
                    "False",
                    "AwaitingRouter",
                    f"router {found['metadata']['name']} has not applied this floating IP yet",
                )
    except RefusedError as error:
        fields["status"] = "ERROR"
        await _report_floating(
            api_client, body, fields, Condition("Associated", "False", error.reason, str(error))
        )
        return
    except WaitingError as error:
        fields["status"] = "DOWN"
        await _report_floating(
            api_client, body, fields, Condition("Associated", "False", error.reason, str(error))
        )
        raise kopf.TemporaryError(str(error), delay=5) from error
    fields["status"] = word
    await _report_floating(api_client, body, fields, condition)


async def _report_floating(
    api_client: client.Client, body: dict[str, Any], fields: dict[str, Any], wanted: Condition
) -> None:
    held = {c["type"]: c for c in (body.get("status") or {}).get("conditions") or []}
    current = held.get("Associated") or {}
    if reporting.unchanged(body, fields) and (current.get("reason"), current.get("message")) == (
        wanted.reason,
        wanted.message,
    ):
        return
    await reporting.report(api_client, body, fields=fields, wanted=[wanted])


async def _reconcile_floating_locked(
    memo: kopf.Memo, view: cache.View, namespace: str, name: str, *, quiet: bool = True
) -> None:
    await _locked(
        ("floatingip", namespace, name),
        lambda: reconcile_floating_ip(memo, view, namespace, name),
        quiet=quiet,
    )


@handling.reconciler(api.FloatingIP)
async def floating_ip(name: str, namespace: str | None, memo: kopf.Memo, **kwargs: Any) -> None:
    assert namespace is not None, "floating IPs are namespaced"
    view = cache.View.of(kwargs, memo)
    await _reconcile_floating_locked(memo, view, namespace, name, quiet=False)


@kopf.on.delete(api.GROUP, meta.VERSION, "floatingips")
async def floating_ip_deleted(name: str, namespace: str | None, memo: kopf.Memo, **_: Any) -> None:
    """Release the floating IP's address on the external network (under its lock)."""
    assert namespace is not None
    async with _LOCKS.setdefault(("floatingip", namespace, name), asyncio.Lock()):
        await _release(memo.api, FLOATING_OF, "floatingip", namespace, name)


@handling.follows(api.GROUP, meta.VERSION, "floatingips")
async def floating_ip_changed(
    type: str | None, body: dict[str, Any], memo: kopf.Memo, view: cache.View
) -> None:
    """A floating IP (dis)associated, or gone: the plans of its project's routers change."""
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    for (ns, _), named in list(_NAMED_BY.items()):
        if ns == namespace:
            named.discard(name)
    if type != "DELETED" and body["spec"].get("port"):
        _NAMED_BY.setdefault((namespace, body["spec"]["port"]), set()).add(name)
    for each in await memo.api.list(API_VERSION, "Router", namespace):
        await _reconcile_router_locked(memo, view, namespace, each["metadata"]["name"])


@handling.follows(api.GROUP, meta.VERSION, "ports")
async def port_changed(
    type: str | None, body: dict[str, Any], memo: kopf.Memo, view: cache.View
) -> None:
    """A gateway's or floating IP's port got its address; a port a floating IP names changed."""
    metadata = body["metadata"]
    annotations = metadata.get("annotations") or {}
    if GATEWAY_OF in annotations:
        namespace, name = annotations[GATEWAY_OF].split("/", 1)
        await _reconcile_router_locked(memo, view, namespace, name)
    if FLOATING_OF in annotations:
        namespace, name = annotations[FLOATING_OF].split("/", 1)
        await _reconcile_floating_locked(memo, view, namespace, name)
    namespace = metadata["namespace"]
    for floating in sorted(_NAMED_BY.get((namespace, metadata["name"]), ())):
        await _reconcile_floating_locked(memo, view, namespace, floating)
