"""Heat v1: a stack's resources, events and outputs, under /heat/v1/{project_id}/stacks/{name}/{id}.

Resources are the Stack's status.resources, with the uid of the object each made as its
physical_resource_id; events are derived (heat_events) from the Stack, those objects and the
Stack's Kubernetes Events when the caller may read them; outputs are those the operator
resolved. Every read is the caller's own."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nimbus.k8s import client
from nimbus.openstack import documents, heat, heat_documents, heat_events
from nimbus.openstack.heat_documents import truthy
from nimbus.openstack.service import Identity

routes = web.RouteTableDef()


# -- resources --------------------------------------------------------------------------------


@routes.get(heat.STACK + "/resources")
async def list_resources(request: web.Request) -> web.Response:
    """Filters: name, type, status (`COMPLETE` or `CREATE_COMPLETE`); with_detail adds each
    resource's attributes. Nested stacks' resources are their own stacks' (nested_depth is
    not followed: each resource that is a stack links to it, rel `nested`)."""
    identity = await heat.identity_of(request)
    stack = await heat.stack_of(request, identity)
    context = heat.context_of(request, identity)
    objects = await heat.children(request, identity, stack)
    query = request.query
    listed = []
    for entry in heat_documents.resources_of(stack):
        document = heat_documents.resource(entry, stack, context, objects.get(
            str(entry.get("resourceName"))), detail=truthy(query.get("with_detail")))  # fmt: skip
        word = document["resource_status"]
        if query.get("name") and document["resource_name"] != query["name"]:
            continue
        if query.get("type") and document["resource_type"] != query["type"]:
            continue
        if query.get("status") and query["status"] not in (word, word.split("_", 1)[-1]):
            continue
        listed.append(document)
    return web.json_response({"resources": listed})


async def _resource(request: web.Request) -> dict[str, Any]:
    """The resource of the path, in detail (its attributes and metadata), or Heat's 404."""
    identity = await heat.identity_of(request)
    stack = await heat.stack_of(request, identity)
    name = request.match_info["resource_name"]
    entry = next((e for e in heat_documents.resources_of(stack)
                  if e.get("resourceName") == name), None)  # fmt: skip
    if entry is None:
        raise heat.not_found("Resource", name)
    objects = await heat.children(request, identity, stack)
    return heat_documents.resource(entry, stack, heat.context_of(request, identity),
                                   objects.get(name), detail=True)  # fmt: skip


@routes.get(heat.STACK + "/resources/{resource_name}")
async def show_resource(request: web.Request) -> web.Response:
    """One resource, with its attributes and metadata."""
    return web.json_response({"resource": await _resource(request)})


@routes.get(heat.STACK + "/resources/{resource_name}/metadata")
async def resource_metadata(request: web.Request) -> web.Response:
    """A resource's metadata (`openstack stack resource metadata`), as its show has it."""
    return web.json_response({"metadata": (await _resource(request)).get("metadata") or {}})


# -- events -----------------------------------------------------------------------------------


async def _events(request: web.Request, identity: Identity, stack: dict[str, Any]
                  ) -> list[heat_events.Event]:  # fmt: skip
    """The stack's events: from itself and its objects, and its Kubernetes Events when the
    caller may list the namespace's Events (a project admin; members may not)."""
    objects = await heat.children(request, identity, stack)
    kube = heat.services(request).as_user(identity)
    try:
        kubernetes = await kube.list("v1", "Event", identity.namespace)
    except client.ApiError as error:
        if error.status != 403:
            raise
        kubernetes = []
    return heat_events.events(stack, objects, kubernetes)


@routes.get(heat.STACK + "/events")
async def list_events(request: web.Request) -> web.Response:
    """The stack's events (heat_events.select's parameters)."""
    identity = await heat.identity_of(request)
    stack = await heat.stack_of(request, identity)
    context = heat.context_of(request, identity)
    chosen = heat_events.select(await _events(request, identity, stack), request.query)
    return web.json_response({"events": [heat_events.document(e, stack, context)
                                         for e in chosen]})  # fmt: skip


def _resource_named(stack: dict[str, Any], name: str) -> None:
    """A resource of the stack (or the stack itself, whose events are its own), or Heat's 404."""
    if not any(e.get("resourceName") == name for e in heat_documents.resources_of(stack)) and \
            name != documents.display_name(stack):  # fmt: skip
        raise heat.not_found("Resource", name)


@routes.get(heat.STACK + "/resources/{resource_name}/events")
async def list_resource_events(request: web.Request) -> web.Response:
    """One resource's events."""
    identity = await heat.identity_of(request)
    stack = await heat.stack_of(request, identity)
    name = request.match_info["resource_name"]
    _resource_named(stack, name)
    query = {**request.query, "resource_name": name}
    chosen = heat_events.select(await _events(request, identity, stack), query)
    context = heat.context_of(request, identity)
    return web.json_response({"events": [heat_events.document(e, stack, context)
                                         for e in chosen]})  # fmt: skip


@routes.get(heat.STACK + "/resources/{resource_name}/events/{event_id}")
async def show_event(request: web.Request) -> web.Response:
    """One event, with its resource's type."""
    identity = await heat.identity_of(request)
    stack = await heat.stack_of(request, identity)
    name, wanted = request.match_info["resource_name"], request.match_info["event_id"]
    _resource_named(stack, name)
    found = next((e for e in await _events(request, identity, stack)
                  if e.id == wanted and e.resource_name == name), None)  # fmt: skip
    if found is None:
        raise heat.not_found("Event", wanted)
    document = heat_events.document(found, stack, heat.context_of(request, identity), detail=True)
    return web.json_response({"event": document})


# -- outputs ----------------------------------------------------------------------------------


@routes.get(heat.STACK + "/outputs")
async def list_outputs(request: web.Request) -> web.Response:
    """Heat's output list: each output's key and description (their values: output show)."""
    identity = await heat.identity_of(request)
    stack = await heat.stack_of(request, identity)
    outputs = [{"output_key": o["output_key"], "description": o["description"]}
               for o in heat_documents.outputs_of(stack)]  # fmt: skip
    return web.json_response({"outputs": outputs})


@routes.get(heat.STACK + "/outputs/{output_key}")
async def show_output(request: web.Request) -> web.Response:
    """One output, with its value (or output_error)."""
    identity = await heat.identity_of(request)
    stack = await heat.stack_of(request, identity)
    key = request.match_info["output_key"]
    found = next((o for o in heat_documents.outputs_of(stack) if o["output_key"] == key), None)
    if found is None:
        raise heat.fault(404, f"Specified output key {key} not found.", "NotFound")
    return web.json_response({"output": found})
