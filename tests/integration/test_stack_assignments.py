"""A stack's RouterGateway and FloatingIPAssociation on the local cloud: each sets a field of an
object through the API server (a router made outside the stack, the stack's own floating IP and
router), the floating IP is routed through that router, a template that drops the association
unsets the port, and the stack's delete leaves the outside router with its gateway unset. The
stack's own router keeps the gateway when the stack applies the router again (the gateway is
not a field the stack's apply owns)."""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

import pytest
import yaml

from tests.integration.conftest import Cloud, wait_for

pytestmark = pytest.mark.timeout(120)
STACK = "stacks.orchestration.nimbus.dev"
ROUTERS = "routers.network.nimbus.dev"
FLOATING_IPS = "floatingips.network.nimbus.dev"
PUBLIC = """
apiVersion: network.nimbus.dev/v1alpha1
kind: Network
metadata: {name: public}
spec: {external: true}
---
apiVersion: network.nimbus.dev/v1alpha1
kind: Subnet
metadata: {name: public-v4}
spec: {network: public, cidr: 203.0.113.0/24, allocationPools: [{start: 203.0.113.40, end: 203.0.113.49}]}
"""  # noqa: E501
EDGE = """
apiVersion: network.nimbus.dev/v1alpha1
kind: Router
metadata: {name: edge}
"""
# The router is one made outside the stack (external_id): the stack changes it, never owns it.
TEMPLATE = """
heat_template_version: 2018-08-31
resources:
  router: {type: OS::Neutron::Router, external_id: edge}
  net: {type: OS::Neutron::Net}
  subnet:
    type: OS::Neutron::Subnet
    properties: {network: {get_resource: net}, cidr: 10.40.0.0/24}
  interface:
    type: OS::Neutron::RouterInterface
    properties: {router: {get_resource: router}, subnet: {get_resource: subnet}}
  gateway:
    type: OS::Neutron::RouterGateway
    properties: {router_id: {get_resource: router}, network: public}
  port:
    type: OS::Neutron::Port
    properties:
      network: {get_resource: net}
      fixed_ips: [{subnet: {get_resource: subnet}, ip_address: 10.40.0.50}]
  fip:
    type: OS::Neutron::FloatingIP
    properties: {floating_network: public}
  association:
    type: OS::Neutron::FloatingIPAssociation
    properties: {floatingip_id: {get_resource: fip}, port_id: {get_resource: port}}
outputs:
  gateway: {value: {get_resource: gateway}}
  address: {value: {get_attr: [fip, floating_ip_address]}}
"""
# The stack's own router, its gateway set by a RouterGateway.
OWN = """
heat_template_version: 2018-08-31
parameters:
  up: {type: boolean, default: true}
resources:
  router:
    type: OS::Neutron::Router
    properties: {admin_state_up: {get_param: up}}
  gateway:
    type: OS::Neutron::RouterGateway
    properties: {router_id: {get_resource: router}, network: public}
"""


def _stack(name: str, template: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "orchestration.nimbus.dev/v1alpha1", "kind": "Stack",
            "metadata": {"name": name}, "spec": {"template": template, **spec}}  # fmt: skip


def _status(cloud: Cloud, name: str, ns: str, word: str, timeout: float = 90) -> dict[str, Any]:
    try:
        return wait_for(cloud, STACK, name, ns, "{.status.stackStatus}", word, timeout=timeout)
    except AssertionError as error:
        status = cloud.get(STACK, name, ns).get("status")
        raise AssertionError(f"{error}; status: {yaml.safe_dump(status)}") from None


def test_a_gateway_and_an_association_on_a_router_made_outside_the_stack(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    ns = cloud.namespace()
    cloud.apply_text(PUBLIC + "---" + EDGE, ns)
    cloud.apply_text(yaml.safe_dump(_stack("st", TEMPLATE)), ns)
    stack = _status(cloud, "st", ns, "CREATE_COMPLETE")
    edge = cloud.get(ROUTERS, "edge", ns)
    assert edge["spec"]["externalGateway"] == {"network": "public", "enableSNAT": True}
    assert edge["spec"]["interfaces"] == [{"subnet": "st-subnet"}]
    assert "ownerReferences" not in edge["metadata"]
    fip = cloud.get(FLOATING_IPS, "st-fip", ns)
    assert fip["spec"]["port"] == "st-port"
    listed = {r["resourceName"]: r for r in stack["status"]["resources"]}
    assert listed["gateway"]["physicalResourceID"] == "edge:public"
    assert listed["association"]["physicalResourceID"] == "st-fip/association"
    # Heat's implicit edges: the floating IP waits for the gateway to its network, the
    # gateway for its router's interface, the association for the interface on its port's subnet
    assert listed["gateway"]["requiredBy"] == ["fip"]
    assert listed["interface"]["requiredBy"] == ["association", "gateway"]
    outputs = {o["outputKey"]: o["outputValue"] for o in stack["status"]["outputs"]}
    assert outputs["gateway"] == "edge:public"
    assert outputs["address"].startswith("203.0.113.4")
    # the router NATs it: the association reached the data path's plan
    routed = wait_for(cloud, FLOATING_IPS, "st-fip", ns, "{.status.router}", "edge")
    assert routed["status"]["fixedIPAddress"] == "10.40.0.50"

    # An update that drops the association unsets the floating IP's port.
    dropped = TEMPLATE.replace(
        "  association:\n    type: OS::Neutron::FloatingIPAssociation\n"
        "    properties: {floatingip_id: {get_resource: fip}, port_id: {get_resource: port}}\n",
        "",
    )
    assert dropped != TEMPLATE
    cloud.apply_text(yaml.safe_dump(_stack("st", dropped)), ns)
    _status(cloud, "st", ns, "UPDATE_COMPLETE")
    fip = cloud.get(FLOATING_IPS, "st-fip", ns)
    assert "port" not in fip["spec"]
    assert "fixedIPAddress" not in fip["spec"]

    # The delete leaves the router, which is not the stack's, with no gateway and no interface.
    cloud.kubectl("delete", STACK, "st", "-n", ns, "--timeout=90s")
    edge = cloud.get(ROUTERS, "edge", ns)
    assert "externalGateway" not in edge["spec"]
    assert edge["spec"]["interfaces"] == []
    assert cloud.kubectl("get", FLOATING_IPS, "-n", ns, "-o", "name").stdout == ""


def _agent_applies(cloud: Cloud, router: str, ns: str) -> None:
    """What the router agent in the router pod does once it programmed the data path: report
    the router's plan applied (the control plane runs no router pod's agent)."""
    got = cloud.get(ROUTERS, router, ns).get("status") or {}
    plan = got.get("plan")
    if plan and (got.get("dataPath") or {}).get("plan") != plan:
        patch = json.dumps({"status": {"dataPath": {"plan": plan, "agent": "test"}}})
        cloud.kubectl("patch", ROUTERS, router, "-n", ns, "--subresource=status",
                      "--type=merge", "-p", patch)  # fmt: skip


def test_the_stacks_own_router_keeps_the_gateway_when_applied_again(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    ns = cloud.namespace()
    cloud.apply_text(PUBLIC, ns)
    # administratively down: the router is complete DOWN, with no agent to program it
    cloud.apply_text(yaml.safe_dump(_stack("own", OWN, parameters={"up": False})), ns)
    _status(cloud, "own", ns, "CREATE_COMPLETE")
    router = cloud.get(ROUTERS, "own-router", ns)
    assert router["spec"]["externalGateway"] == {"network": "public", "enableSNAT": True}
    # An update that changes the router applies it again, without the gateway, which its apply
    # does not own: the gateway stays, and the router comes up with it.
    cloud.apply_text(yaml.safe_dump(_stack("own", OWN, parameters={"up": True})), ns)
    deadline = time.monotonic() + 60
    while cloud.get(STACK, "own", ns)["status"]["stackStatus"] != "UPDATE_COMPLETE":
        assert time.monotonic() < deadline, cloud.get(STACK, "own", ns)["status"]
        _agent_applies(cloud, "own-router", ns)
        time.sleep(0.5)
    stack = cloud.get(STACK, "own", ns)
    router = cloud.get(ROUTERS, "own-router", ns)
    assert router["spec"]["adminStateUp"] is True
    assert router["spec"]["externalGateway"] == {"network": "public", "enableSNAT": True}
    assert router["status"]["externalGateway"]["ipAddress"].startswith("203.0.113.4")
    listed = {r["resourceName"]: r["resourceStatus"] for r in stack["status"]["resources"]}
    assert listed == {"router": "UPDATE_COMPLETE", "gateway": "CREATE_COMPLETE"}
