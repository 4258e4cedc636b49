"""Neutron v2.0 over Network and Subnet: list (with Neutron's filters and `fields=`), show,
create, update and delete; the extensions served and the project's quotas. What the other
Neutron routes share is here too: ports in neutron_ports, security groups in neutron_security.

Every call to Kubernetes acts as the token's user (service.Services.as_user): what RBAC lets
them see is what they see, another project's object is Neutron's 404, and a reader's create is
refused by Kubernetes. Neutron has no version discovery on its endpoint the clients rely on;
`/network` answers the version list all the same."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from nimbus.k8s import client
from nimbus.openstack import neutron_documents, neutron_requests, neutron_subnet_requests
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity, Services

routes = web.RouteTableDef()
NETWORKS = "network.nimbus.dev/v1alpha1"
COMPUTE = "compute.nimbus.dev/v1alpha1"
BASE = "/network/v2.0"


def services(request: web.Request) -> Services:
    found: Services = request.app["services"]
    return found


@routes.get("/network")
@routes.get("/network/")
async def versions(request: web.Request) -> web.Response:
    url = services(request).config.public_url.rstrip("/") + "/network/v2.0/"
    return web.json_response({"versions": [{"id": "v2.0", "status": "CURRENT",
                                            "links": [{"rel": "self", "href": url}]}]})  # fmt: skip


# -- what every Neutron route shares ----------------------------------------------------------


async def identity_of(request: web.Request) -> Identity:
    return await services(request).verify(request.headers.get("X-Auth-Token"))


def project_id(identity: Identity) -> str:
    return str(identity.project["metadata"]["uid"]) if identity.project else ""


def kube(request: web.Request, identity: Identity) -> client.Client:
    return services(request).as_user(identity)


def query(request: web.Request) -> dict[str, list[str]]:
    return {key: request.query.getall(key) for key in set(request.query.keys())}


def respond(key: str, document: Any, request: web.Request, status: int = 200) -> web.Response:
    """One resource (or a collection of them, sorted and paged as asked), with only the
    `fields=` asked for."""
    fields = request.query.getall("fields", [])
    if isinstance(document, list):
        asked = query(request)
        for limit in asked.get("limit", []):
            if not limit.isdigit():
                raise neutron_requests.bad_request(
                    f"Bad limit request: Limit must be an integer 0 or greater and not "
                    f"'{limit}'", "BadRequest")  # fmt: skip
        for direction in asked.get("sort_dir", []):
            if direction not in ("asc", "desc"):
                raise neutron_requests.bad_request(
                    f"Invalid input for operation: sort_dir: '{direction}' is not one of asc, "
                    "desc.", "InvalidInput")  # fmt: skip
        listed = neutron_documents.page(document, asked)
        document = [neutron_documents.select(d, fields) for d in listed]
    else:
        document = neutron_documents.select(document, fields)
    return web.json_response({key: document}, status=status)


def no_content() -> web.Response:
    return web.Response(status=204)


async def json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError as error:
        raise neutron_requests.bad_request(f"Malformed request body: {error}.",
                                           "MalformedRequestBody") from None  # fmt: skip


async def held(kube_client: client.Client, namespace: str, *kinds: str
               ) -> list[list[dict[str, Any]]]:  # fmt: skip
    """The project's objects of each kind (Server from compute, the others from network)."""
    return list(await asyncio.gather(*(
        kube_client.list(COMPUTE if kind == "Server" else NETWORKS, kind, namespace)
        for kind in kinds
    )))  # fmt: skip


async def create(
    kube_client: client.Client, kind: str, display: str, spec: dict[str, Any], *,
    namespace: str, taken: list[dict[str, Any]], resource: str,
) -> dict[str, Any]:  # fmt: skip
    """Create the object named `display` in OpenStack (a Kubernetes name derived from it when it
    cannot be one, as Nova's server create does); Neutron's 409 for a project over its quota."""
    names = {t["metadata"]["name"] for t in taken}
    for _ in range(3):
        metadata = neutron_requests.kube_metadata(
            display, names, namespace, fallback=resource.replace("_", "-")
        )
        try:
            return await kube_client.create(
                {"apiVersion": NETWORKS, "kind": kind, "metadata": metadata, "spec": spec}
            )
        except client.ApiError as error:
            if error.status == 403 and "exceeded quota" in error.message:
                raise Fault(409, f"Quota exceeded for resources: ['{resource}'].",
                            style="neutron", kind="OverQuota") from None  # fmt: skip
            if error.status != 409:
                raise
            names.add(metadata["name"])  # made meanwhile: another name
    raise Fault(409, f"{kind} {display!r}: no free name", style="neutron")


def find(bodies: list[dict[str, Any]], ident: str, kind: str) -> dict[str, Any]:
    """The object of that OpenStack id, or Neutron's 404."""
    found = next((b for b in bodies if b["metadata"]["uid"] == ident), None)
    if found is None:
        raise neutron_requests.not_found(kind, ident)
    return found


# -- networks ---------------------------------------------------------------------------------


async def _readable(kube_client: client.Client, kind: str, name: str, namespace: str
                    ) -> dict[str, Any] | None:  # fmt: skip
    try:
        return await kube_client.get(NETWORKS, kind, name, namespace)
    except client.ApiError as error:
        if error.status == 403:
            return None
        raise


async def external_networks(
    request: web.Request, identity: Identity
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Other projects' external networks and their subnets, which Neutron shows every project:
    found in the API's index (a list as itself) and each read again as the caller, so RBAC
    decides (the operator lets every signed-in user read an external network and its subnets:
    network.render.render_external_readers)."""
    svc = services(request)
    projects = await svc.project_ids()
    candidates = [n for n in await svc.api.list(NETWORKS, "Network")
                  if n["metadata"]["namespace"] != identity.namespace
                  and n["metadata"]["namespace"] in projects  # a project's, as all of Neutron's
                  and (n.get("spec") or {}).get("external")]  # fmt: skip
    kube_client = kube(request, identity)
    read = await asyncio.gather(*(
        _readable(kube_client, "Network", n["metadata"]["name"], n["metadata"]["namespace"])
        for n in candidates))  # fmt: skip
    networks = [n for n in read if n is not None and (n.get("spec") or {}).get("external")]
    wanted = [(str(name), n["metadata"]["namespace"]) for n in networks
              for name in (n.get("status") or {}).get("subnets") or []]  # fmt: skip
    subnets = await asyncio.gather(*(_readable(kube_client, "Subnet", name, namespace)
                                     for name, namespace in wanted))  # fmt: skip
    return networks, [s for s in subnets if s is not None]


async def _owners(request: web.Request, namespaces: set[str]) -> dict[str, str]:
    """namespace -> the id of the project it is."""
    if not namespaces:
        return {}
    return {n: uid for n, uid in (await services(request).project_ids()).items()
            if n in namespaces}  # fmt: skip


def _network_documents(
    identity: Identity,
    networks: list[dict[str, Any]],
    subnets: list[dict[str, Any]],
    owners: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Neutron's documents of these networks (the caller's, and other projects' external ones,
    whose project ids `owners` gives by namespace)."""

    def owner(n: dict[str, Any]) -> str:
        namespace = n["metadata"]["namespace"]
        if namespace == identity.namespace:
            return project_id(identity)
        return (owners or {}).get(namespace, "")

    return [
        neutron_documents.network(n, project_id=owner(n), admin=identity.admin,
                                  subnet_ids=[s["metadata"]["uid"] for s in subnets
                                              if (s.get("spec") or {}).get("network")
                                              == n["metadata"]["name"] and
                                              s["metadata"]["namespace"]
                                              == n["metadata"]["namespace"]])
        for n in networks
    ]  # fmt: skip


async def _visible_networks(
    request: web.Request, identity: Identity
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    """The project's networks and subnets, then other projects' external ones (after), and
    those projects' ids by namespace."""
    (networks, subnets), (external, external_subnets) = await asyncio.gather(
        held(kube(request, identity), identity.namespace, "Network", "Subnet"),
        external_networks(request, identity))  # fmt: skip
    owners = await _owners(request, {n["metadata"]["namespace"] for n in external})
    return networks + external, subnets + external_subnets, owners


@routes.get(f"{BASE}/networks")
async def list_networks(request: web.Request) -> web.Response:
    """The project's networks and every external network (router:external), as Neutron lists
    them to any project."""
    identity = await identity_of(request)
    networks, subnets, owners = await _visible_networks(request, identity)
    wanted = query(request)
    found = [n for n in _network_documents(identity, networks, subnets, owners)
             if neutron_documents.matches(n, wanted)]  # fmt: skip
    return respond("networks", found, request)


@routes.get(BASE + "/networks/{network_id}")
async def show_network(request: web.Request) -> web.Response:
    identity = await identity_of(request)
    networks, subnets, owners = await _visible_networks(request, identity)
    network = find(networks, request.match_info["network_id"], "Network")
    return respond("network", _network_documents(identity, [network], subnets, owners)[0],
                   request)  # fmt: skip


@routes.post(f"{BASE}/networks")
async def create_network(request: web.Request) -> web.Response:
    identity = await identity_of(request)
    body = await json_body(request)
    display, spec = neutron_requests.network_create(body, project_id=project_id(identity),
                                                    admin=identity.admin)  # fmt: skip
    kube_client = kube(request, identity)
    (networks,) = await held(kube_client, identity.namespace, "Network")
    made = await create(kube_client, "Network", display, spec, namespace=identity.namespace,
                        taken=networks, resource="network")  # fmt: skip
    return respond("network", _network_documents(identity, [made], [])[0], request, status=201)


@routes.put(BASE + "/networks/{network_id}")
async def update_network(request: web.Request) -> web.Response:
    identity = await identity_of(request)
    body = await json_body(request)
    kube_client = kube(request, identity)
    networks, subnets = await held(kube_client, identity.namespace, "Network", "Subnet")
    network = find(networks, request.match_info["network_id"], "Network")
    patch = neutron_requests.network_update(body, network, project_id=project_id(identity),
                                            admin=identity.admin)  # fmt: skip
    if patch:
        network = await kube_client.patch(NETWORKS, "Network", network["metadata"]["name"],
                                          identity.namespace, patch)  # fmt: skip
    return respond("network", _network_documents(identity, [network], subnets)[0], request)


@routes.delete(BASE + "/networks/{network_id}")
async def delete_network(request: web.Request) -> web.Response:
    """Neutron's: refused while a port is on the network (a server's among them); its subnets
    go with it."""
    identity = await identity_of(request)
    kube_client = kube(request, identity)
    networks, subnets, ports, servers = await held(kube_client, identity.namespace, "Network",
                                                   "Subnet", "Port", "Server")  # fmt: skip
    ident = request.match_info["network_id"]
    name = find(networks, ident, "Network")["metadata"]["name"]
    using = [p for p in ports if (p.get("spec") or {}).get("network") == name] + [
        s for s in servers
        if any(e.get("network") == name for e in (s.get("spec") or {}).get("networks") or [])
    ]  # fmt: skip
    if using:
        raise Fault(409, f"Unable to complete operation on network {ident}. There are one or "
                    "more ports still in use on the network.", style="neutron",
                    kind="NetworkInUse")  # fmt: skip
    for subnet in subnets:
        if (subnet.get("spec") or {}).get("network") == name:
            await kube_client.delete(NETWORKS, "Subnet", subnet["metadata"]["name"],
                                     identity.namespace)  # fmt: skip
    await kube_client.delete(NETWORKS, "Network", name, identity.namespace)
    return no_content()


# -- subnets ----------------------------------------------------------------------------------


def _subnet_documents(
    identity: Identity, subnets: list[dict[str, Any]], networks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    network_ids = neutron_documents.ids(networks)
    return [
        neutron_documents.subnet(s, project_id=project_id(identity),
                                 network_id=network_ids.get((s.get("spec") or {}).get("network",
                                                                                      ""), ""))
        for s in subnets
    ]  # fmt: skip


@routes.get(f"{BASE}/subnets")
async def list_subnets(request: web.Request) -> web.Response:
    identity = await identity_of(request)
    subnets, networks = await held(kube(request, identity), identity.namespace, "Subnet",
                                   "Network")  # fmt: skip
    wanted = query(request)
    found = [s for s in _subnet_documents(identity, subnets, networks)
             if neutron_documents.matches(s, wanted)]  # fmt: skip
    return respond("subnets", found, request)


@routes.get(BASE + "/subnets/{subnet_id}")
async def show_subnet(request: web.Request) -> web.Response:
    identity = await identity_of(request)
    subnets, networks = await held(kube(request, identity), identity.namespace, "Subnet",
                                   "Network")  # fmt: skip
    subnet = find(subnets, request.match_info["subnet_id"], "Subnet")
    return respond("subnet", _subnet_documents(identity, [subnet], networks)[0], request)


@routes.post(f"{BASE}/subnets")
async def create_subnet(request: web.Request) -> web.Response:
    identity = await identity_of(request)
    body = await json_body(request)
    kube_client = kube(request, identity)
    subnets, networks = await held(kube_client, identity.namespace, "Subnet", "Network")
    display, spec = neutron_subnet_requests.subnet_create(
        body, project_id=project_id(identity), subnets=subnets,
        networks={n["metadata"]["uid"]: n["metadata"]["name"] for n in networks},
    )  # fmt: skip
    made = await create(kube_client, "Subnet", display, spec, namespace=identity.namespace,
                        taken=subnets, resource="subnet")  # fmt: skip
    document = _subnet_documents(identity, [made], networks)[0]
    return respond("subnet", document, request, status=201)


@routes.put(BASE + "/subnets/{subnet_id}")
async def update_subnet(request: web.Request) -> web.Response:
    identity = await identity_of(request)
    body = await json_body(request)
    kube_client = kube(request, identity)
    subnets, networks = await held(kube_client, identity.namespace, "Subnet", "Network")
    subnet = find(subnets, request.match_info["subnet_id"], "Subnet")
    patch = neutron_subnet_requests.subnet_update(body, subnet, project_id=project_id(identity))
    if patch:
        subnet = await kube_client.patch(NETWORKS, "Subnet", subnet["metadata"]["name"],
                                         identity.namespace, patch)  # fmt: skip
    return respond("subnet", _subnet_documents(identity, [subnet], networks)[0], request)


@routes.delete(BASE + "/subnets/{subnet_id}")
async def delete_subnet(request: web.Request) -> web.Response:
    """Neutron's: refused while a port holds an address of it."""
    identity = await identity_of(request)
    kube_client = kube(request, identity)
    subnets, ports = await held(kube_client, identity.namespace, "Subnet", "Port")
    ident = request.match_info["subnet_id"]
    name = find(subnets, ident, "Subnet")["metadata"]["name"]
    for port in ports:
        spec, status = port.get("spec") or {}, port.get("status") or {}
        entries = [*(spec.get("fixedIPs") or []), *(status.get("fixedIPs") or [])]
        if any(e.get("subnet") == name for e in entries):
            raise Fault(409, f"Unable to complete operation on subnet {ident}: One or more ports "
                        "have an IP allocation from this subnet.", style="neutron",
                        kind="SubnetInUse")  # fmt: skip
    await kube_client.delete(NETWORKS, "Subnet", name, identity.namespace)
    return no_content()


# -- extensions and quotas --------------------------------------------------------------------


@routes.get(f"{BASE}/extensions")
async def extensions(request: web.Request) -> web.Response:
    await identity_of(request)
    return web.json_response({"extensions": neutron_documents.extensions()})


@routes.get(BASE + "/extensions/{alias}")
async def extension(request: web.Request) -> web.Response:
    await identity_of(request)
    alias = request.match_info["alias"]
    found = next((e for e in neutron_documents.extensions() if e["alias"] == alias), None)
    if found is None:
        raise Fault(404, f"Extension with alias {alias} does not exist", style="neutron",
                    kind="HTTPNotFound")  # fmt: skip
    return web.json_response({"extension": found})


@routes.get(f"{BASE}/qos/policies")
async def qos_policies(request: web.Request) -> web.Response:
    """QoS policies: none (the qos extension is not listed; heat-dashboard's Template Generator
    asks without looking, and a 404 is an error on its page)."""
    await identity_of(request)
    return web.json_response({"policies": []})


def _own_project(identity: Identity, wanted: str) -> dict[str, Any]:
    """The token's Project, as the API read it to scope the token (no call of its own);
    another project's quota is an admin's, as in Neutron."""
    if identity.project is None:
        raise Fault(403, "This action requires a project-scoped token.", style="neutron")
    if wanted != project_id(identity):
        raise Fault(403, "User does not have admin privileges: Only admin is authorized to "
                    "access quotas for another project.", style="neutron",
                    kind="AdminRequired")  # fmt: skip
    return identity.project


@routes.get(BASE + "/quotas/{project_id}")
async def quota(request: web.Request) -> web.Response:
    identity = await identity_of(request)
    project = _own_project(identity, request.match_info["project_id"])
    return web.json_response({"quota": neutron_documents.quota(project)})


@routes.get(BASE + "/quotas/{project_id}/details")
async def quota_details(request: web.Request) -> web.Response:
    identity = await identity_of(request)
    project = _own_project(identity, request.match_info["project_id"])
    return web.json_response({"quota": neutron_documents.quota_details(project)})


@routes.get(BASE + "/quotas/{project_id}/default")
async def quota_defaults(request: web.Request) -> web.Response:
    await identity_of(request)
    return web.json_response({"quota": neutron_documents.quota(None)})
