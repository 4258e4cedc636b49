"""Neutron v2.0 over Network and Subnet: list (with the name filter the clients send) and
show. Neutron has no version discovery on its endpoint the clients rely on; `/network` answers
the version list all the same."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nimbus.openstack import neutron_documents
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity, Services

routes = web.RouteTableDef()
NETWORKS = "network.nimbus.dev/v1alpha1"


def _services(request: web.Request) -> Services:
    found: Services = request.app["services"]
    return found


@routes.get("/network")
@routes.get("/network/")
async def versions(request: web.Request) -> web.Response:
    url = _services(request).config.public_url.rstrip("/") + "/network/v2.0/"
    return web.json_response({"versions": [{"id": "v2.0", "status": "CURRENT",
                                            "links": [{"rel": "self", "href": url}]}]})  # fmt: skip


async def _identity(request: web.Request) -> Identity:
    return await _services(request).verify(request.headers.get("X-Auth-Token"))


def _project_id(identity: Identity) -> str:
    return str(identity.project["metadata"]["uid"]) if identity.project else ""


async def _networks(request: web.Request, identity: Identity) -> list[dict[str, Any]]:
    kube = _services(request).as_user(identity)
    networks = await kube.list(NETWORKS, "Network", identity.namespace)
    subnets = await kube.list(NETWORKS, "Subnet", identity.namespace)
    project = _project_id(identity)
    return [
        neutron_documents.network(n, project_id=project, subnet_ids=[
            s["metadata"]["uid"] for s in subnets
            if (s.get("spec") or {}).get("network") == n["metadata"]["name"]])
        for n in networks
    ]  # fmt: skip


def _filtered(items: list[dict[str, Any]], query: Any) -> list[dict[str, Any]]:
    return [i for i in items if all(str(i.get(k)) == v for k, v in query.items()
                                    if k in ("name", "id", "status", "network_id"))]  # fmt: skip


@routes.get("/network/v2.0/networks")
async def list_networks(request: web.Request) -> web.Response:
    identity = await _identity(request)
    networks = _filtered(await _networks(request, identity), request.query)
    return web.json_response({"networks": networks})


@routes.get("/network/v2.0/networks/{network_id}")
async def show_network(request: web.Request) -> web.Response:
    identity = await _identity(request)
    wanted = request.match_info["network_id"]
    found = next((n for n in await _networks(request, identity) if n["id"] == wanted), None)
    if found is None:
        raise Fault(404, f"Network {wanted} could not be found.", style="neutron",
                    kind="NetworkNotFound")  # fmt: skip
    return web.json_response({"network": found})


@routes.get("/network/v2.0/subnets")
async def list_subnets(request: web.Request) -> web.Response:
    identity = await _identity(request)
    kube = _services(request).as_user(identity)
    networks = {n["metadata"]["name"]: n["metadata"]["uid"]
                for n in await kube.list(NETWORKS, "Network", identity.namespace)}  # fmt: skip
    subnets = [
        neutron_documents.subnet(s, project_id=_project_id(identity),
                         network_id=networks.get((s.get("spec") or {}).get("network", ""), ""))
        for s in await kube.list(NETWORKS, "Subnet", identity.namespace)
    ]  # fmt: skip
    return web.json_response({"subnets": _filtered(subnets, request.query)})


@routes.get("/network/v2.0/extensions")
async def extensions(request: web.Request) -> web.Response:
    await _identity(request)
    return web.json_response({"extensions": []})
