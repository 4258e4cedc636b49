"""The live answers of `nimbus api`, checked against tempest's own response schemas
(tempest.lib.api_schema, as tempest checks a real cloud): Nova at the lowest and highest
microversions served, and Cinder, on the session's cloud with a project that has a server, a
keypair, a server group and a volume. The unit tests check each document the mappings make; this
checks what goes over the wire, status code included."""

from __future__ import annotations

import datetime
import importlib
import pathlib
import uuid
from typing import Any

import jsonschema
import pytest
import tempest.lib.api_schema.response.compute as compute_schemas

from tests.integration.conftest import Cloud, wait_for
from tests.integration.openstack import as_json, call, needs_cli, openstack

pytestmark = needs_cli
COMPUTE_SCHEMAS = pathlib.Path(compute_schemas.__file__).parent


def _compute(kind: str, name: str, version: tuple[int, int]) -> dict[str, Any]:
    """tempest's schema `name` of `kind` at a Nova microversion: the module of the highest
    version at or below it that has one (tempest keeps a module only where a version changed)."""
    versions = sorted(
        (2, int(p.parent.name.split("_")[1]))
        for p in COMPUTE_SCHEMAS.glob(f"v2_*/{kind}.py")
    )  # fmt: skip
    first = max(v for v in versions if v <= version)
    module = importlib.import_module(
        f"tempest.lib.api_schema.response.compute.v2_{first[1]}.{kind}"
    )
    schema: dict[str, Any] = getattr(module, name)
    return schema


def _volume(kind: str, name: str) -> dict[str, Any]:
    module = importlib.import_module(f"tempest.lib.api_schema.response.volume.{kind}")
    schema: dict[str, Any] = getattr(module, name)
    return schema


def _iso8601(instance: object) -> bool:
    """tempest checks iso8601-date-time with oslo's parse_isotime; fromisoformat is as strict."""
    if isinstance(instance, str):
        datetime.datetime.fromisoformat(instance)
    return True


FORMATS = jsonschema.FormatChecker()
FORMATS.checks("iso8601-date-time", raises=ValueError)(_iso8601)


def _checked(schema: dict[str, Any], status: int, body: Any, what: str) -> None:
    """As tempest's RestClient.validate_response: the status among the schema's, the body
    valid against its response_body."""
    assert status in schema["status_code"], f"{what}: {status} {body}"
    if "response_body" in schema:
        jsonschema.Draft4Validator(schema["response_body"], format_checker=FORMATS).validate(body)


@pytest.fixture(scope="module")
def objects(cloud: Cloud, api: str, tenants: dict[str, str]) -> dict[str, str]:
    """alice's token, and her project's ids: its server `web`, a keypair, a server group and a
    volume made through the API."""
    first = tenants["first"]
    suffix = uuid.uuid4().hex[:5]
    token = openstack(api, "alice", first, "token", "issue", "-f", "value", "-c",
                      "id").stdout.strip()  # fmt: skip
    openstack(api, "alice", first, "keypair", "create", f"key-{suffix}")
    group = as_json(openstack(api, "alice", first, "server", "group", "create", "--policy",
                              "anti-affinity", f"group-{suffix}", "-f", "json"))  # fmt: skip
    volume = as_json(openstack(api, "alice", first, "volume", "create", "--size", "1",
                               f"vol-{suffix}", "-f", "json"))  # fmt: skip
    wait_for(cloud, "volumes.blockstorage.nimbus.dev", f"vol-{suffix}", first,
             "{.status.status}", "available")  # fmt: skip
    project = cloud.get("projects.identity.nimbus.dev", first)["metadata"]["uid"]
    server = cloud.get("osserver", "web", first)["metadata"]["uid"]
    return {"token": token, "project": project, "server": server, "keypair": f"key-{suffix}",
            "group": group["id"], "volume": volume["id"]}  # fmt: skip


NOVA = [
    # path, tempest module, schema
    ("/servers", "servers", "list_servers"),
    ("/servers/detail", "servers", "list_servers_detail"),
    ("/servers/{server}", "servers", "get_server"),
    ("/flavors", "flavors", "list_flavors"),
    ("/flavors/detail", "flavors", "list_flavors_details"),
    ("/os-keypairs", "keypairs", "list_keypairs"),
    ("/os-keypairs/{keypair}", "keypairs", "get_keypair"),
    ("/limits", "limits", "get_limit"),
    ("/os-availability-zone", "availability_zone", "list_availability_zone_list"),
    ("/os-quota-sets/{project}", "quotas", "get_quota_set"),
    ("/os-quota-sets/{project}/detail", "quotas", "get_quota_set_details"),
    ("/os-server-groups", "server_groups", "list_server_groups"),
    ("/os-server-groups/{group}", "server_groups", "create_show_server_group"),
]


@pytest.mark.parametrize("version", [(2, 1), (2, 96)], ids=["2.1", "2.96"])
def test_nova_s_answers_match_tempest_s_schemas(
    api: str, objects: dict[str, str], version: tuple[int, int]
) -> None:
    asked = f"{version[0]}.{version[1]}"
    headers = {"OpenStack-API-Version": f"compute {asked}", "X-OpenStack-Nova-API-Version": asked}
    for path, kind, name in NOVA:
        url = api + "/compute/v2.1" + path.format(**objects)
        status, body = call(url, token=objects["token"], headers=headers)
        _checked(_compute(kind, name, version), status, body, f"GET {path} at {asked}")


CINDER = [
    ("/volumes", "volumes", "list_volumes_no_detail"),
    ("/volumes/detail", "volumes", "list_volumes_with_detail"),
    ("/volumes/{volume}", "volumes", "show_volume"),
    ("/types", "volume_types", "list_volume_types"),
    ("/limits", "limits", "show_limits"),
    ("/os-quota-sets/{project}", "quotas", "show_quota_set"),
    ("/os-quota-sets/{project}?usage=True", "quotas", "show_quota_set_usage"),
    ("/snapshots", "snapshots", "list_snapshots_no_detail"),
]


def test_cinder_s_answers_match_tempest_s_schemas(api: str, objects: dict[str, str]) -> None:
    headers = {"OpenStack-API-Version": "volume 3.0"}
    for path, kind, name in CINDER:
        url = f"{api}/volume/v3/{objects['project']}" + path.format(**objects)
        status, body = call(url, token=objects["token"], headers=headers)
        _checked(_volume(kind, name), status, body, f"GET {path}")
