"""The admission webhook on the real control plane: every refusal's message, quotas exactly at
their boundary, and twenty creates racing for the last slots. Users are impersonated."""

from __future__ import annotations

import concurrent.futures
import pathlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.integration.conftest import CIRROS, Cloud, flavors, wait_for

pytestmark = pytest.mark.timeout(300)
PROJECT = "projects.identity.nimbus.dev"


def _server(name: str, ns: str, flavor: str = "a1.tiny", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"flavor": flavor, "image": {"name": "cirros"}, **spec}}  # fmt: skip


def _volume(name: str, ns: str, size: int) -> dict[str, Any]:
    return {"apiVersion": "blockstorage.nimbus.dev/v1alpha1", "kind": "Volume",
            "metadata": {"name": name, "namespace": ns}, "spec": {"sizeGB": size}}  # fmt: skip


def create(cloud: Cloud, user: str, obj: dict[str, Any]) -> tuple[bool, str]:
    """Create as `user`: (accepted, the API server's refusal)."""
    got = cloud.kubectl(f"--as={user}", "create", "-f", "-", stdin=yaml.safe_dump(obj),
                        check=False)  # fmt: skip
    return got.returncode == 0, got.stderr


@pytest.fixture
def project(cloud: Cloud, operator: pathlib.Path) -> Iterator[tuple[str, str]]:
    """A project with a small quota and a member; the flavors and cirros. (name, member)"""
    name, member = f"q-{uuid.uuid4().hex[:6]}", f"member-{uuid.uuid4().hex[:6]}"
    cloud.apply({"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
                 "metadata": {"name": name},
                 "spec": {"members": [{"user": member, "role": "member"}], "purge": True,
                          "quota": {"cores": 5, "instances": 30, "gigabytes": 10}}})  # fmt: skip
    wait_for(cloud, PROJECT, name, None, "{.status.status}", "ACTIVE")
    cloud.apply_text(flavors(("a1.tiny", 1, 256, 1), ("a1.small", 2, 512, 1),
                             ("a1.nano", 1, 64, 1)))  # fmt: skip
    cloud.apply_text(CIRROS + "  minRamMB: 128\n", name)
    yield name, member
    cloud.kubectl("delete", PROJECT, name, "--wait=false", check=False)


def test_unknown_references_are_refused_listing_what_exists(
    cloud: Cloud, project: tuple[str, str]
) -> None:
    ns, member = project
    ok, why = create(cloud, member, _server("s", ns, flavor="a1.nope"))
    assert not ok
    assert 'spec.flavor: flavor "a1.nope" not found; available: ' in why
    assert "a1.small, a1.tiny" in why
    ok, why = create(cloud, member, _server("s", ns, networks=[{"network": "nonet"}]))
    assert 'spec.networks[0].network: network "nonet" not found; available: none' in why
    ok, why = create(cloud, member, _server("s", ns, networks=[{"port": "p1"}]))
    assert 'spec.networks[0].port: port "p1" not found; available: none' in why
    ok, why = create(cloud, member, _server("s", ns, keyName="mine"))
    assert 'spec.keyName: key pair "mine" not found; available: none' in why
    ok, why = create(cloud, member, _server("s", ns, image={"name": "fedora"}))
    assert 'spec.image: image "fedora" not found; available: cirros' in why
    ok, why = create(cloud, member, _server("s", ns, volumes=[{"volume": "data"}]))
    assert 'spec.volumes[0].volume: volume "data" not found; available: none' in why
    ok, why = create(cloud, member, _server("s", ns, serverGroup="apart"))
    assert 'spec.serverGroup: server group "apart" not found; available: none' in why


def test_a_refusal_is_the_webhook_working_not_an_error_in_the_operators_log(
    cloud: Cloud, operator: pathlib.Path, project: tuple[str, str]
) -> None:
    """kopf logs a refusal as `ERROR Webhook 'servers' failed permanently`; the operator keeps
    it out of its error log (an INFO line of nimbus.admission, tests/unit/test_logs.py)."""
    ns, member = project
    start = operator.stat().st_size
    ok, why = create(cloud, member, _server("s", ns, flavor="a1.nope"))
    assert not ok
    assert 'spec.flavor: flavor "a1.nope" not found' in why
    logged = operator.read_bytes()[start:].decode(errors="replace")
    assert [line for line in logged.splitlines() if "failed permanently" in line] == []


def test_an_image_bigger_than_the_flavor_is_refused_in_novas_words(
    cloud: Cloud, project: tuple[str, str]
) -> None:
    ns, member = project
    ok, why = create(cloud, member, _server("s", ns, flavor="a1.nano"))
    assert not ok
    assert "Flavor's memory is too small for requested image." in why


def test_another_projects_private_image_cannot_be_used(
    cloud: Cloud, project: tuple[str, str]
) -> None:
    ns, member = project
    other = cloud.namespace()
    cloud.apply_text(CIRROS, other)
    ok, why = create(cloud, member, _server("s", ns, image={"name": "cirros", "project": other}))
    assert not ok
    assert (f'spec.image: image "cirros" of project {other} is private; only public images, or '
            "images shared with this project, may be used") in why  # fmt: skip
    cloud.kubectl("patch", "images.image.nimbus.dev", "cirros", "-n", other, "--type=merge",
                  "-p", '{"spec": {"visibility": "public"}}')  # fmt: skip
    ok, why = create(cloud, member, _server("s", ns, image={"name": "cirros", "project": other}))
    assert ok, why


def test_cores_quota_holds_exactly_at_its_boundary_against_twenty_racing_creates(
    cloud: Cloud, project: tuple[str, str]
) -> None:
    ns, member = project
    ok, why = create(cloud, member, _server("first", ns, flavor="a1.small"))  # 2 of 5 cores
    assert ok, why
    ok, why = create(cloud, member, _server("big", ns, flavor="a1.small"))  # 4 of 5
    assert ok, why
    ok, why = create(cloud, member, _server("over", ns, flavor="a1.small"))
    assert "Quota exceeded for cores: Requested 2, but already used 4 of 5 cores" in why
    # One core is left: of twenty creates at once, exactly one gets it.
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda i: create(cloud, member, _server(f"race-{i}", ns)),
                                range(20)))  # fmt: skip
    accepted = [why for ok, why in results if ok]
    refused = [why for ok, why in results if not ok]
    assert len(accepted) == 1, refused
    for why in refused:
        assert "Quota exceeded for cores: Requested 1, but already used 5 of 5 cores" in why
    names = cloud.kubectl("get", "servers.compute.nimbus.dev", "-n", ns, "-o", "name").stdout
    assert len(names.split()) == 3


def test_volumes_quota_and_in_use_volumes(cloud: Cloud, project: tuple[str, str]) -> None:
    ns, member = project
    ok, why = create(cloud, member, _volume("data", ns, 8))
    assert ok, why
    ok, why = create(cloud, member, _volume("more", ns, 5))
    assert (
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
        "gigabytes quota. Requested 5G, quota is 10G and 8G has been consumed."
    ) in why

    ok, why = create(cloud, member, _server("db-1", ns, volumes=[{"volume": "data"}]))
    assert ok, why
    ok, why = create(cloud, member, _server("db-2", ns, volumes=[{"volume": "data"}]))
    assert ("spec.volumes[0].volume: Invalid volume: volume data is in-use, attached to db-1, "
            "and is not multiattach") in why  # fmt: skip
    refused = cloud.kubectl("delete", "volumes.blockstorage.nimbus.dev", "data", "-n", ns,
                            check=False)  # fmt: skip
    assert refused.returncode != 0
    assert ("Invalid volume: volume data status must be available or error, but current status "
            "is: in-use (attached to db-1); detach it first") in refused.stderr  # fmt: skip


def test_the_webhook_configuration_fails_closed(cloud: Cloud, operator: pathlib.Path) -> None:
    config = cloud.get("validatingwebhookconfiguration", "nimbus-admission.nimbus.dev")
    for webhook in config["webhooks"]:
        assert webhook["failurePolicy"] == "Fail"
        assert webhook["timeoutSeconds"] == 30
        assert webhook["clientConfig"]["url"].startswith("https://127.0.0.1:")


def test_a_stack_heat_would_refuse_is_refused_with_heats_reason(
    cloud: Cloud, project: tuple[str, str]
) -> None:
    ns, member = project
    stack = {"apiVersion": "orchestration.nimbus.dev/v1alpha1", "kind": "Stack",
             "metadata": {"name": "bad", "namespace": ns},
             "spec": {"template": "heat_template_version: 2018-08-31\nparameters:\n"
                      "  flavor: {type: string, constraints: [{custom_constraint: nova.flavor}]}\n"
                      "resources: {}\n", "parameters": {"flavor": "a1.huge"}}}  # fmt: skip
    ok, why = create(cloud, member, stack)
    assert not ok
    assert ("spec.template: Parameter 'flavor' is invalid: Error validating value 'a1.huge': "
            "The Flavor (a1.huge) could not be found.") in why  # fmt: skip
