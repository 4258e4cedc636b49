"""Heat v1 through `nimbus api`, driven by the real `openstack` CLI (python-heatclient 5.3) as a
user drives it, against the session's control plane and operator: a template validated, a stack
of a network, a subnet and a server created `--wait` under a name Kubernetes cannot hold, then
listed, shown, its outputs, resources and events read, updated (a volume added with a whole new
template, then grown with `--existing`), refused an abandon and deleted `--wait`; another tenant
finds nothing, and a reader is refused a create by Kubernetes."""

from __future__ import annotations

import ipaddress
import json
import pathlib
import re
import subprocess
from typing import Any

import pytest

from tests.integration.conftest import Cloud
from tests.integration.openstack import as_json, needs_cli, openstack

pytestmark = [needs_cli, pytest.mark.timeout(900)]
STACK = "stacks.orchestration.nimbus.dev"
TEMPLATE = """
heat_template_version: 2018-08-31
description: A server on a network of its own.
parameters:
  cidr: {type: string, default: 10.30.0.0/24, label: Subnet range}
  flavor:
    type: string
    default: api1.small
    constraints: [{custom_constraint: nova.flavor}]
resources:
  net: {type: OS::Neutron::Net}
  subnet:
    type: OS::Neutron::Subnet
    properties: {network: {get_resource: net}, cidr: {get_param: cidr}}
  server:
    type: OS::Nova::Server
    properties:
      image: cirros
      flavor: {get_param: flavor}
      networks: [{network: {get_resource: net}}]
outputs:
  server_ip:
    description: The server's address
    value: {get_attr: [server, first_address]}
  range: {value: {get_attr: [subnet, cidr]}}
"""
# The update: the same, and a volume whose size is a parameter.
UPDATED = TEMPLATE.replace(
    "resources:\n", "  size: {type: number, default: 1}\nresources:\n"
).replace(
    "outputs:\n",
    "  data:\n    type: OS::Cinder::Volume\n    properties: {size: {get_param: size}}\noutputs:\n",
)
BROKEN = """
heat_template_version: 2018-08-31
resources:
  balancer: {type: OS::Octavia::L7Policy}
"""


def _write(tmp_path: pathlib.Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_template_is_validated_as_heat_validates_it(
    api: str, tenants: dict[str, str], tmp_path: pathlib.Path
) -> None:
    first = tenants["first"]
    template = _write(tmp_path, "server.yaml", TEMPLATE)
    answer = as_json(openstack(api, "alice", first, "orchestration", "template", "validate",
                               "-t", template, "--parameter", "cidr=10.31.0.0/24",
                               "-f", "json"))  # fmt: skip
    assert answer["Description"] == "A server on a network of its own."
    assert answer["Parameters"]["cidr"] == {
        "Type": "String", "Description": "", "NoEcho": "false", "Label": "Subnet range",
        "Default": "10.31.0.0/24", "Value": "10.31.0.0/24",
    }  # fmt: skip
    assert answer["Parameters"]["flavor"]["CustomConstraint"] == "nova.flavor"
    broken = openstack(api, "alice", first, "orchestration", "template", "validate", "-t",
                       _write(tmp_path, "broken.yaml", BROKEN), check=False)  # fmt: skip
    assert broken.returncode != 0
    refusal = 'ERROR: Resource balancer: the resource type "OS::Octavia::L7Policy" is not '
    assert refusal + "supported" in broken.stderr, broken.stderr
    # A create of it is refused with the same words, by the operator's admission webhook.
    refused = openstack(api, "alice", first, "stack", "create", "-t", str(tmp_path / "broken.yaml"),
                        "broken", check=False)  # fmt: skip
    assert refused.returncode != 0
    assert refusal + "supported" in refused.stderr, refused.stderr
    types = as_json(openstack(api, "alice", first, "orchestration", "resource", "type", "list",
                              "-f", "json"))  # fmt: skip
    assert {"OS::Nova::Server", "OS::Neutron::Net", "OS::Cinder::Volume"} <= {
        t["Resource Type"] for t in types
    }


def _waited(result: subprocess.CompletedProcess[str]) -> Any:
    """What a `--wait` command shows at the end, after the events it printed while it waited."""
    return json.loads(result.stdout[result.stdout.index("{") :])


def _events(api: str, user: str, project: str, stack: str) -> list[str]:
    """`openstack stack event list` as it prints, `<date> <time> <id> [<resource>]: <status>
    <why>`, without the date, time and id."""
    out = openstack(api, user, project, "stack", "event", "list", stack).stdout
    return [line.split(" ", 3)[3] for line in out.splitlines() if line.strip()]


def test_a_stack_is_created_read_updated_and_deleted_through_the_cli(
    cloud: Cloud, api: str, tenants: dict[str, str], tmp_path: pathlib.Path
) -> None:
    first, second = tenants["first"], tenants["second"]
    template = _write(tmp_path, "server.yaml", TEMPLATE)
    made = _waited(openstack(api, "alice", first, "stack", "create", "-t", template,
                             "--parameter", "cidr=10.31.0.0/24", "--tags", "web", "--wait",
                             "-f", "json", "Web_Stack"))  # fmt: skip
    assert (made["stack_name"], made["stack_status"]) == ("Web_Stack", "CREATE_COMPLETE")
    assert made["stack_status_reason"] == "Stack CREATE completed successfully"
    ident = made["id"]

    # The Stack is the caller's, under a DNS label made from the name, which it keeps.
    stacks = json.loads(cloud.kubectl("get", STACK, "-n", first, "-o", "json").stdout)["items"]
    (stack,) = [s for s in stacks if s["metadata"]["uid"] == ident]
    assert re.fullmatch(r"web-stack-[0-9a-f]{5}", stack["metadata"]["name"])
    assert stack["metadata"]["annotations"]["openstack.nimbus.dev/name"] == "Web_Stack"
    requester = json.loads(stack["metadata"]["annotations"]["nimbus.dev/requester"])
    assert requester["username"] == "alice"
    assert stack["spec"]["parameters"] == {"cidr": "10.31.0.0/24"}
    assert stack["spec"]["tags"] == ["web"]
    kube_name = stack["metadata"]["name"]

    listed = as_json(openstack(api, "alice", first, "stack", "list", "-f", "json"))
    assert [(s["ID"], s["Stack Name"], s["Stack Status"]) for s in listed] == [
        (ident, "Web_Stack", "CREATE_COMPLETE")]  # fmt: skip
    shown = as_json(openstack(api, "alice", first, "stack", "show", "Web_Stack", "-f", "json"))
    assert shown["id"] == ident
    assert shown["parameters"]["cidr"] == "10.31.0.0/24"
    assert shown["parameters"]["OS::stack_id"] == ident
    outputs = {o["output_key"]: o for o in shown["outputs"]}
    address = outputs["server_ip"]["output_value"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network("10.31.0.0/24")
    assert outputs["range"]["output_value"] == "10.31.0.0/24"
    by_id = as_json(openstack(api, "alice", first, "stack", "show", ident, "-f", "json"))
    assert (by_id["stack_name"], by_id["stack_status"]) == ("Web_Stack", "CREATE_COMPLETE")

    keys = as_json(openstack(api, "alice", first, "stack", "output", "list", "Web_Stack",
                             "-f", "json"))  # fmt: skip
    assert sorted((o["output_key"], o["description"]) for o in keys) == [
        ("range", "No description given"), ("server_ip", "The server's address")]  # fmt: skip
    one = as_json(openstack(api, "alice", first, "stack", "output", "show", "Web_Stack",
                            "server_ip", "-f", "json"))  # fmt: skip
    assert (one["output_key"], one["output_value"]) == ("server_ip", address)

    resources = as_json(openstack(api, "alice", first, "stack", "resource", "list",
                                  "Web_Stack", "-f", "json"))  # fmt: skip
    server = cloud.get("osserver", f"{kube_name}-server", first)
    network = cloud.get("osnet", f"{kube_name}-net", first)
    assert sorted((r["resource_name"], r["resource_type"], r["resource_status"],
                   r["physical_resource_id"]) for r in resources) == [
        ("net", "OS::Neutron::Net", "CREATE_COMPLETE", network["metadata"]["uid"]),
        ("server", "OS::Nova::Server", "CREATE_COMPLETE", server["metadata"]["uid"]),
        ("subnet", "OS::Neutron::Subnet", "CREATE_COMPLETE",
         cloud.get("ossubnet", f"{kube_name}-subnet", first)["metadata"]["uid"]),
    ]  # fmt: skip
    detail = as_json(openstack(api, "alice", first, "stack", "resource", "show", "Web_Stack",
                               "net", "-f", "json"))  # fmt: skip
    assert sorted(detail["required_by"]) == ["server", "subnet"]
    metadata = as_json(openstack(api, "alice", first, "stack", "resource", "metadata",
                                 "Web_Stack", "net", "-f", "json"))  # fmt: skip
    assert metadata == detail["metadata"]

    events = _events(api, "alice", first, "Web_Stack")
    assert events[0] == "[Web_Stack]: CREATE_IN_PROGRESS  Stack CREATE started"
    assert events[-1] == "[Web_Stack]: CREATE_COMPLETE  Stack CREATE completed successfully"
    # heatclient names a resource after its stack: `[Web_Stack.server]`
    assert "[Web_Stack.server]: CREATE_COMPLETE  state changed" in events, events
    assert events.index("[Web_Stack.net]: CREATE_IN_PROGRESS  state changed") < events.index(
        "[Web_Stack.server]: CREATE_IN_PROGRESS  state changed"
    ), events

    # Another tenant finds nothing; a reader reads, and Kubernetes refuses their create.
    assert as_json(openstack(api, "bob", second, "stack", "list", "-f", "json")) == []
    hidden = openstack(api, "bob", second, "stack", "show", ident, check=False)
    assert hidden.returncode != 0
    assert f"Stack not found: {ident}" in hidden.stderr, hidden.stderr
    seen = as_json(openstack(api, "carol", first, "stack", "list", "-f", "json"))
    assert [s["Stack Name"] for s in seen] == ["Web_Stack"]
    refused = openstack(api, "carol", first, "stack", "create", "-t", template, "nope",
                        check=False)  # fmt: skip
    assert refused.returncode != 0
    assert "ERROR: You are not authorized to use stacks:create." in refused.stderr, \
        refused.stderr  # fmt: skip
    assert "cannot create resource" in refused.stderr

    # A whole new template (Heat's PUT): a volume added; then the size alone (PATCH).
    updated = _write(tmp_path, "updated.yaml", UPDATED)
    after = _waited(openstack(api, "alice", first, "stack", "update", "-t", updated,
                              "--parameter", "cidr=10.31.0.0/24", "--wait", "-f", "json",
                              "Web_Stack"))  # fmt: skip
    assert after["stack_status"] == "UPDATE_COMPLETE", after
    volume = cloud.get("osvol", f"{kube_name}-data", first)
    assert volume["spec"]["sizeGB"] == 1
    resources = as_json(openstack(api, "alice", first, "stack", "resource", "list",
                                  "Web_Stack", "-f", "json"))  # fmt: skip
    assert {r["resource_name"]: r["physical_resource_id"] for r in resources}["data"] == (
        volume["metadata"]["uid"]
    )
    patched = _waited(openstack(api, "alice", first, "stack", "update", "--existing",
                                "--parameter", "size=2", "--wait", "-f", "json",
                                "Web_Stack"))  # fmt: skip
    assert patched["stack_status"] == "UPDATE_COMPLETE", patched
    assert cloud.get("osvol", f"{kube_name}-data", first)["spec"]["sizeGB"] == 2
    stack = cloud.get(STACK, kube_name, first)
    assert stack["spec"]["parameters"] == {"cidr": "10.31.0.0/24", "size": "2"}
    assert shown["updated_time"] is None
    again = as_json(openstack(api, "alice", first, "stack", "show", "Web_Stack", "-f", "json"))
    assert again["updated_time"] is not None
    assert "[Web_Stack]: UPDATE_COMPLETE  Stack UPDATE completed successfully" in _events(
        api, "alice", first, "Web_Stack"
    )

    abandon = openstack(api, "alice", first, "stack", "abandon", "Web_Stack", check=False)
    assert abandon.returncode != 0
    assert "ERROR: Stack Abandon is not supported." in abandon.stderr, abandon.stderr
    for action in ("suspend", "resume", "check"):
        refused = openstack(api, "alice", first, "stack", action, "Web_Stack", check=False)
        assert refused.returncode != 0
        assert f"the {action} action is not supported" in refused.stderr, refused.stderr
    dry = openstack(api, "alice", first, "stack", "create", "--dry-run", "-t", updated,
                    "Dry_Stack", check=False)  # fmt: skip
    assert dry.returncode != 0
    assert "Stack preview is not supported." in dry.stderr, dry.stderr
    openstack(api, "alice", first, "stack", "delete", "--yes", "--wait", "Web_Stack")
    gone = cloud.kubectl("get", STACK, kube_name, "-n", first, check=False)
    assert gone.returncode != 0, gone.stdout
    assert "NotFound" in gone.stderr
    assert as_json(openstack(api, "alice", first, "stack", "list", "-f", "json")) == []
    label = f"orchestration.nimbus.dev/stack={kube_name}"
    left = cloud.kubectl("get", "osserver,osnet,osvol", "-n", first, "-l", label, "-o", "name")
    assert left.stdout.strip() == ""


def test_template_versions_and_their_functions_through_the_cli(
    api: str, tenants: dict[str, str]
) -> None:
    """`orchestration template version list` and `template function list`: the HOT versions
    the engine reads, and the functions each allows, as Heat describes them."""
    first = tenants["first"]

    def template(*args: str, check: bool = True) -> Any:
        return openstack(api, "alice", first, "orchestration", "template", *args, check=check)

    versions = as_json(template("version", "list", "-f", "json"))
    wallaby = next(v for v in versions if v["Version"] == "heat_template_version.2021-04-16")
    assert wallaby["Type"] == "hot"
    listed = as_json(template("function", "list", "heat_template_version.2016-10-14", "-f", "json"))
    functions = {f["Functions"]: f["Description"] for f in listed}
    assert functions["get_param"] == "A function for resolving parameter references."
    assert "yaql" in functions
    assert "filter" not in functions  # came in 2017-02-24
    unknown = template("function", "list", "heat_template_version.1999-01-01", check=False)
    assert unknown.returncode != 0
    # heatclient says a 404 in its own words
    assert "Template version not found: heat_template_version.1999-01-01" in unknown.stderr


def test_a_resource_type_s_schema_and_heat_s_name_filter_through_the_cli(
    api: str, tenants: dict[str, str]
) -> None:
    """`orchestration resource type show`: Heat's own schema of a type a Stack makes, and the
    list's `name` filter a regular expression matched from the start, as Heat's."""
    first = tenants["first"]

    def types(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return openstack(api, "alice", first, "orchestration", "resource", "type", *args,
                         check=check)  # fmt: skip

    server = as_json(types("show", "OS::Nova::Server", "-f", "json"))
    assert server["resource_type"] == "OS::Nova::Server"
    assert server["properties"]["flavor"]["required"] is True
    assert server["properties"]["flavor"]["constraints"] == [{"custom_constraint": "nova.flavor"}]
    assert "first_address" not in server["attributes"]  # hidden by Heat
    assert server["support_status"]["status"] == "SUPPORTED"
    described = as_json(types("show", "OS::Neutron::Net", "--long", "-f", "json"))
    assert described["description"] == "Makes a Nimbus Network."
    unknown = types("show", "OS::Trove::Instance", check=False)
    assert unknown.returncode != 0
    assert "Resource type not found: OS::Trove::Instance" in unknown.stderr  # heatclient's words
    hidden = types("show", "OS::Neutron::RouterGateway", check=False)
    assert "OS::Neutron::RouterGateway is not supported." in hidden.stderr
    found = as_json(types("list", "--filter", "name=.*Server", "-f", "json"))
    assert [t["Resource Type"] for t in found] == ["OS::Nova::Server", "OS::Nova::ServerGroup"]
    assert as_json(types("list", "--filter", "name=Server", "-f", "json")) == []
