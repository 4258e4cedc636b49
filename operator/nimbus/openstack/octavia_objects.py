"""Octavia v2's listeners, pools, members and health monitors over Listener, Pool, Member and
HealthMonitor: listed (Octavia's filters, `loadbalancer_id` among them, and `fields=`), shown,
created, updated and deleted, refused in Octavia's words (octavia_requests,
octavia_pool_requests). Answered at once, PENDING_CREATE or PENDING_UPDATE until the amphora
runs the configuration; the load balancer is PENDING_UPDATE meanwhile, as in Octavia.

A pool made with `listener_id` becomes that listener's default pool (its spec.defaultPool); a
pool deleted takes its members and monitor with it and is no listener's default pool any more,
as in Octavia. Every call to Kubernetes acts as the token's user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from nimbus.k8s import client
from nimbus.openstack import octavia
from nimbus.openstack import octavia_documents as documents
from nimbus.openstack import octavia_pool_requests as pool_requests
from nimbus.openstack import octavia_requests as requests
from nimbus.openstack.service import Identity

routes = web.RouteTableDef()
BASE = octavia.BASE
Document = Callable[..., dict[str, Any]]


def _documents(identity: Identity, project: documents.Project, make: Document,
               bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    return [make(b, project, project_id=octavia.project_id(identity)) for b in bodies]


async def _patched(request: web.Request, identity: Identity, body: dict[str, Any],
                   patch: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    if not patch:
        return body
    return await octavia.kube(request, identity).patch(
        octavia.LOADBALANCERS, body["kind"], body["metadata"]["name"], identity.namespace, patch
    )


# -- listeners --------------------------------------------------------------------------------


@routes.get(BASE + "/listeners")
async def list_listeners(request: web.Request) -> web.Response:
    identity = await octavia.identity_of(request)
    project = await octavia.read_project(request, identity)
    return octavia.listed("listeners", _documents(identity, project, documents.listener,
                                                  project.listeners), request)  # fmt: skip


@routes.get(BASE + "/listeners/{listener_id}")
async def show_listener(request: web.Request) -> web.Response:
    identity = await octavia.identity_of(request)
    project = await octavia.read_project(request, identity)
    found = project.listener(request.match_info["listener_id"])
    (document,) = _documents(identity, project, documents.listener, [found])
    return octavia.respond("listener", document, request)


@routes.post(BASE + "/listeners")
async def create_listener(request: web.Request) -> web.Response:
    """A Listener on the load balancer: a port of its VIP (an HAProxy frontend)."""
    identity = await octavia.identity_of(request)
    body = await octavia.json_body(request)
    project = await octavia.read_project(request, identity)
    display, spec = requests.listener_create(body, project,
                                             project_id=octavia.project_id(identity))  # fmt: skip
    made = await octavia.create(octavia.kube(request, identity), "Listener", display, spec,
                                namespace=identity.namespace, taken=project.listeners,
                                resource="Listener")  # fmt: skip
    (document,) = _documents(identity, project, documents.listener, [made])
    return octavia.respond("listener", document, request, status=201)


@routes.put(BASE + "/listeners/{listener_id}")
async def update_listener(request: web.Request) -> web.Response:
    """A merge patch: the name, description, admin state, connection limit, default pool,
    timeouts and allowed CIDRs."""
    identity = await octavia.identity_of(request)
    body = await octavia.json_body(request)
    project = await octavia.read_project(request, identity)
    listener = project.listener(request.match_info["listener_id"])
    patch = requests.listener_update(body, listener, project,
                                     project_id=octavia.project_id(identity))  # fmt: skip
    listener = await _patched(request, identity, listener, patch)
    (document,) = _documents(identity, project, documents.listener, [listener])
    return octavia.respond("listener", document, request)


@routes.delete(BASE + "/listeners/{listener_id}")
async def delete_listener(request: web.Request) -> web.Response:
    """Its port closes; its default pool stays on the load balancer, as in Octavia."""
    identity = await octavia.identity_of(request)
    project = await octavia.read_project(request, identity)
    listener = project.listener(request.match_info["listener_id"])
    await octavia.delete(octavia.kube(request, identity), identity.namespace, listener)
    return octavia.no_content()


# -- pools ------------------------------------------------------------------------------------


@routes.get(BASE + "/pools")
async def list_pools(request: web.Request) -> web.Response:
    identity = await octavia.identity_of(request)
    project = await octavia.read_project(request, identity)
    return octavia.listed("pools", _documents(identity, project, documents.pool, project.pools),
                          request)  # fmt: skip


@routes.get(BASE + "/pools/{pool_id}")
async def show_pool(request: web.Request) -> web.Response:
    identity = await octavia.identity_of(request)
    project = await octavia.read_project(request, identity)
    found = project.pool(request.match_info["pool_id"])
    (document,) = _documents(identity, project, documents.pool, [found])
    return octavia.respond("pool", document, request)


@routes.post(BASE + "/pools")
async def create_pool(request: web.Request) -> web.Response:
    """A Pool on the load balancer (an HAProxy backend); with `listener_id`, that listener's
    default pool (the pool deleted again if the listener cannot take it)."""
    identity = await octavia.identity_of(request)
    body = await octavia.json_body(request)
    user = octavia.kube(request, identity)
    project = await octavia.read_project(request, identity)
    display, spec, listener = pool_requests.pool_create(
        body, project, project_id=octavia.project_id(identity)
    )
    made = await octavia.create(user, "Pool", display, spec, namespace=identity.namespace,
                                taken=project.pools, resource="Pool")  # fmt: skip
    if listener is not None:
        # resourceVersion: a default pool given to the listener meanwhile is not overwritten
        patch = {"metadata": {"resourceVersion": listener["metadata"]["resourceVersion"]},
                 "spec": {"defaultPool": made["metadata"]["name"]}}  # fmt: skip
        try:
            listener = await _patched(request, identity, listener, patch)
        except client.ApiError:
            await octavia.delete(user, identity.namespace, made)
            raise
        project.listeners = [listener if b["metadata"]["uid"] == listener["metadata"]["uid"]
                             else b for b in project.listeners]  # fmt: skip
    (document,) = _documents(identity, project, documents.pool, [made])
    return octavia.respond("pool", document, request, status=201)


@routes.put(BASE + "/pools/{pool_id}")
async def update_pool(request: web.Request) -> web.Response:
    """A merge patch: the name, description, admin state, algorithm and session persistence."""
    identity = await octavia.identity_of(request)
    body = await octavia.json_body(request)
    project = await octavia.read_project(request, identity)
    pool = project.pool(request.match_info["pool_id"])
    patch = pool_requests.pool_update(body, pool, project_id=octavia.project_id(identity))
    pool = await _patched(request, identity, pool, patch)
    (document,) = _documents(identity, project, documents.pool, [pool])
    return octavia.respond("pool", document, request)


@routes.delete(BASE + "/pools/{pool_id}")
async def delete_pool(request: web.Request) -> web.Response:
    """Its members and health monitor go with it, and the listeners using it as their default
    pool are left without one, as in Octavia."""
    identity = await octavia.identity_of(request)
    project = await octavia.read_project(request, identity)
    pool = project.pool(request.match_info["pool_id"])
    name = pool["metadata"]["name"]
    for listener in project.listeners_using(name):
        await _patched(request, identity, listener, {"spec": {"defaultPool": None}})
    monitor = project.monitor_of(name)
    await octavia.delete(octavia.kube(request, identity), identity.namespace,
                         *([monitor] if monitor else []), *project.members_of(name),
                         pool)  # fmt: skip
    return octavia.no_content()


# -- members ----------------------------------------------------------------------------------


@routes.get(BASE + "/pools/{pool_id}/members")
async def list_members(request: web.Request) -> web.Response:
    identity = await octavia.identity_of(request)
    project = await octavia.read_project(request, identity)
    pool = project.pool(request.match_info["pool_id"])
    members = project.members_of(pool["metadata"]["name"])
    return octavia.listed("members", _documents(identity, project, documents.member, members),
                          request)  # fmt: skip


@routes.get(BASE + "/pools/{pool_id}/members/{member_id}")
async def show_member(request: web.Request) -> web.Response:
    identity = await octavia.identity_of(request)
    project = await octavia.read_project(request, identity)
    pool = project.pool(request.match_info["pool_id"])
    found = project.member(pool, request.match_info["member_id"])
    (document,) = _documents(identity, project, documents.member, [found])
    return octavia.respond("member", document, request)


@routes.post(BASE + "/pools/{pool_id}/members")
async def create_member(request: web.Request) -> web.Response:
    """A Member of the pool: an HAProxy server line. One off the VIP's subnet is refused by the
    admission webhook, in its words (the amphora reaches members there only)."""
    identity = await octavia.identity_of(request)
    body = await octavia.json_body(request)
    project = await octavia.read_project(request, identity)
    pool = project.pool(request.match_info["pool_id"])
    display, spec = pool_requests.member_create(
        body, pool, project, project_id=octavia.project_id(identity)
    )
    made = await octavia.create(octavia.kube(request, identity), "Member", display, spec,
                                namespace=identity.namespace, taken=project.members,
                                resource="Member")  # fmt: skip
    (document,) = _documents(identity, project, documents.member, [made])
    return octavia.respond("member", document, request, status=201)


@routes.put(BASE + "/pools/{pool_id}/members/{member_id}")
async def update_member(request: web.Request) -> web.Response:
    """A merge patch: the name, admin state, weight, backup and monitor address and port."""
    identity = await octavia.identity_of(request)
    body = await octavia.json_body(request)
    project = await octavia.read_project(request, identity)
    pool = project.pool(request.match_info["pool_id"])
    member = project.member(pool, request.match_info["member_id"])
    patch = pool_requests.member_update(body, member, project_id=octavia.project_id(identity))
    member = await _patched(request, identity, member, patch)
    (document,) = _documents(identity, project, documents.member, [member])
    return octavia.respond("member", document, request)


@routes.delete(BASE + "/pools/{pool_id}/members/{member_id}")
async def delete_member(request: web.Request) -> web.Response:
    identity = await octavia.identity_of(request)
    project = await octavia.read_project(request, identity)
    pool = project.pool(request.match_info["pool_id"])
    member = project.member(pool, request.match_info["member_id"])
    await octavia.delete(octavia.kube(request, identity), identity.namespace, member)
    return octavia.no_content()


# -- health monitors --------------------------------------------------------------------------


@routes.get(BASE + "/healthmonitors")
async def list_health_monitors(request: web.Request) -> web.Response:
    identity = await octavia.identity_of(request)
    project = await octavia.read_project(request, identity)
    return octavia.listed("healthmonitors", _documents(identity, project, documents.health_monitor,
                                                       project.monitors), request)  # fmt: skip


@routes.get(BASE + "/healthmonitors/{healthmonitor_id}")
async def show_health_monitor(request: web.Request) -> web.Response:
    identity = await octavia.identity_of(request)
    project = await octavia.read_project(request, identity)
    found = project.monitor(request.match_info["healthmonitor_id"])
    (document,) = _documents(identity, project, documents.health_monitor, [found])
    return octavia.respond("healthmonitor", document, request)


@routes.post(BASE + "/healthmonitors")
async def create_health_monitor(request: web.Request) -> web.Response:
    """A HealthMonitor of the pool: HAProxy's checks of its members."""
    identity = await octavia.identity_of(request)
    body = await octavia.json_body(request)
    project = await octavia.read_project(request, identity)
    display, spec = pool_requests.health_monitor_create(
        body, project, project_id=octavia.project_id(identity)
    )
    made = await octavia.create(octavia.kube(request, identity), "HealthMonitor", display, spec,
                                namespace=identity.namespace, taken=project.monitors,
                                resource="Health Monitor")  # fmt: skip
    (document,) = _documents(identity, project, documents.health_monitor, [made])
    return octavia.respond("healthmonitor", document, request, status=201)


@routes.put(BASE + "/healthmonitors/{healthmonitor_id}")
async def update_health_monitor(request: web.Request) -> web.Response:
    """A merge patch: the name, delay, timeout, retries, HTTP check and admin state."""
    identity = await octavia.identity_of(request)
    body = await octavia.json_body(request)
    project = await octavia.read_project(request, identity)
    monitor = project.monitor(request.match_info["healthmonitor_id"])
    patch = pool_requests.health_monitor_update(
        body, monitor, project_id=octavia.project_id(identity)
    )
    monitor = await _patched(request, identity, monitor, patch)
    (document,) = _documents(identity, project, documents.health_monitor, [monitor])
    return octavia.respond("healthmonitor", document, request)


@routes.delete(BASE + "/healthmonitors/{healthmonitor_id}")
async def delete_health_monitor(request: web.Request) -> web.Response:
    identity = await octavia.identity_of(request)
    project = await octavia.read_project(request, identity)
    monitor = project.monitor(request.match_info["healthmonitor_id"])
    await octavia.delete(octavia.kube(request, identity), identity.namespace, monitor)
    return octavia.no_content()
