"""What the tests of the OpenStack API share: `nimbus api` run as its ServiceAccount on
loopback (the `api` fixture), two tenants with users, a network and a server (`tenants`), and
the real `openstack` CLI as a user runs it (`openstack`)."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from nimbus.devcloud import cluster, components
from nimbus.openstack import passwords, rbac
from tests.integration.conftest import CIRROS, Cloud, flavors, wait_for

PROJECT = "projects.identity.nimbus.dev"
SYSTEM = "nimbus-system"
OPENSTACK = pathlib.Path(sys.executable).parent / "openstack"

needs_cli = pytest.mark.skipif(
    not OPENSTACK.exists() and shutil.which("openstack") is None,
    reason="python-openstackclient is in the test extra: make venv installs it",
)


def user(cloud: Cloud, name: str, password: str, default_project: str | None = None) -> None:
    cloud.apply(
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": f"{name}-password", "namespace": SYSTEM},
         "stringData": {"password": password}},
        {"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "User", "metadata": {"name": name},
         "spec": {"passwordSecret": {"name": f"{name}-password", "namespace": SYSTEM},
                  **({"defaultProject": default_project} if default_project else {})}},
    )  # fmt: skip


def hashed(cloud: Cloud, name: str, password: str) -> None:
    """Until the operator has kept the user's password as a hash."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = cloud.kubectl("get", "secret", f"nimbus-password-{name}", "-n", SYSTEM, "-o",
                            "jsonpath={.data.hash}", check=False).stdout  # fmt: skip
        if got and passwords.verify(password, base64.b64decode(got).decode()):
            return
        time.sleep(0.5)
    raise AssertionError(f"no password hash for {name}")


@pytest.fixture(scope="module")
def api(cloud: Cloud, operator: pathlib.Path, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[str]:  # fmt: skip
    """`nimbus api` as the ServiceAccount nimbus-system/nimbus-api, on loopback."""
    cloud.kubectl("create", "namespace", SYSTEM, check=False)
    account = {"kind": "ServiceAccount", "name": "nimbus-api", "namespace": SYSTEM}
    cloud.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                 "metadata": {"name": "nimbus-api", "namespace": SYSTEM}},
                *rbac.objects(SYSTEM, account))  # fmt: skip
    token = cloud.kubectl("create", "token", "nimbus-api", "-n", SYSTEM,
                          "--duration=2h").stdout.strip()  # fmt: skip
    home = tmp_path_factory.mktemp("api")
    kubeconfig = home / "kubeconfig"
    server = yaml.safe_load(cloud.devcloud.kubeconfig.read_text())["clusters"][0]["cluster"]
    port = int(server["server"].rsplit(":", 1)[1])
    ca = (cloud.devcloud.pki_dir / "ca.crt").read_bytes()
    kubeconfig.write_text(components.kubeconfig(port, ca, token))
    (listen,) = cluster._free_ports(1)
    url = f"http://127.0.0.1:{listen}"
    log = home / "api.log"
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "nimbus", "api", f"--listen=127.0.0.1:{listen}"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                urllib.request.urlopen(f"{url}/v3", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        text = log.read_text()
        assert "s3cret" not in text  # no password logged
        assert "gAAAAA" not in text  # no token logged


@pytest.fixture(scope="module")
def tenants(cloud: Cloud, api: str) -> dict[str, str]:
    """Two projects, a member in each (alice, bob), carol a reader of the first, and
    nimbus-admin: a User named as the cluster's admin, a member of the first project only.
    (first, second -> the projects' names; first-image, second-image -> their cirros's id)"""
    suffix = uuid.uuid4().hex[:5]
    first, second = f"os-a-{suffix}", f"os-b-{suffix}"
    for project, member in ((first, "alice"), (second, "bob")):
        members = [{"user": member, "role": "member"}]
        if project == first:
            members.append({"user": "nimbus-admin", "role": "member"})
            members.append({"user": "carol", "role": "reader"})
        cloud.apply({"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
                     "metadata": {"name": project},
                     "spec": {"members": members, "purge": True}})  # fmt: skip
    for name in ("alice", "bob", "carol", "nimbus-admin"):
        user(cloud, name, f"s3cret-{name}")
    for name in ("alice", "bob", "carol", "nimbus-admin"):
        hashed(cloud, name, f"s3cret-{name}")
    cloud.apply_text(flavors(("api1.small", 1, 512, 1)))
    for project in (first, second):
        wait_for(cloud, PROJECT, project, None, "{.status.status}", "ACTIVE")
        cloud.apply_text(CIRROS, project)
        cloud.apply_text(
            "apiVersion: network.nimbus.dev/v1alpha1\nkind: Network\nmetadata: {name: private}\n"
            "---\napiVersion: network.nimbus.dev/v1alpha1\nkind: Subnet\n"
            "metadata: {name: private-v4}\nspec: {network: private, cidr: 10.0.0.0/24}\n",
            project,
        )
    cloud.apply({"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
                 "metadata": {"name": "web", "namespace": first},
                 "spec": {"flavor": "api1.small", "image": {"name": "cirros"},
                          "networks": [{"network": "private"}]}})  # fmt: skip
    wait_for(cloud, "osserver", "web", first, "{.status.status}", "ACTIVE", timeout=180)
    # Each project's cirros by id: other projects' public images (the session's other tests
    # make some, named cirros too) are listed to everyone, so the name is not the CLI's to
    # resolve, as in any OpenStack cloud with a public image of that name.
    ids = {f"{p}-image": cloud.get("images.image.nimbus.dev", "cirros", tenants)["metadata"]["uid"]
           for p, tenants in (("first", first), ("second", second))}  # fmt: skip
    return {"first": first, "second": second, **ids}


def openstack(url: str, user: str, project: str | None, *args: str, check: bool = True,
              password: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """The real CLI, as a user runs it: password auth, project scope by name."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_AUTH_URL=f"{url}/v3", OS_USERNAME=user,
               OS_PASSWORD=password or f"s3cret-{user}",
               OS_USER_DOMAIN_NAME="Default", OS_IDENTITY_API_VERSION="3",
               OS_INTERFACE="public", OS_REGION_NAME="RegionOne")  # fmt: skip
    if project:
        env.update(OS_PROJECT_NAME=project, OS_PROJECT_DOMAIN_NAME="Default")
    binary = str(OPENSTACK) if OPENSTACK.exists() else "openstack"
    result = subprocess.run([binary, *args], capture_output=True, text=True, env=env,
                            timeout=120)  # fmt: skip
    if check:
        assert result.returncode == 0, f"openstack {' '.join(args)}:\n{result.stderr}"
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def call(url: str, method: str = "GET", *, token: str | None = None, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
    """A raw request, as a client sends it: (status, the JSON answered or None)."""
    data = json.dumps(body).encode() if body is not None else None
    sent = {"Content-Type": "application/json", **({"X-Auth-Token": token} if token else {}),
            **(headers or {})}  # fmt: skip
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return int(response.status), json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read()
        return int(error.code), json.loads(text) if text else None
