"""Projects on the real control plane, with real RBAC: users are impersonated (kubectl --as), as
the API server would authenticate them."""

from __future__ import annotations

import json
import pathlib
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.integration.conftest import CIRROS, Cloud, flavors, wait_for

pytestmark = pytest.mark.timeout(300)
PROJECT = "projects.identity.nimbus.dev"


def as_user(cloud: Cloud, user: str, *args: str, stdin: str | None = None) -> Any:
    return cloud.kubectl(f"--as={user}", *args, stdin=stdin, check=False)


def _server(name: str) -> str:
    """A server of the i1.tiny flavor booting cirros, with the image, as YAML."""
    return CIRROS + "---\n" + yaml.safe_dump({
        "apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server", "metadata": {"name": name},
        "spec": {"flavor": "i1.tiny", "image": {"name": "cirros"}}})  # fmt: skip


def _project(cloud: Cloud, name: str, **spec: Any) -> None:
    cloud.apply({"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
                 "metadata": {"name": name}, "spec": spec})  # fmt: skip


@pytest.fixture
def users() -> dict[str, str]:
    """Fresh user names, so that no test's grants leak into another's."""
    suffix = uuid.uuid4().hex[:6]
    return {role: f"{role}-{suffix}" for role in ("admin", "member", "reader", "stranger")}


@pytest.fixture
def project(cloud: Cloud, operator: pathlib.Path, users: dict[str, str]) -> Iterator[str]:
    name = f"p-{uuid.uuid4().hex[:6]}"
    _project(cloud, name, members=[
        {"user": users["admin"], "role": "admin"},
        {"user": users["member"], "role": "member"},
        {"user": users["reader"], "role": "reader"},
    ], quota={"keyPairs": 1, "routers": 1})  # fmt: skip
    wait_for(cloud, PROJECT, name, None, "{.status.status}", "ACTIVE")
    yield name
    cloud.kubectl("delete", PROJECT, name, "--wait=false", check=False)


def test_a_project_becomes_its_namespace_quota_isolation_and_bindings(
    cloud: Cloud, project: str, users: dict[str, str]
) -> None:
    ns = cloud.get("namespace", project)
    assert ns["metadata"]["labels"]["identity.nimbus.dev/project"] == project
    quota = cloud.get("resourcequota", "nimbus-quota", project)
    assert quota["spec"]["hard"]["count/servers.compute.nimbus.dev"] == "10"
    assert quota["spec"]["hard"]["count/keypairs.compute.nimbus.dev"] == "1"
    policy = cloud.get("networkpolicy", "nimbus-project-isolation", project)
    assert policy["spec"]["ingress"] == [{"from": [{"podSelector": {}}]}]
    binding = cloud.get("rolebinding", "nimbus-project-member", project)
    assert [s["name"] for s in binding["subjects"]] == [users["member"]]
    status = cloud.get(PROJECT, project)["status"]
    assert status["namespace"] == project
    assert status["usage"]["instances"] == {"inUse": 0, "reserved": 0, "limit": 10}


def test_roles_reader_lists_member_creates_admin_reads_secrets(
    cloud: Cloud, project: str, users: dict[str, str]
) -> None:
    reader, member, admin = users["reader"], users["member"], users["admin"]
    assert (
        as_user(cloud, reader, "get", "servers.compute.nimbus.dev", "-n", project).returncode == 0
    )
    keypair = yaml.safe_dump({"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "KeyPair",
                              "metadata": {"name": "k1", "namespace": project}})  # fmt: skip
    refused = as_user(cloud, reader, "create", "-f", "-", stdin=keypair)
    assert refused.returncode != 0
    assert "is forbidden" in refused.stderr
    assert 'cannot create resource "keypairs"' in refused.stderr

    # A member makes a server that boots; its usage shows in the project's status.
    cloud.apply_text(flavors(("i1.tiny", 1, 512, 1)))
    made = as_user(cloud, member, "create", "-n", project, "-f", "-", stdin=_server("web-1"))
    assert made.returncode == 0, made.stderr
    wait_for(cloud, "servers.compute.nimbus.dev", "web-1", project, "{.status.status}", "ACTIVE",
             timeout=90)  # fmt: skip
    wait_for(cloud, PROJECT, project, None, "{.status.usage.cores.inUse}", "1", timeout=30)

    # Secrets are the admin's: a member cannot read them.
    assert as_user(cloud, member, "get", "secrets", "-n", project).returncode != 0
    assert as_user(cloud, admin, "get", "secrets", "-n", project).returncode == 0
    # Everyone reads flavors; nobody but a cluster admin writes them, or projects.
    assert as_user(cloud, reader, "get", "flavors.compute.nimbus.dev").returncode == 0
    flavor = flavors(("i1.mine", 1, 512, 1))
    assert "is forbidden" in as_user(cloud, admin, "create", "-f", "-", stdin=flavor).stderr
    patch = as_user(cloud, admin, "patch", PROJECT, project, "--type=merge", "-p",
                    json.dumps({"spec": {"quota": {"instances": 1000}}}))  # fmt: skip
    assert "is forbidden" in patch.stderr


def test_no_one_sees_another_projects_objects(
    cloud: Cloud, project: str, users: dict[str, str]
) -> None:
    other = f"p-{uuid.uuid4().hex[:6]}"
    _project(cloud, other, members=[{"user": users["stranger"], "role": "admin"}])
    wait_for(cloud, PROJECT, other, None, "{.status.status}", "ACTIVE")
    try:
        for user in (users["reader"], users["member"], users["admin"]):
            for kind in ("images.image.nimbus.dev", "networks.network.nimbus.dev",
                         "volumes.blockstorage.nimbus.dev"):  # fmt: skip
                got = as_user(cloud, user, "get", kind, "-n", other)
                assert "is forbidden" in got.stderr, (user, kind)
        assert (
            "is forbidden"
            in as_user(
                cloud, users["stranger"], "get", "servers.compute.nimbus.dev", "-n", project
            ).stderr
        )
    finally:
        cloud.kubectl("delete", PROJECT, other, "--wait=false")


def test_object_counts_are_held_to_the_quota(cloud: Cloud, project: str) -> None:
    def keypair(name: str) -> dict[str, Any]:
        return {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "KeyPair",
                "metadata": {"name": name, "namespace": project}}  # fmt: skip

    cloud.apply(keypair("k1"))
    refused = cloud.kubectl("create", "-f", "-", stdin=yaml.safe_dump(keypair("k2")), check=False)
    assert "exceeded quota: nimbus-quota" in refused.stderr
    assert "count/keypairs.compute.nimbus.dev=1" in refused.stderr

    # Neutron's router quota, the same way (floating IPs too: count/floatingips...).
    def router(name: str) -> dict[str, Any]:
        return {"apiVersion": "network.nimbus.dev/v1alpha1", "kind": "Router",
                "metadata": {"name": name, "namespace": project}}  # fmt: skip

    cloud.apply(router("r1"))
    refused = cloud.kubectl("create", "-f", "-", stdin=yaml.safe_dump(router("r2")), check=False)
    assert "count/routers.network.nimbus.dev=1" in refused.stderr


def test_a_disabled_projects_members_hold_no_roles(
    cloud: Cloud, project: str, users: dict[str, str]
) -> None:
    cloud.kubectl("patch", PROJECT, project, "--type=merge", "-p", '{"spec": {"enabled": false}}')
    wait_for(cloud, PROJECT, project, None,
             "{.status.conditions[?(@.type=='MembersBound')].reason}", "Disabled")  # fmt: skip
    got = as_user(cloud, users["reader"], "get", "servers.compute.nimbus.dev", "-n", project)
    assert "is forbidden" in got.stderr


def test_deletion_protection_refuses_and_deletion_drains(cloud: Cloud, project: str) -> None:
    cloud.kubectl("patch", PROJECT, project, "--type=merge", "-p",
                  '{"spec": {"deletionProtection": true}}')  # fmt: skip
    refused = cloud.kubectl("delete", PROJECT, project, check=False)
    assert refused.returncode != 0
    assert (f"project {project} has spec.deletionProtection: true; set it to false, then "
            "delete the project") in refused.stderr  # fmt: skip

    cloud.apply_text(flavors(("i1.tiny", 1, 512, 1)))
    cloud.apply_text(_server("s"), project)
    wait_for(cloud, "servers.compute.nimbus.dev", "s", project, "{.status.status}", "ACTIVE",
             timeout=90)  # fmt: skip
    cloud.kubectl("patch", PROJECT, project, "--type=merge", "-p",
                  '{"spec": {"deletionProtection": false}}')  # fmt: skip
    cloud.kubectl("delete", PROJECT, project, "--timeout=180s")
    # The drain said what was left, servers first, as Events on the project.
    selector = f"--field-selector=involvedObject.name={project},reason=Draining"
    events = json.loads(cloud.kubectl("get", "events", "-A", "-o", "json", selector).stdout)[
        "items"
    ]
    assert "1 server left" in [e["message"] for e in events]
    namespace = cloud.kubectl("get", "namespace", project, "-o", "json", check=False)
    assert namespace.returncode != 0 or json.loads(namespace.stdout)["status"]["phase"] == (
        "Terminating"
    )


def test_the_operator_serves_controller_runtime_metrics_and_project_gauges(
    cloud: Cloud, project: str
) -> None:
    cloud.apply_text(flavors(("i1.tiny", 1, 512, 1)))
    cloud.apply_text(_server("m"), project)
    wait_for(cloud, PROJECT, project, None, "{.status.usage.instances.inUse}", "1", timeout=60)
    url = f"http://{cloud.metrics_address}"
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
        assert response.status == 200
    deadline = time.monotonic() + 30
    while True:  # the gauges are set when the usage is counted
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
            text = response.read().decode()
        if f'nimbus_project_usage{{project="{project}",resource="vcpus"}} 1.0' in text:
            break
        assert time.monotonic() < deadline, text[-2000:]
        time.sleep(1)
    assert f'nimbus_project_quota{{project="{project}",resource="instances"}} 10.0' in text
    assert 'controller_runtime_reconcile_total{controller="server",result="success"}' in text
    assert 'controller_runtime_reconcile_total{controller="project",result="success"}' in text
    assert 'controller_runtime_reconcile_time_seconds_bucket{controller="server"' in text
