"""Octavia v2 (load-balancer) over LoadBalancer, Listener, Pool, Member and HealthMonitor: the
version documents, load balancers listed (Octavia's filters and `fields=`), shown, created,
updated, deleted (with `cascade`, their objects too) and their status tree. What every Octavia
route shares is here too; listeners, pools, members and health monitors: octavia_objects.

Octavia answers at once and works asynchronously, as the operator does: a create is answered
PENDING_CREATE (a load balancer once the operator has allocated its VIP, at most
neutron_ports.ALLOCATION_WAIT), a change PENDING_UPDATE, and ACTIVE comes when the amphora runs
the configuration (octavia_documents.provisioning). Octavia refuses changes to a load balancer
in a PENDING_* state; Nimbus takes them, since the operator reconciles whatever the objects say
(the amphora loads the newest configuration), so nothing waits on a load balancer no amphora
serves.

Every call to Kubernetes acts as the token's user (service.Services.as_user): another project's
load balancer is Octavia's 404, and a reader's create is refused by Kubernetes. octaviaclient
asks for `/v2.0/lbaas/...`, openstacksdk for `/v2/lbaas/...`: both are served, as Octavia does."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from nimbus.k8s import client
from nimbus.openstack import neutron_documents, neutron_ports, neutron_requests
from nimbus.openstack import octavia_documents as documents
from nimbus.openstack import octavia_requests as requests
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity, Services

routes = web.RouteTableDef()
LOADBALANCERS = "loadbalancer.nimbus.dev/v1alpha1"
NETWORKS = "network.nimbus.dev/v1alpha1"
ROOT = "/load-balancer"
BASE = ROOT + r"/{version:v2(?:\.0)?}/lbaas"
_TRUE = ("1", "t", "true", "on", "y", "yes")  # oslo's bool_from_string


def services(request: web.Request) -> Services:
    found: Services = request.app["services"]
    return found


@routes.get(ROOT)
@routes.get(ROOT + "/")
async def versions(request: web.Request) -> web.Response:
    """Octavia's version list: v2 (its minor versions share the URL; the features served are
    the ones docs/openstack-api.md names)."""
    url = services(request).config.public_url.rstrip("/") + ROOT + "/v2"
    return web.json_response({"versions": [{"id": "v2.0", "status": "CURRENT",
                                            "updated": "2016-12-11T00:00:00Z",
                                            "links": [{"rel": "self", "href": url}]}]})  # fmt: skip


@routes.get(ROOT + r"/{version:v2(?:\.0)?}")
async def version(request: web.Request) -> web.Response:
    """What Octavia's v2 controller answers: the string "v2"."""
    return web.json_response("v2")


# -- what every Octavia route shares ----------------------------------------------------------


async def identity_of(request: web.Request) -> Identity:
    identity = await services(request).verify(request.headers.get("X-Auth-Token"))
    if identity.project is None:
        raise Fault(403, "Policy does not allow this request to be performed.", style="octavia")
    return identity


def project_id(identity: Identity) -> str:
    return str(identity.project["metadata"]["uid"]) if identity.project else ""


def kube(request: web.Request, identity: Identity) -> client.Client:
    return services(request).as_user(identity)


async def read_project(request: web.Request, identity: Identity) -> documents.Project:
    """The caller's load balancers and their objects, and the networks, subnets and ports they
    name, as far as the caller may read them."""
    user = kube(request, identity)
    namespace = identity.namespace
    lbs, listeners, pools, members, monitors, networks, subnets, ports = await asyncio.gather(
        *(user.list(LOADBALANCERS, kind, namespace)
          for kind in ("LoadBalancer", "Listener", "Pool", "Member", "HealthMonitor")),
        *(user.list(NETWORKS, kind, namespace) for kind in ("Network", "Subnet", "Port")),
    )  # fmt: skip
    return documents.Project(namespace, load_balancers=lbs, listeners=listeners, pools=pools,
                             members=members, monitors=monitors, networks=networks,
                             subnets=subnets, ports=ports)  # fmt: skip


async def json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError as error:
        raise Fault(400, f"Malformed JSON in request body: {error}", style="octavia") from None


def respond(key: str, document: dict[str, Any], request: web.Request, status: int = 200
            ) -> web.Response:  # fmt: skip
    """One object, with only the `fields=` asked for."""
    fields = request.query.getall("fields", [])
    return web.json_response({key: neutron_documents.select(document, fields)}, status=status)


def listed(key: str, found: list[dict[str, Any]], request: web.Request) -> web.Response:
    """A collection filtered as Octavia filters it, sorted and paged (`sort_key`, `sort_dir`,
    `limit`, `marker`: a page after the marker, empty past the last, so clients paging by
    marker stop), with only the `fields=` asked for; no page links (clients page by marker)."""
    query = {k: request.query.getall(k) for k in set(request.query.keys())}
    fields = request.query.getall("fields", [])
    kept = neutron_documents.page([d for d in found if documents.matches(d, query)], query)
    chosen = [neutron_documents.select(d, fields) for d in kept]
    return web.json_response({key: chosen, f"{key}_links": []})


def no_content() -> web.Response:
    return web.Response(status=204)


async def create(user: client.Client, kind: str, display: str, spec: dict[str, Any], *,
                 namespace: str, taken: list[dict[str, Any]], resource: str
                 ) -> dict[str, Any]:  # fmt: skip
    """Create the object named `display` in OpenStack (a Kubernetes name derived from it when
    it cannot be one); Octavia's 403 for a project over its quota."""
    names = {t["metadata"]["name"] for t in taken}
    for _ in range(3):
        metadata = neutron_requests.kube_metadata(display, names, namespace,
                                                  fallback=kind.lower())  # fmt: skip
        try:
            return await user.create({"apiVersion": LOADBALANCERS, "kind": kind,
                                      "metadata": metadata, "spec": spec})  # fmt: skip
        except client.ApiError as error:
            if error.status == 403 and "exceeded quota" in error.message:
                raise Fault(403, f"Quota has been met for resources: {resource}",
                            style="octavia") from None  # fmt: skip
            if error.status != 409:
                raise
            names.add(metadata["name"])  # made meanwhile: another name
    raise Fault(409, f"{resource} {display!r}: no free name", style="octavia")


async def delete(user: client.Client, namespace: str, *bodies: dict[str, Any]) -> None:
    """Delete the objects, in the order given."""
    for body in bodies:
        await user.delete(LOADBALANCERS, body["kind"], body["metadata"]["name"], namespace)


# -- load balancers ---------------------------------------------------------------------------


def _lb(identity: Identity, body: dict[str, Any], project: documents.Project) -> dict[str, Any]:
    return documents.load_balancer(body, project, project_id=project_id(identity))


def _vip_allocated(body: dict[str, Any]) -> bool:
    status = body.get("status") or {}
    return bool(status.get("vipAddress")) or status.get("provisioningStatus") == "ERROR"


@routes.get(BASE + "/loadbalancers")
async def list_load_balancers(request: web.Request) -> web.Response:
    identity = await identity_of(request)
    project = await read_project(request, identity)
    return listed("loadbalancers", [_lb(identity, b, project) for b in project.load_balancers],
                  request)  # fmt: skip


@routes.get(BASE + "/loadbalancers/{lb_id}")
async def show_load_balancer(request: web.Request) -> web.Response:
    identity = await identity_of(request)
    project = await read_project(request, identity)
    found = project.load_balancer(request.match_info["lb_id"])
    return respond("loadbalancer", _lb(identity, found, project), request)


@routes.post(BASE + "/loadbalancers")
async def create_load_balancer(request: web.Request) -> web.Response:
    """A LoadBalancer on the VIP's subnet (vip_subnet_id, or vip_network_id's); answered once
    the operator has allocated the VIP (at most 10 s), PENDING_CREATE until the amphora runs."""
    identity = await identity_of(request)
    body = await json_body(request)
    user = kube(request, identity)
    project = await read_project(request, identity)
    display, spec = requests.load_balancer_create(body, project, project_id=project_id(identity))
    made = await create(user, "LoadBalancer", display, spec, namespace=identity.namespace,
                        taken=project.load_balancers, resource="Load Balancer")  # fmt: skip
    made = await neutron_ports.settled(user, made, _vip_allocated)
    project = await read_project(request, identity)  # the VIP's port, made meanwhile
    return respond("loadbalancer", _lb(identity, made, project), request, status=201)


@routes.put(BASE + "/loadbalancers/{lb_id}")
async def update_load_balancer(request: web.Request) -> web.Response:
    """A merge patch: name, description, admin_state_up."""
    identity = await identity_of(request)
    body = await json_body(request)
    project = await read_project(request, identity)
    lb = project.load_balancer(request.match_info["lb_id"])
    patch = requests.load_balancer_update(body, lb, project_id=project_id(identity))
    if patch:
        lb = await kube(request, identity).patch(LOADBALANCERS, "LoadBalancer",
                                                 lb["metadata"]["name"], identity.namespace,
                                                 patch)  # fmt: skip
    return respond("loadbalancer", _lb(identity, lb, project), request)


@routes.delete(BASE + "/loadbalancers/{lb_id}")
async def delete_load_balancer(request: web.Request) -> web.Response:
    """Refused while it has listeners or pools, as in Octavia; `?cascade=true` deletes them
    (and the pools' members and monitors) first. The operator's owner references take the
    VIP's port and the amphora with it."""
    identity = await identity_of(request)
    project = await read_project(request, identity)
    ident = request.match_info["lb_id"]
    lb = project.load_balancer(ident)
    name = lb["metadata"]["name"]
    cascade = request.query.get("cascade", "false").strip().lower() in _TRUE
    if (project.listeners_of(name) or project.pools_of(name)) and not cascade:
        raise requests.validation(f"Cannot delete Load Balancer {ident} - it has children")
    objects = project.objects_of(name)
    order = ("HealthMonitor", "Member", "Listener", "Pool")
    await delete(kube(request, identity), identity.namespace,
                 *sorted(objects, key=lambda b: order.index(b["kind"])), lb)  # fmt: skip
    return no_content()


@routes.get(BASE + "/loadbalancers/{lb_id}/status")
@routes.get(BASE + "/loadbalancers/{lb_id}/statuses")
async def load_balancer_status(request: web.Request) -> web.Response:
    """The status tree: the load balancer, its listeners and pools, the pools' members and
    monitors, each with its provisioning and operating status (`statuses`: neutron-lbaas's)."""
    identity = await identity_of(request)
    project = await read_project(request, identity)
    lb = project.load_balancer(request.match_info["lb_id"])
    return web.json_response({"statuses": documents.status_tree(lb, project)})
