"""Glance v2 through `nimbus api`, driven by the real `openstack` CLI (python-openstackclient)
and openstacksdk as users drive them, against the session's control plane and operator: an
image created queued, set, shown, listed by property and deleted (a protected one refused);
imported by web-download until the operator has it active; shared with the other tenant's
project, which sees it, accepts it and boots from it; another tenant's image not found; a
reader refused a create; what Nimbus cannot do (upload, deactivate, publicize as a member)
refused in Glance's words, saying what to do."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openstack as sdk
import pytest

from tests.integration.conftest import Cloud, wait_for
from tests.integration.openstack import as_json, needs_cli, openstack

pytestmark = needs_cli
IMAGE = "images.image.nimbus.dev"
# The simulated CDI imports any URL but those of the reserved .invalid domain
# (docs/explanation/simulated.md).
URL = "https://example.com/cirros.img"


def _show(api: str, user: str, project: str, image: str) -> dict[str, Any]:
    shown: dict[str, Any] = as_json(openstack(api, user, project, "image", "show", image,
                                              "-f", "json"))  # fmt: skip
    return shown


def _gone(cloud: Cloud, name: str, namespace: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cloud.kubectl("get", IMAGE, name, "-n", namespace, check=False).returncode != 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"Image {namespace}/{name} is still there")


def _named(cloud: Cloud, namespace: str, image_id: str) -> dict[str, Any]:
    """The Image of that OpenStack id, as kubectl sees it."""
    listed = cloud.kubectl("get", IMAGE, "-n", namespace, "-o", "json").stdout
    found = [i for i in json.loads(listed)["items"]
             if i["metadata"]["uid"] == image_id]  # fmt: skip
    assert len(found) == 1, f"no Image {image_id} in {namespace}"
    image: dict[str, Any] = found[0]
    return image


def _call(url: str, token: str, method: str = "POST") -> tuple[int, Any]:
    """A raw Glance request: (status, the JSON answered or None)."""
    request = urllib.request.Request(url, method=method, headers={"X-Auth-Token": token})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return int(response.status), json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read()
        return int(error.code), json.loads(text) if text else None


def _sdk(api: str, user: str, project: str) -> Any:
    """openstacksdk, logged in as the user for the project."""
    return sdk.connect(auth_url=f"{api}/v3", username=user, password=f"s3cret-{user}",
                       project_name=project, user_domain_name="Default",
                       project_domain_name="Default", region_name="RegionOne",
                       interface="public", load_yaml_config=False, load_envvars=False)  # fmt: skip


@pytest.fixture
def queued(api: str, tenants: dict[str, str]) -> Iterator[dict[str, Any]]:
    """A queued image of alice's, made through the CLI; deleted afterwards if still there."""
    first = tenants["first"]
    made = as_json(openstack(api, "alice", first, "image", "create", "--disk-format", "qcow2",
                             "--container-format", "bare", "--min-disk", "1", "--property",
                             "os_distro=cirros", "Web Image", "-f", "json"))  # fmt: skip
    yield made
    openstack(api, "alice", first, "image", "set", "--unprotected", made["id"], check=False)
    openstack(api, "alice", first, "image", "delete", made["id"], check=False)


def test_an_image_is_created_queued_set_listed_and_deleted_through_the_cli(
    cloud: Cloud, api: str, tenants: dict[str, str], queued: dict[str, Any]
) -> None:
    first = tenants["first"]
    assert (queued["name"], queued["status"], queued["visibility"], queued["disk_format"],
            queued["min_disk"]) == ("Web Image", "queued", "shared", "qcow2", 1)  # fmt: skip
    assert queued["properties"]["os_distro"] == "cirros"
    # An Image of the project, named as Kubernetes can hold it, waiting for its data.
    image = _named(cloud, first, queued["id"])
    assert image["metadata"]["name"].startswith("web-image-")
    assert image["metadata"]["annotations"]["openstack.nimbus.dev/name"] == "Web Image"
    assert "source" not in image["spec"]
    assert (image["spec"]["minDiskGB"], image["spec"]["properties"]["os_distro"]) == (1, "cirros")
    name = image["metadata"]["name"]
    wait_for(cloud, IMAGE, name, first, "{.status.status}", "queued")
    no_data = cloud.kubectl("get", "datavolumes.cdi.kubevirt.io", f"image-{name}", "-n", first,
                            check=False)  # fmt: skip
    assert "NotFound" in no_data.stderr  # nothing to import until it has a source

    openstack(api, "alice", first, "image", "set", "--property", "hw_disk_bus=virtio",
              "--min-disk", "2", "--tag", "web", "--name", "Web Image 2", "Web Image")  # fmt: skip
    shown = _show(api, "alice", first, queued["id"])
    assert (shown["name"], shown["min_disk"], shown["tags"], shown["status"]) == (
        "Web Image 2", 2, ["web"], "queued")  # fmt: skip
    assert shown["properties"]["hw_disk_bus"] == "virtio"
    spec = cloud.get(IMAGE, name, first)["spec"]
    assert (spec["minDiskGB"], spec["tags"], spec["properties"]["hw_disk_bus"]) == (
        2, ["web"], "virtio")  # fmt: skip

    # --shared: the project's own shared images (the session's other tests leave public images
    # with this property, which every project lists too)
    by_property = as_json(openstack(api, "alice", first, "image", "list", "--shared",
                                    "--property", "hw_disk_bus=virtio", "-f", "json"))  # fmt: skip
    assert [i["Name"] for i in by_property] == ["Web Image 2"]
    assert as_json(openstack(api, "alice", first, "image", "list", "--property",
                             "hw_disk_bus=scsi", "-f", "json")) == []  # fmt: skip
    by_tag = as_json(openstack(api, "alice", first, "image", "list", "--tag", "web", "-f",
                               "json"))  # fmt: skip
    assert [i["ID"] for i in by_tag] == [queued["id"]]

    openstack(api, "alice", first, "image", "unset", "--tag", "web", "--property", "hw_disk_bus",
              queued["id"])  # fmt: skip
    shown = _show(api, "alice", first, queued["id"])
    assert shown["tags"] == []
    assert "hw_disk_bus" not in shown["properties"]

    openstack(api, "alice", first, "image", "set", "--protected", queued["id"])
    refused = openstack(api, "alice", first, "image", "delete", queued["id"], check=False)
    assert refused.returncode != 0
    assert f"Image {queued['id']} is protected and cannot be deleted." in refused.stderr
    assert cloud.get(IMAGE, name, first)["spec"]["protected"] is True

    openstack(api, "alice", first, "image", "set", "--unprotected", queued["id"])
    openstack(api, "alice", first, "image", "delete", queued["id"])
    _gone(cloud, name, first)


def test_an_image_is_imported_by_web_download_until_the_operator_has_it_active(
    cloud: Cloud, api: str, tenants: dict[str, str], queued: dict[str, Any]
) -> None:
    first = tenants["first"]
    methods = openstack(api, "alice", first, "image", "import", queued["id"], "--method",
                        "glance-direct", check=False)  # fmt: skip
    assert "The 'glance-direct' import method is not supported by this deployment. " \
        "Supported: web-download" in methods.stderr  # fmt: skip

    openstack(api, "alice", first, "image", "import", queued["id"], "--method", "web-download",
              "--uri", URL)  # fmt: skip
    image = _named(cloud, first, queued["id"])
    assert image["spec"]["source"] == {"http": {"url": URL}}
    seen: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not seen or seen[-1] != "active"):
        seen.append(_show(api, "alice", first, queued["id"])["status"])
        time.sleep(0.5)
    assert seen[-1] == "active", seen
    assert set(seen) <= {"importing", "active"}, seen
    dv = cloud.get("datavolumes.cdi.kubevirt.io", f"image-{image['metadata']['name']}", first)
    assert dv["spec"]["source"] == {"http": {"url": URL}}
    shown = _show(api, "alice", first, queued["id"])
    assert shown["size"] == 2**30  # the DataVolume's: min_disk (1 GB)
    again = openstack(api, "alice", first, "image", "import", queued["id"], "--method",
                      "web-download", "--uri", URL, check=False)  # fmt: skip
    assert again.returncode != 0


def test_openstacksdk_creates_and_imports_an_image_in_one_call(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    first = tenants["first"]
    conn = _sdk(api, "alice", first)
    images: Any = conn.image  # the v2 proxy: Keystone's catalog names Glance v2 only
    try:
        image = images.create_image("sdk-imported", disk_format="raw",
                                        container_format="bare", use_import=True,
                                        import_method="web-download", uri=URL)  # fmt: skip
        assert images.get_import_info().import_methods["value"] == ["web-download"]
        made = cloud.get(IMAGE, "sdk-imported", first)
        assert made["spec"]["diskFormat"] == "raw"
        assert made["spec"]["source"] == {"http": {"url": URL}}
        wait_for(cloud, IMAGE, "sdk-imported", first, "{.status.status}", "active", timeout=120)
        assert images.get_image(image.id).status == "active"
        images.delete_image(image.id)
    finally:
        conn.close()
    _gone(cloud, "sdk-imported", first)


def test_data_cannot_be_uploaded_and_the_refusal_says_what_to_do(
    cloud: Cloud, api: str, tenants: dict[str, str], tmp_path: Any
) -> None:
    first = tenants["first"]
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 4096)
    refused = openstack(api, "alice", first, "image", "create", "--file", str(disk),
                        "uploaded", check=False)  # fmt: skip
    assert refused.returncode != 0
    assert "Nimbus takes no image data through the API" in refused.stderr
    assert "--method web-download --uri <url>" in refused.stderr
    # openstacksdk deletes the image whose upload failed, as against Glance
    _gone(cloud, "uploaded", first)


def test_an_image_is_shared_with_the_other_tenant_s_project(
    cloud: Cloud, api: str, tenants: dict[str, str], queued: dict[str, Any]
) -> None:
    """The owner adds a project (`openstack image add project` looks it up in Keystone, which
    refuses a member, and then takes the id as given, as with Keystone); the member project
    sees the image, pending, outside its list until it accepts; only it answers, and nothing
    else of the image is its to change; removed, it sees the image no more."""
    first, second = tenants["first"], tenants["second"]
    owner_id = cloud.get("projects.identity.nimbus.dev", first)["metadata"]["uid"]
    other = cloud.get("projects.identity.nimbus.dev", second)["metadata"]["uid"]
    conn = _sdk(api, "alice", first)
    images: Any = conn.image
    try:
        member = as_json(openstack(api, "alice", first, "image", "add", "project",
                                   queued["id"], other, "-f", "json"))  # fmt: skip
        assert (member["member_id"], member["image_id"], member["status"]) == (
            other, queued["id"], "pending")  # fmt: skip
        image = _named(cloud, first, queued["id"])
        assert image["spec"]["members"] == [second]
        # the operator lets the member project's service accounts clone the image's disk, and
        # its group (which the API asserts for a token scoped to it) read the Image
        binding = f"image-{image['metadata']['name']}-clone"
        wait_for(cloud, "rolebinding", binding, first, "{.subjects[1].name}",
                 f"nimbus:project:{second}")  # fmt: skip
        with pytest.raises(sdk.exceptions.ConflictException) as duplicate:
            images.add_member(queued["id"], member_id=other)
        assert f"Member {other} is duplicated for image {queued['id']}" in str(duplicate.value)

        # The member project sees it, pending: by id, and listed only when asked for pending.
        shown = _show(api, "bob", second, queued["id"])
        assert (shown["visibility"], shown["owner"]) == ("shared", owner_id)
        listed = as_json(openstack(api, "bob", second, "image", "list", "-f", "json"))
        assert queued["id"] not in {i["ID"] for i in listed}
        pending = as_json(openstack(api, "bob", second, "image", "list", "--member-status",
                                    "pending", "-f", "json"))  # fmt: skip
        assert queued["id"] in {i["ID"] for i in pending}

        # Only the member answers: the owner is refused; the member accepts.
        owner = openstack(api, "alice", first, "image", "set", "--accept", queued["id"],
                          check=False)  # fmt: skip
        assert "You are not permitted to modify 'status' on this image member." in owner.stderr
        openstack(api, "bob", second, "image", "set", "--accept", queued["id"])
        listed = as_json(openstack(api, "bob", second, "image", "list", "-f", "json"))
        assert queued["id"] in {i["ID"] for i in listed}
        annotations = _named(cloud, first, queued["id"])["metadata"]["annotations"]
        assert annotations[f"member-status.image.nimbus.dev/{second}"] == "accepted"
        members = as_json(openstack(api, "alice", first, "image", "member", "list",
                                    queued["id"], "-f", "json"))  # fmt: skip
        assert [(m["Member ID"], m["Status"]) for m in members] == [(other, "accepted")]
        mine = as_json(openstack(api, "bob", second, "image", "member", "list", queued["id"],
                                 "-f", "json"))  # fmt: skip
        assert [(m["Member ID"], m["Status"]) for m in mine] == [(other, "accepted")]

        # Nothing else of the image is the member's: not through the API, where it is
        # another project's image, nor through Kubernetes, where the member-status policy
        # refuses all but its own answer.
        renamed = openstack(api, "bob", second, "image", "set", "--name", "mine", queued["id"],
                            check=False)  # fmt: skip
        assert renamed.returncode != 0
        added = openstack(api, "bob", second, "image", "add", "project", queued["id"],
                          owner_id, check=False)  # fmt: skip
        assert "only the image's owner adds and removes members" in added.stderr
        as_bob = ("--as", "bob", "--as-group", f"nimbus:project:{second}")
        name = image["metadata"]["name"]
        for patch in ('{"spec": {"minDiskGB": 7}}',
                      '{"metadata": {"annotations": {"member-status.image.nimbus.dev/'
                      f'{first}": "accepted"}}}}}}',
                      '{"metadata": {"labels": {"mine": "yes"}}}'):  # fmt: skip
            refused = cloud.kubectl("patch", IMAGE, name, "-n", first, "--type", "merge",
                                    "-p", patch, *as_bob, check=False)  # fmt: skip
            assert refused.returncode != 0, patch
            assert (
                "is shared with your project: you may set only your project's member "
                "status" in refused.stderr
            ), refused.stderr
        cloud.kubectl("patch", IMAGE, name, "-n", first, "--type", "merge", "-p",
                      '{"metadata": {"annotations": {"member-status.image.nimbus.dev/'
                      f'{second}": "rejected"}}}}}}', *as_bob)  # fmt: skip
        assert _show(api, "bob", second, queued["id"])["id"] == queued["id"]
        listed = as_json(openstack(api, "bob", second, "image", "list", "-f", "json"))
        assert queued["id"] not in {i["ID"] for i in listed}

        openstack(api, "alice", first, "image", "remove", "project", queued["id"], other)
        kept = cloud.get(IMAGE, name, first)
        assert "members" not in kept["spec"]
        assert f"member-status.image.nimbus.dev/{second}" not in (
            kept["metadata"].get("annotations") or {})  # fmt: skip
        deadline = time.monotonic() + 30
        while _visible(api, "bob", second, queued["id"]) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _visible(api, "bob", second, queued["id"])
        openstack(api, "alice", first, "image", "set", "--private", queued["id"])
        with pytest.raises(sdk.exceptions.ForbiddenException) as private:
            images.add_member(queued["id"], member_id=other)
        assert "Only shared images have members" in str(private.value)
    finally:
        conn.close()


def _visible(api: str, user: str, project: str, image_id: str) -> bool:
    shown = openstack(api, user, project, "image", "show", image_id, check=False)
    if shown.returncode == 0:
        return True
    assert f"No Image found for {image_id}" in shown.stderr
    return False


def test_a_project_boots_a_server_from_an_image_shared_with_it(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    """bob's project boots from the first project's cirros, shared with it, by id: the
    operator clones the shared disk, and the server's document names the image."""
    first, second = tenants["first"], tenants["second"]
    shared = cloud.get(IMAGE, "cirros", first)
    cloud.kubectl("patch", IMAGE, "cirros", "-n", first, "--type", "merge", "-p",
                  json.dumps({"spec": {"visibility": "shared", "members": [second]}}))  # fmt: skip
    try:
        wait_for(cloud, "rolebinding", "image-cirros-clone", first, "{.subjects[1].name}",
                 f"nimbus:project:{second}")  # fmt: skip
        made = as_json(openstack(api, "bob", second, "server", "create", "--flavor",
                                 "api1.small", "--image", shared["metadata"]["uid"],
                                 "--network", "private", "--wait", "from-shared",
                                 "-f", "json"))  # fmt: skip
        assert made["status"] == "ACTIVE"
        server = cloud.get("osserver", "from-shared", second)
        assert server["spec"]["image"] == {"name": "cirros", "project": first}
        shown = as_json(openstack(api, "bob", second, "server", "show", "from-shared",
                                  "-f", "json"))  # fmt: skip
        assert shared["metadata"]["uid"] in json.dumps(shown["image"])
        detail = as_json(openstack(api, "bob", second, "server", "list", "--long",
                                   "-f", "json"))  # fmt: skip
        row = next(r for r in detail if r["Name"] == "from-shared")
        assert row["Image ID"] == shared["metadata"]["uid"]
    finally:
        openstack(api, "bob", second, "server", "delete", "--wait", "from-shared", check=False)
        cloud.kubectl("patch", IMAGE, "cirros", "-n", first, "--type", "merge", "-p",
                      '{"spec": {"visibility": "private", "members": null}}')  # fmt: skip


def test_another_tenant_s_private_image_is_not_found(
    api: str, tenants: dict[str, str], queued: dict[str, Any]
) -> None:
    first, second = tenants["first"], tenants["second"]
    openstack(api, "alice", first, "image", "set", "--private", queued["id"])
    shown = openstack(api, "bob", second, "image", "show", queued["id"], check=False)
    assert shown.returncode != 0
    assert f"No Image found for {queued['id']}" in shown.stderr
    listed = as_json(openstack(api, "bob", second, "image", "list", "-f", "json"))
    assert queued["id"] not in {i["ID"] for i in listed}
    deleted = openstack(api, "bob", second, "image", "delete", queued["id"], check=False)
    assert deleted.returncode != 0


def test_a_reader_is_refused_a_create_and_a_member_a_public_image(
    api: str, tenants: dict[str, str], queued: dict[str, Any]
) -> None:
    first = tenants["first"]
    reader = openstack(api, "carol", first, "image", "create", "carols", check=False)
    assert reader.returncode != 0
    assert "You are not authorized to complete add_image action." in reader.stderr
    public = openstack(api, "alice", first, "image", "set", "--public", queued["id"],
                       check=False)  # fmt: skip
    assert "You are not authorized to complete publicize_image action." in public.stderr
    # `openstack image set --deactivate` prints nothing either way: openstacksdk does not check
    # the answer. The API's, as Glance's policy refuses it:
    token = openstack(api, "alice", first, "token", "issue", "-f", "value", "-c",
                      "id").stdout.strip()  # fmt: skip
    code, answer = _call(f"{api}/image/v2/images/{queued['id']}/actions/deactivate", token)
    assert code == 403
    assert answer["forbidden"]["message"].startswith(
        "You are not authorized to complete deactivate action. Nimbus cannot deactivate an "
        "image")  # fmt: skip
    assert _show(api, "alice", first, queued["id"])["status"] == "queued"
