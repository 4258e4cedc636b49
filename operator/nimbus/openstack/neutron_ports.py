"""Neutron v2.0 ports over Port: list (filters network_id, device_id, name, fixed_ips, ...),
show, create, update and delete. A port's device is the server that uses it (a server made
with `--nic port-id=`, or the one that made it), as the operator records it.

Every call to Kubernetes acts as the token's user (service.Services.as_user)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from nimbus.k8s import client
from nimbus.openstack import neutron, neutron_documents, neutron_port_requests, neutron_security
from nimbus.openstack import neutron_router_documents as router_documents
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity

routes = web.RouteTableDef()
BASE = neutron.BASE
NETWORKS = neutron.NETWORKS
ALLOCATION_WAIT = 10.0  # seconds a create waits for the operator to allocate the addresses


def _documents(
    identity: Identity, ports: list[dict[str, Any]], context: list[list[dict[str, Any]]],
    *, interfaces: bool = False,
) -> list[dict[str, Any]]:  # fmt: skip
    """The ports' documents, a router's port interfaces owned by it; with `interfaces`, the
    routers' interfaces on subnets too (Neutron's ports of them, which Nimbus does not make)."""
    networks, subnets, groups, servers, routers = context
    network_ids, subnet_ids = neutron_documents.ids(networks), neutron_documents.ids(subnets)
    group_ids, server_ids = neutron_documents.ids(groups), neutron_documents.ids(servers)
    project_id = neutron.project_id(identity)
    found = [
        neutron_documents.port(p, project_id=project_id, network_ids=network_ids,
                               subnet_ids=subnet_ids, group_ids=group_ids, server_ids=server_ids)
        for p in ports
    ]  # fmt: skip
    owned = router_documents.port_interfaces(routers)
    for body, document in zip(ports, found, strict=True):
        router_id = owned.get(body["metadata"]["name"])
        if router_id:
            document.update(device_id=router_id, device_owner=router_documents.ROUTER_INTERFACE)
    if interfaces:
        project = router_documents.Project(
            identity.namespace, networks=networks, subnets=subnets, ports=ports, routers=routers
        )
        found += router_documents.interface_ports(project, project_id=project_id)
    return found


async def _context(kube: client.Client, identity: Identity) -> list[list[dict[str, Any]]]:
    return await neutron.held(kube, identity.namespace, "Network", "Subnet", "SecurityGroup",
                              "Server", "Router")  # fmt: skip


@routes.get(f"{BASE}/ports")
async def list_ports(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    kube = neutron.kube(request, identity)
    (ports,), context = await asyncio.gather(
        neutron.held(kube, identity.namespace, "Port"), _context(kube, identity)
    )
    wanted = neutron.query(request)
    found = [p for p in _documents(identity, ports, context, interfaces=True)
             if neutron_documents.matches(p, wanted)]  # fmt: skip
    return neutron.respond("ports", found, request)


@routes.get(BASE + "/ports/{port_id}")
async def show_port(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    kube = neutron.kube(request, identity)
    (ports,), context = await asyncio.gather(
        neutron.held(kube, identity.namespace, "Port"), _context(kube, identity)
    )
    wanted = request.match_info["port_id"]
    interface = next((d for d in _documents(identity, [], context, interfaces=True)
                      if d["id"] == wanted), None)  # fmt: skip
    if interface is not None:
        return neutron.respond("port", interface, request)
    port = neutron.find(ports, wanted, "Port")
    return neutron.respond("port", _documents(identity, [port], context)[0], request)


async def settled(kube: client.Client, body: dict[str, Any],
                  ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:  # fmt: skip
    """The object once `ready` says the operator has done its part (an address given, as
    Neutron and Octavia answer a create with it), or as it is after ALLOCATION_WAIT."""
    deadline = time.monotonic() + ALLOCATION_WAIT
    metadata = body["metadata"]
    while not ready(body) and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        body = await kube.get(body["apiVersion"], body["kind"], metadata["name"],
                              metadata["namespace"]) or body  # fmt: skip
    return body


def _allocated(port: dict[str, Any]) -> bool:
    """The port has its addresses and MAC from the operator."""
    status = port.get("status") or {}
    return bool(status.get("fixedIPs") and status.get("macAddress"))


@routes.post(f"{BASE}/ports")
async def create_port(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    body = await neutron.json_body(request)
    kube = neutron.kube(request, identity)
    networks, subnets, ports, groups = await neutron.held(
        kube, identity.namespace, "Network", "Subnet", "Port", "SecurityGroup"
    )
    project = neutron_port_requests.Project(networks=networks, subnets=subnets, ports=ports,
                                            groups=groups)  # fmt: skip
    display, spec = neutron_port_requests.port_create(
        body, project, project_id=neutron.project_id(identity)
    )
    if "default" in spec.get("securityGroups", []):
        await neutron_security.ensure_default_group(kube, identity.namespace, groups)
    made = await neutron.create(kube, "Port", display, spec, namespace=identity.namespace,
                                taken=ports, resource="port")  # fmt: skip
    made = await settled(kube, made, _allocated)
    context = await _context(kube, identity)
    return neutron.respond("port", _documents(identity, [made], context)[0], request, status=201)


@routes.put(BASE + "/ports/{port_id}")
async def update_port(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    body = await neutron.json_body(request)
    kube = neutron.kube(request, identity)
    (ports,), context = await asyncio.gather(
        neutron.held(kube, identity.namespace, "Port"), _context(kube, identity)
    )
    port = neutron.find(ports, request.match_info["port_id"], "Port")
    networks, subnets, groups, _, _ = context
    project = neutron_port_requests.Project(networks=networks, subnets=subnets, ports=ports,
                                            groups=groups)  # fmt: skip
    patch = neutron_port_requests.port_update(
        body, port, project, project_id=neutron.project_id(identity),
        current=_documents(identity, [port], context)[0],
    )  # fmt: skip
    if patch:
        port = await kube.patch(NETWORKS, "Port", port["metadata"]["name"], identity.namespace,
                                patch)  # fmt: skip
    return neutron.respond("port", _documents(identity, [port], context)[0], request)


@routes.delete(BASE + "/ports/{port_id}")
async def delete_port(request: web.Request) -> web.Response:
    """Refused while a server uses the port (the server's interface would be gone under it),
    and for a router's interface, as Neutron refuses it: `router remove subnet` removes it."""
    identity = await neutron.identity_of(request)
    kube = neutron.kube(request, identity)
    ports, servers, networks, subnets, routers = await neutron.held(
        kube, identity.namespace, "Port", "Server", "Network", "Subnet", "Router"
    )
    ident = request.match_info["port_id"]
    project = router_documents.Project(
        identity.namespace, networks=networks, subnets=subnets, ports=ports, routers=routers
    )
    interfaces = {p["id"] for p in router_documents.interface_ports(project, project_id="")}
    port = None if ident in interfaces else neutron.find(ports, ident, "Port")
    if port is None or port["metadata"]["name"] in router_documents.port_interfaces(routers):
        raise Fault(409, f"Port {ident} cannot be deleted directly via the port API: has device "
                    f"owner {router_documents.ROUTER_INTERFACE}.", style="neutron",
                    kind="ServicePortInUse")  # fmt: skip
    name = port["metadata"]["name"]
    device = (port.get("status") or {}).get("deviceID") or next(
        (s["metadata"]["name"] for s in servers
         if any(e.get("port") == name for e in (s.get("spec") or {}).get("networks") or [])),
        None,
    ) or next((o["name"] for o in port["metadata"].get("ownerReferences") or []
               if o.get("kind") == "Server"), None)  # fmt: skip
    if device:
        server_ids = neutron_documents.ids(servers)
        network = neutron_documents.ids(networks).get((port.get("spec") or {}).get("network", ""))
        raise Fault(409, f"Unable to complete operation on port {ident} for network {network}. "
                    f"Port already has an attached device {server_ids.get(device, device)}.",
                    style="neutron", kind="PortInUse")  # fmt: skip
    await kube.delete(NETWORKS, "Port", name, identity.namespace)
    return neutron.no_content()
