"""Heat v1 over the Stack kind at /heat/v1/{project_id}: version discovery, stacks (list,
create, Heat's lookup redirect, show, update, delete; abandon refused as Heat refuses it by
default), a stack's template, environment and files, template validation and the resource
types (a stack's resources, events and outputs in heat_resources).

Every call to Kubernetes acts as the token's user (service.Services.as_user): what RBAC lets
them see is what they see, another project's stack is Heat's 404, and a reader's create is
Kubernetes' refusal in Heat's 403."""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar
from urllib import parse

from aiohttp import web

from nimbus.api import kinds
from nimbus.k8s import client
from nimbus.openstack import documents, heat_documents, heat_requests, heat_templates
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Identity, Services
from nimbus.orchestration.hot import template as hot_template

routes = web.RouteTableDef()
STACKS = "orchestration.nimbus.dev/v1alpha1"
V1 = "/heat/v1/{project_id}"
STACK = V1 + "/stacks/{stack_name}/{stack_id}"
# What Heat's lookup redirects with the rest of the path (heat.api.openstack.v1's subpaths).
SUBPATHS = ("resources", "events", "template", "actions", "environment", "files")
_DENIED = "denied the request: "
Written = TypeVar("Written")


def services(request: web.Request) -> Services:
    found: Services = request.app["services"]
    return found


def fault(code: int, message: str, kind: str = "") -> Fault:
    """An error in Heat's shape (`kind`: the name of Heat's exception)."""
    return Fault(code, message, style="heat", kind=kind)


def not_found(what: str, name: str) -> Fault:
    """Heat's EntityNotFound: `The Stack (web) could not be found.`"""
    return fault(404, f"The {what} ({name}) could not be found.", "EntityNotFound")


# -- versions ---------------------------------------------------------------------------------


@routes.get("/heat")
@routes.get("/heat/")
async def versions(request: web.Request) -> web.Response:
    """Heat's version list, with its 300 Multiple Choices."""
    url = services(request).config.public_url.rstrip("/") + "/heat/v1/"
    document = {"versions": [{"id": "v1.0", "status": "CURRENT",
                              "links": [{"href": url, "rel": "self"}]}]}  # fmt: skip
    return web.json_response(document, status=300)


@routes.get(V1 + "/build_info")
async def build_info(request: web.Request) -> web.Response:
    """Heat's build info: the API's and the engine's revision."""
    await identity_of(request)
    return web.json_response({"api": {"revision": "nimbus"}, "engine": {"revision": "nimbus"}})


# -- what every route shares ------------------------------------------------------------------


async def identity_of(request: web.Request) -> Identity:
    """The token's identity, scoped to the project the URL names (Heat's 403 for another)."""
    identity = await services(request).verify(request.headers.get("X-Auth-Token"))
    if identity.project is None:
        raise fault(403, "This action requires a project-scoped token.", "Forbidden")
    wanted, own = request.match_info.get("project_id"), identity.project["metadata"]["uid"]
    if wanted is not None and wanted != own:
        raise fault(403, f"Access was denied to this resource: the URL names the project "
                         f"{wanted}, the token is scoped to {own}.", "Forbidden")  # fmt: skip
    return identity


def context_of(request: web.Request, identity: Identity) -> heat_documents.Context:
    project = str(identity.project["metadata"]["uid"]) if identity.project else ""
    base = services(request).config.public_url.rstrip("/") + f"/heat/v1/{project}"
    return heat_documents.Context(base_url=base, project_id=project)


async def project_stacks(request: web.Request, identity: Identity) -> list[dict[str, Any]]:
    kube = services(request).as_user(identity)
    return await kube.list(STACKS, "Stack", identity.namespace)


def lookup(stacks: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
    """A stack by its id, name or Kubernetes name, or Heat's 404."""
    for key in (documents.uid, documents.display_name):
        found = next((s for s in stacks if key(s) == wanted), None)
        if found is not None:
            return found
    found = next((s for s in stacks if s["metadata"]["name"] == wanted), None)
    if found is None:
        raise not_found("Stack", wanted)
    return found


async def stack_of(request: web.Request, identity: Identity) -> dict[str, Any]:
    """The stack /stacks/{name}/{id} names: that id, and that name (or its Kubernetes name)."""
    name, ident = request.match_info["stack_name"], request.match_info["stack_id"]
    for found in await project_stacks(request, identity):
        if documents.uid(found) == ident and name in (documents.display_name(found),
                                                      found["metadata"]["name"]):  # fmt: skip
            return found
    raise not_found("Stack", name)


async def json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise fault(400, "The request body could not be read as JSON.") from None


async def written(call: Awaitable[Written], action: str) -> Written:
    """A write as the caller; Kubernetes' refusals in Heat's words: RBAC's as Heat's policy
    refusal, the admission webhook's (the engine's validation, the requester's rights, the
    size) as the engine's."""
    try:
        return await call
    except client.ApiError as error:
        if _DENIED in error.message:
            message = error.message.split(_DENIED, 1)[1]
            for prefix in ("spec.template: ", "spec: "):
                message = message.removeprefix(prefix)
            if error.status == 403:
                raise fault(403, message, "Forbidden") from None
            raise fault(400, message, heat_templates.error_type(message)) from None
        if error.status == 403:
            raise fault(403, f"You are not authorized to use {action}. ({error.message})",
                             "Forbidden") from None  # fmt: skip
        if error.status == 409:
            raise fault(409, f"The stack was changed meanwhile; try again. "
                             f"({error.message})", "HTTPConflict") from None  # fmt: skip
        raise


def _refused(refusal: heat_requests.Refused) -> Fault:
    return fault(refusal.code, refusal.message, refusal.kind)


async def children(request: web.Request, identity: Identity, stack: Mapping[str, Any]
                   ) -> dict[str, dict[str, Any]]:  # fmt: skip
    """The live objects of a stack's resources, by resource name: each kind read once as the
    caller (a cluster-wide flavor by its name); what the caller may not read is left out."""
    kube = services(request).as_user(identity)
    wanted: dict[str, list[tuple[str, str]]] = {}  # kind -> (resource, object name)
    for entry in heat_documents.resources_of(stack):
        kind, physical = heat_documents.kind_of(entry, stack), entry.get("physicalResourceID")
        if kind is not None and physical:
            wanted.setdefault(kind, []).append((str(entry["resourceName"]), str(physical)))

    async def read(kind_name: str, names: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
        kind = kinds.BY_KIND[kind_name]
        try:
            if kind.scope == "Namespaced":
                listed = {o["metadata"]["name"]: o for o in await kube.list(
                    kind.api_version_name(), kind_name, identity.namespace)}  # fmt: skip
            else:
                got = [await kube.get(kind.api_version_name(), kind_name, n) for _, n in names]
                listed = {o["metadata"]["name"]: o for o in got if o is not None}
        except client.ApiError as error:
            if error.status != 403:
                raise
            return {}
        return {resource: listed[n] for resource, n in names if n in listed}

    found: dict[str, dict[str, Any]] = {}
    for part in await asyncio.gather(*(read(k, n) for k, n in wanted.items())):
        found.update(part)
    return found


# -- stacks -----------------------------------------------------------------------------------

_SORT_KEYS = {"stack_name": "stack_name", "name": "stack_name", "stack_status": "stack_status",
              "status": "stack_status", "creation_time": "creation_time",
              "created_at": "creation_time", "updated_time": "updated_time",
              "updated_at": "updated_time"}  # fmt: skip


@routes.get(V1 + "/stacks")
@routes.get(V1 + "/stacks/detail")
async def list_stacks(request: web.Request) -> web.Response:
    """Heat's list: its filters (heat_documents.matches), newest first unless sort_keys and
    sort_dir say otherwise, and `limit` and `marker` (a stack id) pages."""
    identity = await identity_of(request)
    context = context_of(request, identity)
    query = request.query
    stacks = [s for s in await project_stacks(request, identity)
              if heat_documents.matches(s, query)]  # fmt: skip
    listed = [heat_documents.stack_summary(s, context) for s in stacks]
    key = _SORT_KEYS.get(str(query.get("sort_keys") or "").split(",")[0], "creation_time")
    ascending = str(query.get("sort_dir") or "desc").lower() == "asc"
    listed.sort(key=lambda s: (str(s.get(key) or ""), s["id"]), reverse=not ascending)
    marker = query.get("marker")
    if marker:
        at = next((i for i, s in enumerate(listed) if s["id"] == marker), None)
        if at is None:
            raise not_found("Stack", marker)
        listed = listed[at + 1 :]
    limit = str(query.get("limit") or "")
    if limit.isdigit():
        listed = listed[: int(limit)]
    return web.json_response({"stacks": listed})


@routes.post(V1 + "/stacks")
async def create_stack(request: web.Request) -> web.Response:
    """Heat's create: a Stack made as the caller (201); the operator does the rest. A name
    Kubernetes cannot hold (capitals, `_`, `.`) gets a DNS label made from it, the name itself
    kept in documents.NAME_ANNOTATION, as Nova's server create does."""
    identity = await identity_of(request)
    body = await json_body(request)
    try:
        name, spec = heat_requests.create(body)
    except heat_requests.Refused as refusal:
        raise _refused(refusal) from None
    stacks = await project_stacks(request, identity)
    if any(documents.display_name(s) == name for s in stacks):
        raise fault(409, f"The Stack ({name}) already exists.", "StackExists")
    taken = {s["metadata"]["name"] for s in stacks}
    kube_name = documents.kube_name(name, taken, fallback="stack")
    metadata: dict[str, Any] = {"name": kube_name, "namespace": identity.namespace}
    if kube_name != name:
        metadata["annotations"] = {documents.NAME_ANNOTATION: name}
    kube = services(request).as_user(identity)
    stack = {"apiVersion": STACKS, "kind": "Stack", "metadata": metadata, "spec": spec}
    made = await written(kube.create(stack), "stacks:create")
    context = context_of(request, identity)
    document = {"id": documents.uid(made), "links": [{"href": context.stack_url(made),
                                                      "rel": "self"}]}  # fmt: skip
    return web.json_response({"stack": document}, status=201)


def redirect(request: web.Request, stack: Mapping[str, Any], rest: str = "") -> web.Response:
    """Heat's lookup: 302 to the stack's canonical URL (/stacks/{name}/{id}), with the rest of
    the path and the query, which python-heatclient follows (and reads ids from)."""
    base = services(request).config.public_url.rstrip("/")
    name = parse.quote(documents.display_name(stack), safe="")
    location = f"{base}/heat/v1/{request.match_info['project_id']}/stacks/{name}/" \
        f"{documents.uid(stack)}" + (f"/{rest}" if rest else "")  # fmt: skip
    if request.query_string:
        location += f"?{request.query_string}"
    return web.Response(status=302, headers={"Location": location})


@routes.post(V1 + "/stacks/preview")
async def preview_stack(request: web.Request) -> web.Response:
    """Heat's preview (`openstack stack create --dry-run`) is not served: said plainly, before
    the lookup below would look for a stack named `preview`."""
    await identity_of(request)
    raise fault(400, "Stack preview is not supported.", "NotSupported")


@routes.route("*", V1 + "/stacks/{stack_name}")
async def lookup_stack(request: web.Request) -> web.Response:
    """/stacks/{name or id}, whatever the method: Heat's 302 to /stacks/{name}/{id}."""
    identity = await identity_of(request)
    stack = lookup(await project_stacks(request, identity), request.match_info["stack_name"])
    return redirect(request, stack)


@routes.get(STACK)
async def show_stack(request: web.Request) -> web.Response:
    """The stack (outputs unless resolve_outputs=False); /stacks/{name}/resources and the
    other subpaths are Heat's lookup, a 302 to the same under /stacks/{name}/{id}."""
    identity = await identity_of(request)
    if request.match_info["stack_id"] in SUBPATHS:
        stacks = await project_stacks(request, identity)
        stack = lookup(stacks, request.match_info["stack_name"])
        return redirect(request, stack, request.match_info["stack_id"])
    stack = await stack_of(request, identity)
    resolve = str(request.query.get("resolve_outputs", "true")).lower() not in ("false", "0")
    document = heat_documents.stack(stack, context_of(request, identity), resolve_outputs=resolve)
    return web.json_response({"stack": document})


async def _update(request: web.Request, *, existing: bool) -> web.Response:
    """PUT and PATCH: the Stack replaced as the caller with its new spec (and the moment of
    the request in heat_documents.UPDATED_ANNOTATION), read again and retried when it changed
    meanwhile (the operator writes its annotations)."""
    identity = await identity_of(request)
    body = await json_body(request)
    kube = services(request).as_user(identity)
    for attempt in range(5):
        stack = await stack_of(request, identity)
        now = heat_documents.state(stack)
        if now.word == "DELETE_IN_PROGRESS":
            raise fault(409, f"Stack {documents.display_name(stack)} already has an action "
                             "(DELETE) in progress.", "ActionInProgress")  # fmt: skip
        try:
            spec = heat_requests.update(stack.get("spec") or {}, body, existing=existing)
        except heat_requests.Refused as refusal:
            raise _refused(refusal) from None
        metadata = {k: v for k, v in stack["metadata"].items() if k != "managedFields"}
        stamp = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
        metadata["annotations"] = {**(metadata.get("annotations") or {}),
                                   heat_documents.UPDATED_ANNOTATION: stamp}  # fmt: skip
        replaced = {**{k: v for k, v in stack.items() if k != "status"}, "metadata": metadata,
                    "spec": spec}  # fmt: skip
        try:
            await written(kube.replace(replaced), "stacks:update")
        except Fault as refused:
            if refused.code != 409 or attempt == 4:
                raise
            continue
        break
    return web.Response(status=202)


@routes.put(STACK)
async def update_stack(request: web.Request) -> web.Response:
    """Heat's PUT: a whole new template, parameters, files and environment."""
    return await _update(request, existing=False)


@routes.patch(STACK)
async def patch_stack(request: web.Request) -> web.Response:
    """Heat's PATCH (`--existing`): what is given merged into what the stack has."""
    return await _update(request, existing=True)


@routes.delete(STACK)
async def delete_stack(request: web.Request) -> web.Response:
    """The Stack deleted as the caller (204): the operator deletes what it made, last wave
    first, but what deletion_policy retains; the stack is DELETE_IN_PROGRESS until it is gone."""
    identity = await identity_of(request)
    stack = await stack_of(request, identity)
    kube = services(request).as_user(identity)
    await written(kube.delete(STACKS, "Stack", stack["metadata"]["name"], identity.namespace),
                  "stacks:delete")  # fmt: skip
    return web.Response(status=204)


@routes.delete(STACK + "/abandon")
async def abandon_stack(request: web.Request) -> web.Response:
    """Heat's answer with enable_stack_abandon off, its default: the stack's attachments and
    rules live in other objects, which a Stack's delete takes back, so nothing is abandoned."""
    identity = await identity_of(request)
    await stack_of(request, identity)
    raise fault(400, "Stack Abandon is not supported.", "NotSupported")


# Heat's stack actions (POST .../actions {"suspend": null}, ...).
ACTIONS = ("suspend", "resume", "check", "cancel_update", "cancel_without_rollback")


@routes.post(V1 + "/stacks/{stack_name}/actions")
@routes.post(STACK + "/actions")
async def stack_action(request: web.Request) -> web.Response:
    """`openstack stack suspend`, `resume`, `check` and the cancels: not served, said plainly
    for a stack the caller has (a server is suspended, resumed or checked on its own)."""
    identity = await identity_of(request)
    if "stack_id" in request.match_info:
        stack = await stack_of(request, identity)
    else:
        stack = lookup(await project_stacks(request, identity), request.match_info["stack_name"])
    body = await json_body(request)
    action = next(iter(body)) if isinstance(body, dict) and len(body) == 1 else None
    if action not in ACTIONS:
        raise fault(400, f"Invalid action {action if action else body}", "HTTPBadRequest")
    raise fault(400, f"Stack {documents.display_name(stack)}: the {action} action is not "
                "supported.", "NotSupported")  # fmt: skip


@routes.get(STACK + "/template")
async def show_template(request: web.Request) -> web.Response:
    """The stack's template, as an object."""
    identity = await identity_of(request)
    return web.json_response(heat_documents.template_of(await stack_of(request, identity)))


@routes.get(STACK + "/environment")
async def show_environment(request: web.Request) -> web.Response:
    """The stack's environment, with Heat's sections."""
    identity = await identity_of(request)
    environment = heat_documents.environment_of(await stack_of(request, identity))
    sections: dict[str, Any] = {"parameters": {}, "parameter_defaults": {},
                                "resource_registry": {}, "event_sinks": [],
                                "encrypted_param_names": []}  # fmt: skip
    return web.json_response({**sections, **environment})


@routes.get(STACK + "/files")
async def show_files(request: web.Request) -> web.Response:
    """The stack's files, by name."""
    identity = await identity_of(request)
    stack = await stack_of(request, identity)
    return web.json_response(dict((stack.get("spec") or {}).get("files") or {}))


# -- templates --------------------------------------------------------------------------------


@routes.post(V1 + "/validate")
async def validate(request: web.Request) -> web.Response:
    """Heat's template validate: the template's description and parameters, or the engine's
    refusal (a 400 naming Heat's exception)."""
    await identity_of(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise fault(400, "The request body must be a JSON object")
    try:
        answer = heat_templates.validate(body)
    except hot_template.HotError as error:
        message = str(error)
        raise fault(400, message, heat_templates.error_type(message)) from None
    # YAML's dates (a default of 2018-08-31) as text, as Heat's parser keeps them
    return web.json_response(answer, dumps=lambda d: json.dumps(d, default=str))


@routes.get(V1 + "/resource_types")
async def resource_types(request: web.Request) -> web.Response:
    """The resource types a Stack makes (with_description: and what each makes)."""
    await identity_of(request)
    return web.json_response({"resource_types": heat_templates.resource_type_list(request.query)})


@routes.get(V1 + "/resource_types/{type_name}")
async def resource_type(request: web.Request) -> web.Response:
    """Heat's schema of a type a Stack makes: its properties, attributes and support status
    (with_description: and what it makes). A type Heat hides is "not supported", as Heat's."""
    await identity_of(request)
    kind = request.match_info["type_name"]
    if kind in heat_templates.HIDDEN:
        raise fault(400, f"{kind} is not supported.", "NotSupported")
    described = heat_documents.truthy(request.query.get("with_description"))
    schema = heat_templates.resource_type_schema(kind, with_description=described)
    if schema is None:
        raise not_found("Resource Type", kind)
    return web.json_response(schema)


@routes.get(V1 + "/template_versions")
async def template_versions(request: web.Request) -> web.Response:
    await identity_of(request)
    return web.json_response({"template_versions": heat_templates.template_versions()})


@routes.get(V1 + "/template_versions/{template_version}/functions")
async def template_functions(request: web.Request) -> web.Response:
    """The functions of one version (`with_condition_func=true`: and the condition ones)."""
    await identity_of(request)
    version = request.match_info["template_version"]
    conditions = heat_documents.truthy(request.query.get("with_condition_func"))
    found = heat_templates.template_functions(version, conditions=conditions)
    if found is None:
        raise fault(404, f"Template with version {version} not found", "NotFound")
    return web.json_response({"template_functions": found})
