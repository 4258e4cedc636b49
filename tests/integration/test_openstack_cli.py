"""The OpenStack API, driven by the real `openstack` CLI (python-openstackclient) as a user drives
it, against the session's control plane and operator: Keystone's password login and tokens, the
server flow's reads (servers, flavors, images, networks), and tenancy through impersonation.

`nimbus api` runs as its own ServiceAccount, held to nimbus.openstack.rbac: every call it makes
for a user impersonates that user, so what Kubernetes RBAC lets them see is what they see."""

from __future__ import annotations

import json
import pathlib
import time
import uuid
from typing import Any

from openstack import connection as sdk_connection

from nimbus.compute import keypairs
from tests.integration.conftest import Cloud, flavors, wait_for
from tests.integration.openstack import SYSTEM, as_json, call, needs_cli, openstack, user

pytestmark = needs_cli


def test_a_user_logs_in_and_gets_a_project_scoped_token(api: str, tenants: dict[str, str]
                                                        ) -> None:  # fmt: skip
    token = as_json(openstack(api, "alice", tenants["first"], "token", "issue", "-f", "json"))
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
    servers = as_json(openstack(api, "alice", first, "server", "list", "-f", "json"))
    assert [(s["Name"], s["Status"]) for s in servers] == [("web", "ACTIVE")]
    assert "private" in str(servers[0]["Networks"])
    shown = as_json(openstack(api, "alice", first, "server", "show", "web", "-f", "json"))
    assert shown["status"] == "ACTIVE"
    assert shown["flavor"]
    names = {f["Name"] for f in as_json(openstack(api, "alice", first, "flavor", "list", "-f",
                                                "json"))}  # fmt: skip
    assert "api1.small" in names
    images = as_json(openstack(api, "alice", first, "image", "list", "--long", "-f", "json"))
    own = [i["Name"] for i in images if i["ID"] == tenants["first-image"]]
    assert own == ["cirros"]  # and other projects' public images, if any
    assert all(i["Visibility"] == "public" for i in images if i["ID"] != tenants["first-image"])
    networks = as_json(openstack(api, "alice", first, "network", "list", "--long", "-f",
                                 "json"))  # fmt: skip
    # and other projects' external networks, if any: Neutron shows those to every project
    assert [n["Name"] for n in networks if not n["Router Type"]] == ["private"]  # internal


def test_one_tenant_never_sees_another_s_objects(api: str, tenants: dict[str, str]) -> None:
    """Bob, in the second project, sees none of the first's servers, even by id."""
    first, second = tenants["first"], tenants["second"]
    web = as_json(openstack(api, "alice", first, "server", "show", "web", "-f", "json"))
    assert as_json(openstack(api, "bob", second, "server", "list", "-f", "json")) == []
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
    servers = as_json(openstack(api, "nimbus-admin", first, "server", "list", "-f", "json"))
    assert [s["Name"] for s in servers] == ["web"]
    refused = openstack(api, "nimbus-admin", second, "server", "list", check=False)
    assert refused.returncode != 0
    who = cloud.kubectl("auth", "can-i", "list", "servers.compute.nimbus.dev", "-n", second,
                        "--as=nimbus-admin", "--as-group=system:authenticated",
                        check=False).stdout.strip()  # fmt: skip
    assert who == "no"


def _api_may(cloud: Cloud, verb: str, what: str) -> str:
    """Whether the API's ServiceAccount may `verb` `what` (a core resource/name: `users/alice`),
    as a SubjectAccessReview answers (kubectl auth can-i would read `users` as the User kind)."""
    resource, name = what.split("/", 1)
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": f"system:serviceaccount:{SYSTEM}:nimbus-api",
                       "groups": ["system:serviceaccounts", f"system:serviceaccounts:{SYSTEM}",
                                  "system:authenticated"],
                       "resourceAttributes": {"group": "", "resource": resource, "verb": verb,
                                              "name": name}}}  # fmt: skip
    answer = cloud.kubectl("create", "-f", "-", "-o", "json", stdin=json.dumps(review)).stdout
    return "yes" if json.loads(answer)["status"].get("allowed") else "no"


def test_the_api_impersonates_only_the_users_there_are(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    """The API's ServiceAccount may impersonate the names of existing Users (the ClusterRole the
    operator keeps), in system:authenticated only: not a name without a User, not a system
    user, not system:masters; a User deleted is no longer impersonated."""
    assert _api_may(cloud, "impersonate", "users/alice") == "yes"
    for refused in ("users/nobody", "users/system:admin", "users/system:kube-controller-manager",
                    "groups/system:masters", "serviceaccounts/nimbus-api"):  # fmt: skip
        assert _api_may(cloud, "impersonate", refused) == "no", refused
    assert _api_may(cloud, "impersonate", "groups/system:authenticated") == "yes"
    ghost = f"ghost-{uuid.uuid4().hex[:5]}"
    user(cloud, ghost, "s3cret-ghost")
    deadline = time.monotonic() + 30
    while _api_may(cloud, "impersonate", f"users/{ghost}") != "yes":
        assert time.monotonic() < deadline, f"the API may not impersonate the new user {ghost}"
        time.sleep(0.5)
    cloud.kubectl("delete", "users.identity.nimbus.dev", ghost)
    while _api_may(cloud, "impersonate", f"users/{ghost}") != "no":
        assert time.monotonic() < deadline + 30, f"the API still impersonates {ghost}"
        time.sleep(0.5)


def test_a_server_is_created_and_deleted_through_the_cli(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    """`server create --wait` to ACTIVE and `server delete --wait`, with a name Kubernetes
    cannot hold as it is (capitals, a space): kept as the OpenStack name, shown as given."""
    first = tenants["first"]
    made = as_json(openstack(api, "alice", first, "server", "create", "--flavor", "api1.small",
                           "--image", tenants["first-image"], "--network", "private",
                           "--wait", "-f", "json", "My Server"))  # fmt: skip
    assert (made["name"], made["status"]) == ("My Server", "ACTIVE")
    listed = as_json(openstack(api, "alice", first, "server", "list", "-f", "json"))
    assert sorted(s["Name"] for s in listed) == ["My Server", "web"]
    objects = json.loads(cloud.kubectl("get", "osserver", "-n", first, "-o", "json").stdout)
    mine = next(o for o in objects["items"] if o["metadata"]["uid"] == made["id"])
    assert mine["metadata"]["annotations"]["openstack.nimbus.dev/name"] == "My Server"
    assert mine["spec"]["flavor"] == "api1.small"
    # Made as the caller: a reader of the project may look, and Kubernetes refuses them more.
    seen = as_json(openstack(api, "carol", first, "server", "list", "-f", "json"))
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
        tenants["first-image"],
        "--network",
        "private",
        "nope",
        check=False,
    )
    assert refused.returncode != 0
    assert "cannot create resource" in refused.stderr, refused.stderr
    openstack(api, "alice", first, "server", "delete", "--wait", "My Server")
    listed = as_json(openstack(api, "alice", first, "server", "list", "-f", "json"))
    assert [s["Name"] for s in listed] == ["web"]


def test_a_server_is_tagged_and_listed_by_its_tags_through_the_cli(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    """`server set --tag` and `server unset --tag` (Nova 2.26's tags API), `server list
    --tags` and `--not-tags`: the Server's spec.tags; a tag Nova refuses, in Nova's words."""
    first = tenants["first"]

    def cli(*args: str, check: bool = True) -> Any:
        return openstack(api, "alice", first, "--os-compute-api-version", "2.96", *args,
                         check=check)  # fmt: skip

    cli("server", "set", "--tag", "prod", "--tag", "db", "web")
    try:
        shown = as_json(cli("server", "show", "-f", "json", "web"))
        assert sorted(shown["tags"]) == ["db", "prod"]
        tagged = as_json(cli("server", "list", "--tags", "prod,db", "-f", "json"))
        assert [s["Name"] for s in tagged] == ["web"]
        assert as_json(cli("server", "list", "--not-tags", "prod", "-f", "json")) == []
        cli("server", "unset", "--tag", "db", "web")
        server = json.loads(cloud.kubectl("get", "osserver", "web", "-n", first, "-o",
                                          "json").stdout)  # fmt: skip
        assert server["spec"]["tags"] == ["prod"]
        refused = cli("server", "set", "--tag", "a,b", "web", check=False)
        assert refused.returncode != 0
        assert "Tag 'a,b' is invalid" in refused.stderr, refused.stderr
    finally:
        cli("server", "unset", "--tag", "prod", "--tag", "db", "web", check=False)


def _request(url: str, method: str, headers: dict[str, str], body: Any = None) -> int:
    return int(call(url, method, body=body, headers=headers)[0])


def test_a_revoked_token_is_refused_everywhere(api: str, tenants: dict[str, str]) -> None:
    """A logout (DELETE /v3/auth/tokens): the token validates no more, and Nova refuses it."""
    token = as_json(openstack(api, "alice", tenants["first"], "token", "issue", "-f", "json"))
    text = token["id"]
    both = {"X-Auth-Token": text, "X-Subject-Token": text}
    assert _request(f"{api}/v3/auth/tokens", "HEAD", both) == 200
    assert _request(f"{api}/compute/v2.1/servers", "GET", {"X-Auth-Token": text}) == 200
    assert _request(f"{api}/v3/auth/tokens", "DELETE", both) == 204
    other = as_json(openstack(api, "alice", tenants["first"], "token", "issue", "-f", "json"))
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
    return call(url, method, token=token, body=body,
                headers={"OpenStack-API-Version": f"compute {version}"})  # fmt: skip


def test_a_server_is_stopped_started_rebooted_and_resized_through_the_cli(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    """Nova's actions as the CLI sends them, each a change of the Server the operator acts on;
    Nova's 409 for stopping a stopped server; a resize confirmed (Nimbus confirmed it already)
    and a revert refused."""
    second = tenants["second"]
    cloud.apply_text(flavors(("api1.medium", 1, 768, 1)))
    made = as_json(openstack(api, "bob", second, "server", "create", "--flavor", "api1.small",
                           "--image", tenants["second-image"], "--network", "private",
                           "--wait", "-f", "json", "act"))  # fmt: skip
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
    shown = as_json(openstack(api, "bob", second, "server", "show", "act", "-f", "json"))
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
    imported = as_json(openstack(api, "alice", first, "keypair", "create", "--public-key",
                               str(public), "-f", "json", "ops-key"))  # fmt: skip
    assert imported["fingerprint"] == keypairs.fingerprint(public.read_text())
    private = tmp_path / "gen.pem"
    openstack(api, "alice", first, "keypair", "create", "--private-key", str(private), "gen-key")
    assert private.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    listed = as_json(openstack(api, "alice", first, "keypair", "list", "-f", "json"))
    assert sorted(k["Name"] for k in listed) == ["gen-key", "ops-key"]
    shown = as_json(openstack(api, "alice", first, "keypair", "show", "ops-key", "-f", "json"))
    assert shown["fingerprint"] == imported["fingerprint"]
    assert cloud.get("oskeypair", "ops-key", first)["spec"]["publicKey"] == \
        public.read_text().strip()  # fmt: skip

    token = as_json(openstack(api, "alice", first, "token", "issue", "-f", "json"))["id"]
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
    assert as_json(openstack(api, "alice", first, "keypair", "list", "-f", "json")) == []
    missing = openstack(api, "alice", first, "keypair", "show", "ops-key", check=False)
    assert missing.returncode != 0


def test_limits_show_the_project_s_quota_and_usage(api: str, tenants: dict[str, str]) -> None:
    """Nova's limits through openstacksdk and `openstack limits show --absolute` (which also
    asks Cinder for its own): the first project's default quota, and its one server (web,
    api1.small: 1 vCPU, 512 MB) once the operator has counted it."""
    first = tenants["first"]
    cli = as_json(openstack(api, "alice", first, "limits", "show", "--absolute", "-f", "json"))
    shown = {row["Name"]: row["Value"] for row in cli}
    assert (shown["max_total_instances"], shown["max_total_volumes"]) == (10, 10), shown
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
    zones = as_json(openstack(api, "alice", first, "availability", "zone", "list", "--compute",
                            "-f", "json"))  # fmt: skip
    assert [z["Zone Name"] for z in zones] == ([zone] if zone else [])
    assert all(z["Zone Status"] == "available" for z in zones)
