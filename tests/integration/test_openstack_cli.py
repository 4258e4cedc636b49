"""The OpenStack API, driven by the real `openstack` CLI (python-openstackclient) as a user drives
it, against the session's control plane and operator: Keystone's password login and tokens, the
server flow's reads (servers, flavors, images, networks), and tenancy through impersonation.

`nimbus api` runs as its own ServiceAccount, held to nimbus.openstack.rbac: every call it makes
for a user impersonates that user, so what Kubernetes RBAC lets them see is what they see."""

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
from openstack import connection as sdk_connection

from nimbus.compute import keypairs
from nimbus.devcloud import cluster, components
from nimbus.openstack import passwords, rbac
from tests.integration.conftest import CIRROS, Cloud, flavors, wait_for

PROJECT = "projects.identity.nimbus.dev"
SYSTEM = "nimbus-system"
OPENSTACK = pathlib.Path(sys.executable).parent / "openstack"

pytestmark = pytest.mark.skipif(
    not OPENSTACK.exists() and shutil.which("openstack") is None,
    reason="python-openstackclient is in the test extra: make venv installs it",
)


def _user(cloud: Cloud, name: str, password: str, default_project: str | None = None) -> None:
    cloud.apply(
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": f"{name}-password", "namespace": SYSTEM},
         "stringData": {"password": password}},
        {"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "User", "metadata": {"name": name},
         "spec": {"passwordSecret": {"name": f"{name}-password", "namespace": SYSTEM},
                  **({"defaultProject": default_project} if default_project else {})}},
    )  # fmt: skip


def _hashed(cloud: Cloud, name: str, password: str) -> None:
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
    (first, second -> the projects' names)"""
    suffix = uuid.uuid4().hex[:5]
    first, second = f"os-a-{suffix}", f"os-b-{suffix}"
    for project, user in ((first, "alice"), (second, "bob")):
        members = [{"user": user, "role": "member"}]
        if project == first:
            members.append({"user": "nimbus-admin", "role": "member"})
            members.append({"user": "carol", "role": "reader"})
        cloud.apply({"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
                     "metadata": {"name": project},
                     "spec": {"members": members, "purge": True}})  # fmt: skip
    for name in ("alice", "bob", "carol", "nimbus-admin"):
        _user(cloud, name, f"s3cret-{name}")
    for name in ("alice", "bob", "carol", "nimbus-admin"):
        _hashed(cloud, name, f"s3cret-{name}")
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
    return {"first": first, "second": second}


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


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def test_a_user_logs_in_and_gets_a_project_scoped_token(api: str, tenants: dict[str, str]
                                                        ) -> None:  # fmt: skip
    token = _json(openstack(api, "alice", tenants["first"], "token", "issue", "-f", "json"))
    assert all(token[k] for k in ("project_id", "user_id", "expires")), token
    # The wrong password, or a project the user has no role on: Keystone's 401.
    wrong = openstack(api, "alice", tenants["first"], "token", "issue", check=False,
                      password="guess")  # fmt: skip
    assert wrong.returncode != 0
    assert "requires authentication" in wrong.stderr or "401" in wrong.stderr, wrong.stderr
    refused = openstack(api, "alice", tenants["second"], "token", "issue", check=False)
    assert refused.returncode != 0
    assert "401" in refused.stderr or "no access" in refused.stderr


def test_the_server_flow_reads_through_the_cli(api: str, tenants: dict[str, str]) -> None:
    first = tenants["first"]
    servers = _json(openstack(api, "alice", first, "server", "list", "-f", "json"))
    assert [(s["Name"], s["Status"]) for s in servers] == [("web", "ACTIVE")]
    assert "private" in str(servers[0]["Networks"])
    shown = _json(openstack(api, "alice", first, "server", "show", "web", "-f", "json"))
    assert shown["status"] == "ACTIVE"
    assert shown["flavor"]
    names = {f["Name"] for f in _json(openstack(api, "alice", first, "flavor", "list", "-f",
                                                "json"))}  # fmt: skip
    assert "api1.small" in names
    images = _json(openstack(api, "alice", first, "image", "list", "-f", "json"))
    assert [i["Name"] for i in images] == ["cirros"]
    networks = _json(openstack(api, "alice", first, "network", "list", "-f", "json"))
    assert [n["Name"] for n in networks] == ["private"]


def test_one_tenant_never_sees_another_s_objects(api: str, tenants: dict[str, str]) -> None:
    """Bob, in the second project, sees none of the first's servers, even by id."""
    first, second = tenants["first"], tenants["second"]
    web = _json(openstack(api, "alice", first, "server", "show", "web", "-f", "json"))
    assert _json(openstack(api, "bob", second, "server", "list", "-f", "json")) == []
    missing = openstack(api, "bob", second, "server", "show", web["id"], check=False)
    assert missing.returncode != 0
    assert "No Server found" in missing.stderr or "could not be found" in missing.stderr


def test_a_user_named_as_the_cluster_admin_gains_nothing(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    """The local cloud's admin is `nimbus-admin` in system:masters. A Keystone user of that name
    is impersonated as the user alone, in system:authenticated only: it has its project role
    and nothing of the admin's."""
    first, second = tenants["first"], tenants["second"]
    servers = _json(openstack(api, "nimbus-admin", first, "server", "list", "-f", "json"))
    assert [s["Name"] for s in servers] == ["web"]
    refused = openstack(api, "nimbus-admin", second, "server", "list", check=False)
    assert refused.returncode != 0
    who = cloud.kubectl("auth", "can-i", "list", "servers.compute.nimbus.dev", "-n", second,
                        "--as=nimbus-admin", "--as-group=system:authenticated",
                        check=False).stdout.strip()  # fmt: skip
    assert who == "no"


def test_a_server_is_created_and_deleted_through_the_cli(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    """`server create --wait` to ACTIVE and `server delete --wait`, with a name Kubernetes
    cannot hold as it is (capitals, a space): kept as the OpenStack name, shown as given."""
    first = tenants["first"]
    made = _json(openstack(api, "alice", first, "server", "create", "--flavor", "api1.small",
                           "--image", "cirros", "--network", "private", "--wait",
                           "-f", "json", "My Server"))  # fmt: skip
    assert (made["name"], made["status"]) == ("My Server", "ACTIVE")
    listed = _json(openstack(api, "alice", first, "server", "list", "-f", "json"))
    assert sorted(s["Name"] for s in listed) == ["My Server", "web"]
    objects = json.loads(cloud.kubectl("get", "osserver", "-n", first, "-o", "json").stdout)
    mine = next(o for o in objects["items"] if o["metadata"]["uid"] == made["id"])
    assert mine["metadata"]["annotations"]["openstack.nimbus.dev/name"] == "My Server"
    assert mine["spec"]["flavor"] == "api1.small"
    # Made as the caller: a reader of the project may look, and Kubernetes refuses them more.
    seen = _json(openstack(api, "carol", first, "server", "list", "-f", "json"))
    assert sorted(s["Name"] for s in seen) == ["My Server", "web"]
    refused = openstack(
        api,
        "carol",
        first,
        "server",
        "create",
        "--flavor",
        "api1.small",
        "--image",
        "cirros",
        "--network",
        "private",
        "nope",
        check=False,
    )
    assert refused.returncode != 0
    assert "cannot create resource" in refused.stderr, refused.stderr
    openstack(api, "alice", first, "server", "delete", "--wait", "My Server")
    listed = _json(openstack(api, "alice", first, "server", "list", "-f", "json"))
    assert [s["Name"] for s in listed] == ["web"]


def _request(url: str, method: str, headers: dict[str, str], body: Any = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **headers}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_a_revoked_token_is_refused_everywhere(api: str, tenants: dict[str, str]) -> None:
    """A logout (DELETE /v3/auth/tokens): the token validates no more, and Nova refuses it."""
    token = _json(openstack(api, "alice", tenants["first"], "token", "issue", "-f", "json"))
    text = token["id"]
    both = {"X-Auth-Token": text, "X-Subject-Token": text}
    assert _request(f"{api}/v3/auth/tokens", "HEAD", both) == 200
    assert _request(f"{api}/compute/v2.1/servers", "GET", {"X-Auth-Token": text}) == 200
    assert _request(f"{api}/v3/auth/tokens", "DELETE", both) == 204
    other = _json(openstack(api, "alice", tenants["first"], "token", "issue", "-f", "json"))
    checked = {"X-Auth-Token": other["id"], "X-Subject-Token": text}
    assert _request(f"{api}/v3/auth/tokens", "HEAD", checked) == 404
    assert _request(f"{api}/compute/v2.1/servers", "GET", {"X-Auth-Token": text}) == 401
    assert _request(f"{api}/compute/v2.1/servers", "GET", {"X-Auth-Token": other["id"]}) == 200


def _status(api: str, user: str, project: str, server: str, expected: str,
            timeout: float = 240) -> None:  # fmt: skip
    """Poll `openstack server show -f value -c status` until it prints `expected`."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        seen = openstack(api, user, project, "server", "show", server, "-f", "value", "-c",
                         "status").stdout.strip()  # fmt: skip
        if seen == expected:
            return
        time.sleep(1)
    raise AssertionError(f"server {server}: status {seen!r}, not {expected!r}")


def _call(url: str, method: str, token: str, body: Any = None,
          version: str = "2.1") -> tuple[int, Any]:  # fmt: skip
    """A raw Nova request: (status, the JSON answered or None)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "X-Auth-Token": token,
               "OpenStack-API-Version": f"compute {version}"}  # fmt: skip
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return int(response.status), json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read()
        return int(error.code), json.loads(text) if text else None


def test_a_server_is_stopped_started_rebooted_and_resized_through_the_cli(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    """Nova's actions as the CLI sends them, each a change of the Server the operator acts on;
    Nova's 409 for stopping a stopped server; a resize confirmed (Nimbus confirmed it already)
    and a revert refused."""
    second = tenants["second"]
    cloud.apply_text(flavors(("api1.medium", 1, 768, 1)))
    made = _json(openstack(api, "bob", second, "server", "create", "--flavor", "api1.small",
                           "--image", "cirros", "--network", "private", "--wait",
                           "-f", "json", "act"))  # fmt: skip
    ident = made["id"]
    assert made["status"] == "ACTIVE"

    openstack(api, "bob", second, "server", "stop", "act")
    assert cloud.get("osserver", "act", second)["spec"]["powerState"] == "Stopped"
    _status(api, "bob", second, "act", "SHUTOFF")
    again = openstack(api, "bob", second, "server", "stop", "act", check=False)
    assert again.returncode != 0
    assert f"Cannot 'stop' instance {ident} while it is in vm_state stopped" in again.stderr, (
        again.stderr
    )
    assert "409" in again.stderr, again.stderr
    openstack(api, "bob", second, "server", "start", "act")
    _status(api, "bob", second, "act", "ACTIVE")

    openstack(api, "bob", second, "server", "reboot", "act")
    asked = cloud.get("osserver", "act", second)["metadata"]["annotations"]
    stamp = asked["compute.nimbus.dev/reboot"]
    assert "compute.nimbus.dev/reboot-type" not in asked
    wait_for(cloud, "osserver", "act", second, "{.status.built.reboot}", stamp, timeout=120)
    _status(api, "bob", second, "act", "ACTIVE")
    openstack(api, "bob", second, "server", "reboot", "--hard", "act")
    asked = cloud.get("osserver", "act", second)["metadata"]["annotations"]
    assert asked["compute.nimbus.dev/reboot-type"] == "HARD"
    wait_for(cloud, "osserver", "act", second, "{.status.built.reboot}",
             asked["compute.nimbus.dev/reboot"], timeout=120)  # fmt: skip
    _status(api, "bob", second, "act", "ACTIVE")

    openstack(api, "bob", second, "server", "resize", "--flavor", "api1.medium", "act")
    wait_for(cloud, "osserver", "act", second, "{.status.built.flavor}", "api1.medium",
             timeout=120)  # fmt: skip
    _status(api, "bob", second, "act", "ACTIVE")
    confirmed = openstack(api, "bob", second, "server", "resize", "--confirm", "act")
    assert confirmed.returncode == 0
    shown = _json(openstack(api, "bob", second, "server", "show", "act", "-f", "json"))
    assert "api1.medium" in str(shown["flavor"]), shown["flavor"]
    revert = openstack(api, "bob", second, "server", "resize", "revert", "act", check=False)
    assert revert.returncode != 0
    assert f"Cannot 'revertResize' instance {ident} while it is in vm_state active" in (
        revert.stderr
    ), revert.stderr

    log = openstack(api, "bob", second, "console", "log", "show", "act")
    assert log.stdout.strip() == ""
    openstack(api, "bob", second, "server", "delete", "--wait", "act")


def test_keypairs_are_created_listed_and_deleted_through_the_cli(
    cloud: Cloud, api: str, tenants: dict[str, str], tmp_path: pathlib.Path
) -> None:
    """An imported key and one the CLI generates (2.92 on: the client makes it) are the
    project's KeyPairs; before 2.92 Nova makes it, and so does Nimbus: the private key is in
    the response alone, never in a Secret. A reader creates none."""
    first = tenants["first"]
    public = tmp_path / "ops.pub"
    public.write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICTtVwF7P9oMwZ3JkCgY1SSRonCdtfo86aXKFQBroS8h ops\n"
    )
    imported = _json(openstack(api, "alice", first, "keypair", "create", "--public-key",
                               str(public), "-f", "json", "ops-key"))  # fmt: skip
    assert imported["fingerprint"] == keypairs.fingerprint(public.read_text())
    private = tmp_path / "gen.pem"
    openstack(api, "alice", first, "keypair", "create", "--private-key", str(private), "gen-key")
    assert private.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    listed = _json(openstack(api, "alice", first, "keypair", "list", "-f", "json"))
    assert sorted(k["Name"] for k in listed) == ["gen-key", "ops-key"]
    shown = _json(openstack(api, "alice", first, "keypair", "show", "ops-key", "-f", "json"))
    assert shown["fingerprint"] == imported["fingerprint"]
    assert cloud.get("oskeypair", "ops-key", first)["spec"]["publicKey"] == \
        public.read_text().strip()  # fmt: skip

    token = _json(openstack(api, "alice", first, "token", "issue", "-f", "json"))["id"]
    status, made = _call(f"{api}/compute/v2.1/os-keypairs", "POST", token,
                         {"keypair": {"name": "made-here"}}, version="2.2")  # fmt: skip
    assert status == 201, made
    assert made["keypair"]["private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert made["keypair"]["type"] == "ssh"
    held = cloud.get("oskeypair", "made-here", first)
    assert held["spec"]["publicKey"] == made["keypair"]["public_key"]
    assert cloud.kubectl("get", "secret", "made-here-private-key", "-n", first,
                         check=False).returncode != 0  # fmt: skip
    status, refused = _call(f"{api}/compute/v2.1/os-keypairs", "POST", token,
                            {"keypair": {"name": "late"}}, version="2.92")  # fmt: skip
    assert status == 400
    assert "'public_key' is a required property" in refused["badRequest"]["message"]

    reader = openstack(api, "carol", first, "keypair", "create", "--public-key", str(public),
                       "nope", check=False)  # fmt: skip
    assert reader.returncode != 0
    assert "cannot create resource" in reader.stderr, reader.stderr
    openstack(api, "alice", first, "keypair", "delete", "ops-key", "gen-key", "made-here")
    assert _json(openstack(api, "alice", first, "keypair", "list", "-f", "json")) == []
    missing = openstack(api, "alice", first, "keypair", "show", "ops-key", check=False)
    assert missing.returncode != 0


def test_limits_show_the_project_s_quota_and_usage(api: str, tenants: dict[str, str]) -> None:
    """Nova's limits through openstacksdk (what `openstack limits show --absolute` calls): the
    first project's default quota, and its one server (web, api1.small: 1 vCPU, 512 MB) once the
    operator has counted it. The CLI's command also asks Cinder for its limits, which answer 404
    until Cinder's slice lands: that, and only that, stops it today."""
    first = tenants["first"]
    cli = openstack(api, "alice", first, "limits", "show", "--absolute", check=False)
    assert cli.returncode != 0
    assert "404" in cli.stderr, cli.stderr
    assert cli.stderr.split("Client Error for url: ")[1].split(",")[0].endswith("/limits")
    assert "/volume/v3/" in cli.stderr, cli.stderr
    cloud_sdk = sdk_connection.Connection(
        auth_url=f"{api}/v3", username="alice", password="s3cret-alice", project_name=first,
        user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
        interface="public", identity_api_version="3",
    )  # fmt: skip
    names = ("instances", "total_cores", "total_ram", "keypairs", "server_meta", "server_groups",
             "server_group_members", "instances_used", "total_cores_used", "total_ram_used",
             "server_groups_used")  # fmt: skip
    wanted = dict(zip(names, (10, 20, 51200, 100, 128, 10, 10, 1, 1, 512, 0), strict=True))
    deadline = time.monotonic() + 90
    try:
        while True:
            absolute = cloud_sdk.compute.get_limits().absolute
            got = {name: getattr(absolute, name) for name in names}
            if got == wanted or time.monotonic() > deadline:
                break
            time.sleep(2)
    finally:
        cloud_sdk.close()
    assert got == wanted


def test_availability_zones_a_member_sees_are_its_servers(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    """A member may not list nodes: the CLI's detailed list is refused as Nova refuses it to
    non-admins, and the plain list names the zones of the project's servers."""
    first = tenants["first"]
    zone = cloud.get("osserver", "web", first)["status"].get("availabilityZone")
    zones = _json(openstack(api, "alice", first, "availability", "zone", "list", "--compute",
                            "-f", "json"))  # fmt: skip
    assert [z["Zone Name"] for z in zones] == ([zone] if zone else [])
    assert all(z["Zone Status"] == "available" for z in zones)
