"""A Stack's handler, driven over objects in memory: it converges wave by wave, each resource
made once what it needs is complete, and reports Heat's words at each pass; a resource that
fails fails the stack. The same paths run against the API server in
tests/integration/test_operator_stacks.py."""

from __future__ import annotations

import contextlib
from typing import Any

import kopf
import pytest

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
