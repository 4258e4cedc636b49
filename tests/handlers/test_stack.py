"""A Stack's handler, driven over objects in memory: it converges wave by wave, each resource
made once what it needs is complete, and reports Heat's words at each pass; a resource that
fails fails the stack. The same paths run against the API server in
tests/integration/test_operator_stacks.py."""

from __future__ import annotations

import contextlib
import typing
from collections.abc import Awaitable, Callable
from typing import Any

import kopf
import pytest

from nimbus.k8s import client
from nimbus.orchestration import handlers
from tests.handlers.world import World

NS = "demo"
TEMPLATE = {
    "heat_template_version": "2018-08-31",
    "resources": {
        "net": {"type": "OS::Neutron::Net"},
        "sub": {"type": "OS::Neutron::Subnet",
                "properties": {"network": {"get_resource": "net"}, "cidr": "10.1.0.0/24"}},
        "vm": {"type": "OS::Nova::Server",
               "properties": {"image": "cirros", "flavor": "m1.tiny",
                              "networks": [{"network": {"get_resource": "net"}}]},
               "depends_on": ["sub"]},
    },
    "outputs": {"server": {"value": {"get_resource": "vm"}}},
}  # fmt: skip


def _stack() -> dict[str, Any]:
    return {"apiVersion": "orchestration.nimbus.dev/v1alpha1", "kind": "Stack",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"template": TEMPLATE}}  # fmt: skip


async def _pass(world: World) -> str:
    """One pass of the stack's handler, as kopf calls it; the status it leaves."""
    body = world.body("Stack", "web", NS)
    # kopf calls it again after a TemporaryError's delay: the test does, at once
    with contextlib.suppress(kopf.TemporaryError):
        await handlers.stack(body=body, memo=world.memo(), **world.indexes())
    return str(world.find("Stack", "web", NS)["status"]["stackStatus"])


def _become(world: World, kind: str, name: str, word: str) -> None:
    """What the object's own controller would do: report its status word."""
    found = world.find(kind, name, NS)
    world.put({**found, "status": {**(found.get("status") or {}), "status": word}})


def _made(world: World) -> list[tuple[str, str]]:
    return [(kind, name) for (verb, kind, name) in world.writes("apply") if kind != "Secret"]


async def test_a_stack_converges_wave_by_wave_and_reports_heat_s_words() -> None:
    world = World(_stack())
    assert await _pass(world) == "CREATE_IN_PROGRESS"
    assert _made(world) == [("Network", "web-net")]  # the subnet and server need the network
    _become(world, "Network", "web-net", "ACTIVE")
    assert await _pass(world) == "CREATE_IN_PROGRESS"
    assert ("Subnet", "web-sub") in _made(world)
    assert ("Server", "web-vm") not in _made(world)  # it depends on the subnet
    _become(world, "Subnet", "web-sub", "ACTIVE")
    await _pass(world)
    server = world.find("Server", "web-vm", NS)
    assert server["spec"]["networks"] == [{"network": "web-net"}]
    assert server["metadata"]["labels"]["orchestration.nimbus.dev/resource"] == "vm"
    _become(world, "Server", "web-vm", "ACTIVE")
    assert await _pass(world) == "CREATE_COMPLETE"
    status = world.find("Stack", "web", NS)["status"]
    assert status["stackStatusReason"] == "Stack CREATE completed successfully"
    assert status["outputs"] == [{"outputKey": "server", "outputValue": "web-vm"}]
    world.calls.clear()
    assert await _pass(world) == "CREATE_COMPLETE"
    assert _made(world) == []  # converged: a pass changes nothing


async def test_a_resource_that_fails_fails_the_stack_with_its_reason() -> None:
    world = World(_stack())
    await _pass(world)
    found = world.find("Network", "web-net", NS)
    world.put({**found, "status": {"status": "ERROR", "fault": {"message": "no segment left"}}})
    assert await _pass(world) == "CREATE_FAILED"
    reason = world.find("Stack", "web", NS)["status"]["stackStatusReason"]
    assert reason.startswith("Resource CREATE failed: "), reason
    assert "no segment left" in reason


@pytest.mark.parametrize(
    ("resources", "reason"),
    [
        ({"x": {"type": "OS::Nova::Nothing"}},
         'Resource x: the resource type "OS::Nova::Nothing" is not supported; supported are'),
        ({"x": {"type": "OS::Neutron::Net", "depends_on": ["y"]}},
         'The specified reference "y" (in x) is incorrect.'),
    ],
)  # fmt: skip
async def test_a_template_heat_refuses_fails_the_stack_and_makes_nothing(
    resources: dict[str, Any], reason: str
) -> None:
    stack = _stack()
    stack["spec"]["template"] = {"heat_template_version": "2018-08-31", "resources": resources}
    world = World(stack)
    with pytest.raises(kopf.PermanentError):
        await handlers.stack(
            body=world.body("Stack", "web", NS), memo=world.memo(), **world.indexes()
        )
    status = world.find("Stack", "web", NS)["status"]
    assert status["stackStatus"] == "CREATE_FAILED"
    assert reason in status["stackStatusReason"]
    assert _made(world) == []


async def test_an_update_reports_create_for_what_it_makes_and_update_for_what_it_changes() -> None:
    """Heat's words in an update: a new resource goes CREATE_IN_PROGRESS then CREATE_COMPLETE,
    a changed one UPDATE_*, and one left as it was keeps CREATE_COMPLETE."""
    world = World(_stack())
    for kind, name in (("Network", "web-net"), ("Subnet", "web-sub"), ("Server", "web-vm")):
        await _pass(world)
        _become(world, kind, name, "ACTIVE")
    server = world.find("Server", "web-vm", NS)
    world.put({**server, "status": {"status": "ACTIVE", "observedGeneration": 1}})
    assert await _pass(world) == "CREATE_COMPLETE"

    stack = world.find("Stack", "web", NS)
    template = stack["spec"]["template"]
    template["resources"]["vm"]["properties"]["flavor"] = "m1.small"  # a resize
    template["resources"]["vm2"] = {
        "type": "OS::Nova::Server",
        "properties": {"image": "cirros", "flavor": "m1.tiny",
                       "networks": [{"network": {"get_resource": "net"}}]},
        "depends_on": ["sub"],
    }  # fmt: skip
    stack["metadata"]["generation"] = 2
    world.put(stack)

    def words() -> dict[str, str]:
        listed = world.find("Stack", "web", NS)["status"]["resources"]
        return {r["resourceName"]: r["resourceStatus"] for r in listed}

    assert await _pass(world) == "UPDATE_IN_PROGRESS"
    assert words() == {"net": "CREATE_COMPLETE", "sub": "CREATE_COMPLETE",
                       "vm": "UPDATE_IN_PROGRESS", "vm2": "CREATE_IN_PROGRESS"}  # fmt: skip
    for name in ("web-vm", "web-vm2"):  # their controller saw the change and reports
        found = world.find("Server", name, NS)
        generation = found["metadata"]["generation"]
        world.put({**found, "status": {"status": "ACTIVE", "observedGeneration": generation}})
    assert await _pass(world) == "UPDATE_COMPLETE"
    assert words() == {"net": "CREATE_COMPLETE", "sub": "CREATE_COMPLETE",
                       "vm": "UPDATE_COMPLETE", "vm2": "CREATE_COMPLETE"}  # fmt: skip
    assert await _pass(world) == "UPDATE_COMPLETE"  # a pass more changes no word
    assert words()["vm2"] == "CREATE_COMPLETE"


ATTACHED = {
    "heat_template_version": "2018-08-31",
    "resources": {
        "vol": {"type": "OS::Cinder::Volume", "properties": {"size": 1}},
        "vm": {"type": "OS::Nova::Server", "properties": {"image": "cirros", "flavor": "m1.tiny"}},
        "attach": {"type": "OS::Cinder::VolumeAttachment",
                   "properties": {"instance_uuid": {"get_resource": "vm"},
                                  "volume_id": {"get_resource": "vol"}}},
    },
}  # fmt: skip


class Vanishing(World):
    """A world where a server is deleted (by a user, its owner) between the stack's read of it
    and its patch: the API server answers the patch 404."""

    vanishing = False

    async def patch(
        self, api_version: str, kind: str, name: str, namespace: str | None, patch: dict[str, Any]
    ) -> dict[str, Any]:
        if self.vanishing and kind == "Server":
            del self.objects[(api_version, kind, namespace, name)]
            raise client.ApiError(404, "NotFound", f'servers.compute.nimbus.dev "{name}" not found')
        return await super().patch(api_version, kind, name, namespace, patch)


async def test_a_delete_takes_an_object_gone_meanwhile_as_done_without_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stack = _stack()
    stack["spec"]["template"] = ATTACHED
    world = Vanishing(stack)
    await _pass(world)
    _become(world, "Volume", "web-vol", "available")
    _become(world, "Server", "web-vm", "ACTIVE")
    assert await _pass(world) == "CREATE_COMPLETE"
    assert world.find("Server", "web-vm", NS)["spec"]["volumes"] == [{"volume": "web-vol"}]

    world.vanishing = True
    # the delete goes on (its next wave later), no ApiError for kopf to log with a traceback
    delete = typing.cast(Callable[..., Awaitable[None]], handlers.delete_stack)
    with pytest.raises(kopf.TemporaryError, match="stack delete in progress"):
        await delete(body=world.body("Stack", "web", NS), memo=world.memo(), **world.indexes())
    assert ("delete", "Volume", "web-vol") in world.writes("delete")
    assert [r for r in caplog.records if r.levelname in ("ERROR", "WARNING")] == []
