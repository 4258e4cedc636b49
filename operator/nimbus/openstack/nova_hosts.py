"""Nova's os-hypervisors and os-aggregates, over the Nodes and the Servers on them, with the
microversions, identity and answers of nova.

Every call to Kubernetes acts as the token's user (service.Services.as_user): the nodes, and
every project's servers, are read only by a caller Kubernetes lets read them (a cluster admin);
anyone else gets Nova's policy 403, as Nova's policy keeps these an admin's. The API never reads
them with its own rights."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from nimbus.openstack import nova, nova_admin, nova_host_documents
from nimbus.openstack.faults import Fault

routes = web.RouteTableDef()
COMPUTE = nova.COMPUTE
BASE = nova_admin.BASE
_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)


# -- hypervisors ------------------------------------------------------------------------------


async def _hosts(
    request: web.Request, rule: str
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    """The nodes, the servers on each (by node name) and the flavors, read as the caller."""
    identity = await nova.identity_of(request)
    kube = nova.services(request).as_user(identity)
    nodes, servers = await nova_admin.as_policy(
        asyncio.gather(kube.list("v1", "Node"), kube.list(COMPUTE, "Server")), rule
    )
    on: dict[str, list[dict[str, Any]]] = {}
    for server in servers:
        host = (server.get("status") or {}).get("host")
        if host:
            on.setdefault(host, []).append(server)
    nodes = sorted(nodes, key=lambda n: str(n["metadata"]["name"]))
    return nodes, on, await nova_admin.flavors_by_name(kube)


def _with_servers(request: web.Request, version: tuple[int, int]) -> bool:
    """with_servers (from 2.53), a strict boolean as Nova reads it."""
    text = request.query.get("with_servers")
    if version < (2, 53) or text is None:
        return False
    if text.lower() in ("1", "t", "true", "on", "y", "yes"):
        return True
    if text.lower() in ("0", "f", "false", "off", "n", "no"):
        return False
    raise Fault(400, f"Invalid input for query parameters with_servers. Value: {text}. "
                f"{text!r} is not a boolean")  # fmt: skip


@routes.get(BASE + "/os-hypervisors")
@routes.get(BASE + "/os-hypervisors/detail")
async def list_hypervisors(request: web.Request) -> web.Response:
    """A hypervisor per node (Nova's admin-only list); from 2.33 paged by limit and marker, from
    2.53 filtered by hypervisor_hostname_pattern (a substring of the node's name)."""
    version = nova.microversion(request)
    detail = request.path.endswith("/detail")
    rule = "os-hypervisors:list-detail" if detail else "os-hypervisors:list"
    nodes, on, flavors = await _hosts(request, rule)
    with_servers = _with_servers(request, version)
    listed = [nova_host_documents.hypervisor(n, on.get(n["metadata"]["name"], []), flavors,
                                             version=version, detail=detail,
                                             with_servers=with_servers)
              for n in nodes]  # fmt: skip
    pattern = request.query.get("hypervisor_hostname_pattern") if version >= (2, 53) else None
    links: list[dict[str, str]] = []
    if pattern is not None:
        if "limit" in request.query or "marker" in request.query:
            raise Fault(400, "Paging over hypervisors with the hypervisor_hostname_pattern "
                        "query parameter is not supported.")  # fmt: skip
        listed = [h for h in listed if pattern in h["hypervisor_hostname"]]
        if not listed:
            raise Fault(404, f"No hypervisor matching '{pattern}' could be found.")
    elif version >= (2, 33):
        url = nova.base_url(request) + ("/os-hypervisors/detail" if detail else "/os-hypervisors")
        listed, links = nova_admin.page(request, listed, "id", url)
    document: dict[str, Any] = {"hypervisors": listed}
    if links:
        document["hypervisors_links"] = links
    return nova.respond(document, version)


@routes.get(BASE + "/os-services")
async def list_services(request: web.Request) -> web.Response:
    """Nova's services: a nova-compute per node (Nova's admin-only list), filtered by `binary`
    and `host`. Nimbus's scheduler and API are Kubernetes Deployments, not Nova services, and
    are not listed. Horizon's Hypervisors and System Information pages read it."""
    version = nova.microversion(request)
    nodes, _, _ = await _hosts(request, "os-services:list")
    listed = [nova_host_documents.service(n, version=version) for n in nodes]
    for key in ("binary", "host"):
        wanted = request.query.get(key)
        if wanted is not None:
            listed = [s for s in listed if s[key] == wanted]
    return nova.respond({"services": listed}, version)


@routes.get(BASE + "/os-hypervisors/statistics")
async def hypervisor_statistics(request: web.Request) -> web.Response:
    """The enabled hypervisors' sums; gone from 2.88, as in Nova."""
    version = nova.microversion(request)
    if version >= (2, 88):
        raise Fault(404, f"API version {version[0]}.{version[1]} is not supported on this "
                    "method.")  # fmt: skip
    nodes, on, flavors = await _hosts(request, "os-hypervisors:statistics")
    details = [nova_host_documents.hypervisor(n, on.get(n["metadata"]["name"], []), flavors,
                                              version=version, detail=True)
               for n in nodes]  # fmt: skip
    return nova.respond(nova_host_documents.statistics(details), version)


@routes.get(BASE + "/os-hypervisors/{hypervisor_id}")
async def show_hypervisor(request: web.Request) -> web.Response:
    """A hypervisor by its id: from 2.53 the node's uid (else Nova's 400), before it an
    integer (else Nova's 404)."""
    version = nova.microversion(request)
    wanted = request.match_info["hypervisor_id"]
    missing = Fault(404, f"Hypervisor with ID '{wanted}' could not be found.")
    if version >= (2, 53) and not _UUID.match(wanted):
        raise Fault(400, f"Invalid uuid {wanted}")
    if version < (2, 53) and not wanted.isdigit():
        raise missing
    nodes, on, flavors = await _hosts(request, "os-hypervisors:show")
    ids = {str(nova_host_documents.hypervisor_id(n, version)): n for n in nodes}
    found = ids.get(wanted)
    if found is None:
        raise missing
    document = nova_host_documents.hypervisor(
        found, on.get(found["metadata"]["name"], []), flavors, version=version, detail=True,
        with_servers=_with_servers(request, version),
    )  # fmt: skip
    return nova.respond({"hypervisor": document}, version)


# -- host aggregates --------------------------------------------------------------------------


async def _aggregates(request: web.Request, rule: str) -> list[dict[str, Any]]:
    version = nova.microversion(request)
    identity = await nova.identity_of(request)
    kube = nova.services(request).as_user(identity)
    nodes = await nova_admin.as_policy(kube.list("v1", "Node"), rule)
    return nova_host_documents.aggregates(nodes, version)


@routes.get(BASE + "/os-aggregates")
async def list_aggregates(request: web.Request) -> web.Response:
    """The aggregates the nodes' labels make (what `openstack hypervisor show` lists to name a
    host's); made and changed by labelling nodes, not through this API."""
    listed = await _aggregates(request, "os-aggregates:index")
    return nova.respond({"aggregates": listed}, nova.microversion(request))


@routes.get(BASE + "/os-aggregates/{aggregate_id}")
async def show_aggregate(request: web.Request) -> web.Response:
    wanted = request.match_info["aggregate_id"]
    found = next((a for a in await _aggregates(request, "os-aggregates:show")
                  if wanted in (str(a["id"]), a.get("uuid"))), None)  # fmt: skip
    if found is None:
        raise Fault(404, f"Aggregate {wanted} could not be found.")
    return nova.respond({"aggregate": found}, nova.microversion(request))
