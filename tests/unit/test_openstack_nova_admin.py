"""Nova's server groups, quota sets, simple tenant usage, hypervisors and aggregates as nimbus api
makes them:
each document with its exact values, checked against tempest's response schema for every
microversion range, and the create and update requests with Nova's refusals in Nova's words."""

from __future__ import annotations

import copy
import datetime
import importlib
import json
from typing import Any

import pytest

from nimbus.openstack import (
    documents,
    nova_admin_documents,
    nova_host_documents,
    server_request,
)
from nimbus.openstack.faults import Fault
from tests.unit.test_openstack_documents import _check

PROJECT_ID = "6f1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9"
USER_ID = "0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f0"
GROUP_UID = "5e6f7a8b-0000-4000-8000-000000000006"
NODE_UID = "7c1d2e3f-0000-4000-8000-0000000000a1"
WEB, DB = "5e6f7a8b-0000-4000-8000-0000000000b1", "5e6f7a8b-0000-4000-8000-0000000000b2"

# tempest's *_client.schema_versions_info: the first microversion of each schema module.
SERVER_GROUP_SCHEMAS = [(2, 1), (2, 13), (2, 64)]
QUOTA_SCHEMAS = [(2, 1), (2, 36), (2, 57)]
HYPERVISOR_SCHEMAS = [(2, 1), (2, 28), (2, 33), (2, 53)]
AGGREGATE_SCHEMAS = [(2, 1), (2, 41)]
# The last microversion before each change and the first after it, of any of these documents.
EVERY_RANGE = [(2, 1), (2, 12), (2, 13), (2, 14), (2, 15), (2, 27), (2, 28), (2, 32), (2, 33),
               (2, 35), (2, 36), (2, 40), (2, 41), (2, 52), (2, 53), (2, 56), (2, 57), (2, 63),
               (2, 64), (2, 74), (2, 75), (2, 87), (2, 88), (2, 96)]  # fmt: skip


def _schema(kind: str, table: list[tuple[int, int]], version: tuple[int, int]) -> Any:
    first = max(v for v in table if v <= version)
    return importlib.import_module(f"tempest.lib.api_schema.response.compute.v2_{first[1]}.{kind}")


def _server(name: str, uid: str, *, group: str | None = None, created: str = "10:00:00",
            status: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "metadata": {"name": name, "namespace": "demo", "uid": uid,
                     "creationTimestamp": f"2026-03-01T{created}Z", **metadata},
        "spec": {"flavor": "m1.small", "image": {"name": "cirros"},
                 **({"serverGroup": group} if group else {})},
        "status": status if status is not None else {"status": "ACTIVE", "powerState": "RUNNING"},
    }  # fmt: skip


# --- server groups --------------------------------------------------------------------------

GROUP: dict[str, Any] = {
    "metadata": {"name": "web-group-1a2b3", "namespace": "demo", "uid": GROUP_UID,
                 "creationTimestamp": "2026-03-01T09:00:00Z",
                 "annotations": {documents.NAME_ANNOTATION: "Web Group"}},
    "spec": {"policy": "anti-affinity", "rules": {"maxServerPerHost": 2}},
}  # fmt: skip
IN_GROUP = [
    _server("b", "s-b", group="web-group-1a2b3", created="10:05:00"),
    _server("a", "s-a", group="web-group-1a2b3", created="10:01:00"),
    _server("c", "s-c", group="other"),
]


def _group_document(version: tuple[int, int], group: dict[str, Any] = GROUP) -> dict[str, Any]:
    return nova_admin_documents.server_group(
        group, members=nova_admin_documents.members(group, IN_GROUP), project_id=PROJECT_ID,
        user_id=USER_ID, version=version,
    )  # fmt: skip


@pytest.mark.parametrize("version", EVERY_RANGE)
def test_server_group_documents_match_tempest_s_schemas(version: tuple[int, int]) -> None:
    schemas = _schema("server_groups", SERVER_GROUP_SCHEMAS, version)
    document = _group_document(version)
    _check(schemas.create_show_server_group, {"server_group": document})
    _check(schemas.list_server_groups, {"server_groups": [document]})


def test_a_server_group_is_its_policy_and_the_servers_in_it() -> None:
    assert _group_document((2, 1)) == {
        "id": GROUP_UID, "name": "Web Group", "members": ["s-a", "s-b"],
        "policies": ["anti-affinity"], "metadata": {},
    }  # fmt: skip
    assert _group_document((2, 64)) == {
        "id": GROUP_UID, "name": "Web Group", "members": ["s-a", "s-b"],
        "policy": "anti-affinity", "rules": {"max_server_per_host": 2},
        "project_id": PROJECT_ID, "user_id": USER_ID,
    }  # fmt: skip
    plain = {**GROUP, "spec": {"policy": "affinity"}}
    assert _group_document((2, 96), plain)["rules"] == {}


@pytest.mark.parametrize(
    ("version", "request_body", "expected"),
    [
        ((2, 1), {"name": "g1", "policies": ["anti-affinity"]}, {"policy": "anti-affinity"}),
        ((2, 15), {"name": "g1", "policies": ["soft-affinity"]}, {"policy": "soft-affinity"}),
        ((2, 64), {"name": "g1", "policy": "affinity"}, {"policy": "affinity"}),
        ((2, 64), {"name": "g1", "policy": "anti-affinity",
                   "rules": {"max_server_per_host": "3"}},
         {"policy": "anti-affinity", "rules": {"maxServerPerHost": 3}}),
        ((2, 96), {"name": "g1", "policy": "anti-affinity", "rules": {}},
         {"policy": "anti-affinity"}),
    ],
)  # fmt: skip
def test_a_server_group_create_is_a_server_group_spec(
    version: tuple[int, int], request_body: dict[str, Any], expected: dict[str, Any]
) -> None:
    name, spec = nova_admin_documents.server_group_create({"server_group": request_body}, version)
    assert (name, spec) == ("g1", expected)


@pytest.mark.parametrize(
    ("version", "request_body", "said"),
    [
        ((2, 1), {"name": "g1", "policies": ["soft-affinity"]},
         "'soft-affinity' is not one of ['anti-affinity', 'affinity']"),
        ((2, 1), {"name": "g1", "policy": "affinity"},
         "Additional properties are not allowed ('policy' was unexpected)"),
        ((2, 1), {"name": "g1", "policies": ["affinity", "anti-affinity"]},
         "is not an array of exactly one policy"),
        ((2, 64), {"name": "g1", "policies": ["affinity"]},
         "Additional properties are not allowed ('policies' was unexpected)"),
        ((2, 64), {"name": "g1", "policy": "affinity", "rules": {"max_server_per_host": 2}},
         "Only anti-affinity policy supports rules."),
        ((2, 64), {"name": "g1", "policy": "anti-affinity", "rules": {"max_server_per_host": 0}},
         "0 is less than the minimum of 1"),
        ((2, 64), {"name": "g1", "policy": "anti-affinity", "rules": {"spread": 1}},
         "Additional properties are not allowed ('spread' was unexpected)"),
        ((2, 64), {"name": " g1", "policy": "affinity"},
         "Leading/trailing whitespace is not allowed"),
        ((2, 64), {"policy": "affinity"}, "a name is 1 to 255 characters"),
    ],
)  # fmt: skip
def test_what_nova_refuses_of_a_server_group(
    version: tuple[int, int], request_body: dict[str, Any], said: str
) -> None:
    with pytest.raises(Fault) as refused:
        nova_admin_documents.server_group_create({"server_group": request_body}, version)
    assert refused.value.code == 400
    assert said in refused.value.message


class _Found:
    """server_request's Resolver and HintResolver over one of each thing, by id or name."""

    def _one(self, ref: str, uid: str, name: str) -> str | None:
        return name if ref in (uid, name) else None

    def flavor(self, ref: str) -> str | None:
        return self._one(ref, "f-small", "m1.small")

    def image(self, ref: str) -> str | None:
        return self._one(ref, "i-cirros", "cirros")

    def network(self, ref: str) -> str | None:
        return None

    def port(self, ref: str) -> str | None:
        return None

    def volume(self, ref: str) -> str | None:
        return None

    def server(self, ref: str) -> str | None:
        return None

    def server_group(self, ref: str) -> str | None:
        return self._one(ref, GROUP_UID, "web-group-1a2b3")


@pytest.mark.parametrize("key", ["os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"])
def test_a_server_created_with_a_group_hint_joins_the_group(key: str) -> None:
    """Nova takes the hints under either key; the CLI (openstacksdk) sends OS-SCH-HNT:'s."""
    body = {"server": {"name": "grouped", "flavorRef": "f-small", "imageRef": "i-cirros"}}
    found = _Found()
    _, spec = server_request.server_create({**body, key: {"group": GROUP_UID}}, resolve=found,
                                           hints=found)  # fmt: skip
    assert spec["serverGroup"] == "web-group-1a2b3"
    with pytest.raises(server_request.BadRequest) as refused:
        server_request.server_create({**body, key: {"group": "nope"}}, resolve=found, hints=found)
    assert refused.value.message == "Server group nope could not be found."


# --- quota sets -----------------------------------------------------------------------------

PROJECT: dict[str, Any] = {
    "metadata": {"name": "demo", "uid": PROJECT_ID},
    "spec": {"quota": {"instances": 5, "cores": 8, "ramMB": 4096, "securityGroups": 4}},
    "status": {"namespace": "demo", "usage": {
        "instances": {"inUse": 2, "reserved": 0, "limit": 5},
        "cores": {"inUse": 3, "reserved": 0, "limit": 8},
        "ramMB": {"inUse": 1536, "reserved": 0, "limit": 4096},
        "securityGroups": {"inUse": 1, "reserved": 0, "limit": 4},
    }},
}  # fmt: skip


@pytest.mark.parametrize("version", EVERY_RANGE)
def test_quota_sets_match_tempest_s_schemas(version: tuple[int, int]) -> None:
    schemas = _schema("quotas", QUOTA_SCHEMAS, version)
    _check(schemas.get_quota_set,
           nova_admin_documents.quota_set(PROJECT, version, project_id=PROJECT_ID))  # fmt: skip
    _check(schemas.get_quota_set,
           nova_admin_documents.quota_set(None, version, project_id=PROJECT_ID))  # fmt: skip
    _check(schemas.get_quota_set_details, nova_admin_documents.quota_set(
        PROJECT, version, project_id=PROJECT_ID, usage=True))  # fmt: skip
    _check(schemas.update_quota_set,
           nova_admin_documents.quota_set(PROJECT, version, project_id=None))  # fmt: skip


def test_a_quota_set_is_the_project_s_quota_with_the_fields_of_its_microversion() -> None:
    latest = nova_admin_documents.quota_set(PROJECT, (2, 96), project_id=PROJECT_ID)
    assert latest == {"quota_set": {
        "id": PROJECT_ID, "instances": 5, "cores": 8, "ram": 4096, "metadata_items": 128,
        "key_pairs": 100, "server_groups": 10, "server_group_members": 10,
    }}  # fmt: skip
    old = nova_admin_documents.quota_set(PROJECT, (2, 1), project_id=PROJECT_ID)["quota_set"]
    assert {k: old[k] for k in ("security_groups", "security_group_rules", "floating_ips",
                                "fixed_ips", "injected_files")} == {
        "security_groups": 4, "security_group_rules": 100, "floating_ips": 50,
        "fixed_ips": -1, "injected_files": 0}  # fmt: skip
    between = nova_admin_documents.quota_set(PROJECT, (2, 56), project_id=PROJECT_ID)
    assert "security_groups" not in between["quota_set"]
    assert between["quota_set"]["injected_file_path_bytes"] == 0
    detail = nova_admin_documents.quota_set(PROJECT, (2, 96), project_id=PROJECT_ID, usage=True)
    assert detail["quota_set"]["cores"] == {"in_use": 3, "limit": 8, "reserved": 0}
    assert detail["quota_set"]["key_pairs"] == {"in_use": 0, "limit": 100, "reserved": 0}


@pytest.mark.parametrize(
    ("version", "request_body", "patch"),
    [
        ((2, 56), {"instances": 6}, {"instances": 6}),
        ((2, 96), {"cores": "12", "ram": -1, "server_groups": 3},
         {"cores": 12, "ramMB": -1, "serverGroups": 3}),
        ((2, 1), {"security_groups": 7, "fixed_ips": -1, "injected_files": 0},
         {"securityGroups": 7}),
        ((2, 96), {"instances": 1, "force": True}, {"instances": 1}),
        ((2, 96), {"instances": 1, "force": "True"}, {"instances": 1}),
    ],
)  # fmt: skip
def test_a_quota_set_update_is_a_merge_patch_of_the_project_s_quota(
    version: tuple[int, int], request_body: dict[str, Any], patch: dict[str, int]
) -> None:
    assert nova_admin_documents.quota_update({"quota_set": request_body}, version,
                                             PROJECT) == patch  # fmt: skip


@pytest.mark.parametrize(
    ("version", "request_body", "said"),
    [
        ((2, 96), {"instances": 1},
         "Quota limit 1 for instances must be greater than or equal to already used and "
         "reserved 2."),
        ((2, 36), {"floating_ips": 3},
         "Additional properties are not allowed ('floating_ips' was unexpected)"),
        ((2, 57), {"injected_files": 3},
         "Additional properties are not allowed ('injected_files' was unexpected)"),
        ((2, 1), {"injected_files": 3}, "Nimbus keeps no injected_files quota: it is always 0"),
        ((2, 96), {"cores": -2}, "-2 is less than the minimum of -1"),
        ((2, 96), {"cores": "many"}, "'many' is not of type 'integer', 'string'"),
        ((2, 96), {"cores": 1, "force": "maybe"}, "'maybe' is not of type 'boolean'"),
    ],
)  # fmt: skip
def test_what_nova_refuses_of_a_quota_set_update(
    version: tuple[int, int], request_body: dict[str, Any], said: str
) -> None:
    with pytest.raises(Fault) as refused:
        nova_admin_documents.quota_update({"quota_set": request_body}, version, PROJECT)
    assert refused.value.code == 400
    assert said in refused.value.message


# --- simple tenant usage --------------------------------------------------------------------

UTC = datetime.UTC
NOW = datetime.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
FLAVOR = {"metadata": {"name": "m1.small", "uid": "f-small"},
          "spec": {"vcpus": 2, "ramMB": 2048, "diskGB": 20, "ephemeralGB": 5}}  # fmt: skip


def test_the_period_is_read_as_nova_reads_it() -> None:
    start, stop = nova_admin_documents.period(
        {"start": "2026-03-01T00:00:00", "end": "2026-03-02T00:00:00.500000"}, NOW
    )
    assert start == datetime.datetime(2026, 3, 1, tzinfo=UTC)
    assert stop == datetime.datetime(2026, 3, 2, 0, 0, 0, 500000, tzinfo=UTC)
    assert nova_admin_documents.period({"start": "2026-03-01 00:00:00.000000"}, NOW)[1] == NOW
    for query, said in (({}, "Invalid start time. The start time cannot occur after the end "
                              "time."),
                        ({"start": "yesterday"}, "Invalid datetime string")):  # fmt: skip
        with pytest.raises(Fault) as refused:
            nova_admin_documents.period(query, NOW)
        assert (refused.value.code, said in refused.value.message) == (400, True)


def _usage(server: dict[str, Any], start: datetime.datetime,
           stop: datetime.datetime) -> dict[str, Any] | None:  # fmt: skip
    return nova_admin_documents.server_usage(server, FLAVOR, tenant_id=PROJECT_ID, start=start,
                                             stop=stop, now=NOW)  # fmt: skip


RUNNING = _server("web", "s-web", status={"status": "ACTIVE", "powerState": "RUNNING",
                                          "launchedAt": "2026-03-01T06:00:00Z"})  # fmt: skip
DELETING = _server("old", "s-old", status={"status": "ACTIVE", "powerState": "RUNNING",
                                           "launchedAt": "2026-03-01T02:00:00Z"},
                   deletionTimestamp="2026-03-01T08:00:00Z")  # fmt: skip
NEVER_LAUNCHED = _server("new", "s-new", status={"status": "BUILD", "powerState": "NOSTATE"})


def test_a_server_s_usage_is_its_hours_in_the_period_with_its_flavor() -> None:
    start = datetime.datetime(2026, 3, 1, tzinfo=UTC)
    stop = datetime.datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert _usage(RUNNING, start, stop) == {
        "instance_id": "s-web", "name": "web", "tenant_id": PROJECT_ID, "flavor": "m1.small",
        "hours": 6.0, "memory_mb": 2048, "vcpus": 2, "local_gb": 25,
        "started_at": "2026-03-01T06:00:00.000000", "ended_at": None, "state": "active",
        "uptime": 30 * 3600,
    }  # fmt: skip
    deleting = _usage(DELETING, start, stop)
    assert deleting is not None
    assert (deleting["hours"], deleting["state"], deleting["ended_at"], deleting["uptime"]) == (
        6.0,
        "terminated",
        "2026-03-01T08:00:00.000000",
        6 * 3600,
    )
    # Launched after the period, gone before it, never launched: not in it.
    assert _usage(RUNNING, start, datetime.datetime(2026, 3, 1, 6, tzinfo=UTC)) is None
    assert _usage(DELETING, datetime.datetime(2026, 3, 1, 8, tzinfo=UTC), stop) is None
    assert _usage(NEVER_LAUNCHED, start, stop) is None
    gone = nova_admin_documents.server_usage(RUNNING, None, tenant_id=PROJECT_ID, start=start,
                                             stop=stop, now=NOW)  # fmt: skip
    assert gone is not None
    assert (gone["flavor"], gone["vcpus"], gone["memory_mb"]) == ("", 0, 0)


def test_tenant_usages_add_up_their_servers_and_match_tempest_s_schemas() -> None:
    start = datetime.datetime(2026, 3, 1, tzinfo=UTC)
    stop = datetime.datetime(2026, 3, 1, 12, tzinfo=UTC)
    usages = [u for u in (_usage(RUNNING, start, stop), _usage(DELETING, start, stop)) if u]
    schemas = importlib.import_module("tempest.lib.api_schema.response.compute.v2_1."
                                      "tenant_usages")  # fmt: skip
    shown = nova_admin_documents.tenant_usage(PROJECT_ID, usages, start=start, stop=stop,
                                              detailed=True)  # fmt: skip
    _check(schemas.get_tenant_usage, {"tenant_usage": shown})
    assert {k: shown[k] for k in ("start", "stop", "total_hours", "total_vcpus_usage",
                                  "total_memory_mb_usage", "total_local_gb_usage")} == {
        "start": "2026-03-01T00:00:00.000000", "stop": "2026-03-01T12:00:00.000000",
        "total_hours": 12.0, "total_vcpus_usage": 24.0, "total_memory_mb_usage": 24576.0,
        "total_local_gb_usage": 300.0}  # fmt: skip
    assert [u["instance_id"] for u in shown["server_usages"]] == ["s-web", "s-old"]
    listed = nova_admin_documents.tenant_usage(PROJECT_ID, usages, start=start, stop=stop,
                                               detailed=False)  # fmt: skip
    assert "server_usages" not in listed
    _check(schemas.list_tenant_usage, {"tenant_usages": [listed, shown]})
    empty = nova_admin_documents.tenant_usage(PROJECT_ID, [], start=start, stop=stop,
                                              detailed=True)  # fmt: skip
    _check(schemas.get_tenant_usage, {"tenant_usage": empty})
    assert (empty["total_hours"], empty["server_usages"]) == (0, [])


# --- hypervisors ----------------------------------------------------------------------------


def _node(name: str, uid: str, *, ready: bool = True, cordoned: bool = False) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": uid, "labels": {
            "compute.nimbus.dev/vcpus": "16", "compute.nimbus.dev/memory-mb": "65536",
            "compute.nimbus.dev/disk-gb": "500",
            "trait.compute.nimbus.dev/HW_CPU_X86_AVX2": "true"}},
        "spec": {"unschedulable": True} if cordoned else {},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "addresses": [{"type": "InternalIP", "address": "192.0.2.11"},
                          {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.31.2", "architecture": "amd64"},
            "allocatable": {"cpu": "8", "memory": "32Gi", "ephemeral-storage": "100Gi"},
        },
    }  # fmt: skip


NODE = _node("node-1", NODE_UID)
CORDONED = _node("node-2", "7c1d2e3f-0000-4000-8000-0000000000a2", ready=False, cordoned=True)
ON_NODE = [
    _server("web", WEB, status={"status": "ACTIVE", "powerState": "RUNNING", "host": "node-1",
                                    "built": {"flavor": "m1.small"}}),
    _server("db", DB, created="11:00:00", status={
        "status": "RESIZE", "powerState": "RUNNING", "host": "node-1", "taskState": "resize_prep",
        "built": {"flavor": "m1.small"}}),
]  # fmt: skip
FLAVORS = {"m1.small": FLAVOR}


def _hypervisor(version: tuple[int, int], *, detail: bool = True, node: dict[str, Any] = NODE,
                with_servers: bool = False) -> dict[str, Any]:  # fmt: skip
    servers = ON_NODE if node is NODE else []
    return nova_host_documents.hypervisor(node, servers, FLAVORS, version=version, detail=detail,
                                           with_servers=with_servers)  # fmt: skip


# Nova 2.88 took the resources out of the detail and put uptime in; tempest has no schema for it.
REMOVED_IN_2_88 = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used",
                   "local_gb_used", "free_ram_mb", "free_disk_gb", "current_workload",
                   "running_vms", "disk_available_least", "cpu_info")  # fmt: skip


def _detail_schemas(version: tuple[int, int]) -> tuple[dict[str, Any], dict[str, Any]]:
    schemas = _schema("hypervisors", HYPERVISOR_SCHEMAS, version)
    listed, shown = (
        copy.deepcopy(schemas.list_hypervisors_detail),
        copy.deepcopy(schemas.get_hypervisor),
    )
    if version >= (2, 88):
        for item in (listed["response_body"]["properties"]["hypervisors"]["items"],
                     shown["response_body"]["properties"]["hypervisor"]):  # fmt: skip
            for field in REMOVED_IN_2_88:
                item["properties"].pop(field)
                item["required"].remove(field)
            item["properties"]["uptime"] = {"type": ["string", "null"]}
            item["required"].append("uptime")
    return listed, shown


@pytest.mark.parametrize("version", EVERY_RANGE)
def test_hypervisor_documents_match_tempest_s_schemas(version: tuple[int, int]) -> None:
    schemas = _schema("hypervisors", HYPERVISOR_SCHEMAS, version)
    listed_detail, shown = _detail_schemas(version)
    with_servers = version >= (2, 53)
    details = [_hypervisor(version, with_servers=with_servers),
               _hypervisor(version, node=CORDONED, with_servers=with_servers)]  # fmt: skip
    _check(listed_detail, {"hypervisors": details})
    _check(shown, {"hypervisor": details[0]})
    _check(schemas.list_search_hypervisors, {"hypervisors": [
        _hypervisor(version, detail=False, with_servers=with_servers),
        _hypervisor(version, detail=False, node=CORDONED, with_servers=with_servers)]})  # fmt: skip
    if version < (2, 88):
        _check(schemas.get_hypervisor_statistics, nova_host_documents.statistics(details))


def test_a_hypervisor_is_a_node_and_what_its_servers_use() -> None:
    assert _hypervisor((2, 87)) == {
        "id": NODE_UID, "hypervisor_hostname": "node-1", "state": "up", "status": "enabled",
        "hypervisor_type": "QEMU", "hypervisor_version": 1031002, "host_ip": "192.0.2.11",
        "service": {"host": "node-1", "disabled_reason": None,
                    "id": nova_host_documents.service_id(NODE, (2, 87))},
        "vcpus": 16, "vcpus_used": 4, "memory_mb": 65536, "memory_mb_used": 4096,
        "free_ram_mb": 61440, "local_gb": 500, "local_gb_used": 50, "free_disk_gb": 450,
        "disk_available_least": 450, "current_workload": 1, "running_vms": 2,
        "cpu_info": {"arch": "x86_64", "model": "", "vendor": "", "features": ["HW_CPU_X86_AVX2"],
                     "topology": {"sockets": 1, "cores": 16, "threads": 1}},
    }  # fmt: skip
    old = _hypervisor((2, 27))
    assert isinstance(old["id"], int)
    assert old["id"] == nova_host_documents.hypervisor_id(NODE, (2, 1))
    assert json.loads(old["cpu_info"])["arch"] == "x86_64"
    latest = _hypervisor((2, 96), with_servers=True)
    assert "vcpus" not in latest
    assert latest["uptime"] is None
    assert latest["servers"] == [{"name": "web", "uuid": WEB}, {"name": "db", "uuid": DB}]
    cordoned = _hypervisor((2, 96), node=CORDONED, with_servers=True)
    assert (cordoned["state"], cordoned["status"], cordoned["service"]["disabled_reason"],
            cordoned["servers"]) == ("down", "disabled", "cordoned", [])  # fmt: skip
    assert "servers" not in _hypervisor((2, 74), node=CORDONED, with_servers=True)


def test_the_statistics_add_up_the_enabled_hypervisors() -> None:
    details = [_hypervisor((2, 87)), _hypervisor((2, 87), node=CORDONED)]
    assert nova_host_documents.statistics(details) == {"hypervisor_statistics": {
        "count": 1, "vcpus": 16, "memory_mb": 65536, "local_gb": 500, "vcpus_used": 4,
        "memory_mb_used": 4096, "local_gb_used": 50, "free_ram_mb": 61440, "free_disk_gb": 450,
        "current_workload": 1, "running_vms": 2, "disk_available_least": 450,
    }}  # fmt: skip


@pytest.mark.parametrize("version", [(2, 1), (2, 10), (2, 11), (2, 52), (2, 53), (2, 96)])
def test_a_node_s_compute_service_matches_tempest_s_schemas(version: tuple[int, int]) -> None:
    first = max(v for v in [(2, 1), (2, 11), (2, 53)] if v <= version)
    schemas = _schema("services", [first], version)
    heard = copy.deepcopy(NODE)
    heard["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-12-08T00:10:00Z"
    services = [nova_host_documents.service(n, version=version) for n in (heard, CORDONED)]
    _check(schemas.list_services, {"services": services})
    up, down = services
    assert (up["binary"], up["host"], up["zone"], up["status"], up["state"]) == (
        "nova-compute", "node-1", "nova", "enabled", "up")  # fmt: skip
    assert up["updated_at"] == "2026-12-08T00:10:00"
    assert (down["status"], down["state"], down["disabled_reason"]) == (
        "disabled", "down", "cordoned")  # fmt: skip
    assert ("forced_down" in up) is (version >= (2, 11))


def test_what_a_policy_refuses_is_nova_s_403() -> None:
    refused = nova_admin_documents.policy_refused("os-hypervisors:list-detail")
    said = "Policy doesn't allow os_compute_api:os-hypervisors:list-detail to be performed."
    assert refused.document() == {"forbidden": {"code": 403, "message": said}}


# --- host aggregates ------------------------------------------------------------------------


def _labelled(node: dict[str, Any], created: str, **labels: str) -> dict[str, Any]:
    labelled = copy.deepcopy(node)
    labelled["metadata"]["labels"].update(labels)
    labelled["metadata"]["creationTimestamp"] = created
    return labelled


IN_AGGREGATES = [
    _labelled(NODE, "2026-03-01T10:00:00Z", **{
        "aggregate.compute.nimbus.dev/fast-ssd": "true",
        "fast-ssd.aggregate.compute.nimbus.dev/ssd": "true",
        "fast-ssd.aggregate.compute.nimbus.dev/availability_zone": "zone-a"}),
    _labelled(CORDONED, "2026-02-01T10:00:00Z", **{
        "aggregate.compute.nimbus.dev/fast-ssd": "true",
        "aggregate.compute.nimbus.dev/gpu": "true"}),
]  # fmt: skip


@pytest.mark.parametrize("version", EVERY_RANGE)
def test_aggregate_documents_match_tempest_s_schemas(version: tuple[int, int]) -> None:
    schemas = _schema("aggregates", AGGREGATE_SCHEMAS, version)
    listed = nova_host_documents.aggregates(IN_AGGREGATES, version)
    _check(schemas.list_aggregates, {"aggregates": listed})
    _check(schemas.get_aggregate, {"aggregate": listed[0]})


def test_aggregates_are_the_nodes_labels() -> None:
    fast, gpu = nova_host_documents.aggregates(IN_AGGREGATES, (2, 96))
    assert {k: fast[k] for k in ("name", "hosts", "metadata", "availability_zone",
                                 "created_at", "deleted")} == {
        "name": "fast-ssd", "hosts": ["node-1", "node-2"],
        "metadata": {"ssd": "true", "availability_zone": "zone-a"},
        "availability_zone": "zone-a", "created_at": "2026-02-01T10:00:00.000000",
        "deleted": False}  # fmt: skip
    assert (gpu["name"], gpu["hosts"], gpu["availability_zone"]) == ("gpu", ["node-2"], None)
    assert isinstance(fast["id"], int)
    assert fast["uuid"] != gpu["uuid"]
    assert "uuid" not in nova_host_documents.aggregates(IN_AGGREGATES, (2, 40))[0]
    assert nova_host_documents.aggregates([NODE], (2, 96)) == []
