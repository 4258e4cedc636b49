"""The OpenStack documents made from custom resources, checked against tempest's response
schemas (the shapes tempest checks real clouds with), and Nova's create request as a Server
spec, with each refusal in Nova's words."""

from __future__ import annotations

import base64
import datetime
import hashlib
import importlib
from typing import Any

import jsonschema
import pytest

from nimbus.openstack import documents, glance_documents, neutron_documents, server_request

BASE = "http://cloud.example/compute/v2.1"
PROJECT = "6f1b2c3d4e5f40718293a4b5c6d7e8f9"
USER = "0a1b2c3d4e5f40718293a4b5c6d7e8f0"
NS = "demo"

SERVER_UID = "5e6f7a8b-0000-4000-8000-000000000001"
FLAVOR_UID = "5e6f7a8b-0000-4000-8000-000000000002"
IMAGE_UID = "5e6f7a8b-0000-4000-8000-000000000003"
VOLUME_UID = "5e6f7a8b-0000-4000-8000-000000000004"
DATA_UID = "5e6f7a8b-0000-4000-8000-000000000005"
GROUP_UID = "5e6f7a8b-0000-4000-8000-000000000006"
NETWORK_UID = "5e6f7a8b-0000-4000-8000-000000000007"
SUBNET_UID = "5e6f7a8b-0000-4000-8000-000000000008"

# tempest's servers_client.schema_versions_info: the first microversion of each schema module.
SERVER_SCHEMAS = [
    (2, 1), (2, 3), (2, 6), (2, 8), (2, 9), (2, 16), (2, 19), (2, 26), (2, 45), (2, 47),
    (2, 48), (2, 51), (2, 54), (2, 57), (2, 58), (2, 62), (2, 63), (2, 70), (2, 71), (2, 73),
    (2, 75), (2, 79), (2, 80), (2, 84), (2, 89), (2, 96),
]  # fmt: skip
FLAVOR_SCHEMAS = [(2, 1), (2, 55), (2, 61)]


def _module(kind: str, table: list[tuple[int, int]], version: tuple[int, int]) -> Any:
    first = max(v for v in table if v <= version)
    return importlib.import_module(f"tempest.lib.api_schema.response.compute.v2_{first[1]}.{kind}")


def _iso8601(instance: object) -> bool:
    """tempest checks iso8601-date-time with oslo's parse_isotime; fromisoformat is as strict."""
    if isinstance(instance, str):
        datetime.datetime.fromisoformat(instance)
    return True


def _formats() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker()
    checker.checks("iso8601-date-time", raises=ValueError)(_iso8601)
    return checker


FORMATS = _formats()


def _check(schema: dict[str, Any], document: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(schema["response_body"], format_checker=FORMATS).validate(document)


# --- sample custom resources, as the operator sees them -------------------------------------


def _meta(name: str, uid: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": NS, "uid": uid, "generation": 3,
            "creationTimestamp": "2026-03-01T10:00:00Z", **extra}  # fmt: skip


FLAVOR: dict[str, Any] = {
    "apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Flavor",
    "metadata": {"name": "m1.small", "uid": FLAVOR_UID,
                 "creationTimestamp": "2026-01-01T00:00:00Z"},
    "spec": {"vcpus": 1, "ramMB": 2048, "diskGB": 20, "extraSpecs": {"hw:cpu_policy": "shared"}},
}  # fmt: skip
IMAGE: dict[str, Any] = {
    "apiVersion": "image.nimbus.dev/v1alpha1", "kind": "Image",
    "metadata": _meta("cirros", IMAGE_UID),
    "spec": {"source": {"http": {"url": "https://example.org/cirros.img",
                                 "checksum": "sha256:" + "ab" * 32}},
             "diskFormat": "qcow2", "minDiskGB": 1, "visibility": "public",
             "tags": ["small"], "properties": {"hw_disk_bus": "virtio", "os_distro": "cirros",
                                               "id": "shadowed"}},
    "status": {"status": "active", "size": 21692416, "virtualSize": 117440512,
               "checksum": "sha256:" + "ab" * 32, "conditions": [
                   {"type": "Ready", "status": "True", "reason": "Imported", "message": "",
                    "lastTransitionTime": "2026-03-01T10:02:00Z"}]},
}  # fmt: skip
VOLUMES: dict[str, dict[str, Any]] = {
    "root": {"kind": "Volume", "metadata": _meta("root", VOLUME_UID), "spec": {"sizeGB": 10}},
    "data": {"kind": "Volume", "metadata": _meta("data", DATA_UID), "spec": {"sizeGB": 1}},
}
NETWORKS: dict[str, dict[str, Any]] = {
    "private": {"kind": "Network", "spec": {},
                "metadata": _meta("private", NETWORK_UID,
                                  annotations={documents.NAME_ANNOTATION: "Private Net"})},
}  # fmt: skip
ADDRESS = {"addr": "10.0.0.10", "version": 4, "type": "fixed", "mac": "02:00:00:00:00:01"}


def _server(spec: dict[str, Any], status: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
        "metadata": _meta("web", SERVER_UID, managedFields=[
            {"manager": "nimbus", "operation": "Apply", "time": "2026-03-01T10:05:00Z"}],
            **metadata),
        "spec": {"flavor": "m1.small", "networks": [{"network": "private"}], **spec},
        "status": status,
    }  # fmt: skip


ACTIVE = _server(
    {"image": {"name": "cirros"}, "keyName": "ops", "metadata": {"role": "web"},
     "volumes": [{"volume": "data", "deleteOnTermination": True}], "userData": "#cloud-config\n",
     "description": "front end", "tags": ["prod"], "availabilityZone": "zone-a"},
    {"status": "ACTIVE", "powerState": "RUNNING", "host": "node-1",
     "availabilityZone": "zone-a", "addresses": {"private": [ADDRESS], "pod": [
         {"addr": "fd00::7", "version": 6, "type": "fixed"}]},
     "networks": "private=10.0.0.10", "launchedAt": "2026-03-01T10:04:30Z",
     "virtualMachine": "web", "built": {"flavor": "m1.small", "image": "/cirros"},
     "conditions": [{"type": "Ready", "status": "True", "reason": "Running", "message": "",
                     "lastTransitionTime": "2026-03-01T10:04:31Z"}]},
    annotations={documents.NAME_ANNOTATION: "Web Server"},
)  # fmt: skip
ERROR = _server(
    {"image": {"name": "cirros"}},
    {"status": "ERROR", "taskState": None, "powerState": "NOSTATE",
     "fault": {"code": 500, "message": "No valid host was found. There are not enough hosts "
               "available.", "details": "Filter results: ['RamFilter: (start: 1, end: 0)']"}},
)  # fmt: skip
BOOTED_FROM_VOLUME = _server(
    {"bootVolume": {"name": "root", "deleteOnTermination": False}, "powerState": "Stopped"},
    {"status": "SHUTOFF", "powerState": "SHUTDOWN", "host": None,
     "launchedAt": "2026-03-01T10:04:30.123456Z"},
)  # fmt: skip
RESIZING = _server(
    {"image": {"name": "cirros"}},
    {"status": "RESIZE", "taskState": "resize_migrating", "powerState": "RUNNING",
     "host": "node-2", "operation": {"type": "RESIZE"}},
)  # fmt: skip
SAMPLES = {"active": ACTIVE, "error": ERROR, "volume": BOOTED_FROM_VOLUME, "resizing": RESIZING}


def _document(
    body: dict[str, Any], version: tuple[int, int], *, admin: bool, listing: bool = False
) -> dict[str, Any]:
    return documents.server(
        body, flavor=FLAVOR, image=IMAGE, project_id=PROJECT, user_id=USER, admin=admin,
        version=version, base_url=BASE, volumes=VOLUMES, networks=NETWORKS,
        server_group=None, listing=listing,
    )  # fmt: skip


# --- names ----------------------------------------------------------------------------------


def _suffix(display: str, counter: int = 0) -> str:
    return hashlib.sha256(f"{display}\0{counter}".encode()).hexdigest()[:5]


@pytest.mark.parametrize(
    ("display", "taken", "expected"),
    [
        ("web", set(), "web"),
        ("web-01", {"web"}, "web-01"),
        ("web", {"web"}, f"web-{_suffix('web')}"),
        ("web", {"web", f"web-{_suffix('web')}"}, f"web-{_suffix('web', 1)}"),
        ("Web", set(), f"web-{_suffix('Web')}"),
        ("my server.1", set(), f"my-server-1-{_suffix('my server.1')}"),
        ("  --Café Crème--  ", set(), f"cafe-creme-{_suffix('  --Café Crème--  ')}"),
        ("日本", set(), f"server-{_suffix('日本')}"),
        ("", set(), f"server-{_suffix('')}"),
        ("a" * 70, set(), "a" * 57 + f"-{_suffix('a' * 70)}"),
        ("a" * 63, set(), "a" * 63),
    ],
)  # fmt: skip
def test_an_openstack_name_becomes_a_free_dns_label(
    display: str, taken: set[str], expected: str
) -> None:
    name = documents.kube_name(display, taken)
    assert name == expected
    assert len(name) <= 63


def test_the_openstack_name_is_the_annotation_else_the_object_s_name() -> None:
    assert documents.display_name(ACTIVE) == "Web Server"
    assert documents.display_name(ERROR) == "web"


# --- Nova servers ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", [*SERVER_SCHEMAS, (2, 90)])
@pytest.mark.parametrize("admin", [False, True], ids=["member", "admin"])
@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_every_server_document_matches_tempest_s_schema(
    sample: str, admin: bool, version: tuple[int, int]
) -> None:
    schemas = _module("servers", SERVER_SCHEMAS, version)
    body = SAMPLES[sample]
    _check(schemas.get_server, {"server": _document(body, version, admin=admin)})
    listed = _document(body, version, admin=admin, listing=True)
    _check(schemas.list_servers_detail, {"servers": [listed]})
    brief = documents.server_brief(body, base_url=BASE)
    _check(schemas.list_servers, {"servers": [brief]})


def test_an_active_server_at_2_96_as_a_member_sees_it() -> None:
    document = _document(ACTIVE, (2, 96), admin=False)
    assert document == {
        "id": SERVER_UID,
        "name": "Web Server",
        "status": "ACTIVE",
        "tenant_id": PROJECT,
        "user_id": USER,
        "metadata": {"role": "web"},
        "hostId": hashlib.sha224((PROJECT + "node-1").encode()).hexdigest(),
        "image": {"id": IMAGE_UID, "links": [
            {"rel": "bookmark", "href": f"http://cloud.example/compute/images/{IMAGE_UID}"}]},
        "flavor": {"vcpus": 1, "ram": 2048, "disk": 20, "ephemeral": 0, "swap": 0,
                   "original_name": "m1.small", "extra_specs": {"hw:cpu_policy": "shared"}},
        "created": "2026-03-01T10:00:00Z",
        "updated": "2026-03-01T10:05:00Z",
        "addresses": {
            "Private Net": [{"version": 4, "addr": "10.0.0.10", "OS-EXT-IPS:type": "fixed",
                             "OS-EXT-IPS-MAC:mac_addr": "02:00:00:00:00:01"}],
            "pod": [{"version": 6, "addr": "fd00::7", "OS-EXT-IPS:type": "fixed"}],
        },
        "accessIPv4": "",
        "accessIPv6": "",
        "links": [
            {"rel": "self", "href": f"{BASE}/servers/{SERVER_UID}"},
            {"rel": "bookmark", "href": f"http://cloud.example/compute/servers/{SERVER_UID}"},
        ],
        "OS-DCF:diskConfig": "MANUAL",
        "progress": 100,
        "OS-EXT-AZ:availability_zone": "zone-a",
        "config_drive": "",
        "key_name": "ops",
        "OS-SRV-USG:launched_at": "2026-03-01T10:04:30.000000",
        "OS-SRV-USG:terminated_at": None,
        "OS-EXT-STS:task_state": None,
        "OS-EXT-STS:vm_state": "active",
        "OS-EXT-STS:power_state": 1,
        "os-extended-volumes:volumes_attached": [
            {"id": DATA_UID, "delete_on_termination": True}],
        "security_groups": [{"name": "default"}],
        "OS-EXT-SRV-ATTR:hostname": "web",
        "locked": False,
        "description": "front end",
        "tags": ["prod"],
        "trusted_image_certificates": None,
        "server_groups": [],
        "locked_reason": None,
        "pinned_availability_zone": "zone-a",
    }  # fmt: skip


def test_an_admin_sees_the_host_and_instance_attributes() -> None:
    document = _document(ACTIVE, (2, 96), admin=True)
    admin_only = {k: v for k, v in document.items() if k.startswith("OS-EXT-SRV-ATTR:")}
    assert admin_only == {
        "OS-EXT-SRV-ATTR:host": "node-1",
        "OS-EXT-SRV-ATTR:hypervisor_hostname": "node-1",
        "OS-EXT-SRV-ATTR:instance_name": "demo_web",
        "OS-EXT-SRV-ATTR:reservation_id": f"r-{hashlib.sha256(SERVER_UID.encode()).hexdigest():.8}",
        "OS-EXT-SRV-ATTR:launch_index": 0,
        "OS-EXT-SRV-ATTR:kernel_id": "",
        "OS-EXT-SRV-ATTR:ramdisk_id": "",
        "OS-EXT-SRV-ATTR:hostname": "web",
        "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
        "OS-EXT-SRV-ATTR:user_data": base64.b64encode(b"#cloud-config\n").decode(),
    }  # fmt: skip
    assert document["host_status"] == "UP"


@pytest.mark.parametrize(
    ("version", "admin", "present", "absent"),
    [
        ((2, 1), True, {"OS-EXT-SRV-ATTR:host"},
         {"OS-EXT-SRV-ATTR:hostname", "locked", "description", "tags"}),
        ((2, 1), False, set(), {"OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hostname"}),
        ((2, 89), False, {"tags", "locked_reason"}, {"OS-EXT-SRV-ATTR:hostname"}),
        ((2, 90), False, {"OS-EXT-SRV-ATTR:hostname"},
         {"OS-EXT-SRV-ATTR:host", "pinned_availability_zone"}),
        ((2, 96), False, {"pinned_availability_zone", "server_groups"}, {"host_status"}),
    ],
)  # fmt: skip
def test_fields_come_with_their_microversion_and_role(
    version: tuple[int, int], admin: bool, present: set[str], absent: set[str]
) -> None:
    keys = set(_document(ACTIVE, version, admin=admin))
    assert present <= keys
    assert not absent & keys


def test_before_2_47_the_flavor_is_a_reference_and_volumes_carry_only_ids_at_2_1() -> None:
    document = _document(ACTIVE, (2, 1), admin=False)
    bookmark = f"http://cloud.example/compute/flavors/{FLAVOR_UID}"
    assert document["flavor"] == {
        "id": FLAVOR_UID,
        "links": [{"rel": "bookmark", "href": bookmark}],
    }
    assert document["os-extended-volumes:volumes_attached"] == [{"id": DATA_UID}]


def test_a_listed_server_has_no_server_groups_as_in_nova() -> None:
    assert "server_groups" not in _document(ACTIVE, (2, 96), admin=False, listing=True)
    group = {"metadata": {"name": "web-ha", "uid": GROUP_UID}}
    shown = documents.server(
        {**ACTIVE, "spec": {**ACTIVE["spec"], "serverGroup": "web-ha"}}, flavor=FLAVOR,
        image=IMAGE, project_id=PROJECT, user_id=USER, admin=False, version=(2, 96),
        base_url=BASE, server_group=group,
    )  # fmt: skip
    assert shown["server_groups"] == [GROUP_UID]


@pytest.mark.parametrize(
    ("admin", "fault"),
    [
        (True, {"code": 500, "created": "2026-03-01T10:05:00Z",
                "message": "No valid host was found. There are not enough hosts available.",
                "details": "Filter results: ['RamFilter: (start: 1, end: 0)']"}),
        (False, {"code": 500, "created": "2026-03-01T10:05:00Z",
                 "message": "No valid host was found. There are not enough hosts available."}),
    ],
)  # fmt: skip
def test_a_failed_server_s_fault_hides_a_500_s_details_from_members(
    admin: bool, fault: dict[str, Any]
) -> None:
    document = _document(ERROR, (2, 96), admin=admin)
    assert document["fault"] == fault
    assert (document["OS-EXT-STS:vm_state"], document["hostId"]) == ("error", "")
    assert "progress" not in document


def test_a_server_booted_from_volume_has_no_image_and_lists_its_root_volume() -> None:
    document = _document(BOOTED_FROM_VOLUME, (2, 96), admin=False)
    assert document["image"] == ""
    assert document["os-extended-volumes:volumes_attached"] == [
        {"id": VOLUME_UID, "delete_on_termination": False}
    ]
    assert document["OS-SRV-USG:launched_at"] == "2026-03-01T10:04:30.123456"
    assert "progress" not in document  # SHUTOFF is not a progress status


@pytest.mark.parametrize(
    ("status", "power", "vm_state", "power_state"),
    [
        ("BUILD", "NOSTATE", "building", 0),
        ("ACTIVE", "RUNNING", "active", 1),
        ("PAUSED", "PAUSED", "paused", 3),
        ("SHUTOFF", "SHUTDOWN", "stopped", 4),
        ("SUSPENDED", "SUSPENDED", "suspended", 7),
        ("ERROR", "CRASHED", "error", 6),
        ("REBOOT", "RUNNING", "active", 1),
        ("HARD_REBOOT", "RUNNING", "active", 1),
        ("RESIZE", "RUNNING", "active", 1),
        ("RESIZE", "SHUTDOWN", "stopped", 4),
        ("REBUILD", "SHUTDOWN", "stopped", 4),
        ("VERIFY_RESIZE", "RUNNING", "resized", 1),
        ("MIGRATING", "RUNNING", "active", 1),
        ("SHELVED_OFFLOADED", "SHUTDOWN", "shelved_offloaded", 4),
        ("UNKNOWN", "NOSTATE", "active", 0),
    ],
)  # fmt: skip
def test_nova_s_vm_state_and_power_state_from_the_status(
    status: str, power: str, vm_state: str, power_state: int
) -> None:
    body = _server({"image": {"name": "cirros"}}, {"status": status, "powerState": power})
    document = _document(body, (2, 96), admin=False)
    assert (document["OS-EXT-STS:vm_state"], document["OS-EXT-STS:power_state"]) == (
        vm_state, power_state
    )  # fmt: skip


def test_a_microversion_beyond_what_is_served_is_refused() -> None:
    with pytest.raises(ValueError, match=r"2\.97 is not served"):
        _document(ACTIVE, (2, 97), admin=False)


# --- Nova flavors ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", [(2, 1), (2, 54), (2, 55), (2, 61), (2, 75), (2, 96)])
def test_every_flavor_document_matches_tempest_s_schema(version: tuple[int, int]) -> None:
    schemas = _module("flavors", FLAVOR_SCHEMAS, version)
    document = documents.flavor(FLAVOR, base_url=BASE, version=version)
    _check(schemas.create_update_get_flavor_details, {"flavor": document})
    _check(schemas.list_flavors_details, {"flavors": [document]})


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ((2, 1), {"swap": ""}),
        ((2, 55), {"swap": "", "description": None}),
        ((2, 61), {"swap": "", "description": None, "extra_specs": {"hw:cpu_policy": "shared"}}),
        ((2, 75), {"swap": 0, "description": None, "extra_specs": {"hw:cpu_policy": "shared"}}),
    ],
)  # fmt: skip
def test_a_flavor_at_each_microversion(version: tuple[int, int], expected: dict[str, Any]) -> None:
    assert documents.flavor(FLAVOR, base_url=BASE, version=version) == {
        "id": FLAVOR_UID, "name": "m1.small", "ram": 2048, "vcpus": 1, "disk": 20,
        "OS-FLV-EXT-DATA:ephemeral": 0, "rxtx_factor": 1.0,
        "os-flavor-access:is_public": True, "OS-FLV-DISABLED:disabled": False,
        "links": [{"rel": "self", "href": f"{BASE}/flavors/{FLAVOR_UID}"},
                  {"rel": "bookmark",
                   "href": f"http://cloud.example/compute/flavors/{FLAVOR_UID}"}],
        **expected,
    }  # fmt: skip


# --- Glance and Neutron ---------------------------------------------------------------------


def test_an_image_as_glance_shows_it_with_its_properties_at_the_top() -> None:
    assert glance_documents.image(IMAGE, base_url="http://cloud.example/image", owner=PROJECT) == {
        "id": IMAGE_UID, "name": "cirros", "status": "active", "visibility": "public",
        "protected": False, "os_hidden": False, "disk_format": "qcow2",
        "container_format": "bare", "size": 21692416, "virtual_size": 117440512,
        "min_disk": 1, "min_ram": 0, "checksum": None, "os_hash_algo": "sha256",
        "os_hash_value": "ab" * 32, "owner": PROJECT, "created_at": "2026-03-01T10:00:00Z",
        "updated_at": "2026-03-01T10:02:00Z", "tags": ["small"],
        "self": f"/image/v2/images/{IMAGE_UID}", "file": f"/image/v2/images/{IMAGE_UID}/file",
        "schema": "/image/v2/schemas/image", "hw_disk_bus": "virtio", "os_distro": "cirros",
    }  # fmt: skip


def test_an_image_still_importing_has_no_size_or_hash() -> None:
    body = {**IMAGE, "spec": {"source": {"registry": {"url": "docker://quay.io/x/y:1"}}},
            "status": {"status": "saving", "progress": "45.2%"}}  # fmt: skip
    document = glance_documents.image(body, base_url="http://cloud.example:9292", owner=PROJECT)
    assert (document["status"], document["size"], document["os_hash_algo"]) == (
        "saving", None, None
    )  # fmt: skip
    assert document["self"] == f"/v2/images/{IMAGE_UID}"


def test_a_network_as_neutron_shows_it() -> None:
    body = {**NETWORKS["private"], "spec": {"mtu": 1400, "provider": {"networkType": "vxlan"}},
            "status": {"status": "ACTIVE", "subnets": ["private-v4"]}}  # fmt: skip
    document = neutron_documents.network(body, subnet_ids=[SUBNET_UID], project_id=PROJECT)
    assert document == {
        "id": NETWORK_UID, "name": "Private Net", "status": "ACTIVE", "admin_state_up": True,
        "shared": False, "router:external": False, "subnets": [SUBNET_UID], "mtu": 1400,
        "tenant_id": PROJECT, "project_id": PROJECT, "port_security_enabled": True,
        "availability_zone_hints": [], "availability_zones": [], "dns_domain": "",
        "ipv4_address_scope": None, "ipv6_address_scope": None, "l2_adjacency": True,
        "qos_policy_id": None, "is_default": False, "description": "", "tags": [],
        "created_at": "2026-03-01T10:00:00Z", "updated_at": "2026-03-01T10:00:00Z",
        "revision_number": 3,
    }  # fmt: skip
    admin = neutron_documents.network(body, subnet_ids=[], project_id=PROJECT, admin=True)
    assert (admin["provider:network_type"], admin["provider:segmentation_id"]) == ("vxlan", None)


@pytest.mark.parametrize(
    ("spec", "gateway", "pools"),
    [
        ({"cidr": "10.0.0.0/24"}, "10.0.0.1", [{"start": "10.0.0.2", "end": "10.0.0.254"}]),
        ({"cidr": "10.0.0.0/24", "gatewayIP": "10.0.0.100"}, "10.0.0.100",
         [{"start": "10.0.0.1", "end": "10.0.0.99"}, {"start": "10.0.0.101", "end": "10.0.0.254"}]),
        ({"cidr": "10.0.0.0/24", "noGateway": True}, None,
         [{"start": "10.0.0.1", "end": "10.0.0.254"}]),
        ({"cidr": "10.0.0.0/24", "allocationPools": [{"start": "10.0.0.10", "end": "10.0.0.20"}]},
         "10.0.0.1", [{"start": "10.0.0.10", "end": "10.0.0.20"}]),
        ({"cidr": "fd00::/64", "ipVersion": 6}, "fd00::1",
         [{"start": "fd00::2", "end": "fd00::ffff:ffff:ffff:ffff"}]),
    ],
)  # fmt: skip
def test_a_subnet_s_gateway_and_pools_as_neutron_defaults_them(
    spec: dict[str, Any], gateway: str | None, pools: list[dict[str, str]]
) -> None:
    body = {"kind": "Subnet", "metadata": _meta("private-v4", SUBNET_UID),
            "spec": {"network": "private", **spec}}  # fmt: skip
    document = neutron_documents.subnet(body, network_id=NETWORK_UID, project_id=PROJECT)
    assert (document["gateway_ip"], document["allocation_pools"]) == (gateway, pools)
    assert (document["id"], document["network_id"], document["cidr"]) == (
        SUBNET_UID, NETWORK_UID, spec["cidr"]
    )  # fmt: skip
    assert document["ip_version"] == spec.get("ipVersion", 4)


# --- Nova POST /servers ---------------------------------------------------------------------


class Cloud:
    """What the project holds, by OpenStack id and by name."""

    objects = {
        "flavor": {FLAVOR_UID: "m1.small", "m1.small": "m1.small"},
        "image": {IMAGE_UID: "cirros", "cirros": "cirros", "fedora": "public/fedora"},
        "network": {NETWORK_UID: "private", "Private Net": "private"},
        "port": {"p-uid": "web-port"},
        "volume": {VOLUME_UID: "root", DATA_UID: "data"},
        "server": {"s-uid": "db"},
        "server_group": {GROUP_UID: "web-ha"},
    }

    def flavor(self, ref: str) -> str | None:
        return self.objects["flavor"].get(ref)

    def image(self, ref: str) -> str | None:
        return self.objects["image"].get(ref)

    def network(self, ref: str) -> str | None:
        return self.objects["network"].get(ref)

    def port(self, ref: str) -> str | None:
        return self.objects["port"].get(ref)

    def volume(self, ref: str) -> str | None:
        return self.objects["volume"].get(ref)

    def server(self, ref: str) -> str | None:
        return self.objects["server"].get(ref)

    def server_group(self, ref: str) -> str | None:
        return self.objects["server_group"].get(ref)


CLI_BODY = {  # what `openstack server create --flavor --image --network` sends
    "name": "Web 1", "imageRef": IMAGE_UID, "flavorRef": FLAVOR_UID,
    "networks": [{"uuid": NETWORK_UID}], "min_count": 1, "max_count": 1,
    "block_device_mapping_v2": [{"uuid": IMAGE_UID, "boot_index": 0, "source_type": "image",
                                 "destination_type": "local", "delete_on_termination": True}],
}  # fmt: skip


@pytest.mark.parametrize(
    ("server", "extra", "spec"),
    [
        (CLI_BODY, {},
         {"flavor": "m1.small", "image": {"name": "cirros"}, "networks": [{"network": "private"}]}),
        ({"name": "db", "imageRef": "fedora", "flavorRef": "m1.small", "networks": "auto"}, {},
         {"flavor": "m1.small", "image": {"name": "fedora", "project": "public"}}),
        ({"name": "db", "imageRef": "cirros", "flavorRef": "m1.small", "networks": "none"}, {},
         {"flavor": "m1.small", "image": {"name": "cirros"}}),
        ({"name": "db", "imageRef": "cirros", "flavorRef": "m1.small",
          "networks": [{"uuid": NETWORK_UID, "fixed_ip": "10.0.0.50"}, {"port": "p-uid"}]}, {},
         {"flavor": "m1.small", "image": {"name": "cirros"},
          "networks": [{"network": "private", "fixedIP": "10.0.0.50"}, {"port": "web-port"}]}),
        ({"name": "db", "flavorRef": "m1.small", "imageRef": "",
          "block_device_mapping_v2": [
              {"uuid": VOLUME_UID, "boot_index": "0", "source_type": "volume",
               "destination_type": "volume", "delete_on_termination": True},
              {"uuid": DATA_UID, "boot_index": -1, "source_type": "volume",
               "destination_type": "volume", "device_name": "/dev/vdb"}]}, {},
         {"flavor": "m1.small", "bootVolume": {"name": "root", "deleteOnTermination": True},
          "volumes": [{"volume": "data", "device": "/dev/vdb"}]}),
        ({"name": "db", "imageRef": "cirros", "flavorRef": "m1.small", "key_name": "ops",
          "user_data": base64.b64encode(b"#cloud-config\npackages: [nginx]\n").decode(),
          "metadata": {"role": "db"}, "security_groups": [{"name": "web"}, {"name": "web"}],
          "availability_zone": "zone-a", "description": "primary", "tags": ["prod"],
          "config_drive": True, "hostname": "db-1"},
         {"os:scheduler_hints": {"group": GROUP_UID, "different_host": ["s-uid"]}},
         {"flavor": "m1.small", "image": {"name": "cirros"}, "keyName": "ops",
          "userData": "#cloud-config\npackages: [nginx]\n", "metadata": {"role": "db"},
          "securityGroups": ["web"], "availabilityZone": "zone-a", "description": "primary",
          "tags": ["prod"], "configDrive": True, "hostname": "db-1",
          "schedulerHints": {"differentHost": ["db"]}, "serverGroup": "web-ha"}),
    ],
    ids=["cli", "public-image-auto", "none", "fixed-ip-and-port", "boot-from-volume", "all"],
)  # fmt: skip
def test_nova_s_create_request_becomes_a_server_spec(
    server: dict[str, Any], extra: dict[str, Any], spec: dict[str, Any]
) -> None:
    cloud = Cloud()
    name, made = server_request.server_create(
        {"server": server, **extra}, resolve=cloud, hints=cloud
    )
    assert (name, made) == (server["name"], spec)


def _with(**changes: Any) -> dict[str, Any]:
    server = {"name": "db", "imageRef": IMAGE_UID, "flavorRef": FLAVOR_UID, **changes}
    return {"server": {k: v for k, v in server.items() if v is not None}}


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({}, "Invalid input for field/attribute server. Value: None. "
             "'server' is a required property"),
        (_with(name=None), "'name' is a required property"),
        (_with(name=""), "Invalid input for field/attribute server/name. Value: . '' is too short"),
        (_with(name=7), "Invalid input for field/attribute server/name. Value: 7. "
                        "7 is not of type 'string'"),
        (_with(name=" web"), "Leading/trailing whitespace is not allowed"),
        (_with(flavorRef=None), "'flavorRef' is a required property"),
        (_with(flavorRef="m1.huge"), "Invalid flavorRef provided."),
        (_with(imageRef="nope"), "Can not find requested image"),
        (_with(imageRef=None), "Missing imageRef attribute"),
        (_with(networks=[{"uuid": "nope"}]), "Network nope could not be found."),
        (_with(networks=[{"port": "nope"}]), "Port id nope could not be found."),
        (_with(networks=[{"port": "p-uid", "fixed_ip": "10.0.0.5"}]),
         "Specified Fixed IP '10.0.0.5' cannot be used with port 'p-uid'"),
        (_with(networks=[{"uuid": NETWORK_UID, "fixed_ip": "10.0.0.300"}]),
         "Invalid input for field/attribute networks/0/fixed_ip. Value: 10.0.0.300."),
        (_with(networks=[{}]), "Bad networks format"),
        (_with(networks="some"), "Invalid input for field/attribute networks. Value: some."),
        (_with(user_data="not base64!"), "User data needs to be valid base 64."),
        (_with(user_data=base64.b64encode(b"\x1f\x8b\x08\xff").decode()),
         "binary user data, such as gzip, is not supported"),
        (_with(tags=["a/b"]), "Invalid input for field/attribute server/tags."),
        (_with(metadata={"k": 1}), "Invalid input for field/attribute server/metadata/k."),
        (_with(metadata={"k" * 256: "v"}), "Invalid input for field/attribute server/metadata."),
        (_with(key_name="My Key"), "Invalid input for field/attribute server/key_name."),
        (_with(security_groups=[{}]), "server/security_groups/0. Value: {}. "
                                      "'name' is a required property"),
        (_with(availability_zone="zone-a:node-1"), "forcing a host (zone:host:node)"),
        (_with(min_count=3, max_count=2), "min_count must be <= max_count"),
        (_with(max_count=0), "server/max_count. Value: 0. 0 is less than the minimum of 1"),
        (_with(hostname="DB_1"), "spec.hostname: String should match pattern"),
        (_with(imageRef=None, block_device_mapping_v2=[
            {"uuid": "nope", "boot_index": 0, "source_type": "volume",
             "destination_type": "volume"}]), "Volume nope could not be found."),
        (_with(imageRef=None, block_device_mapping_v2=[
            {"uuid": IMAGE_UID, "boot_index": 0, "source_type": "image",
             "destination_type": "volume", "volume_size": 10}]),
         "source_type image with destination_type volume is not supported"),
        (_with(block_device_mapping_v2=[
            {"uuid": "other", "boot_index": 0, "source_type": "image",
             "destination_type": "local"}]), "the boot image differs from imageRef"),
        ({**_with(), "os:scheduler_hints": {"group": "nope"}},
         "Server group nope could not be found."),
    ],
)  # fmt: skip
def test_a_create_request_nova_would_refuse_is_refused_in_its_words(
    request_body: dict[str, Any], message: str
) -> None:
    cloud = Cloud()
    with pytest.raises(server_request.BadRequest) as refused:
        server_request.server_create(request_body, resolve=cloud, hints=cloud)
    assert message in refused.value.message


def test_scheduler_hints_by_id_need_a_resolver_for_them() -> None:
    with pytest.raises(server_request.BadRequest, match="group cannot be resolved"):
        server_request.server_create(
            {**_with(), "os:scheduler_hints": {"group": GROUP_UID}}, resolve=Cloud()
        )


@pytest.mark.parametrize(
    ("server", "expected"),
    [({}, (1, 1)), ({"min_count": 2}, (2, 2)), ({"max_count": 3}, (1, 3)),
     ({"min_count": "2", "max_count": "4"}, (2, 4))],
)  # fmt: skip
def test_how_many_servers_a_request_asks_for(
    server: dict[str, Any], expected: tuple[int, int]
) -> None:
    assert server_request.counts({"server": server}) == expected


@pytest.mark.parametrize(
    ("text", "usable"),
    [(".*Server", True), ("web-\\d+$", True), ("^a.*b.*c", True), ("[", False),
     ("(a+)+$", False), ("(x|y)*z", False), (".*.*.*.*Z", False), ("x" * 256, False),
     ("\\*\\*\\*\\*", True)],
)  # fmt: skip
def test_a_user_s_regular_expression_that_could_backtrack_for_long_is_refused(
    text: str, usable: bool
) -> None:
    """Name filters run in the API's one event loop: `.*.*.*.*.*.*.*.*.*.*Z` took 23 s."""
    assert (documents.user_pattern(text) is not None) is usable
