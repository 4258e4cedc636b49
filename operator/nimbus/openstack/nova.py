"""Nova v2.1 over Server, Flavor and the project's objects, with microversions up to MAX:
versions, servers, flavors and server actions (keypairs, limits and availability zones in
nova_extensions).

Every call to Kubernetes acts as the token's user (service.Services.as_user): what RBAC lets
them see is what they see, and another project's server is a 404 as in Nova."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from nimbus.k8s import client
from nimbus.openstack import (
    documents,
    glance,
    microversions,
    nova_admin_documents,
    server_actions,
    server_request,
    server_tags,
)
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import IDENTITY, Identity, Services

routes = web.RouteTableDef()
MIN, MAX = (2, 1), (2, 96)
COMPUTE = "compute.nimbus.dev/v1alpha1"
IMAGES = "image.nimbus.dev/v1alpha1"
VOLUMES = "blockstorage.nimbus.dev/v1alpha1"
NETWORKS = "network.nimbus.dev/v1alpha1"


def services(request: web.Request) -> Services:
    found: Services = request.app["services"]
    return found


def microversion(request: web.Request) -> tuple[int, int]:
    """The microversion asked for (OpenStack-API-Version: compute X, or Nova's own header);
    2.1 when none; Nova's 406 outside MIN..MAX."""
    legacy = request.headers.get("X-OpenStack-Nova-API-Version")
    headers = request.headers.getall("OpenStack-API-Version", [])
    return microversions.negotiate(headers, "compute", MIN, MAX, legacy=legacy)


def respond(document: Any, version: tuple[int, int], status: int = 200) -> web.Response:
    text = f"{version[0]}.{version[1]}"
    return web.json_response(document, status=status, headers={
        "OpenStack-API-Version": f"compute {text}", "X-OpenStack-Nova-API-Version": text,
        "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
    })  # fmt: skip


def base_url(request: web.Request) -> str:
    return services(request).config.public_url.rstrip("/") + "/compute/v2.1"


def _version_document(request: web.Request) -> dict[str, Any]:
    return {
        "id": "v2.1", "status": "CURRENT", "version": f"{MAX[0]}.{MAX[1]}",
        "min_version": f"{MIN[0]}.{MIN[1]}", "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": base_url(request) + "/"}],
        "media-types": [{"base": "application/json",
                         "type": "application/vnd.openstack.compute+json;version=2.1"}],
    }  # fmt: skip


@routes.get("/compute")
@routes.get("/compute/")
async def versions(request: web.Request) -> web.Response:
    return web.json_response({"versions": [_version_document(request)]})


@routes.get("/compute/v2.1")
@routes.get("/compute/v2.1/")
async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": _version_document(request)})


async def identity_of(request: web.Request) -> Identity:
    return await services(request).verify(request.headers.get("X-Auth-Token"))


async def project_servers(request: web.Request, identity: Identity) -> list[dict[str, Any]]:
    svc = services(request)
    found = await svc.as_user(identity).list(COMPUTE, "Server", identity.namespace)
    svc.remember("Server", found)
    return found


def _image_key(server: dict[str, Any], namespace: str) -> str:
    """The key of a server's image in a context: its name, or `namespace/name` for another
    project's (public or shared) image."""
    ref = (server.get("spec") or {}).get("image") or {}
    project = ref.get("project")
    return (
        f"{project}/{ref.get('name')}" if project and project != namespace else ref.get("name", "")
    )


async def _foreign_images(
    request: web.Request, identity: Identity, servers: list[dict[str, Any]], namespace: str
) -> dict[str, dict[str, Any]]:
    """Other projects' images these servers (of `namespace`) boot from, as the caller may read
    them (only looked for when a server names one)."""
    if not any("/" in _image_key(s, namespace) for s in servers):
        return {}
    found = await glance.foreign_images(request, identity)
    return {f"{i['metadata']['namespace']}/{i['metadata']['name']}": i for i in found}


async def _context(
    request: web.Request, identity: Identity, servers: list[dict[str, Any]],
    namespace: str | None = None, images: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """What server documents refer to: flavors by name, the project's images (and others'
    these servers boot from), volumes, networks and security groups (whose OpenStack names the
    documents show); those of `namespace`'s project when it is another's (all_tenants), with
    `images` every project's, read once for them all."""
    kube = services(request).as_user(identity)
    where = namespace or identity.namespace
    if images is None:
        own, foreign = await asyncio.gather(
            kube.list(IMAGES, "Image", where), _foreign_images(request, identity, servers, where)
        )
    else:
        own = [i for i in images if i["metadata"].get("namespace") == where]
        foreign = {f"{i['metadata']['namespace']}/{i['metadata']['name']}": i for i in images}
    listed = await asyncio.gather(
        kube.list(COMPUTE, "Flavor"), kube.list(VOLUMES, "Volume", where),
        kube.list(NETWORKS, "Network", where), kube.list(NETWORKS, "SecurityGroup", where),
    )  # fmt: skip
    flavors, volumes, networks, groups = listed
    context = {key: {o["metadata"]["name"]: o for o in objects}
               for key, objects in zip(_CONTEXT, (flavors, own, volumes, networks, groups),
                                       strict=True)}  # fmt: skip
    context["images"].update(foreign)
    return context


_CONTEXT = ("flavors", "images", "volumes", "networks", "security_groups")


def _document(
    request: web.Request, identity: Identity, server: dict[str, Any], context: dict[str, Any],
    version: tuple[int, int], *, listing: bool = False, project_id: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The server's document; `project_id` its project's when it is not the caller's."""
    spec, status = server.get("spec") or {}, server.get("status") or {}
    flavor_name = (status.get("built") or {}).get("flavor") or spec.get("flavor")
    namespace = str(server["metadata"].get("namespace") or identity.namespace)
    if project_id is None:
        project_id = str(identity.project["metadata"]["uid"]) if identity.project else ""
    return documents.server(
        server,
        flavor=context["flavors"].get(flavor_name or ""),
        image=context["images"].get(_image_key(server, namespace)),
        project_id=project_id,
        user_id=identity.user_id,
        admin=identity.admin,
        version=version,
        base_url=base_url(request),
        volumes=context["volumes"],
        networks=context["networks"],
        security_groups=context["security_groups"],
        server_group=context.get("server_group"),
        listing=listing,
    )


def _matches(server: dict[str, Any], query: Any, version: tuple[int, int]) -> bool:
    """Nova's list filters that the clients send: name (a regular expression), status, and
    from 2.26 the tags (server_tags.matches)."""
    name = query.get("name")
    if name:
        pattern = documents.user_pattern(name)
        if pattern is None or not pattern.search(documents.display_name(server)):
            return False
    tags = (server.get("spec") or {}).get("tags") or []
    if version >= server_tags.SINCE and not server_tags.matches(tags, query):
        return False
    wanted = query.get("status")
    return not wanted or (server.get("status") or {}).get("status") == wanted.upper()


@routes.get("/compute/v2.1/servers")
async def list_servers(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    if all_tenants(request.query):
        every = await _every_project_s(request, identity, version, "index")
        briefs = [{key: d[key] for key in ("id", "name", "links")} for d in every]
        return respond({"servers": briefs}, version)
    listed = await project_servers(request, identity)
    servers = [s for s in listed if _matches(s, request.query, version)]
    briefs = [documents.server_brief(s, base_url=base_url(request)) for s in servers]
    return respond({"servers": briefs}, version)


@routes.get("/compute/v2.1/servers/detail")
async def list_servers_detail(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    if all_tenants(request.query):
        every = await _every_project_s(request, identity, version, "detail")
        return respond({"servers": every}, version)
    listed = await project_servers(request, identity)
    servers = [s for s in listed if _matches(s, request.query, version)]
    context = await _context(request, identity, servers)
    details = [_document(request, identity, s, context, version, listing=True)
               for s in servers]  # fmt: skip
    return respond({"servers": details}, version)


def all_tenants(query: Any) -> bool:
    """Nova's all_tenants: present and not false (`all_tenants`, `=1`, `=True`); a value that
    is no boolean is Nova's 400."""
    if "all_tenants" not in query:
        return False
    text = str(query.get("all_tenants") or "").lower()
    if text in ("", "1", "t", "true", "on", "y", "yes"):
        return True
    if text in ("0", "f", "false", "off", "n", "no"):
        return False
    raise Fault(400, f"Invalid input for query parameters all_tenants. Value: {text}. "
                f"'{text}' is not a boolean")  # fmt: skip


async def _every_project_s(
    request: web.Request, identity: Identity, version: tuple[int, int], verb: str
) -> list[dict[str, Any]]:
    """all_tenants: every project's servers (Nova's admin list), read as the caller, so only a
    caller Kubernetes lets list every namespace's Servers (a cluster admin) gets them. A
    project's admin (whom Horizon shows its Admin dashboard) gets their own project's, as the
    projects they may read; anyone else gets Nova's policy 403. `project_id` (or `tenant_id`)
    narrows it to one project."""
    kube = services(request).as_user(identity)
    try:
        listed, projects, every = await asyncio.gather(
            kube.list(COMPUTE, "Server"), kube.list(IDENTITY, "Project"),
            kube.list(IMAGES, "Image"),
        )  # fmt: skip
        images: list[dict[str, Any]] | None = every
    except client.ApiError as error:
        if error.status != 403:
            raise
        if not identity.admin or identity.project is None:
            raise nova_admin_documents.policy_refused(f"servers:{verb}:get_all_tenants") from None
        # their own project's, and the images as any of its lists reads them (_context)
        listed, projects, images = (
            await project_servers(request, identity),
            [identity.project],
            None,
        )
    ids = {str((p.get("status") or {}).get("namespace") or p["metadata"]["name"]):
           str(p["metadata"]["uid"]) for p in projects}  # fmt: skip
    wanted = request.query.get("project_id") or request.query.get("tenant_id")
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for server in listed:
        namespace = str(server["metadata"].get("namespace"))
        project = ids.get(namespace, namespace)
        if _matches(server, request.query, version) and wanted in (None, project):
            by_namespace.setdefault(namespace, []).append(server)
    # Every project's images, read once: a server may boot from any project's public one.
    contexts = await asyncio.gather(*(_context(request, identity, servers, namespace, images)
                                      for namespace, servers in by_namespace.items()))  # fmt: skip
    details = [
        _document(request, identity, server, context, version, listing=True,
                  project_id=ids.get(namespace, namespace))
        for (namespace, servers), context in zip(by_namespace.items(), contexts, strict=True)
        for server in servers
    ]  # fmt: skip
    details.sort(key=lambda d: (str(d.get("created") or ""), d["id"]), reverse=True)
    return details


async def _context_of(
    request: web.Request, identity: Identity, server: dict[str, Any]
) -> dict[str, Any]:
    """`_context`, for one server: only what it refers to, each read by name — as the caller,
    from the API server's cache (only their names and ids are shown: a read of etcd for each
    was the larger part of a show's cost)."""
    kube = services(request).as_user(identity)
    spec, status = server.get("spec") or {}, server.get("status") or {}
    flavor = (status.get("built") or {}).get("flavor") or spec.get("flavor") or ""
    image = _image_key(server, identity.namespace)
    image_namespace, _, image_name = image.rpartition("/")
    volumes = [v["volume"] for v in spec.get("volumes") or []]
    if spec.get("bootVolume"):
        volumes.append(spec["bootVolume"]["name"])
    named = [(VOLUMES, "Volume", "volumes", v) for v in volumes]
    named += [(NETWORKS, "Network", "networks", n) for n in status.get("addresses") or {}]
    named += [(NETWORKS, "SecurityGroup", "security_groups", g)
              for g in spec.get("securityGroups") or []]  # fmt: skip
    group = spec.get("serverGroup")

    def cached(api: str, kind: str, name: str) -> Any:
        return kube.get(api, kind, name, identity.namespace, resource_version="0")

    found = await asyncio.gather(
        services(request).server_flavor(identity, flavor) if flavor else _nothing(),
        _image_of(request, identity, image_name, image_namespace) if image else _nothing(),
        cached(COMPUTE, "ServerGroup", group) if group else _nothing(),
        *(cached(api, kind, name) for api, kind, _, name in named),
    )
    context: dict[str, Any] = {"flavors": {flavor: found[0]} if found[0] else {},
                               "images": {image: found[1]} if found[1] and image else {},
                               "volumes": {}, "networks": {}, "security_groups": {},
                               "server_group": found[2]}  # fmt: skip
    for (_, _, key, name), body in zip(named, found[3:], strict=True):
        if body:
            context[key][name] = body
    return context


async def _nothing() -> None:
    return None


async def _image_of(
    request: web.Request, identity: Identity, name: str, namespace: str
) -> dict[str, Any] | None:
    """The server's image, for its id: from the API's watch (services.server_image), or until
    that has listed, read as the caller — the project's, or another project's (in the
    project's group) that it may still read, None when it no longer may."""
    svc = services(request)
    if svc.images_kept:
        return svc.server_image(name, namespace or identity.namespace)
    if not namespace:
        return await services(request).as_user(identity).get(IMAGES, "Image", name,
                                                              identity.namespace)  # fmt: skip
    try:
        return (
            await services(request)
            .as_user(identity, in_project=True)
            .get(IMAGES, "Image", name, namespace)
        )
    except client.ApiError as error:
        if error.status == 403:
            return None
        raise


async def server_of(
    request: web.Request, identity: Identity, *, to_show: bool = False
) -> dict[str, Any]:
    """The caller's server of the id in the path, read as the caller, or Nova's 404. `to_show`
    (GET /servers/{id}): from the API server's watch cache, never older than this process has
    seen the server (listed or written) — a show polled every second need not be a quorum read
    of etcd; what is changed reads etcd."""
    wanted = request.match_info["server_id"]
    svc = services(request)
    hint = svc.name_of("Server", identity.namespace, wanted)
    if hint is not None:  # one GET by the name last listed, as the caller; the same uid only
        seen = svc.version_of("Server", identity.namespace, wanted) if to_show else None
        kube = svc.as_user(identity)
        try:
            got = await kube.get(COMPUTE, "Server", hint, identity.namespace, resource_version=seen)
        except client.ApiError as error:
            if not seen or error.status != 504:  # 504: the cache did not catch up in time
                raise
            got = await kube.get(COMPUTE, "Server", hint, identity.namespace)
        if got is not None and got["metadata"]["uid"] == wanted:
            if to_show:
                svc.remember("Server", [got])
            return got
    found = next(
        (s for s in await project_servers(request, identity) if s["metadata"]["uid"] == wanted),
        None,
    )
    if found is None:
        raise Fault(404, f"Instance {wanted} could not be found.")
    return found


@routes.get("/compute/v2.1/servers/{server_id}")
async def show_server(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    server = await server_of(request, identity, to_show=True)
    context = await _context_of(request, identity, server)
    return respond({"server": _document(request, identity, server, context, version)}, version)


@routes.put("/compute/v2.1/servers/{server_id}")
async def update_server(request: web.Request) -> web.Response:
    """Nova's update: a merge patch of the name (its annotation), description and hostname,
    made as the caller; the server's document (200)."""
    version = microversion(request)
    identity = await identity_of(request)
    body = await json_body(request)
    server = await server_of(request, identity)
    patch = server_actions.update_patch(body, server, version)
    if patch:
        kube = services(request).as_user(identity)
        server = await kube.patch(
            COMPUTE, "Server", server["metadata"]["name"], identity.namespace, patch
        )
    context = await _context_of(request, identity, server)
    return respond({"server": _document(request, identity, server, context, version)}, version)


async def json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise Fault(400, "Malformed request body") from None


def _image_refs(body: Any) -> set[str]:
    """The image ids a server create names (imageRef, block_device_mapping_v2's image sources),
    before server_request checks the body: only to know whether to look beyond the project."""
    server = body.get("server") if isinstance(body, dict) else None
    if not isinstance(server, dict):
        return set()
    refs = {server.get("imageRef")}
    mappings = server.get("block_device_mapping_v2")
    for mapping in mappings if isinstance(mappings, list) else []:
        if isinstance(mapping, dict) and mapping.get("source_type") == "image":
            refs.add(mapping.get("uuid"))
    return {r for r in refs if isinstance(r, str) and r}


class _Resolver:
    """server_request.Resolver over what the caller may list in their project: an OpenStack id
    (uid) or name -> the Kubernetes name."""

    def __init__(
        self, objects: dict[str, list[dict[str, Any]]], foreign: Sequence[dict[str, Any]] = ()
    ) -> None:
        self.objects = objects
        self.foreign = foreign  # other projects' images offered to the caller's

    def _find(self, kind: str, ref: str) -> str | None:
        for body in self.objects[kind]:
            if ref in (body["metadata"]["uid"], body["metadata"]["name"]):
                return str(body["metadata"]["name"])
        return None

    def flavor(self, ref: str) -> str | None:
        return self._find("flavors", ref)

    def image(self, ref: str) -> str | None:
        """The project's image (by id or name), or another project's offered to it, by id, as
        `namespace/name`."""
        found = self._find("images", ref)
        if found is None:
            found = next((f"{i['metadata']['namespace']}/{i['metadata']['name']}"
                          for i in self.foreign if i["metadata"]["uid"] == ref), None)  # fmt: skip
        return found

    def network(self, ref: str) -> str | None:
        return self._find("networks", ref)

    def port(self, ref: str) -> str | None:
        return self._find("ports", ref)

    def volume(self, ref: str) -> str | None:
        return self._find("volumes", ref)

    def server(self, ref: str) -> str | None:
        return self._find("servers", ref)

    def server_group(self, ref: str) -> str | None:
        return self._find("server_groups", ref)

    def security_group(self, ref: str) -> str | None:
        found = self._find("security_groups", ref)
        named = [g for g in self.objects["security_groups"] if documents.display_name(g) == ref]
        return found or (str(named[0]["metadata"]["name"]) if len(named) == 1 else None)


@routes.post("/compute/v2.1/servers")
async def create_server(request: web.Request) -> web.Response:
    """Nova's boot: a Server object per instance asked for (min_count..max_count, named as Nova
    names them: name-1, name-2 ...), made as the caller; the operator does the rest."""
    version = microversion(request)
    identity = await identity_of(request)
    namespace = identity.namespace
    kube = services(request).as_user(identity)
    body = await json_body(request)
    listed = await asyncio.gather(
        kube.list(COMPUTE, "Flavor"), kube.list(IMAGES, "Image", namespace),
        kube.list(NETWORKS, "Network", namespace), kube.list(NETWORKS, "Port", namespace),
        kube.list(VOLUMES, "Volume", namespace), kube.list(COMPUTE, "Server", namespace),
        kube.list(COMPUTE, "ServerGroup", namespace),
        kube.list(NETWORKS, "SecurityGroup", namespace),
    )  # fmt: skip
    kinds = ("flavors", "images", "networks", "ports", "volumes", "servers", "server_groups",
             "security_groups")  # fmt: skip
    objects = dict(zip(kinds, listed, strict=True))
    own = {n for i in objects["images"] for n in (i["metadata"]["uid"], i["metadata"]["name"])}
    foreign = []  # another project's image, public or shared, only when the request names one
    if _image_refs(body) - own:
        foreign = await glance.foreign_images(request, identity)
    try:
        resolver = _Resolver(objects, foreign)
        display, spec = server_request.server_create(
            body, resolve=resolver, hints=resolver, security_groups=resolver
        )
        _, count = server_request.counts(body)
    except server_request.BadRequest as refused:
        raise Fault(400, refused.message) from None
    taken = {s["metadata"]["name"] for s in objects["servers"]}
    made = []
    for index in range(count):
        shown = display if count == 1 else f"{display}-{index + 1}"
        name = documents.kube_name(shown, taken)
        taken.add(name)
        metadata: dict[str, Any] = {"name": name, "namespace": namespace}
        if name != shown:
            metadata["annotations"] = {documents.NAME_ANNOTATION: shown}
        made.append(await kube.create(
            {"apiVersion": COMPUTE, "kind": "Server", "metadata": metadata, "spec": spec}
        ))  # fmt: skip
    first = made[0]
    document = {
        "id": first["metadata"]["uid"],
        "links": documents.links(base_url(request), "servers", first["metadata"]["uid"]),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": [{"name": g} for g in spec.get("securityGroups") or ["default"]],
    }
    return respond({"server": document}, version, status=202)


@routes.delete("/compute/v2.1/servers/{server_id}")
async def delete_server(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    server = await server_of(request, identity)
    kube = services(request).as_user(identity)
    await kube.delete(COMPUTE, "Server", server["metadata"]["name"], identity.namespace)
    response = respond(None, version, status=204)
    response.body = b""
    return response


# -- server actions ---------------------------------------------------------------------------


@routes.post("/compute/v2.1/servers/{server_id}/action")
async def server_action(request: web.Request) -> web.Response:
    """Nova's server actions, each a merge patch of the Server made as the caller (202, no
    body; confirmResize 204; rebuild the server document, as Nova answers them)."""
    version = microversion(request)
    identity = await identity_of(request)
    body = await json_body(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise Fault(400, "Malformed request body")
    ((action, argument),) = body.items()
    server = await server_of(request, identity)
    if action == "os-getConsoleOutput":
        server_actions.console_length(argument)
        # The guest's serial log is the virt-launcher pod's guest-console-log container, and
        # no project role may read pods' logs: the user gets the empty log Nova gives a
        # server that has printed nothing, never one read with the API's own rights.
        return respond({"output": ""}, version)
    kube = services(request).as_user(identity)
    flavors: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    if action == "resize":
        flavors = await kube.list(COMPUTE, "Flavor")
    if action == "rebuild":
        images = await kube.list(IMAGES, "Image", identity.namespace)
    groups: list[dict[str, Any]] = []
    whole = action in ("addSecurityGroup", "removeSecurityGroup")
    if whole:
        groups = await kube.list(NETWORKS, "SecurityGroup", identity.namespace)
    for attempt in range(3):
        patch = server_actions.action_patch(action, argument, server, flavors=flavors,
                                            images=images, now=datetime.datetime.now(datetime.UTC),
                                            security_groups=groups)  # fmt: skip
        if patch is None:
            break
        if whole:  # a list written whole: as read, so that a concurrent change is a 409
            patch = {
                **patch,
                "metadata": {"resourceVersion": server["metadata"]["resourceVersion"]},
            }
        try:
            server = await kube.patch(
                COMPUTE, "Server", server["metadata"]["name"], identity.namespace, patch
            )
            break
        except client.ApiError as error:
            if error.status != 409 or not whole or attempt == 2:
                raise
            server = await server_of(request, identity)  # changed meanwhile: again, on it
    if action == "rebuild":
        context = await _context(request, identity, [server])
        document = _document(request, identity, server, context, version)
        return respond({"server": document}, version, status=202)
    response = respond(None, version, status=204 if action == "confirmResize" else 202)
    response.body = b""
    return response
