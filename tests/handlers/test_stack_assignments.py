"""A stack's RouterGateway and FloatingIPAssociation, driven over objects in memory: each sets a
field of an object the stack may not own (a router made outside it, its own floating IP), and
unsets it when the template drops the resource or the stack goes, but only while the field
still holds what the stack set. The same paths run against the API server in
tests/integration/test_stack_assignments.py."""

from __future__ import annotations

import contextlib
import copy
import typing
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from nimbus.k8s import client
from nimbus.orchestration import handlers
from tests.handlers.world import Call, World

NS = "demo"
ROUTER = {"apiVersion": "network.nimbus.dev/v1alpha1", "kind": "Router",
          "metadata": {"name": "edge", "namespace": NS},
          "spec": {"interfaces": [{"subnet": "lan-v4"}]}}  # fmt: skip
PORT = {"apiVersion": "network.nimbus.dev/v1alpha1", "kind": "Port",
        "metadata": {"name": "web-port", "namespace": NS}, "spec": {"network": "lan"}}  # fmt: skip
TEMPLATE: dict[str, Any] = {
    "heat_template_version": "2018-08-31",
    "resources": {
        "gateway": {"type": "OS::Neutron::RouterGateway",
                    "properties": {"router_id": "edge", "network": "public"}},
        "fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": "public"}},
        "association": {"type": "OS::Neutron::FloatingIPAssociation",
                        "properties": {"floatingip_id": {"get_resource": "fip"},
                                       "port_id": "web-port"}},
    },
    "outputs": {"gateway": {"value": {"get_resource": "gateway"}},
                "association": {"value": {"get_resource": "association"}}},
}  # fmt: skip


class Cluster(World):
    """A world whose patches honour a resourceVersion they carry (409 when the object changed
    since), as the API server's do; `racing` is a user's change that lands just before the
    next patch of that object."""

    racing: dict[str, Any] | None = None

    async def patch(
        self, api_version: str, kind: str, name: str, namespace: str | None, patch: dict[str, Any]
    ) -> dict[str, Any]:
        if self.racing is not None and self.racing["metadata"]["name"] == name:
            self.put(self.racing)
            self.racing = None
        stored = self.objects[(api_version, kind, namespace, name)]
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != stored["metadata"]["resourceVersion"]:
            self.calls.append(Call("conflict", kind, name, namespace, copy.deepcopy(patch)))
            raise client.ApiError(409, "Conflict", "the object has been modified")
        return await super().patch(api_version, kind, name, namespace, patch)


def _world(template: dict[str, Any] = TEMPLATE) -> Cluster:
    stack = {"apiVersion": "orchestration.nimbus.dev/v1alpha1", "kind": "Stack",
             "metadata": {"name": "web", "namespace": NS},
             "spec": {"template": copy.deepcopy(template)}}  # fmt: skip
    return Cluster(stack, ROUTER, PORT)


async def _pass(world: World) -> str:
    body = world.body("Stack", "web", NS)
    with contextlib.suppress(kopf.TemporaryError):
        await handlers.stack(body=body, memo=world.memo(), **world.indexes())
    return str(world.find("Stack", "web", NS)["status"]["stackStatus"])


async def _delete(world: World) -> None:
    """The stack's delete handler, called again while it has objects left to delete."""
    # kopf's decorator hides the handler's type
    delete = typing.cast(Callable[..., Awaitable[None]], handlers.delete_stack)
    for _ in range(5):
        try:
            await delete(body=world.body("Stack", "web", NS), memo=world.memo(), **world.indexes())
        except kopf.TemporaryError:
            continue
        return
    raise AssertionError("the stack's delete did not end")


def _listed(world: World) -> dict[str, dict[str, Any]]:
    listed = world.find("Stack", "web", NS)["status"]["resources"]
    return {r["resourceName"]: r for r in listed}


async def _created(world: Cluster) -> None:
    assert await _pass(world) == "CREATE_IN_PROGRESS"
    fip = world.find("FloatingIP", "web-fip", NS)
    world.put({**fip, "status": {"status": "DOWN", "floatingIPAddress": "203.0.113.40"}})
    assert await _pass(world) == "CREATE_COMPLETE"


def _update(world: World, template: dict[str, Any]) -> None:
    stack = world.find("Stack", "web", NS)
    stack["spec"]["template"] = template
    stack["metadata"]["generation"] = 2
    world.put(stack)


async def test_a_gateway_and_an_association_set_their_objects_fields() -> None:
    world = _world()
    assert await _pass(world) == "CREATE_IN_PROGRESS"
    # the floating IP waits for the gateway to its network, the association for the address
    assert world.find("Router", "edge", NS)["spec"]["externalGateway"] == {"network": "public"}
    assert _listed(world)["gateway"]["resourceStatus"] == "CREATE_COMPLETE"
    assert _listed(world)["association"]["resourceStatus"] == "INIT_COMPLETE"
    fip = world.find("FloatingIP", "web-fip", NS)
    assert "port" not in fip["spec"]
    world.put({**fip, "status": {"status": "DOWN", "floatingIPAddress": "203.0.113.40"}})
    assert await _pass(world) == "CREATE_COMPLETE"
    assert world.find("FloatingIP", "web-fip", NS)["spec"]["port"] == "web-port"
    listed = _listed(world)
    assert listed["gateway"]["physicalResourceID"] == "edge:public"  # Heat's router:network
    assert listed["association"]["physicalResourceID"] == "web-fip/association"
    assert listed["gateway"]["requiredBy"] == ["fip"]
    outputs = {o["outputKey"]: o["outputValue"] for o in world.find("Stack", "web", NS)["status"]
               ["outputs"]}  # fmt: skip
    assert outputs == {"gateway": "edge:public", "association": "web-fip/association"}
    # the interfaces the router had stay: a merge patch of one field
    assert world.find("Router", "edge", NS)["spec"]["interfaces"] == [{"subnet": "lan-v4"}]
    world.calls.clear()
    assert await _pass(world) == "CREATE_COMPLETE"
    assert world.writes("patch") == []  # converged: they hold what was set


async def test_what_a_template_drops_is_unset_and_a_stack_delete_unsets_the_rest() -> None:
    world = _world()
    await _created(world)
    dropped = copy.deepcopy(TEMPLATE)
    del dropped["resources"]["association"]
    del dropped["outputs"]["association"]
    _update(world, dropped)
    assert await _pass(world) == "UPDATE_COMPLETE"
    fip = world.find("FloatingIP", "web-fip", NS)
    assert "port" not in fip["spec"]
    assert "fixedIPAddress" not in fip["spec"]
    await _delete(world)
    router = world.find("Router", "edge", NS)  # not the stack's: it stays, its gateway unset
    assert "externalGateway" not in router["spec"]
    assert router["spec"]["interfaces"] == [{"subnet": "lan-v4"}]
    assert "FloatingIP/web-fip" not in world.names()


async def test_a_field_someone_changed_since_is_left_as_they_set_it() -> None:
    world = _world()
    await _created(world)
    router = world.find("Router", "edge", NS)
    router["spec"]["externalGateway"] = {"network": "public2"}  # a user moved the gateway
    world.put(router)
    world.calls.clear()
    await _delete(world)
    assert world.find("Router", "edge", NS)["spec"]["externalGateway"] == {"network": "public2"}
    assert ("patch", "Router", "edge") not in world.writes("patch")


async def test_a_change_between_the_read_and_the_unset_is_not_undone() -> None:
    """The unset carries the resourceVersion it read: a user's change that lands in between
    makes it a 409, and the object read again no longer holds what the stack set."""
    world = _world()
    await _created(world)
    router = world.find("Router", "edge", NS)
    router["spec"]["externalGateway"] = {"network": "public", "enableSNAT": False}
    world.racing = router
    await _delete(world)
    assert ("conflict", "Router", "edge") in world.writes("conflict")
    assert world.find("Router", "edge", NS)["spec"]["externalGateway"] == {
        "network": "public",
        "enableSNAT": False,
    }


async def test_an_association_moved_to_another_floating_ip_gives_the_first_back() -> None:
    world = _world()
    await _created(world)
    other = {"apiVersion": "network.nimbus.dev/v1alpha1", "kind": "FloatingIP",
             "metadata": {"name": "fip-2", "namespace": NS},
             "spec": {"floatingNetwork": {"network": "public"}}}  # fmt: skip
    world.put(other)
    moved = copy.deepcopy(TEMPLATE)
    moved["resources"]["association"]["properties"]["floatingip_id"] = "fip-2"
    _update(world, moved)
    assert await _pass(world) == "UPDATE_COMPLETE"
    assert "port" not in world.find("FloatingIP", "web-fip", NS)["spec"]
    assert world.find("FloatingIP", "fip-2", NS)["spec"]["port"] == "web-port"
    assert _listed(world)["association"]["resourceStatus"] == "UPDATE_COMPLETE"


class Refusing(Cluster):
    """The API server refuses the router's patch, as the admission webhook refuses a gateway
    on a network that is not external."""

    async def patch(
        self, api_version: str, kind: str, name: str, namespace: str | None, patch: dict[str, Any]
    ) -> dict[str, Any]:
        if kind == "Router":
            raise client.ApiError(400, "BadRequest", "spec.externalGateway: Bad request: "
                                  "Network public is not a valid external network")  # fmt: skip
        return await super().patch(api_version, kind, name, namespace, patch)


async def test_a_refused_assignment_fails_the_resource_with_the_refusal() -> None:
    stack = {"apiVersion": "orchestration.nimbus.dev/v1alpha1", "kind": "Stack",
             "metadata": {"name": "web", "namespace": NS},
             "spec": {"template": copy.deepcopy(TEMPLATE)}}  # fmt: skip
    world = Refusing(stack, ROUTER, PORT)
    assert await _pass(world) == "CREATE_FAILED"
    reason = world.find("Stack", "web", NS)["status"]["stackStatusReason"]
    assert reason == (
        "Resource CREATE failed: resources.gateway: spec.externalGateway: Bad request: "
        "Network public is not a valid external network"
    )


async def test_a_router_not_there_yet_is_waited_for() -> None:
    stack = {"apiVersion": "orchestration.nimbus.dev/v1alpha1", "kind": "Stack",
             "metadata": {"name": "web", "namespace": NS},
             "spec": {"template": copy.deepcopy(TEMPLATE)}}  # fmt: skip
    world = Cluster(stack, PORT)
    assert await _pass(world) == "CREATE_IN_PROGRESS"
    gateway = _listed(world)["gateway"]
    assert (gateway["resourceStatus"], gateway["resourceStatusReason"]) == (
        "CREATE_IN_PROGRESS", "waiting for edge")  # fmt: skip
    world.put(ROUTER)
    await _pass(world)
    assert world.find("Router", "edge", NS)["spec"]["externalGateway"] == {"network": "public"}


async def test_a_gateway_replaces_the_whole_gateway_the_router_had() -> None:
    """A merge patch keeps the keys it does not name: the gateway's other keys (another
    project's network, an admin's fixed address) are nulled, so the router's gateway is the
    stack's, and the stack sees it converged."""
    world = _world({**TEMPLATE, "resources": {"gateway": TEMPLATE["resources"]["gateway"]},
                    "outputs": {}})  # fmt: skip
    router = world.find("Router", "edge", NS)
    router["spec"]["externalGateway"] = {
        "network": "public", "project": "admin", "enableSNAT": False,
        "externalFixedIPs": [{"ipAddress": "203.0.113.9"}]}  # fmt: skip
    world.put(router)
    assert await _pass(world) == "CREATE_COMPLETE"
    assert world.find("Router", "edge", NS)["spec"]["externalGateway"] == {"network": "public"}
    world.calls.clear()
    assert await _pass(world) == "CREATE_COMPLETE"
    assert world.writes("patch") == []
