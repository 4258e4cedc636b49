"""Keystone's identity management through the real `openstack` CLI: users, projects, roles and
role assignments made by an identity admin (a user Kubernetes RBAC lets edit Users and
Projects), passwords set and changed, lockout after failed logins, and application
credentials — each checked on the objects kubectl sees."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from tests.integration.conftest import Cloud, wait_for
from tests.integration.openstack import (
    OPENSTACK,
    PROJECT,
    as_json,
    hashed,
    needs_cli,
    openstack,
    user,
)

pytestmark = needs_cli


@pytest.fixture(scope="module")
def admin(cloud: Cloud, tenants: dict[str, str]) -> str:
    """An identity admin: a member of the first project, bound to nimbus-identity-admin."""
    name = f"idadmin-{uuid.uuid4().hex[:5]}"
    user(cloud, name, f"s3cret-{name}")
    hashed(cloud, name, f"s3cret-{name}")
    cloud.kubectl("create", "clusterrolebinding", name, "--clusterrole=nimbus-identity-admin",
                  f"--user={name}")  # fmt: skip
    cloud.kubectl("patch", PROJECT, tenants["first"], "--type=json", "-p",
                  f'[{{"op": "add", "path": "/spec/members/-", '
                  f'"value": {{"user": "{name}", "role": "admin"}}}}]')  # fmt: skip
    return name


def test_an_identity_admin_makes_a_user_and_grants_a_role(
    cloud: Cloud, api: str, tenants: dict[str, str], admin: str
) -> None:
    first = tenants["first"]
    dave = f"dave-{uuid.uuid4().hex[:5]}"
    made = as_json(openstack(api, admin, first, "user", "create", "--password", "s3cret-d1",
                             "--email", "dave@example.org", "--project", first, dave,
                             "-f", "json"))  # fmt: skip
    assert (made["name"], made["email"], made["domain_id"]) == (dave, "dave@example.org",
                                                                "default")  # fmt: skip
    body = cloud.get("users.identity.nimbus.dev", dave, None)
    assert body["metadata"]["uid"] == made["id"]
    assert body["spec"]["defaultProject"] == first
    # Without a role on the project, Keystone says no; with one, the project is theirs.
    refused = openstack(api, dave, first, "server", "list", check=False, password="s3cret-d1")
    assert refused.returncode != 0
    openstack(api, admin, first, "role", "add", "--user", dave, "--project", first, "member")
    servers = as_json(openstack(api, dave, first, "server", "list", "-f", "json",
                                password="s3cret-d1"))  # fmt: skip
    assert [s["Name"] for s in servers] == ["web"]
    members = cloud.get(PROJECT, first, None)["spec"]["members"]
    assert {"user": dave, "role": "member"} in members
    assignments = as_json(openstack(api, admin, first, "role", "assignment", "list",
                                    "--project", first, "--names", "-f", "json"))  # fmt: skip
    assert {"Role": "member", "User": f"{dave}@Default", "Project": f"{first}@Default"}.items() \
        <= next(a for a in assignments if a["User"] == f"{dave}@Default").items()  # fmt: skip
    # An admin sets a new password: the old one and its tokens stop working.
    openstack(api, admin, first, "user", "set", "--password", "s3cret-d2", dave)
    old = openstack(api, dave, first, "token", "issue", check=False, password="s3cret-d1")
    assert old.returncode != 0
    # Dave changes his own, proving it with the current one.
    openstack(api, dave, first, "user", "password", "set", "--original-password", "s3cret-d2",
              "--password", "s3cret-d3", password="s3cret-d2")  # fmt: skip
    openstack(api, dave, first, "token", "issue", password="s3cret-d3")
    openstack(api, admin, first, "role", "remove", "--user", dave, "--project", first, "member")
    gone = openstack(api, dave, first, "server", "list", check=False, password="s3cret-d3")
    assert gone.returncode != 0
    openstack(api, admin, first, "user", "delete", dave)
    assert cloud.kubectl("get", "users.identity.nimbus.dev", dave, check=False).returncode != 0


def test_an_identity_admin_makes_changes_and_deletes_a_project(
    cloud: Cloud, api: str, tenants: dict[str, str], admin: str
) -> None:
    first = tenants["first"]
    name = f"proj-{uuid.uuid4().hex[:5]}"
    made = as_json(openstack(api, admin, first, "project", "create", "--description",
                             "made through Keystone", name, "-f", "json"))  # fmt: skip
    assert made["description"] == "made through Keystone"
    wait_for(cloud, PROJECT, name, None, "{.status.status}", "ACTIVE")
    assert cloud.get(PROJECT, name, None)["metadata"]["uid"] == made["id"]
    listed = as_json(openstack(api, admin, first, "project", "list", "-f", "json"))
    assert name in {p["Name"] for p in listed}
    openstack(api, admin, first, "project", "set", "--description", "changed", name)
    shown = as_json(openstack(api, admin, first, "project", "show", name, "-f", "json"))
    assert shown["description"] == "changed"
    openstack(api, admin, first, "project", "delete", name)
    # Gone at once, as Keystone's delete is, while its namespace is still being emptied.
    listed = as_json(openstack(api, admin, first, "project", "list", "-f", "json"))
    assert name not in {p["Name"] for p in listed}
    gone = openstack(api, admin, first, "project", "show", made["id"], check=False)
    assert gone.returncode != 0
    cloud.kubectl("wait", "--for=delete", f"{PROJECT}/{name}", "--timeout=120s")


def test_only_an_identity_admin_manages_identity(
    api: str, tenants: dict[str, str], admin: str
) -> None:
    """alice is a project member, not bound to nimbus-identity-admin: Kubernetes refuses."""
    first = tenants["first"]
    refused = openstack(api, "alice", first, "user", "create", "--password", "x", "mallory",
                        check=False)  # fmt: skip
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower() or "403" in refused.stderr, refused.stderr
    # Listing every project is refused; the CLI then lists the user's own, as with Keystone.
    listed = as_json(openstack(api, "alice", first, "project", "list", "-f", "json"))
    names = {p["Name"] for p in listed}  # alice is in each test module's first project
    assert first in names
    assert not any(n.startswith("os-b-") for n in names), names  # never bob's
    # But a user reads their own project, by id, as in Keystone.
    token = as_json(openstack(api, "alice", first, "token", "issue", "-f", "json"))
    shown = as_json(openstack(api, "alice", first, "project", "show", token["project_id"],
                              "-f", "json"))  # fmt: skip
    assert shown["name"] == first
    # A name Kubernetes cannot hold is refused, naming the field, the value and the rule.
    bad = openstack(api, admin, first, "user", "create", "Dave Smith", check=False)
    assert bad.returncode != 0
    for said in ("user/name", "'Dave Smith'", "DNS label"):
        assert said in bad.stderr, bad.stderr


def test_failed_logins_lock_a_user_out(cloud: Cloud, api: str, tenants: dict[str, str]) -> None:
    """Keystone's lockout_failure_attempts (6 by default): then even the right password fails,
    with a message naming the lockout; other users are not affected."""
    first = tenants["first"]
    eve = f"eve-{uuid.uuid4().hex[:5]}"
    user(cloud, eve, "s3cret-eve")
    hashed(cloud, eve, "s3cret-eve")
    for _ in range(6):
        wrong = openstack(api, eve, None, "token", "issue", check=False, password="guess")
        assert wrong.returncode != 0
    locked = openstack(api, eve, None, "token", "issue", check=False, password="s3cret-eve")
    assert locked.returncode != 0
    assert "The account is locked for user" in locked.stderr, locked.stderr
    openstack(api, "alice", first, "token", "issue")


def _credential_env(url: str, credential: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_AUTH_URL=f"{url}/v3", OS_AUTH_TYPE="v3applicationcredential",
               OS_APPLICATION_CREDENTIAL_ID=credential["id"],
               OS_APPLICATION_CREDENTIAL_SECRET=credential["secret"],
               OS_IDENTITY_API_VERSION="3", OS_INTERFACE="public",
               OS_REGION_NAME="RegionOne")  # fmt: skip
    return env


def _as_credential(url: str, credential: dict[str, str], *args: str
                   ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    binary = str(OPENSTACK) if OPENSTACK.exists() else "openstack"
    return subprocess.run([binary, *args], capture_output=True, text=True,
                          env=_credential_env(url, credential), timeout=120)  # fmt: skip


def test_an_application_credential_logs_in_with_its_roles_until_deleted(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    first = tenants["first"]
    name = f"ro-{uuid.uuid4().hex[:5]}"
    shown = as_json(openstack(api, "alice", first, "application", "credential", "create",
                              "--role", "reader", name, "-f", "json"))  # fmt: skip
    made = {"id": shown["ID"], "secret": shown["Secret"]}
    assert "reader" in str(shown["Roles"])
    assert "member" not in str(shown["Roles"])
    stored = cloud.kubectl("get", "secret", f"nimbus-appcred-{made['id']}", "-n",
                           "nimbus-system", "-o", "json").stdout  # fmt: skip
    assert made["secret"] not in stored  # only its hash is kept
    listed = as_json(openstack(api, "alice", first, "application", "credential", "list",
                               "-f", "json"))  # fmt: skip
    assert name in {c["Name"] for c in listed}
    servers = _as_credential(api, made, "server", "list", "-f", "json")
    assert servers.returncode == 0, servers.stderr
    assert [s["Name"] for s in as_json(servers)] == ["web"]
    # A reader's credential only reads, whatever alice may do.
    write = _as_credential(api, made, "keypair", "create", f"k-{name}")
    assert write.returncode != 0
    assert "writing needs member" in write.stderr, write.stderr
    openstack(api, "alice", first, "application", "credential", "delete", name)
    after = _as_credential(api, made, "server", "list")
    assert after.returncode != 0
