"""Neutron v2.0 layer 3 over Router and FloatingIP: routers listed, shown, created, updated
(their external gateway and routes) and deleted, their interfaces added and removed
(add_router_interface, remove_router_interface) and routes added and removed
(extraroute-atomic); floating IPs listed, shown, created, associated, dissociated and deleted.

Neutron answers all of it synchronously; Nimbus's operator programs routers and NAT
asynchronously. What Neutron refuses before it commits is refused here, in its words, from the
project as read (neutron_router_requests, neutron_floating_requests); what only the operator
can do is waited for briefly: a new floating IP's address and a router's gateway address (at
most neutron_ports.ALLOCATION_WAIT), a floating IP whose address cannot be allocated deleted
again and refused (IpAddressGenerationFailure). The data path itself is never waited for:
routers are BUILD to kubectl (ACTIVE to Neutron's clients, as Neutron answers a new router)
and floating IPs DOWN until the router agent has programmed them, and what goes wrong later
is the object's ERROR, its reason in its conditions and Events.

Every call to Kubernetes acts as the token's user (service.Services.as_user)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from nimbus.k8s import client
from nimbus.openstack import neutron, neutron_documents, neutron_floating_requests, neutron_ports
from nimbus.openstack import neutron_router_documents as documents
from nimbus.openstack import neutron_router_requests as requests
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity

routes = web.RouteTableDef()
BASE = neutron.BASE
NETWORKS = neutron.NETWORKS
_KINDS = ("Network", "Subnet", "Port", "Router", "FloatingIP")
T = TypeVar("T")


async def _project(request: web.Request, identity: Identity, *, servers: bool = False
                   ) -> documents.Project:  # fmt: skip
    """The caller's project, every other project's external network (and its subnets), and
    the other networks its routers and floating IPs name, as far as the caller may read
    them."""
    kube = neutron.kube(request, identity)
    kinds = (*_KINDS, "Server") if servers else _KINDS
    held = await neutron.held(kube, identity.namespace, *kinds)
    networks, subnets, ports = held[:3]
    # A router or floating IP being deleted (the operator's finalizer releasing its addresses)
    # is gone to OpenStack: Neutron's delete is done when it answers.
    routers, floating_ips = ([b for b in bodies if not b["metadata"].get("deletionTimestamp")]
                             for bodies in held[3:5])  # fmt: skip
    refs = {(str(r.get("project")), str(r.get("network"))) for r in [
        *((b.get("spec") or {}).get("externalGateway") for b in routers),
        *((b.get("spec") or {}).get("floatingNetwork") for b in floating_ips)]
        if r and r.get("project") not in (None, identity.namespace)}  # fmt: skip
    external, external_subnets = await neutron.external_networks(request, identity)
    foreign = {(n["metadata"]["namespace"], n["metadata"]["name"]): n for n in external}
    for project, name in sorted(refs - set(foreign)):
        try:
            found = await kube.get(NETWORKS, "Network", name, project)
        except client.ApiError as error:
            if error.status != 403:
                raise
            found = None
        if found is not None:
            foreign[(project, name)] = found
    return documents.Project(identity.namespace, networks=networks, subnets=subnets, ports=ports,
                             routers=routers, floating_ips=floating_ips,
                             servers=held[5] if servers else None, foreign=foreign,
                             foreign_subnets=external_subnets)  # fmt: skip


async def _admitted(call: Awaitable[T], project: documents.Project) -> T:
    """A write the admission webhook may refuse (a race with another request): its refusal in
    Neutron's words and ids."""
    try:
        return await call
    except client.ApiError as error:
        if error.status not in (400, 422):
            raise
        raise Fault(400, documents.translate(error.message, project), style="neutron",
                    kind="BadRequest") from None  # fmt: skip


def _listed(request: web.Request, key: str, found: list[dict[str, Any]]) -> web.Response:
    wanted = neutron.query(request)
    return neutron.respond(key, [d for d in found if neutron_documents.matches(d, wanted)],
                           request)  # fmt: skip


# -- routers ----------------------------------------------------------------------------------


def _router(identity: Identity, body: dict[str, Any], project: documents.Project
            ) -> dict[str, Any]:  # fmt: skip
    return documents.router(body, project, project_id=neutron.project_id(identity),
                            admin=identity.admin)  # fmt: skip


def _find_router(project: documents.Project, ident: str) -> dict[str, Any]:
    found = next((r for r in project.routers if r["metadata"]["uid"] == ident), None)
    if found is None:
        raise documents.router_not_found(ident)
    return found


def _gateway_ready(body: dict[str, Any]) -> bool:
    wanted = (body.get("spec") or {}).get("externalGateway")
    status = body.get("status") or {}
    leg = status.get("externalGateway") or {}
    return not wanted or status.get("status") == "ERROR" or bool(
        leg.get("ipAddress") and leg.get("network") == wanted.get("network"))  # fmt: skip


@routes.get(f"{BASE}/routers")
async def list_routers(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    project = await _project(request, identity)
    return _listed(request, "routers", [_router(identity, r, project) for r in project.routers])


@routes.get(BASE + "/routers/{router_id}")
async def show_router(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    project = await _project(request, identity)
    found = _find_router(project, request.match_info["router_id"])
    return neutron.respond("router", _router(identity, found, project), request)


@routes.post(f"{BASE}/routers")
async def create_router(request: web.Request) -> web.Response:
    """A Router; with a gateway, answered once the operator has its address (at most 10 s)."""
    identity = await neutron.identity_of(request)
    body = await neutron.json_body(request)
    kube = neutron.kube(request, identity)
    project = await _project(request, identity)
    display, spec = requests.router_create(body, project, project_id=neutron.project_id(identity),
                                           admin=identity.admin)  # fmt: skip
    made = await _admitted(neutron.create(kube, "Router", display, spec,
                                          namespace=identity.namespace, taken=project.routers,
                                          resource="router"), project)  # fmt: skip
    made = await neutron_ports.settled(kube, made, _gateway_ready)
    return neutron.respond("router", _router(identity, made, project), request, status=201)


@routes.put(BASE + "/routers/{router_id}")
async def update_router(request: web.Request) -> web.Response:
    """A merge patch: `external_gateway_info` ({} or null clears it, as `router unset
    --external-gateway` sends) and `routes` replaced whole."""
    identity = await neutron.identity_of(request)
    body = await neutron.json_body(request)
    kube = neutron.kube(request, identity)
    project = await _project(request, identity)
    router = _find_router(project, request.match_info["router_id"])
    patch = requests.router_update(body, router, project, project_id=neutron.project_id(identity),
                                   admin=identity.admin)  # fmt: skip
    if patch:
        router = await _admitted(kube.patch(NETWORKS, "Router", router["metadata"]["name"],
                                            identity.namespace, patch), project)  # fmt: skip
    if "externalGateway" in patch.get("spec", {}):
        router = await neutron_ports.settled(kube, router, _gateway_ready)
    return neutron.respond("router", _router(identity, router, project), request)


@routes.delete(BASE + "/routers/{router_id}")
async def delete_router(request: web.Request) -> web.Response:
    """Neutron's RouterInUse while the router has interfaces; its gateway goes with it."""
    identity = await neutron.identity_of(request)
    project = await _project(request, identity)
    ident = request.match_info["router_id"]
    router = _find_router(project, ident)
    if (router.get("spec") or {}).get("interfaces"):
        raise Fault(409, f"Router {ident} still has ports", style="neutron", kind="RouterInUse")
    await neutron.kube(request, identity).delete(NETWORKS, "Router", router["metadata"]["name"],
                                                 identity.namespace)  # fmt: skip
    return neutron.no_content()


async def _change_router(
    request: web.Request,
    change: Callable[[Any, dict[str, Any], documents.Project], tuple[dict[str, Any], T]],
) -> tuple[Identity, documents.Project, dict[str, Any], T]:
    """Read the project, compute the router's new spec from it, and write it with the
    resourceVersion read: a concurrent change of the router is read again and retried."""
    identity = await neutron.identity_of(request)
    body = await neutron.json_body(request)
    kube = neutron.kube(request, identity)
    for attempt in range(3):
        project = await _project(request, identity, servers=True)
        router = _find_router(project, request.match_info["router_id"])
        spec, answer = change(body, router, project)
        patch = {"metadata": {"resourceVersion": router["metadata"]["resourceVersion"]},
                 "spec": spec}  # fmt: skip
        try:
            written = await _admitted(kube.patch(NETWORKS, "Router", router["metadata"]["name"],
                                                 identity.namespace, patch), project)  # fmt: skip
        except client.ApiError as error:
            if error.status != 409 or attempt == 2:
                raise
            continue
        return identity, project, written, answer
    raise AssertionError("unreachable")


def _interfaces(
    step: Callable[
        [Any, dict[str, Any], documents.Project], tuple[list[dict[str, str]], dict[str, Any]]
    ],
) -> Callable[[Any, dict[str, Any], documents.Project], tuple[dict[str, Any], dict[str, Any]]]:
    def change(body: Any, router: dict[str, Any], project: documents.Project
               ) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
        interfaces, answer = step(body, router, project)
        return {"interfaces": interfaces}, answer

    return change


@routes.put(BASE + "/routers/{router_id}/add_router_interface")
async def add_router_interface(request: web.Request) -> web.Response:
    """{subnet_id} (the router takes the subnet's gateway address) or {port_id}: an entry of
    spec.interfaces; answered as Neutron does: {id, tenant_id, port_id, network_id, subnet_id,
    subnet_ids}. A subnet's interface has no Port: its port_id is derived from the ids."""
    identity, _, router, answer = await _change_router(request, _interfaces(requests.add_interface))
    return web.json_response(documents.interface_info(
        router, project_id=neutron.project_id(identity), **answer))  # fmt: skip


@routes.put(BASE + "/routers/{router_id}/remove_router_interface")
async def remove_router_interface(request: web.Request) -> web.Response:
    """Refused while a floating IP or a route needs the interface, as in Neutron."""
    identity, _, router, answer = await _change_router(
        request, _interfaces(requests.remove_interface)
    )
    return web.json_response(documents.interface_info(
        router, project_id=neutron.project_id(identity), **answer))  # fmt: skip


def _extra_routes(add: bool) -> Callable[[Any, dict[str, Any], documents.Project],
                                         tuple[dict[str, Any], None]]:  # fmt: skip
    def change(body: Any, router: dict[str, Any], project: documents.Project
               ) -> tuple[dict[str, Any], None]:  # fmt: skip
        return {"routes": requests.extra_routes(body, router, project, add=add)}, None

    return change


@routes.put(BASE + "/routers/{router_id}/add_extraroutes")
async def add_extraroutes(request: web.Request) -> web.Response:
    """extraroute-atomic: routes added to the router's, those it has already kept once."""
    identity, project, router, _ = await _change_router(request, _extra_routes(add=True))
    return neutron.respond("router", _router(identity, router, project), request)


@routes.put(BASE + "/routers/{router_id}/remove_extraroutes")
async def remove_extraroutes(request: web.Request) -> web.Response:
    """extraroute-atomic: routes taken away from the router's, those it lacks ignored."""
    identity, project, router, _ = await _change_router(request, _extra_routes(add=False))
    return neutron.respond("router", _router(identity, router, project), request)


# -- floating IPs -----------------------------------------------------------------------------


def _floating(identity: Identity, body: dict[str, Any], project: documents.Project
              ) -> dict[str, Any]:  # fmt: skip
    return documents.floating_ip(body, project, project_id=neutron.project_id(identity))


def _find_floating(project: documents.Project, ident: str) -> dict[str, Any]:
    found = next((f for f in project.floating_ips if f["metadata"]["uid"] == ident), None)
    if found is None:
        raise documents.floating_ip_not_found(ident)
    return found


def _unallocatable(body: dict[str, Any]) -> bool:
    conditions = (body.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Associated" and c.get("reason") == "IpAddressGenerationFailure"
               for c in conditions)  # fmt: skip


@routes.get(f"{BASE}/floatingips")
async def list_floating_ips(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    project = await _project(request, identity)
    return _listed(request, "floatingips",
                   [_floating(identity, f, project) for f in project.floating_ips])  # fmt: skip


@routes.get(BASE + "/floatingips/{floatingip_id}")
async def show_floating_ip(request: web.Request) -> web.Response:
    identity = await neutron.identity_of(request)
    project = await _project(request, identity)
    found = _find_floating(project, request.match_info["floatingip_id"])
    return neutron.respond("floatingip", _floating(identity, found, project), request)


@routes.post(f"{BASE}/floatingips")
async def create_floating_ip(request: web.Request) -> web.Response:
    """A FloatingIP, answered once the operator has its address (at most 10 s); one whose
    address cannot be allocated is deleted again: Neutron's IpAddressGenerationFailure."""
    identity = await neutron.identity_of(request)
    body = await neutron.json_body(request)
    kube = neutron.kube(request, identity)
    project = await _project(request, identity)
    spec = neutron_floating_requests.floating_ip_create(
        body, project, project_id=neutron.project_id(identity), admin=identity.admin
    )
    made = await _admitted(neutron.create(kube, "FloatingIP", "", spec,
                                          namespace=identity.namespace,
                                          taken=project.floating_ips,
                                          resource="floatingip"), project)  # fmt: skip
    made = await neutron_ports.settled(kube, made, lambda b: bool(
        (b.get("status") or {}).get("floatingIPAddress") or _unallocatable(b)))  # fmt: skip
    if _unallocatable(made) and not (made.get("status") or {}).get("floatingIPAddress"):
        await kube.delete(NETWORKS, "FloatingIP", made["metadata"]["name"], identity.namespace)
        network = body["floatingip"]["floating_network_id"]
        raise Fault(409, f"No more IP addresses available on network {network}.",
                    style="neutron", kind="IpAddressGenerationFailure")  # fmt: skip
    return neutron.respond("floatingip", _floating(identity, made, project), request, status=201)


@routes.put(BASE + "/floatingips/{floatingip_id}")
async def update_floating_ip(request: web.Request) -> web.Response:
    """{port_id} associates, {port_id: null} dissociates: spec.port and spec.fixedIPAddress.
    Answered at once, DOWN until the router agent has programmed the NAT."""
    identity = await neutron.identity_of(request)
    body = await neutron.json_body(request)
    kube = neutron.kube(request, identity)
    project = await _project(request, identity)
    floating = _find_floating(project, request.match_info["floatingip_id"])
    patch = neutron_floating_requests.floating_ip_update(
        body, floating, project, project_id=neutron.project_id(identity)
    )
    if patch:
        floating = await _admitted(kube.patch(NETWORKS, "FloatingIP", floating["metadata"]["name"],
                                              identity.namespace, patch), project)  # fmt: skip
    return neutron.respond("floatingip", _floating(identity, floating, project), request)


@routes.delete(BASE + "/floatingips/{floatingip_id}")
async def delete_floating_ip(request: web.Request) -> web.Response:
    """The operator releases its address on the external network."""
    identity = await neutron.identity_of(request)
    project = await _project(request, identity)
    floating = _find_floating(project, request.match_info["floatingip_id"])
    await neutron.kube(request, identity).delete(NETWORKS, "FloatingIP",
                                                 floating["metadata"]["name"],
                                                 identity.namespace)  # fmt: skip
    return neutron.no_content()
