"""Stacks on the local cloud: a HOT template becomes Nimbus objects in waves, with Heat's
statuses and outputs; an update adds a server and changes a flavor; a delete leaves only what
is retained; a bad resource fails the stack with Heat's reason."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml

from tests.integration.conftest import CIRROS, Cloud, flavors, wait_for

pytestmark = pytest.mark.timeout(300)
STACK = "stacks.orchestration.nimbus.dev"
TEMPLATE = """
heat_template_version: wallaby
description: Two servers on a private network, a volume attached to the first.
parameters:
  image: {type: string, default: cirros, constraints: [{custom_constraint: glance.image}]}
  flavor: {type: string, default: h1.tiny, constraints: [{custom_constraint: nova.flavor}]}
resources:
  net: {type: OS::Neutron::Net}
  subnet:
    type: OS::Neutron::Subnet
    properties: {network: {get_resource: net}, cidr: 10.20.0.0/24}
  web_sg:
    type: OS::Neutron::SecurityGroup
    properties:
      rules: [{protocol: tcp, port_range_min: 80, port_range_max: 80}]
  port:
    type: OS::Neutron::Port
    depends_on: subnet
    properties:
      network: {get_resource: net}
      fixed_ips: [{ip_address: 10.20.0.50}]
  data:
    type: OS::Cinder::Volume
    deletion_policy: Retain
    properties: {size: 1}
  web_1:
    type: OS::Nova::Server
    properties:
      image: {get_param: image}
      flavor: {get_param: flavor}
      networks: [{port: {get_resource: port}}]
      security_groups: [{get_resource: web_sg}]
  web_2:
    type: OS::Nova::Server
    depends_on: subnet
    properties:
      image: {get_param: image}
      flavor: {get_param: flavor}
      networks: [{network: {get_resource: net}}]
  attach:
    type: OS::Cinder::VolumeAttachment
    properties:
      instance_uuid: {get_resource: web_1}
      volume_id: {get_resource: data}
outputs:
  web_1_ip:
    description: The first server's address
    value: {get_attr: [web_1, first_address]}
  addresses:
    value: {list_join: [",", [{get_attr: [web_1, first_address]},
                              {get_attr: [web_2, first_address]}]]}
"""


# A subnet without its cidr: the second resource fails, after the first was made.
FAILING = """
heat_template_version: 2018-08-31
resources:
  net: {type: OS::Neutron::Net}
  bad:
    type: OS::Neutron::Subnet
    properties: {network: {get_resource: net}}
"""


def _stack(name: str, template: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "orchestration.nimbus.dev/v1alpha1", "kind": "Stack",
            "metadata": {"name": name}, "spec": {"template": template, **spec}}  # fmt: skip


def _status(cloud: Cloud, name: str, ns: str, word: str, timeout: float = 180) -> dict[str, Any]:
    try:
        return wait_for(cloud, STACK, name, ns, "{.status.stackStatus}", word, timeout=timeout)
    except AssertionError as error:
        status = cloud.get(STACK, name, ns).get("status")
        raise AssertionError(f"{error}; status: {yaml.safe_dump(status)}") from None


def test_a_stack_is_made_updated_and_deleted(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    cloud.apply_text(flavors(("h1.tiny", 1, 512, 1), ("h1.small", 1, 1024, 1)))
    cloud.apply_text(CIRROS, ns)
    cloud.apply_text(yaml.safe_dump(_stack("web", TEMPLATE)), ns)
    stack = _status(cloud, "web", ns, "CREATE_COMPLETE")
    status = stack["status"]
    assert status["stackStatusReason"] == "Stack CREATE completed successfully"
    outputs = {o["outputKey"]: o for o in status["outputs"]}
    assert outputs["web_1_ip"] == {"outputKey": "web_1_ip", "outputValue": "10.20.0.50",
                                   "description": "The first server's address"}  # fmt: skip
    web_2 = cloud.get("servers.compute.nimbus.dev", "web-web-2", ns)
    assert outputs["addresses"]["outputValue"] == (
        f"10.20.0.50,{web_2['status']['addresses']['web-net'][0]['addr']}"
    )
    listed = {r["resourceName"]: r for r in status["resources"]}
    assert listed["web_1"]["resourceStatus"] == "CREATE_COMPLETE"
    assert listed["web_1"]["physicalResourceID"] == "web-web-1"
    assert listed["net"]["requiredBy"] == ["port", "subnet", "web_2"]
    web_1 = cloud.get("servers.compute.nimbus.dev", "web-web-1", ns)
    assert web_1["spec"]["volumes"] == [{"volume": "web-data", "deleteOnTermination": False}]
    assert web_1["spec"]["securityGroups"] == ["web-web-sg"]

    # An update: a third server, and the flavor changes (a resize of the two).
    bigger = TEMPLATE.replace("  attach:\n", "  web_3:\n    type: OS::Nova::Server\n"
                              "    properties: {image: cirros, flavor: h1.tiny,\n"
                              "                 networks: [{network: {get_resource: net}}]}\n"
                              "  attach:\n")  # fmt: skip
    cloud.apply_text(yaml.safe_dump(_stack("web", bigger, parameters={"flavor": "h1.small"})), ns)
    stack = _status(cloud, "web", ns, "UPDATE_COMPLETE")
    assert cloud.get("servers.compute.nimbus.dev", "web-web-3", ns)["status"]["status"] == "ACTIVE"
    # Heat's words: what the update made is CREATE_COMPLETE, what it changed UPDATE_COMPLETE,
    # what it left as it was stays CREATE_COMPLETE.
    listed = {r["resourceName"]: r["resourceStatus"] for r in stack["status"]["resources"]}
    assert listed == {"net": "CREATE_COMPLETE", "subnet": "CREATE_COMPLETE",
                      "web_sg": "CREATE_COMPLETE", "port": "CREATE_COMPLETE",
                      "data": "CREATE_COMPLETE", "attach": "CREATE_COMPLETE",
                      "web_1": "UPDATE_COMPLETE", "web_2": "UPDATE_COMPLETE",
                      "web_3": "CREATE_COMPLETE"}  # fmt: skip
    assert cloud.get("servers.compute.nimbus.dev", "web-web-1", ns)["spec"]["flavor"] == "h1.small"

    # An update that drops the attachment takes the volume off its server (a hot-unplug).
    detached = bigger[: bigger.index("  attach:\n")] + bigger[bigger.index("outputs:") :]
    cloud.apply_text(yaml.safe_dump(_stack("web", detached, parameters={"flavor": "h1.small"})),
                     ns)  # fmt: skip
    _status(cloud, "web", ns, "UPDATE_COMPLETE")
    assert cloud.get("servers.compute.nimbus.dev", "web-web-1", ns)["spec"]["volumes"] == []

    # Delete: everything goes, last wave first, but the retained volume; what is gone by the
    # time a pass writes to it (a 404) is no error in the operator's log.
    start = operator.stat().st_size
    cloud.kubectl("delete", STACK, "web", "-n", ns, "--timeout=180s")
    logged = operator.read_bytes()[start:].decode(errors="replace")
    assert "Traceback" not in logged, logged[-4000:]
    left = cloud.kubectl("get", "servers.compute.nimbus.dev,ports.network.nimbus.dev,"
                         "networks.network.nimbus.dev,subnets.network.nimbus.dev,"
                         "securitygroups.network.nimbus.dev,volumes.blockstorage.nimbus.dev",
                         "-n", ns, "-l", "orchestration.nimbus.dev/stack=web",
                         "-o", "name").stdout.split()  # fmt: skip
    assert left == ["volume.blockstorage.nimbus.dev/web-data"]


def test_a_bad_resource_fails_the_stack_with_heats_reason(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    ns = cloud.namespace()
    cloud.apply_text(yaml.safe_dump(_stack("broken", FAILING)), ns)
    stack = _status(cloud, "broken", ns, "CREATE_FAILED", timeout=60)
    assert stack["status"]["stackStatusReason"].startswith(
        "Resource CREATE failed: resources.bad: Property error: bad.properties: cidr"
    )
    listed = {r["resourceName"]: r for r in stack["status"]["resources"]}
    assert listed["bad"]["resourceStatus"] == "CREATE_FAILED"


def test_template_errors_fail_before_anything_is_made(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    template = """
heat_template_version: 2014-10-16
parameters:
  flavor: {type: string, constraints: [{custom_constraint: nova.flavor}]}
resources:
  x: {type: OS::Heat::Value, properties: {value: {str_split: [",", "a,b"]}}}
"""
    cloud.apply_text(yaml.safe_dump(_stack("old", template)), ns)
    stack = _status(cloud, "old", ns, "CREATE_FAILED", timeout=60)
    assert stack["status"]["stackStatusReason"] == (
        'The function "str_split" is not supported in heat_template_version 2014-10-16: it came '
        "in 2015-10-15"
    )
    waits = "heat_template_version: 2018-08-31\nresources: {w: {type: OS::Heat::WaitCondition}}\n"
    unknown = yaml.safe_dump(_stack("unknown", waits))
    cloud.apply_text(unknown, ns)
    stack = _status(cloud, "unknown", ns, "CREATE_FAILED", timeout=60)
    assert (
        'the resource type "OS::Heat::WaitCondition" is not supported'
        in (stack["status"]["stackStatusReason"])
    )


NETWORK = """
heat_template_version: 2018-08-31
parameters:
  cidr: {type: string, default: 10.30.0.0/24}
  shared: {type: string, default: shared-net}
resources:
  net: {type: OS::Neutron::Net}
  subnet:
    type: OS::Neutron::Subnet
    properties: {network: {get_resource: net}, cidr: {get_param: cidr}}
  outside:
    type: OS::Neutron::Net
    external_id: {get_param: shared}
outputs:
  cidr: {value: {get_attr: [subnet, cidr]}}
  outside: {value: {get_attr: [outside, name]}}
"""


def test_a_subnet_is_replaced_and_an_external_network_is_only_read(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    ns = cloud.namespace()
    cloud.apply_text("apiVersion: network.nimbus.dev/v1alpha1\nkind: Network\n"
                     "metadata: {name: shared-net}\n", ns)  # fmt: skip
    cloud.apply_text(yaml.safe_dump(_stack("nets", NETWORK)), ns)
    stack = _status(cloud, "nets", ns, "CREATE_COMPLETE", timeout=90)
    outputs = {o["outputKey"]: o["outputValue"] for o in stack["status"]["outputs"]}
    assert outputs == {"cidr": "10.30.0.0/24", "outside": "shared-net"}
    listed = {r["resourceName"]: r for r in stack["status"]["resources"]}
    assert listed["outside"]["physicalResourceID"] == "shared-net"
    before = cloud.get("subnets.network.nimbus.dev", "nets-subnet", ns)["metadata"]["uid"]

    # A subnet's cidr cannot change in place: Heat replaces the subnet.
    cloud.apply_text(yaml.safe_dump(_stack("nets", NETWORK, parameters={"cidr": "10.31.0.0/24"})),
                     ns)  # fmt: skip
    stack = _status(cloud, "nets", ns, "UPDATE_COMPLETE", timeout=90)
    subnet = cloud.get("subnets.network.nimbus.dev", "nets-subnet", ns)
    assert subnet["metadata"]["uid"] != before
    listed = {r["resourceName"]: r["resourceStatus"] for r in stack["status"]["resources"]}
    # the replacement is a resource the update made: Heat's CREATE_COMPLETE
    assert listed == {"net": "CREATE_COMPLETE", "subnet": "CREATE_COMPLETE",
                      "outside": "CREATE_COMPLETE"}  # fmt: skip
    assert subnet["spec"]["cidr"] == "10.31.0.0/24"
    assert {o["outputKey"]: o["outputValue"] for o in stack["status"]["outputs"]}["cidr"] == (
        "10.31.0.0/24"
    )

    # An external resource that is not there fails the update; one that is stays after delete.
    missing = _stack("nets", NETWORK, parameters={"cidr": "10.31.0.0/24", "shared": "nowhere"})
    cloud.apply_text(yaml.safe_dump(missing), ns)
    stack = _status(cloud, "nets", ns, "UPDATE_FAILED", timeout=60)
    assert stack["status"]["stackStatusReason"] == (
        "Resource UPDATE failed: resources.outside: Invalid external resource: the Network "
        "(nowhere) could not be found."
    )
    cloud.kubectl("delete", STACK, "nets", "-n", ns, "--timeout=120s")
    assert cloud.kubectl("get", "networks.network.nimbus.dev", "-n", ns, "-o", "name"
                         ).stdout.split() == ["network.network.nimbus.dev/shared-net"]  # fmt: skip


def test_rollback_deletes_what_a_failed_create_made_and_undoes_a_failed_update(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    ns = cloud.namespace()
    cloud.apply_text(yaml.safe_dump(_stack("undone", FAILING, disableRollback=False)), ns)
    stack = _status(cloud, "undone", ns, "ROLLBACK_COMPLETE", timeout=90)
    assert stack["status"]["stackStatusReason"] == "Stack ROLLBACK completed successfully"
    names = cloud.kubectl("get", "networks.network.nimbus.dev", "-n", ns, "-o", "name")
    assert names.stdout.split() == []

    good = NETWORK.replace("  outside:\n    type: OS::Neutron::Net\n"
                           "    external_id: {get_param: shared}\n", "").replace(
        "  outside: {value: {get_attr: [outside, name]}}\n", "")  # fmt: skip
    cloud.apply_text(yaml.safe_dump(_stack("kept", good, disableRollback=False)), ns)
    _status(cloud, "kept", ns, "CREATE_COMPLETE", timeout=90)
    worse = good.replace("outputs:", "  extra: {type: OS::Neutron::Net}\n"
                         "  bad:\n    type: OS::Neutron::Subnet\n"
                         "    depends_on: extra\n"
                         "    properties: {network: {get_resource: extra}}\n"
                         "outputs:")  # fmt: skip
    cloud.apply_text(yaml.safe_dump(_stack("kept", worse, disableRollback=False,
                                           parameters={"cidr": "10.32.0.0/24"})), ns)  # fmt: skip
    stack = _status(cloud, "kept", ns, "ROLLBACK_COMPLETE", timeout=120)
    outputs = {o["outputKey"]: o["outputValue"] for o in stack["status"]["outputs"]}
    assert outputs == {"cidr": "10.30.0.0/24"}
    assert cloud.get("subnets.network.nimbus.dev", "kept-subnet", ns)["spec"]["cidr"] == (
        "10.30.0.0/24"
    )
    names = cloud.kubectl("get", "networks.network.nimbus.dev", "-n", ns, "-o", "name")
    assert names.stdout.split() == ["network.network.nimbus.dev/kept-net"]


NESTED = """
heat_template_version: 2018-08-31
parameters:
  cidr: {type: string}
resources:
  net: {type: OS::Neutron::Net}
  subnet:
    type: OS::Neutron::Subnet
    properties: {network: {get_resource: net}, cidr: {get_param: cidr}}
outputs:
  network: {value: {get_resource: net}}
  gateway: {value: {get_attr: [subnet, gateway_ip]}}
"""


def test_template_resources_and_nested_stacks(cloud: Cloud, operator: pathlib.Path) -> None:
    ns = cloud.namespace()
    template = """
heat_template_version: 2018-08-31
resources:
  tiers:
    type: OS::Heat::ResourceGroup
    update_policy: {batch_create: {max_batch_size: 1}}
    properties:
      count: 3
      resource_def:
        type: Nimbus::Tier
        properties: {cidr: "10.40.%index%.0/24"}
  inline:
    type: OS::Heat::Stack
    properties:
      template: {get_file: tier.yaml}
      parameters: {cidr: 10.41.0.0/24}
outputs:
  networks: {value: {get_attr: [tiers, network]}}
  gateway: {value: {get_attr: [inline, outputs, gateway]}}
"""
    spec = {"files": {"tier.yaml": NESTED},
            "environment": {"resource_registry": {"Nimbus::Tier": "tier.yaml"}}}  # fmt: skip
    cloud.apply_text(yaml.safe_dump(_stack("apps", template, **spec)), ns)
    most = 0
    for _ in range(300):  # batch_create: never more than one member at work at a time
        status = cloud.get(STACK, "apps", ns).get("status") or {}
        working = [r for r in status.get("resources") or []
                   if r["resourceName"].startswith("tiers-")
                   and r["resourceStatus"] == "CREATE_IN_PROGRESS"]  # fmt: skip
        most = max(most, len(working))
        if status.get("stackStatus") != "CREATE_IN_PROGRESS" and status.get("stackStatus"):
            break
    stack = _status(cloud, "apps", ns, "CREATE_COMPLETE", timeout=120)
    assert most == 1
    outputs = {o["outputKey"]: o["outputValue"] for o in stack["status"]["outputs"]}
    assert outputs == {
        "networks": ["apps-tiers-0-net", "apps-tiers-1-net", "apps-tiers-2-net"],
        "gateway": "10.41.0.1",
    }
    child = cloud.get(STACK, "apps-tiers-1", ns)
    assert child["status"]["stackStatus"] == "CREATE_COMPLETE"
    assert child["metadata"]["ownerReferences"][0]["name"] == "apps"
    cloud.kubectl("delete", STACK, "apps", "-n", ns, "--timeout=120s")
    left = cloud.kubectl("get", f"{STACK},networks.network.nimbus.dev,subnets.network.nimbus.dev",
                         "-n", ns, "-o", "name")  # fmt: skip
    assert left.stdout.split() == []
