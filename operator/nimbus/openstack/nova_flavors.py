"""Nova's flavors over Flavor objects: list and show (a private flavor only to the projects on
its access list, and to who may edit flavors), create and delete, extra specs and the access
list (`os-flavor-access`, `addTenantAccess`, `removeTenantAccess`).

Every write is made as the caller: only who Kubernetes lets edit Flavors (a cluster admin) may,
as only Nova's admin may. A flavor's sizes are immutable, as in Nova; its description, extra
specs and access list change."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nimbus.k8s import client
from nimbus.openstack import documents, nova_admin
from nimbus.openstack.faults import Fault
from nimbus.openstack.nova import (
    COMPUTE,
    base_url,
    identity_of,
    json_body,
    microversion,
    respond,
    services,
)
from nimbus.openstack.service import IDENTITY, Identity

routes = web.RouteTableDef()
_SIZES = {"ram": "ramMB", "vcpus": "vcpus", "disk": "diskGB",
          "OS-FLV-EXT-DATA:ephemeral": "ephemeralGB", "swap": "swapMB"}  # fmt: skip


async def _editor(request: web.Request, identity: Identity) -> bool:
    """Whether Kubernetes lets the caller edit Flavors: Nova's admin for flavors."""
    review = await services(request).as_user(identity).create({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "metadata": {"name": ""},
        "spec": {"resourceAttributes": {"group": "compute.nimbus.dev", "resource": "flavors",
                                        "verb": "update"}},
    })  # fmt: skip
    return bool((review.get("status") or {}).get("allowed"))


async def _visible(request: web.Request, identity: Identity) -> list[dict[str, Any]]:
    """The flavors the caller sees: public ones, private ones their project is on the access
    list of, every one for who may edit them."""
    flavors = await services(request).as_user(identity).list(COMPUTE, "Flavor")
    if all((f.get("spec") or {}).get("isPublic", True) for f in flavors):
        return flavors
    if await _editor(request, identity):
        return flavors
    project = identity.project["metadata"]["name"] if identity.project else None
    return [f for f in flavors if (f.get("spec") or {}).get("isPublic", True)
            or project in ((f.get("spec") or {}).get("projects") or [])]  # fmt: skip


async def _flavor(request: web.Request, identity: Identity) -> dict[str, Any]:
    wanted = request.match_info["flavor_id"]
    found = next((f for f in await _visible(request, identity)
                  if wanted in (f["metadata"]["uid"], f["metadata"]["name"])), None)  # fmt: skip
    if found is None:
        raise Fault(404, f"Flavor {wanted} could not be found.")
    return found


@routes.get("/compute/v2.1/flavors")
@routes.get("/compute/v2.1/flavors/detail")
async def list_flavors(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    flavors = [documents.flavor(f, base_url=base_url(request), version=version)
               for f in await _visible(request, identity)]  # fmt: skip
    if "is_public" in request.query and request.query["is_public"].lower() in ("true", "false"):
        public = request.query["is_public"].lower() == "true"
        flavors = [f for f in flavors if f["os-flavor-access:is_public"] == public]
    # Paged by limit and marker as Nova pages them (Horizon's admin Flavors page asks for a
    # page; openstacksdk gives up on a marker that is ignored).
    url = base_url(request) + request.path.removeprefix("/compute/v2.1")
    flavors, links = nova_admin.page(request, flavors, "id", url)
    if not request.path.endswith("/detail"):
        flavors = [{"id": f["id"], "name": f["name"], "links": f["links"],
                    **({"description": f.get("description")} if version >= (2, 55) else {})}
                   for f in flavors]  # fmt: skip
    return respond({"flavors": flavors, **({"flavors_links": links} if links else {})}, version)


@routes.get("/compute/v2.1/flavors/{flavor_id}")
async def show_flavor(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    found = await _flavor(request, identity)
    document = documents.flavor(found, base_url=base_url(request), version=version)
    return respond({"flavor": document}, version)


def _size(asked: dict[str, Any], key: str, minimum: int) -> int:
    value = asked.get(key, 0 if key not in ("ram", "vcpus") else None)
    if value == "" and key == "swap":
        value = 0
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise Fault(400, f"Invalid input for field/attribute {key}. Value: {value}. "
                    f"{value!r} is not an integer of at least {minimum}")  # fmt: skip
    return value


@routes.post("/compute/v2.1/flavors")
async def create_flavor(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    body = await json_body(request)
    asked = body.get("flavor") if isinstance(body, dict) else None
    if not isinstance(asked, dict) or not isinstance(asked.get("name"), str) \
            or not asked["name"].strip():  # fmt: skip
        raise Fault(400, "Invalid input for field/attribute flavor. Value: "
                    f"{asked}. 'name' is a required property")  # fmt: skip
    spec: dict[str, Any] = {field: _size(asked, key, 1 if key in ("ram", "vcpus") else 0)
                            for key, field in _SIZES.items()}  # fmt: skip
    spec["rxtxFactor"] = float(asked.get("rxtx_factor", 1.0))
    spec["isPublic"] = bool(asked.get("os-flavor-access:is_public", True))
    if asked.get("description"):
        spec["description"] = str(asked["description"])
    kube = services(request).as_user(identity)
    existing = await kube.list(COMPUTE, "Flavor")
    display = asked["name"]
    if any(documents.display_name(f) == display for f in existing):
        raise Fault(409, f"Flavor with name {display} already exists.")
    name = documents.kube_name(display, {f["metadata"]["name"] for f in existing},
                               fallback="flavor")  # fmt: skip
    metadata: dict[str, Any] = {"name": name}
    if name != display:
        metadata["annotations"] = {documents.NAME_ANNOTATION: display}
    made = await kube.create({"apiVersion": COMPUTE, "kind": "Flavor", "metadata": metadata,
                              "spec": spec})  # fmt: skip
    document = documents.flavor(made, base_url=base_url(request), version=version)
    return respond({"flavor": document}, version)


@routes.delete("/compute/v2.1/flavors/{flavor_id}")
async def delete_flavor(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    found = await _flavor(request, identity)
    await services(request).as_user(identity).delete(COMPUTE, "Flavor", found["metadata"]["name"])
    return respond(None, version, status=202)


# -- extra specs ------------------------------------------------------------------------------


async def _patch_spec(request: web.Request, identity: Identity, found: dict[str, Any],
                      patch: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    kube = services(request).as_user(identity)
    return await kube.patch(COMPUTE, "Flavor", found["metadata"]["name"], None, {"spec": patch})


@routes.get("/compute/v2.1/flavors/{flavor_id}/os-extra_specs")
async def list_extra_specs(request: web.Request) -> web.Response:
    version = microversion(request)
    found = await _flavor(request, await identity_of(request))
    return respond({"extra_specs": dict((found.get("spec") or {}).get("extraSpecs") or {})},
                   version)  # fmt: skip


@routes.get("/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}")
async def show_extra_spec(request: web.Request) -> web.Response:
    version = microversion(request)
    found = await _flavor(request, await identity_of(request))
    key = request.match_info["key"]
    specs = (found.get("spec") or {}).get("extraSpecs") or {}
    if key not in specs:
        raise Fault(404, f"Flavor {request.match_info['flavor_id']} has no extra specs with key "
                    f"{key}.")  # fmt: skip
    return respond({key: specs[key]}, version)


def _specs(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and 0 < len(k) <= 255
                                              for k in value):  # fmt: skip
        raise Fault(400, f"Invalid input for field/attribute extra_specs. Value: {value}. "
                    "an object of keys of 1 to 255 characters")  # fmt: skip
    return {k: str(v) for k, v in value.items()}


@routes.post("/compute/v2.1/flavors/{flavor_id}/os-extra_specs")
async def set_extra_specs(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    found = await _flavor(request, identity)
    body = await json_body(request)
    specs = _specs((body or {}).get("extra_specs") if isinstance(body, dict) else None)
    await _patch_spec(request, identity, found, {"extraSpecs": specs})
    return respond({"extra_specs": specs}, version)


@routes.put("/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}")
async def set_extra_spec(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    found = await _flavor(request, identity)
    key = request.match_info["key"]
    specs = _specs(await json_body(request))
    if list(specs) != [key]:
        raise Fault(400, "Request body and URI mismatch")
    await _patch_spec(request, identity, found, {"extraSpecs": specs})
    return respond(specs, version)


@routes.delete("/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}")
async def delete_extra_spec(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    found = await _flavor(request, identity)
    key = request.match_info["key"]
    if key not in ((found.get("spec") or {}).get("extraSpecs") or {}):
        raise Fault(404, f"Flavor {request.match_info['flavor_id']} has no extra specs with key "
                    f"{key}.")  # fmt: skip
    await _patch_spec(request, identity, found, {"extraSpecs": {key: None}})
    return respond(None, version)


# -- access -----------------------------------------------------------------------------------


async def _access(request: web.Request, found: dict[str, Any]) -> list[dict[str, str]]:
    ids = {p["metadata"]["name"]: p["metadata"]["uid"]
           for p in await services(request).api.list(IDENTITY, "Project")}  # fmt: skip
    return [{"flavor_id": found["metadata"]["uid"], "tenant_id": ids.get(name, name)}
            for name in (found.get("spec") or {}).get("projects") or []]  # fmt: skip


@routes.get("/compute/v2.1/flavors/{flavor_id}/os-flavor-access")
async def list_access(request: web.Request) -> web.Response:
    version = microversion(request)
    identity = await identity_of(request)
    found = await _flavor(request, identity)
    if (found.get("spec") or {}).get("isPublic", True):
        raise Fault(404, "Access list not available for public flavors.")
    if not await _editor(request, identity):
        raise Fault(403, "Policy doesn't allow os_compute_api:os-flavor-access to be performed.")
    return respond({"flavor_access": await _access(request, found)}, version)


@routes.post("/compute/v2.1/flavors/{flavor_id}/action")
async def flavor_action(request: web.Request) -> web.Response:
    """addTenantAccess and removeTenantAccess: a project (by id) on the access list."""
    version = microversion(request)
    identity = await identity_of(request)
    found = await _flavor(request, identity)
    body = await json_body(request)
    action = next(iter(body), None) if isinstance(body, dict) and len(body) == 1 else None
    if action not in ("addTenantAccess", "removeTenantAccess"):
        raise Fault(400, f"There is no such action: {action}")
    tenant = (body[action] or {}).get("tenant") if isinstance(body[action], dict) else None
    projects = {p["metadata"]["uid"]: p["metadata"]["name"]
                for p in await services(request).api.list(IDENTITY, "Project")}  # fmt: skip
    name = projects.get(str(tenant), str(tenant) if tenant in projects.values() else None)
    if name is None:
        raise Fault(400, f"Project ID {tenant} is not a valid project.")
    spec = found.get("spec") or {}
    if spec.get("isPublic", True):
        raise Fault(409, "Can not add access to a public flavor.")
    held = list(spec.get("projects") or [])
    if action == "addTenantAccess":
        if name in held:
            raise Fault(409, f"Flavor access already exists for flavor {found['metadata']['uid']}"
                        f" and project {tenant} combination.")  # fmt: skip
        held.append(name)
    else:
        if name not in held:
            raise Fault(404, f"Flavor access not found for {found['metadata']['uid']} / {tenant} "
                        "combination.")  # fmt: skip
        held.remove(name)
    try:
        found = await _patch_spec(request, identity, found, {"projects": held})
    except client.ApiError as error:
        if error.status == 403:
            raise Fault(403, "Policy doesn't allow os_compute_api:os-flavor-access:"
                        f"{'add' if action.startswith('add') else 'remove'}_tenant_access to be "
                        "performed.") from None  # fmt: skip
        raise
    return respond({"flavor_access": await _access(request, found)}, version)
