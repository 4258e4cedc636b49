"""Nova's server actions, keypairs, limits and availability zones as nimbus api maps them: each
action to the merge patch of the Server that asks the operator for it, Nova's conflicts in Nova's
words, and every document checked against tempest's response schema for its microversion."""

from __future__ import annotations

import datetime
import importlib
from typing import Any

import pytest

from nimbus.compute import keypairs
from nimbus.openstack import nova, nova_extension_documents, server_actions, server_request
from nimbus.openstack.faults import Fault
from tests.unit.test_openstack_documents import CLI_BODY, Cloud, _check

UID = "5e6f7a8b-0000-4000-8000-000000000001"
NOW = datetime.datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=datetime.UTC)
STAMP = "2026-03-01T10:00:00.123456Z"


def _server(
    word: str,
    power: str,
    *,
    wanted: str = "Running",
    task: str | None = None,
    annotations: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "demo", "uid": UID,
                     "annotations": annotations or {}},
        "spec": {"flavor": "m1.small", "image": {"name": "cirros"}, "powerState": wanted,
                 **(spec or {})},
        "status": {"status": word, "powerState": power, "taskState": task,
                   "built": {"flavor": "m1.small", "image": "/cirros", "reboot": "r1"}},
    }  # fmt: skip


ACTIVE = _server("ACTIVE", "RUNNING")
STOPPED = _server("SHUTOFF", "SHUTDOWN", wanted="Stopped")
PAUSED = _server("PAUSED", "PAUSED", wanted="Paused")
BUILDING = {**_server("BUILD", "NOSTATE"), "status": {"status": "BUILD", "powerState": "NOSTATE"}}


def _flavor(name: str, uid: str, disk: int) -> dict[str, Any]:
    return {"metadata": {"name": name, "uid": uid},
            "spec": {"vcpus": 1, "ramMB": 512, "diskGB": disk}}  # fmt: skip


FLAVORS = [_flavor("m1.small", "f-small", 10), _flavor("m1.medium", "f-medium", 20),
           _flavor("m1.tiny", "f-tiny", 1)]  # fmt: skip
IMAGES = [{"metadata": {"name": "cirros", "uid": "i-cirros"}},
          {"metadata": {"name": "fedora", "uid": "i-fedora"}}]  # fmt: skip


def _patch(action: str, argument: Any, server: dict[str, Any]) -> dict[str, Any] | None:
    return server_actions.action_patch(
        action, argument, server, flavors=FLAVORS, images=IMAGES, now=NOW
    )


def _refusal(action: str, argument: Any, server: dict[str, Any]) -> tuple[int, str]:
    with pytest.raises(Fault) as raised:
        _patch(action, argument, server)
    return raised.value.code, raised.value.message


@pytest.mark.parametrize(
    ("action", "argument", "server", "patch"),
    [
        ("os-stop", None, ACTIVE, {"spec": {"powerState": "Stopped"}}),
        ("os-start", None, STOPPED, {"spec": {"powerState": "Running"}}),
        ("pause", None, ACTIVE, {"spec": {"powerState": "Paused"}}),
        ("unpause", None, PAUSED, {"spec": {"powerState": "Running"}}),
        ("os-stop", None, _server("ERROR", "NOSTATE"), {"spec": {"powerState": "Stopped"}}),
        ("reboot", {"type": "SOFT"}, ACTIVE, {"metadata": {"annotations": {
            "compute.nimbus.dev/reboot": STAMP, "compute.nimbus.dev/reboot-type": None}}}),
        ("reboot", {"type": "hard"}, ACTIVE, {"metadata": {"annotations": {
            "compute.nimbus.dev/reboot": STAMP, "compute.nimbus.dev/reboot-type": "HARD"}}}),
        # Nova's hard reboot powers a stopped or paused server on
        ("reboot", {"type": "HARD"}, STOPPED, {"spec": {"powerState": "Running"},
         "metadata": {"annotations": {"compute.nimbus.dev/reboot": STAMP,
                                      "compute.nimbus.dev/reboot-type": "HARD"}}}),
        ("reboot", {"type": "HARD"}, PAUSED, {"spec": {"powerState": "Running"},
         "metadata": {"annotations": {"compute.nimbus.dev/reboot": STAMP,
                                      "compute.nimbus.dev/reboot-type": "HARD"}}}),
        ("resize", {"flavorRef": "f-medium"}, ACTIVE, {"spec": {"flavor": "m1.medium"}}),
        ("resize", {"flavorRef": "m1.medium"}, STOPPED, {"spec": {"flavor": "m1.medium"}}),
        ("confirmResize", None, ACTIVE, None),
        ("rebuild", {"imageRef": "i-fedora"}, ACTIVE,
         {"spec": {"image": {"name": "fedora", "project": None}}}),
        ("rebuild", {"imageRef": "fedora"}, STOPPED,
         {"spec": {"image": {"name": "fedora", "project": None}}}),
    ],
)  # fmt: skip
def test_each_action_is_a_merge_patch_of_the_server(
    action: str, argument: Any, server: dict[str, Any], patch: dict[str, Any] | None
) -> None:
    assert _patch(action, argument, server) == patch


@pytest.mark.parametrize(
    ("action", "argument", "server", "message"),
    [
        ("os-stop", None, STOPPED, "Cannot 'stop' instance {} while it is in vm_state stopped"),
        ("os-start", None, ACTIVE, "Cannot 'start' instance {} while it is in vm_state active"),
        ("pause", None, STOPPED, "Cannot 'pause' instance {} while it is in vm_state stopped"),
        ("unpause", None, ACTIVE, "Cannot 'unpause' instance {} while it is in vm_state active"),
        ("reboot", {"type": "SOFT"}, STOPPED,
         "Cannot 'reboot' instance {} while it is in vm_state stopped"),
        ("resize", {"flavorRef": "m1.medium"}, PAUSED,
         "Cannot 'resize' instance {} while it is in vm_state paused"),
        ("rebuild", {"imageRef": "fedora"}, BUILDING,
         "Cannot 'rebuild' instance {} while it is in vm_state building"),
        # the operator is stopping it: Nova set task_state when it took the first stop
        ("os-stop", None, _server("ACTIVE", "RUNNING", wanted="Stopped"),
         "Cannot 'stop' instance {} while it is in task_state powering-off"),
        ("os-stop", None, _server("ACTIVE", "RUNNING", task="powering-off"),
         "Cannot 'stop' instance {} while it is in task_state powering-off"),
        ("os-start", None, _server("SHUTOFF", "SHUTDOWN"),
         "Cannot 'start' instance {} while it is in task_state powering-on"),
        ("pause", None, _server("ACTIVE", "RUNNING", annotations={
            "compute.nimbus.dev/reboot": "r2"}),
         "Cannot 'pause' instance {} while it is in task_state rebooting"),
        ("reboot", {"type": "SOFT"}, _server("REBOOT", "RUNNING", task="reboot_started"),
         "Cannot 'reboot' instance {} while it is in task_state reboot_started"),
        ("reboot", {"type": "HARD"}, _server("RESIZE", "RUNNING", task="resize_migrating"),
         "Cannot 'reboot' instance {} while it is in task_state resize_migrating"),
        ("revertResize", None, ACTIVE,
         "Cannot 'revertResize' instance {} while it is in vm_state active: Nimbus confirms a "
         "resize at once and keeps no old instance to revert to; resize to the old flavor "
         "instead."),
    ],
)  # fmt: skip
def test_nova_s_conflicts_in_nova_s_words(
    action: str, argument: Any, server: dict[str, Any], message: str
) -> None:
    assert _refusal(action, argument, server) == (409, message.format(UID))


def test_a_hard_reboot_goes_through_a_soft_one_under_way() -> None:
    rebooting = _server("REBOOT", "RUNNING", task="reboot_started")
    patch = _patch("reboot", {"type": "HARD"}, rebooting)
    assert patch is not None
    assert patch["metadata"]["annotations"]["compute.nimbus.dev/reboot-type"] == "HARD"


@pytest.mark.parametrize(
    ("action", "argument", "server", "message"),
    [
        ("resize", {"flavorRef": "m1.hueg"}, ACTIVE, "Flavor m1.hueg could not be found."),
        ("resize", {"flavorRef": "f-small"}, ACTIVE,
         "When resizing, instances must change flavor!"),
        ("resize", {"flavorRef": "m1.tiny"}, ACTIVE, "Resize error: Unable to resize disk down."),
        ("resize", {}, ACTIVE,
         "Invalid input for field/attribute resize. Value: {}. 'flavorRef' is a required "
         "property"),
        ("rebuild", {"imageRef": "nope"}, ACTIVE, "Cannot find image for rebuild"),
        ("rebuild", {"imageRef": "i-cirros"}, ACTIVE,
         f"Server {UID} already runs image cirros: Nimbus rebuilds a server when spec.image "
         "changes; give another image"),
        ("rebuild", {"imageRef": "fedora"},
         {**ACTIVE, "spec": {"flavor": "m1.small", "bootVolume": {"name": "root"}}},
         "Unable to rebuild with a different image for a volume-backed server."),
        ("reboot", {"type": "WARM"}, ACTIVE,
         "Invalid input for field/attribute type. Value: WARM. 'WARM' is not one of "
         "['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']"),
        ("reboot", None, ACTIVE,
         "Invalid input for field/attribute reboot. Value: None. 'type' is a required property"),
        ("shelve", None, ACTIVE, "There is no such action: shelve"),
    ],
)  # fmt: skip
def test_what_nova_refuses_with_400(
    action: str, argument: Any, server: dict[str, Any], message: str
) -> None:
    assert _refusal(action, argument, server) == (400, message)


def test_a_resize_is_judged_against_the_flavor_the_server_runs() -> None:
    """A refused resize down leaves spec.flavor ahead of status.built: the running flavor
    counts, so resizing back to it is no change and another size is judged from it."""
    refused = _server("ACTIVE", "RUNNING", spec={"flavor": "m1.tiny"})
    assert _refusal("resize", {"flavorRef": "m1.small"}, refused) == (
        400, "When resizing, instances must change flavor!")  # fmt: skip
    assert _patch("resize", {"flavorRef": "m1.medium"}, refused) == {
        "spec": {"flavor": "m1.medium"}}  # fmt: skip


# --- limits ---------------------------------------------------------------------------------

LIMIT_SCHEMAS = [(2, 1), (2, 36), (2, 39), (2, 57)]
PROJECT: dict[str, Any] = {
    "metadata": {"name": "demo", "uid": "p-demo"},
    "spec": {"quota": {"instances": 5, "cores": 8, "ramMB": 4096, "serverGroups": 2}},
    "status": {"namespace": "demo", "usage": {
        "instances": {"inUse": 2, "reserved": 0, "limit": 5},
        "cores": {"inUse": 3, "reserved": 0, "limit": 8},
        "ramMB": {"inUse": 1536, "reserved": 0, "limit": 4096},
        "serverGroups": {"inUse": 1, "reserved": 0, "limit": 2},
        "securityGroups": {"inUse": 1, "reserved": 0, "limit": 10},
    }},
}  # fmt: skip


def _schema(kind: str, table: list[tuple[int, int]], version: tuple[int, int]) -> Any:
    first = max(v for v in table if v <= version)
    return importlib.import_module(f"tempest.lib.api_schema.response.compute.v2_{first[1]}.{kind}")


@pytest.mark.parametrize(
    "version", [(2, 1), (2, 35), (2, 36), (2, 38), (2, 39), (2, 56), (2, 57), (2, 96)]
)
def test_the_limits_match_tempest_s_schema(version: tuple[int, int]) -> None:
    document = nova_extension_documents.limits_document(PROJECT, version)
    _check(_schema("limits", LIMIT_SCHEMAS, version).get_limit, document)


def test_the_limits_are_the_project_s_quota_and_usage() -> None:
    absolute = nova_extension_documents.limits_document(PROJECT, (2, 96))["limits"]["absolute"]
    assert absolute == {
        "maxTotalInstances": 5, "maxTotalCores": 8, "maxTotalRAMSize": 4096,
        "maxTotalKeypairs": 100, "maxServerMeta": 128, "maxServerGroups": 2,
        "maxServerGroupMembers": 10, "totalInstancesUsed": 2, "totalCoresUsed": 3,
        "totalRAMUsed": 1536, "totalServerGroupsUsed": 1,
    }  # fmt: skip
    old = nova_extension_documents.limits_document(PROJECT, (2, 1))["limits"]
    assert old["rate"] == []
    assert {k: old["absolute"][k] for k in ("maxSecurityGroups", "totalSecurityGroupsUsed",
            "maxTotalFloatingIps", "maxImageMeta", "maxPersonality")} == {
        "maxSecurityGroups": 10, "totalSecurityGroupsUsed": 1, "maxTotalFloatingIps": 50,
        "maxImageMeta": 128, "maxPersonality": 0}  # fmt: skip


def test_a_project_the_operator_has_not_counted_yet_uses_nothing() -> None:
    absolute = nova_extension_documents.limits_document(
        {"metadata": {"name": "new"}, "spec": {}}, (2, 96)
    )
    assert absolute["limits"]["absolute"]["totalInstancesUsed"] == 0
    assert absolute["limits"]["absolute"]["maxTotalInstances"] == 10


# --- keypairs -------------------------------------------------------------------------------

PUBLIC = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICTtVwF7P9oMwZ3JkCgY1SSRonCdtfo86aXKFQBroS8h ops"
KEYPAIR: dict[str, Any] = {
    "metadata": {"name": "ops", "namespace": "demo", "uid": "0a1b2c3d-0000-4000-8000-00000000000a",
                 "creationTimestamp": "2026-03-01T10:00:00Z"},
    "spec": {"publicKey": PUBLIC, "type": "ssh"},
    "status": {"fingerprint": keypairs.fingerprint(PUBLIC), "publicKey": PUBLIC},
}  # fmt: skip
KEYPAIR_SCHEMAS = [(2, 1), (2, 2)]


@pytest.mark.parametrize("version", [(2, 1), (2, 2), (2, 96)])
def test_keypair_documents_match_tempest_s_schemas(version: tuple[int, int]) -> None:
    schemas = _schema("keypairs", KEYPAIR_SCHEMAS, version)
    shown = nova_extension_documents.keypair_document(
        KEYPAIR, user_id="u-1", version=version, detail=True
    )
    _check(schemas.get_keypair, {"keypair": shown})
    listed = nova_extension_documents.keypair_document(
        KEYPAIR, user_id="u-1", version=version, detail=False
    )
    _check(schemas.list_keypairs, {"keypairs": [{"keypair": listed}]})
    assert shown["fingerprint"] == KEYPAIR["status"]["fingerprint"]
    assert (shown["created_at"], shown["id"]) == ("2026-03-01T10:00:00.000000", 0x0A1B2C3)


def test_a_keypair_the_operator_has_not_seen_yet_shows_its_fingerprint() -> None:
    fresh = {**KEYPAIR, "status": {}}
    listed = nova_extension_documents.keypair_document(
        fresh, user_id="u-1", version=(2, 96), detail=False
    )
    assert listed["fingerprint"] == keypairs.fingerprint(PUBLIC)


def test_an_imported_keypair_is_a_keypair_spec() -> None:
    spec, private = nova_extension_documents.keypair_create(
        {"keypair": {"name": "ops", "public_key": PUBLIC + "\n", "type": "ssh"}}, (2, 96)
    )
    assert (spec, private) == ({"name": "ops", "publicKey": PUBLIC, "type": "ssh"}, None)


@pytest.mark.parametrize("version", [(2, 1), (2, 2), (2, 91)])
def test_before_2_92_a_keypair_without_a_public_key_is_generated_and_answered_once(
    version: tuple[int, int],
) -> None:
    spec, private = nova_extension_documents.keypair_create({"keypair": {"name": "ops"}}, version)
    assert private is not None
    assert private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert spec["publicKey"].startswith("ssh-ed25519 ")
    document = {"name": "ops", "public_key": spec["publicKey"], "user_id": "u-1",
                "fingerprint": keypairs.fingerprint(spec["publicKey"]), "private_key": private,
                **({"type": "ssh"} if version >= (2, 2) else {})}  # fmt: skip
    _check(_schema("keypairs", KEYPAIR_SCHEMAS, version).create_keypair, {"keypair": document})


@pytest.mark.parametrize(
    ("request_body", "version", "message"),
    [
        ({"keypair": {"name": "ops"}}, (2, 92),
         "Invalid input for field/attribute keypair. Value: {'name': 'ops'}. 'public_key' is a "
         "required property"),
        ({"keypair": {"name": "My Key", "public_key": PUBLIC}}, (2, 96),
         "Invalid input for field/attribute keypair/name. Value: My Key. 'My Key' is not a valid "
         "name: Nimbus keeps a keypair as a Kubernetes object: lowercase letters, digits, '-' "
         "and '.'"),
        ({"keypair": {"name": "ops", "public_key": "ssh-rsa !!!"}}, (2, 96),
         "Keypair data is invalid: failed to generate fingerprint"),
        ({"keypair": {"name": "ops", "type": "pgp", "public_key": PUBLIC}}, (2, 96),
         "Invalid input for field/attribute keypair/type. Value: pgp. 'pgp' is not one of "
         "['ssh', 'x509']"),
        ({"key": {}}, (2, 96),
         "Invalid input for field/attribute keypair. Value: None. 'keypair' is a required "
         "property"),
    ],
)  # fmt: skip
def test_what_nova_refuses_of_a_keypair(
    request_body: dict[str, Any], version: tuple[int, int], message: str
) -> None:
    with pytest.raises(Fault) as raised:
        nova_extension_documents.keypair_create(request_body, version)
    assert (raised.value.code, raised.value.message) == (400, message)


# --- availability zones ---------------------------------------------------------------------


def _node(name: str, zone: str | None, ready: bool, *, cordoned: bool = False) -> dict[str, Any]:
    labels = {"topology.kubernetes.io/zone": zone} if zone else {}
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"unschedulable": True} if cordoned else {},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastHeartbeatTime": "2026-03-01T10:00:00Z"}]}}  # fmt: skip


NODES = [_node("n1", "az1", True), _node("n2", "az1", False), _node("n3", "az2", True,
         cordoned=True), _node("n4", None, True)]  # fmt: skip


def test_zones_come_from_the_nodes_labels() -> None:
    listed = nova_extension_documents.zones_from_nodes(NODES, detail=False)
    assert listed == [
        {"zoneName": "az1", "zoneState": {"available": True}, "hosts": None},
        {"zoneName": "az2", "zoneState": {"available": False}, "hosts": None},
    ]
    module = importlib.import_module(
        "tempest.lib.api_schema.response.compute.v2_1.availability_zone"
    )
    _check(module.list_availability_zone_list, {"availabilityZoneInfo": listed})
    detail = nova_extension_documents.zones_from_nodes(NODES, detail=True)
    _check(module.list_availability_zone_list_detail, {"availabilityZoneInfo": detail})
    assert detail[0]["hosts"]["n2"] == {
        "nova-compute": {
            "available": False,
            "active": False,
            "updated_at": "2026-03-01T10:00:00.000000",
        }
    }
    assert detail[1]["hosts"]["n3"]["nova-compute"]["active"] is True


def test_without_the_nodes_the_zones_are_those_of_the_project_s_servers() -> None:
    servers: list[dict[str, Any]] = [
        {"spec": {"availabilityZone": "az2"}, "status": {"availabilityZone": "az2"}},
        {"spec": {}, "status": {"availabilityZone": "az1"}},
        {"spec": {}, "status": {}},
    ]
    assert [z["zoneName"] for z in nova_extension_documents.zones_from_servers(servers)] == [
        "az1",
        "az2",
    ]


# -- update, metadata and security groups: what Terraform's second apply sends -----------------

SSH = "allow-ssh-1a2b3"  # the Kubernetes name of the group named allow_ssh
GROUPS: list[dict[str, Any]] = [
    {"metadata": {"name": SSH, "uid": "g-ssh",
                  "annotations": {"openstack.nimbus.dev/name": "allow_ssh"}}},
    {"metadata": {"name": "default", "uid": "g-default"}},
]  # fmt: skip
IN_GROUPS = _server("ACTIVE", "RUNNING", spec={"securityGroups": [SSH]})


def _groups(action: str, name: Any, server: dict[str, Any] = IN_GROUPS) -> dict[str, Any] | None:
    return server_actions.action_patch(action, {"name": name}, server, flavors=[], images=[],
                                       now=NOW, security_groups=GROUPS)  # fmt: skip


@pytest.mark.parametrize(
    ("action", "name", "patch"),
    [
        ("addSecurityGroup", "default", {"spec": {"securityGroups": [SSH, "default"]}}),
        ("addSecurityGroup", "g-default", {"spec": {"securityGroups": [SSH, "default"]}}),
        ("addSecurityGroup", "allow_ssh", None),  # there already: nothing to change, as in Nova
        ("removeSecurityGroup", "allow_ssh", {"spec": {"securityGroups": []}}),
        ("removeSecurityGroup", SSH, {"spec": {"securityGroups": []}}),
    ],
)  # fmt: skip
def test_a_security_group_is_added_or_taken_out_by_its_openstack_name_or_id(
    action: str, name: str, patch: dict[str, Any] | None
) -> None:
    assert _groups(action, name) == patch


def test_a_server_without_security_groups_in_its_spec_is_in_default() -> None:
    assert _groups("removeSecurityGroup", "default", ACTIVE) == {"spec": {"securityGroups": []}}


@pytest.mark.parametrize(
    ("action", "name", "refusal"),
    [
        ("addSecurityGroup", "web", (404, "Security group web not found.")),
        ("removeSecurityGroup", "default",
         (404, f"Security group default not associated with the instance {UID}")),
        ("addSecurityGroup", None, (400, "Security group not specified")),
        ("addSecurityGroup", " ", (400, "Security group name cannot be empty")),
    ],
)  # fmt: skip
def test_what_nova_refuses_of_the_security_group_actions(
    action: str, name: Any, refusal: tuple[int, str]
) -> None:
    with pytest.raises(Fault) as raised:
        _groups(action, name)
    assert (raised.value.code, raised.value.message) == refusal


@pytest.mark.parametrize(
    ("body", "version", "patch"),
    [
        ({"name": "Web Server"}, (2, 1),
         {"metadata": {"annotations": {"openstack.nimbus.dev/name": "Web Server"}}}),
        ({"name": "web"}, (2, 1),  # its Kubernetes name again: no annotation
         {"metadata": {"annotations": {"openstack.nimbus.dev/name": None}}}),
        ({"description": "the front", "accessIPv4": ""}, (2, 19),
         {"spec": {"description": "the front"}}),
        ({"description": None}, (2, 19), {"spec": {"description": ""}}),
        ({"hostname": "web-1"}, (2, 90), {"spec": {"hostname": "web-1"}}),
        ({}, (2, 1), {}),
    ],
)  # fmt: skip
def test_an_update_is_a_merge_patch_of_the_name_annotation_and_spec(
    body: dict[str, Any], version: tuple[int, int], patch: dict[str, Any]
) -> None:
    assert server_actions.update_patch({"server": body}, ACTIVE, version) == patch


@pytest.mark.parametrize(
    ("body", "version", "message"),
    [
        ({"description": "x"}, (2, 18), "Additional properties are not allowed ('description' "
                                        "unexpected)"),
        ({"name": " web"}, (2, 1), "Leading/trailing whitespace is not allowed"),
        ({"name": ""}, (2, 1), "'' is not 1 to 255 characters"),
        ({"accessIPv4": "192.0.2.1"}, (2, 1), "accessIPv4 '192.0.2.1': Nimbus keeps no "
                                             "accessIPv4 of its own (a server shows '')"),
        ({"hostname": "Web_1"}, (2, 90), "'Web_1' is not a DNS label"),
    ],
)  # fmt: skip
def test_what_nova_refuses_of_an_update(
    body: dict[str, Any], version: tuple[int, int], message: str
) -> None:
    with pytest.raises(Fault) as raised:
        server_actions.update_patch({"server": body}, ACTIVE, version)
    assert raised.value.code == 400
    assert message in raised.value.message


def test_metadata_is_merged_in_replaced_and_deleted_an_item_at_a_time() -> None:
    server = _server("ACTIVE", "RUNNING", spec={"metadata": {"role": "web", "tier": "front"}})
    body = {"metadata": {"role": "db"}}
    merged = server_actions.metadata_patch(body, server, replace=False)
    assert merged == {"spec": {"metadata": {"role": "db"}}}
    replaced = server_actions.metadata_patch(body, server, replace=True)
    assert replaced == {"spec": {"metadata": {"role": "db", "tier": None}}}
    assert server_actions.metadata_item_delete(server, "tier") == {
        "spec": {"metadata": {"tier": None}}}  # fmt: skip
    with pytest.raises(Fault) as missing:
        server_actions.metadata_item_delete(server, "owner")
    assert (missing.value.code, missing.value.message) == (404, "Metadata item was not found")
    with pytest.raises(Fault) as refused:
        server_actions.metadata_patch({"metadata": {"role": 1}}, server, replace=False)
    assert refused.value.message == (
        "Invalid input for field/attribute metadata/role. Value: 1. 1 is not a string of at "
        "most 255 characters"
    )


class _Groups:
    """server_request.GroupResolver over GROUPS: by id, Kubernetes name or OpenStack name."""

    def security_group(self, ref: str) -> str | None:
        found = [g for g in GROUPS if ref in (g["metadata"]["uid"], g["metadata"]["name"],
                                              (g["metadata"].get("annotations") or {}).get(
                                                  "openstack.nimbus.dev/name"))]  # fmt: skip
        return str(found[0]["metadata"]["name"]) if found else None


def test_a_server_is_created_in_groups_named_as_openstack_names_them() -> None:
    body = {**CLI_BODY, "security_groups": [{"name": "allow_ssh"}, {"name": "default"}]}
    _, spec = server_request.server_create({"server": body}, resolve=Cloud(),
                                           security_groups=_Groups())  # fmt: skip
    assert spec["securityGroups"] == [SSH, "default"]
    # Without the project's groups to look in, only a name Kubernetes can hold is taken.
    with pytest.raises(server_request.BadRequest, match="'allow_ssh' is not a valid name"):
        server_request.server_create({"server": body}, resolve=Cloud())


@pytest.mark.parametrize(
    ("query", "expected"),
    [({}, False), ({"all_tenants": ""}, True), ({"all_tenants": "1"}, True),
     ({"all_tenants": "True"}, True), ({"all_tenants": "0"}, False),
     ({"all_tenants": "false"}, False)],
)  # fmt: skip
def test_all_tenants_is_nova_s_boolean(query: dict[str, str], expected: bool) -> None:
    assert nova.all_tenants(query) is expected


def test_all_tenants_that_is_no_boolean_is_nova_s_400() -> None:
    with pytest.raises(Fault) as raised:
        nova.all_tenants({"all_tenants": "maybe"})
    assert raised.value.code == 400
    assert "all_tenants. Value: maybe. 'maybe' is not a boolean" in raised.value.message
