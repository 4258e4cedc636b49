"""Glance v2 both ways, as tables: Image objects as Glance's documents (checked against the
schemas the API publishes, which are Glance's), and Glance's requests as Image specs and merge
patches, or refused in Glance's words, naming the field, the value and what is accepted."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from nimbus.openstack import (
    documents,
    glance_documents,
    glance_listing,
    glance_patch,
    glance_requests,
)
from nimbus.openstack.faults import Fault

PROJECT = "5f1c3c1e-0000-4000-8000-00000000aaaa"
UID = "0b8f6f52-7c4e-4d1a-9a53-3f1c2d4e5f60"
CIRROS = "https://download.cirros-cloud.net/0.6.2/cirros-0.6.2-x86_64-disk.img"
BASE_URL = "http://cloud.example/image"


def _image(name: str = "cirros", uid: str = UID, *, spec: dict[str, Any] | None = None,
           status: dict[str, Any] | None = None, annotations: dict[str, str] | None = None,
           created: str = "2026-03-01T10:00:00Z") -> dict[str, Any]:  # fmt: skip
    metadata: dict[str, Any] = {"name": name, "namespace": "demo", "uid": uid,
                                "resourceVersion": "7", "creationTimestamp": created}  # fmt: skip
    if annotations:
        metadata["annotations"] = annotations
    body: dict[str, Any] = {"apiVersion": "image.nimbus.dev/v1alpha1", "kind": "Image",
                            "metadata": metadata, "spec": spec or {}}  # fmt: skip
    if status is not None:
        body["status"] = status
    return body


QUEUED = _image("web-image", spec={"visibility": "shared", "diskFormat": "raw",
                                   "tags": ["web"], "properties": {"os_distro": "cirros"}},
                annotations={documents.NAME_ANNOTATION: "Web Image"})  # fmt: skip
ACTIVE = _image(spec={"source": {"http": {"url": CIRROS, "checksum": "sha256:" + "ab" * 32}},
                      "minDiskGB": 1, "visibility": "private", "protected": True},
                status={"status": "active", "size": 1073741824, "virtualSize": 1073741824,
                        "checksum": "sha256:" + "ab" * 32})  # fmt: skip


def _refused(call: Any, *args: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(Fault) as refused:
        call(*args, **kwargs)
    return refused.value.code, refused.value.message


# --- documents ------------------------------------------------------------------------------


def test_an_image_made_through_glance_is_queued_with_its_name_and_properties() -> None:
    document = glance_documents.image(QUEUED, base_url=BASE_URL, owner=PROJECT)
    assert document == {
        "id": UID, "name": "Web Image", "status": "queued", "visibility": "shared",
        "protected": False, "os_hidden": False, "disk_format": "raw", "container_format": "bare",
        "size": None, "virtual_size": None, "min_disk": 0, "min_ram": 0, "checksum": None,
        "os_hash_algo": None, "os_hash_value": None, "owner": PROJECT,
        "created_at": "2026-03-01T10:00:00Z", "updated_at": "2026-03-01T10:00:00Z",
        "tags": ["web"], "self": f"/image/v2/images/{UID}",
        "file": f"/image/v2/images/{UID}/file", "schema": "/image/v2/schemas/image",
        "os_distro": "cirros",
    }  # fmt: skip
    jsonschema.validate(document, glance_documents.image_schema())


@pytest.mark.parametrize(("source", "annotations", "operator", "status"), [
    (None, {}, None, "queued"),
    (None, {}, "queued", "queued"),  # the operator's word for an image without data
    ({"http": {"url": CIRROS}}, {glance_documents.IMPORT_ANNOTATION: "web-download"}, None,
     "importing"),
    ({"http": {"url": CIRROS}}, {glance_documents.IMPORT_ANNOTATION: "web-download"}, "saving",
     "importing"),
    ({"http": {"url": CIRROS}}, {glance_documents.IMPORT_ANNOTATION: "web-download"}, "active",
     "active"),
    ({"http": {"url": CIRROS}}, {glance_documents.IMPORT_ANNOTATION: "web-download"}, "killed",
     "killed"),
    ({"http": {"url": CIRROS}}, {}, "saving", "saving"),  # made with kubectl: the operator's
    ({"registry": {"url": "docker://quay.io/containerdisks/fedora:40"}}, {}, None, "queued"),
])  # fmt: skip
def test_an_image_s_status_is_glance_s_word(
    source: dict[str, Any] | None, annotations: dict[str, str], operator: str | None, status: str
) -> None:
    body = _image(spec={"source": source} if source else {}, annotations=annotations,
                  status={"status": operator} if operator else None)  # fmt: skip
    assert glance_documents.image_status(body) == status
    assert glance_documents.image(body, base_url=BASE_URL, owner=PROJECT)["status"] == status


def test_an_image_made_without_a_name_shows_a_null_name() -> None:
    body = _image("image-1a2b3", annotations={documents.NAME_ANNOTATION: ""})
    document = glance_documents.image(body, base_url=BASE_URL, owner=PROJECT)
    assert document["name"] is None
    jsonschema.validate(document, glance_documents.image_schema())


def test_an_active_image_validates_against_the_published_schema() -> None:
    document = glance_documents.image(ACTIVE, base_url=BASE_URL, owner=PROJECT)
    assert (document["status"], document["protected"], document["os_hash_algo"]) == (
        "active", True, "sha256")  # fmt: skip
    jsonschema.validate(document, glance_documents.image_schema())
    listed = {"images": [document], "first": "/v2/images", "schema": "/v2/schemas/images"}
    jsonschema.validate(listed, glance_documents.images_schema())


def test_the_image_schema_offers_only_what_the_image_kind_takes() -> None:
    properties = glance_documents.image_schema()["properties"]
    assert properties["disk_format"]["enum"] == [None, "raw", "qcow2", "iso", "vmdk", "vhd",
                                                 "vhdx", "vdi"]  # fmt: skip
    assert properties["container_format"]["enum"] == [None, "bare", "ovf", "ova", "docker",
                                                      "compressed"]  # fmt: skip
    assert properties["visibility"]["enum"] == ["private", "shared", "public"]
    assert properties["hw_firmware_type"] == {
        "type": "string", "description": "Checked by Nimbus: hw_firmware_type",
        "enum": ["bios", "uefi"], "is_base": False,
    }  # fmt: skip
    assert glance_documents.image_schema()["additionalProperties"] == {"type": "string"}
    assert glance_documents.images_schema()["links"][1] == {"rel": "next", "href": "{next}"}


@pytest.mark.parametrize(
    ("annotations", "statuses"),
    [
        ({}, ["pending", "pending"]),
        ({"member-status.image.nimbus.dev/beta": "accepted"}, ["accepted", "pending"]),
        ({"member-status.image.nimbus.dev/gamma": "rejected",
          "member-status.image.nimbus.dev/other": "accepted"}, ["pending", "rejected"]),
    ],
)  # fmt: skip
def test_a_member_s_status_is_its_own_answer_and_matches_the_member_schemas(
    annotations: dict[str, str], statuses: list[str]
) -> None:
    image = {**QUEUED, "metadata": {**QUEUED["metadata"], "annotations": annotations}}
    document = glance_documents.members(image, {PROJECT: "beta", "id-gamma": "gamma"})
    assert [m["status"] for m in document["members"]] == statuses
    assert document["members"][0] == {
        "member_id": PROJECT, "image_id": UID, "status": statuses[0],
        "created_at": "2026-03-01T10:00:00Z", "updated_at": "2026-03-01T10:00:00Z",
        "schema": "/v2/schemas/member",
    }  # fmt: skip
    jsonschema.validate(document, glance_documents.members_schema())
    jsonschema.validate(document["members"][0], glance_documents.member_schema())


def test_web_download_is_the_only_import_method() -> None:
    assert glance_documents.import_info() == {
        "import-methods": {
            "description": "Import methods available.",
            "type": "array",
            "value": ["web-download"],
        }
    }


# --- create ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "name", "spec"), [
    ({"name": "cirros"}, "cirros", {"visibility": "shared"}),  # Glance's default visibility
    ({"name": "Web Image", "disk_format": "qcow2", "container_format": "bare",
      "visibility": "private", "min_disk": 2, "min_ram": 512, "protected": True,
      "tags": ["web", "web", "small"], "hw_disk_bus": "virtio", "os_hidden": False,
      "owner": PROJECT},
     "Web Image",
     {"visibility": "private", "protected": True, "diskFormat": "qcow2",
      "containerFormat": "bare", "minDiskGB": 2, "minRamMB": 512, "tags": ["web", "small"],
      "properties": {"hw_disk_bus": "virtio"}}),
    ({"name": None, "visibility": None, "disk_format": None}, None, {"visibility": "shared"}),
    # what openstacksdk's create_image sends besides
    ({"name": "x", "owner_specified.openstack.md5": "", "owner_specified.openstack.object":
      "images/x"}, "x",
     {"visibility": "shared", "properties": {"owner_specified.openstack.md5": "",
                                             "owner_specified.openstack.object": "images/x"}}),
])  # fmt: skip
def test_a_create_becomes_a_queued_image_s_spec(
    body: dict[str, Any], name: str | None, spec: dict[str, Any]
) -> None:
    assert glance_requests.image_create(body, project_id=PROJECT) == (name, spec)


@pytest.mark.parametrize(("body", "code", "message"), [
    ([], 400, "Body expected in request."),
    ({"name": "x", "disk_format": "ami"}, 400,
     "Invalid value 'ami' for parameter 'disk_format': one of raw, qcow2, iso, vmdk, vhd, "
     "vhdx, vdi (the formats CDI imports)"),
    ({"name": "x", "container_format": "aki"}, 400,
     "Invalid value 'aki' for parameter 'container_format': one of bare, ovf, ova, docker, "
     "compressed"),
    ({"name": "x", "visibility": "community"}, 400,
     "Invalid value 'community' for parameter 'visibility': one of private, shared, public "
     "(Nimbus has no community images: an image is private, shared with chosen projects, or "
     "public)"),
    ({"name": "x", "min_disk": -1}, 400,
     "Invalid value '-1' for parameter 'min_disk': Cannot be a negative value"),
    ({"name": "x", "min_ram": "512"}, 400,
     "Invalid value '512' for parameter 'min_ram': a whole number from 0 to 2147483647"),
    ({"name": "x", "protected": "yes"}, 400,
     "Invalid value 'yes' for parameter 'protected': true or false"),
    ({"name": "x", "os_hidden": True}, 400, "Invalid value 'True' for parameter 'os_hidden': "
     "false only: Nimbus does not hide images from lists"),
    ({"name": "x" * 256}, 400,
     f"Invalid value '{'x' * 256}' for parameter 'name': a string of at most 255 characters, "
     "or null"),
    ({"name": "x", "hw_disk_bus": 1}, 400, "Invalid value '1' for parameter 'hw_disk_bus': a "
     "string (Glance's image properties are strings)"),
    ({"name": "x", "tags": "web"}, 400,
     "Invalid value 'web' for parameter 'tags': a list of strings"),
    ({"name": "x", "id": UID}, 400, f"Invalid value '{UID}' for parameter 'id': none: leave it "
     "out, Nimbus gives every image its id (its Kubernetes uid)"),
    ({"name": "x", "status": "active"}, 403, "Attribute 'status' is read-only."),
    ({"name": "x", "self": "/v2/images/1"}, 403, "Attribute 'self' is read-only."),
    ({"name": "x", "deleted": "false"}, 403, "Attribute 'deleted' is reserved."),
    ({"name": "x", "os_glance_import_task": "t"}, 403,
     "Attribute 'os_glance_import_task' is reserved."),
    ({"name": "x", "owner": "another"}, 403,
     "You are not permitted to create images owned by 'another'."),
    ({"name": "x", "tags": [str(i) for i in range(129)]}, 413,
     "The limit has been exceeded on the number of allowed image tags. Attempted: 129, "
     "Maximum: 128"),
])  # fmt: skip
def test_a_create_glance_would_refuse_is_refused_naming_what_is_accepted(
    body: Any, code: int, message: str
) -> None:
    assert _refused(glance_requests.image_create, body, project_id=PROJECT) == (code, message)


# --- update ---------------------------------------------------------------------------------

V21 = "application/openstack-images-v2.1-json-patch"


@pytest.mark.parametrize(("changes", "patch"), [
    ([], {}),
    ([{"op": "replace", "path": "/name", "value": "Web Image 2"}],
     {"metadata": {"annotations": {documents.NAME_ANNOTATION: "Web Image 2"}}}),
    # back to the Kubernetes name: the annotation goes
    ([{"op": "replace", "path": "/name", "value": "web-image"}],
     {"metadata": {"annotations": {documents.NAME_ANNOTATION: None}}}),
    ([{"op": "replace", "path": "/name", "value": None}],
     {"metadata": {"annotations": {documents.NAME_ANNOTATION: ""}}}),
    ([{"op": "replace", "path": "/min_disk", "value": 5},
      {"op": "replace", "path": "/min_ram", "value": 256},
      {"op": "replace", "path": "/protected", "value": True}],
     {"spec": {"minDiskGB": 5, "minRamMB": 256, "protected": True}}),
    ([{"op": "replace", "path": "/tags", "value": ["web", "db"]}],
     {"spec": {"tags": ["web", "db"]}}),
    ([{"op": "add", "path": "/hw_firmware_type", "value": "uefi"},
      {"op": "replace", "path": "/os_distro", "value": "ubuntu"}],
     {"spec": {"properties": {"hw_firmware_type": "uefi", "os_distro": "ubuntu"}}}),
    ([{"op": "remove", "path": "/os_distro"}], {"spec": {"properties": {"os_distro": None}}}),
    # a property whose key holds a slash, escaped as JSON pointers escape it
    ([{"op": "add", "path": "/a~1b", "value": "c"}], {"spec": {"properties": {"a/b": "c"}}}),
    # same values: nothing to write
    ([{"op": "replace", "path": "/disk_format", "value": "raw"},
      {"op": "replace", "path": "/os_hidden", "value": False},
      {"op": "replace", "path": "/owner", "value": PROJECT},
      {"op": "replace", "path": "/visibility", "value": "shared"}], {}),
])  # fmt: skip
def test_a_json_patch_becomes_a_merge_patch(changes: list[Any], patch: dict[str, Any]) -> None:
    assert glance_patch.image_patch(QUEUED, changes, draft=10, project_id=PROJECT) == patch


def test_an_image_made_other_than_shared_loses_its_members() -> None:
    shared = copy.deepcopy(QUEUED)
    shared["spec"]["members"] = ["other"]
    changes = [{"op": "replace", "path": "/visibility", "value": "private"}]
    assert glance_patch.image_patch(shared, changes, draft=10, project_id=PROJECT) == {
        "spec": {"visibility": "private", "members": None}
    }


def test_a_draft_4_patch_names_its_operation_as_a_key() -> None:
    changes = [{"replace": "/min_ram", "value": 64}, {"add": "/os_type", "value": "linux"}]
    assert glance_patch.image_patch(QUEUED, changes, draft=4, project_id=PROJECT) == {
        "spec": {"minRamMB": 64, "properties": {"os_type": "linux"}}
    }
    again = [{"add": "/os_distro", "value": "x"}]
    assert _refused(glance_patch.image_patch, QUEUED, again, draft=4, project_id=PROJECT) == (
        409, "Property os_distro already present.")  # fmt: skip


@pytest.mark.parametrize(("changes", "code", "message"), [
    ({"op": "replace"}, 400, "Request body must be a JSON array of operation objects."),
    (["name"], 400, "Operations must be JSON objects."),
    ([{"op": "move", "path": "/name", "value": "x"}], 400,
     "Invalid operation: `move`. It must be one of the following: add, remove, replace."),
    ([{"op": "replace", "value": "x"}], 400, "Unable to find 'path' in JSON Schema change"),
    ([{"op": "replace", "path": "name", "value": "x"}], 400,
     'Pointer `name` does not start with "/".'),
    ([{"op": "replace", "path": "/tags/0", "value": "x"}], 400,
     "Invalid JSON pointer for this resource: '/tags/0'"),
    ([{"op": "replace", "path": "/name"}], 400,
     'Operation "replace" requires a member named "value".'),
    ([{"op": "replace", "path": "/status", "value": "active"}], 403,
     "Attribute 'status' is read-only."),
    ([{"op": "add", "path": "/os_glance_x", "value": "1"}], 403,
     "Attribute 'os_glance_x' is reserved."),
    ([{"op": "remove", "path": "/min_disk"}], 403, "Property min_disk may not be removed."),
    ([{"op": "remove", "path": "/nope"}], 409, "Property nope does not exist."),
    ([{"op": "replace", "path": "/nope", "value": "1"}], 409, "Property nope does not exist."),
    ([{"op": "replace", "path": "/visibility", "value": "community"}], 400,
     "Invalid value 'community' for parameter 'visibility': one of private, shared, public "
     "(Nimbus has no community images: an image is private, shared with chosen projects, or "
     "public)"),
    ([{"op": "replace", "path": "/min_disk", "value": 65537}], 400,
     "Invalid value '65537' for parameter 'min_disk': at most 65536"),
    ([{"op": "replace", "path": "/disk_format", "value": "qcow2"}], 403,
     "Attribute 'disk_format' cannot be changed: Nimbus fixes an image's disk and container "
     "format when the image is created (disk_format is raw); create a new image with the "
     "format wanted"),
    ([{"op": "replace", "path": "/owner", "value": "another"}], 403,
     "Owner can't be updated by non admin. (In Nimbus by no one: an image stays in its "
     "project's namespace.)"),
    ([{"op": "replace", "path": "/locations", "value": []}], 403,
     "It's not allowed to update locations if locations are invisible: Nimbus imports an "
     "image's data itself (POST /v2/images/{id}/import with web-download)"),
    ([{"op": "add", "path": "/os_distro", "value": 7}], 400,
     "Invalid value '7' for parameter 'os_distro': a string (Glance's image properties are "
     "strings)"),
])  # fmt: skip
def test_a_patch_glance_would_refuse_is_refused_in_its_words(
    changes: Any, code: int, message: str
) -> None:
    assert _refused(glance_patch.image_patch, QUEUED, changes, draft=10,
                    project_id=PROJECT) == (code, message)  # fmt: skip


def test_a_patch_needs_glance_s_media_type() -> None:
    assert glance_patch.patch_version(V21) == 10
    assert glance_patch.patch_version("application/openstack-images-v2.0-json-patch") == 4
    assert _refused(glance_patch.patch_version, "application/json") == (
        415, "Image PATCH expects Content-Type one of: "
        "application/openstack-images-v2.0-json-patch, "
        "application/openstack-images-v2.1-json-patch")  # fmt: skip


# --- import ---------------------------------------------------------------------------------


def test_web_download_gives_a_queued_image_its_http_source() -> None:
    # as `openstack image import` sends it: all_stores_must_succeed false means nothing here
    body = {"method": {"name": "web-download", "uri": CIRROS}, "all_stores_must_succeed": False}
    assert glance_requests.image_import(QUEUED, "queued", body) == {
        "metadata": {"annotations": {glance_documents.IMPORT_ANNOTATION: "web-download"}},
        "spec": {"source": {"http": {"url": CIRROS}}},
    }  # fmt: skip


@pytest.mark.parametrize(("image", "status", "body", "code", "message"), [
    (QUEUED, "queued", {}, 400, "Import request requires a 'method' field."),
    (QUEUED, "queued", {"method": {}}, 400, "Import request requires a 'name' field."),
    (QUEUED, "queued", {"method": {"name": "glance-direct"}}, 400,
     "Unknown import method name 'glance-direct'. This cloud imports with web-download only: "
     "CDI downloads the image from a URL (create the image, then import it with --method "
     "web-download --uri <url>)"),
    (QUEUED, "queued", {"method": {"name": "web-download", "uri": "ftp://example.com/x.img"}},
     400, "URI for web-download does not pass filtering: ftp://example.com/x.img (an http:// "
     "or https:// URL of at most 2048 characters, which CDI downloads)"),
    (QUEUED, "queued", {"method": {"name": "web-download"}}, 400,
     "URI for web-download does not pass filtering: None (an http:// or https:// URL of at "
     "most 2048 characters, which CDI downloads)"),
    (QUEUED, "queued", {"method": {"name": "web-download", "uri": CIRROS}, "all_stores": "1"},
     400, "'all_stores' must be boolean value only"),
    (ACTIVE, "active", {"method": {"name": "web-download", "uri": CIRROS}}, 409,
     "Image with status active cannot be target for import"),
    (_image(spec={"source": {"http": {"url": CIRROS}}}), "importing",
     {"method": {"name": "web-download", "uri": CIRROS}}, 409,
     "Image needs to be in 'queued' state to use 'web-download' method"),
])  # fmt: skip
def test_an_import_glance_would_refuse_is_refused_in_its_words(
    image: dict[str, Any], status: str, body: Any, code: int, message: str
) -> None:
    assert _refused(glance_requests.image_import, image, status, body) == (code, message)


# --- members --------------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "body", "result"), [
    (glance_requests.member_create, {"member": PROJECT}, PROJECT),
    (glance_requests.member_create, {}, (400, "Member to be added not specified")),
    (glance_requests.member_create, {"member": ""}, (400, "Member can't be empty")),
    (glance_requests.member_create, [PROJECT], (400,
     'Expected a member in the form: {"member": "image_id"}')),
    (glance_requests.member_status, {"status": "accepted"}, "accepted"),
    (glance_requests.member_status, {}, (400, "Status not specified")),
    (glance_requests.member_status, {"status": "maybe"}, (400,
     'Incorrect request: Status must be "pending", "accepted" or "rejected".')),
])  # fmt: skip
def test_member_bodies_read_as_glance_reads_them(call: Any, body: Any, result: Any) -> None:
    if isinstance(result, tuple):
        assert _refused(call, body) == result
    else:
        assert call(body) == result


# --- list -----------------------------------------------------------------------------------

A, B, C = (f"00000000-0000-4000-8000-00000000000{i}" for i in (1, 2, 3))
LISTED = [
    glance_documents.image(_image("a", A, spec={"visibility": "private", "tags": ["web", "x"],
                                                 "properties": {"os_type": "linux"}},
                                  created="2026-03-01T10:00:00Z"),
                           base_url=BASE_URL, owner=PROJECT),
    glance_documents.image(_image("b", B, spec={"visibility": "shared", "tags": ["web"],
                                                 "protected": True},
                                  created="2026-03-02T10:00:00Z"),
                           base_url=BASE_URL, owner=PROJECT),
    glance_documents.image(ACTIVE | {"metadata": {**ACTIVE["metadata"], "name": "c", "uid": C,
                                                  "creationTimestamp": "2026-03-03T10:00:00Z"}},
                           base_url=BASE_URL, owner=PROJECT),
]  # fmt: skip


@pytest.mark.parametrize(("query", "ids"), [
    ([], [C, B, A]),  # newest first
    ([("name", "b")], [B]),
    ([("status", "active")], [C]),
    ([("status", "queued")], [B, A]),
    ([("visibility", "private")], [C, A]),
    ([("visibility", "all")], [C, B, A]),
    ([("visibility", "community")], []),
    ([("owner", PROJECT)], [C, B, A]),
    ([("owner", "another")], []),
    ([("tag", "web")], [B, A]),
    ([("tag", "web"), ("tag", "x")], [A]),
    ([("id", f"in:{A},{C}")], [C, A]),
    ([("protected", "true")], [C, B]),
    ([("os_type", "linux")], [A]),  # a property
    ([("member_status", "all")], [C, B, A]),
    ([("os_hidden", "true")], []),
    ([("os_hidden", "False")], [C, B, A]),  # as openstacksdk's find sends it
    ([("size_min", "1")], [C]),
    ([("created_at", "gt:2026-03-01T12:00:00Z")], [C, B]),
    ([("sort", "name:asc")], [A, B, C]),
    ([("sort_key", "status"), ("sort_dir", "asc")], [C, B, A]),
    ([("limit", "2")], [C, B]),
    ([("limit", "2"), ("marker", B)], [A]),
])  # fmt: skip
def test_the_list_filters_orders_and_pages_as_glance(
    query: list[tuple[str, str]], ids: list[str]
) -> None:
    listed = glance_listing.listing(LISTED, query, path="/v2/images")
    assert [i["id"] for i in listed["images"]] == ids


def test_a_page_links_the_next_while_more_remain() -> None:
    first = glance_listing.listing(LISTED, [("limit", "2")], path="/v2/images")
    assert first["next"] == f"/v2/images?limit=2&marker={B}"
    assert first["first"] == "/v2/images?limit=2"
    last = glance_listing.listing(LISTED, [("limit", "2"), ("marker", B)], path="/v2/images")
    assert "next" not in last
    assert glance_listing.listing(LISTED, [], path="/v2/images") == {
        "images": LISTED[::-1],
        "first": "/v2/images",
        "schema": "/v2/schemas/images",
    }


@pytest.mark.parametrize(("query", "message"), [
    ([("member_status", "maybe")], "Invalid status: maybe"),
    ([("visibility", "everyone")], "Invalid visibility value: everyone"),
    ([("protected", "yes")],
     "Invalid value 'yes' for 'protected' filter. Valid values are 'true' or 'false'."),
    ([("limit", "ten")], "limit param must be an integer"),
    ([("limit", "-1")], "limit param must be positive"),
    ([("marker", "nope")], "Invalid marker. Image nope could not be found."),
    ([("sort_key", "owner")], "Invalid sort key: owner. It must be one of the following: name, "
     "status, container_format, disk_format, size, id, created_at, updated_at."),
    ([("sort", "name"), ("sort_key", "id")], "Old and new sorting syntax cannot be combined"),
    ([("size_max", "big")], "Invalid value 'big' for parameter 'size_max': a whole number of "
     "bytes"),
    ([("created_at", "after:2026-01-01")], "Invalid value 'after:2026-01-01' for parameter "
     "'created_at': <operator>:<ISO 8601 time>, the operator one of gt, gte, lt, lte, eq, neq"),
    ([("changes-since", "2026-01-01")], 'The "changes-since" filter is no longer available on '
     "v2."),
])  # fmt: skip
def test_a_list_query_glance_would_refuse_is_a_400(
    query: list[tuple[str, str]], message: str
) -> None:
    assert _refused(glance_listing.listing, LISTED, query, path="/v2/images") == (400, message)
