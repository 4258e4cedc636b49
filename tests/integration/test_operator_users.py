"""Users on the real control plane: the password of a User's Secret kept only as a salted hash in
the system namespace, hashed again when it changes, gone with the User; and the names a User may
not have, refused by the API server itself."""

from __future__ import annotations

import base64
import json
import pathlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from nimbus.openstack import passwords
from tests.integration.conftest import Cloud, wait_for

pytestmark = pytest.mark.timeout(300)
USERS = "users.identity.nimbus.dev"
SYSTEM = "nimbus-system"  # the operator's default, as the local cloud runs it
READY = "{.status.conditions[?(@.type=='Ready')].status}"
REASON = "{.status.conditions[?(@.type=='Ready')].reason}"


def _user(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "User",
            "metadata": {"name": name}, "spec": spec}  # fmt: skip


def _password_secret(namespace: str, password: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "alice-password", "namespace": namespace},
            "stringData": {"password": password}}  # fmt: skip


def _hash_secret(cloud: Cloud, user: str) -> dict[str, Any]:
    return cloud.get("secret", f"nimbus-password-{user}", SYSTEM)


def _kept(secret: dict[str, Any]) -> str:
    return base64.b64decode(secret["data"]["hash"]).decode()


def _gone(cloud: Cloud, *args: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while cloud.kubectl("get", *args, check=False).returncode == 0:
        assert time.monotonic() < deadline, f"{args} still there after {timeout} s"
        time.sleep(0.5)


@pytest.fixture
def user(cloud: Cloud, operator: pathlib.Path) -> Iterator[tuple[str, str]]:
    """A User whose password is in a Secret of a namespace of its own: (user, namespace)."""
    name, namespace = f"alice-{uuid.uuid4().hex[:6]}", cloud.namespace()
    reference = {"name": "alice-password", "namespace": namespace}
    cloud.apply(_password_secret(namespace, "correct horse battery"),
                _user(name, email="alice@example.org", passwordSecret=reference))  # fmt: skip
    yield name, namespace
    cloud.kubectl("delete", USERS, name, "--wait=false", check=False)
    cloud.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_a_users_password_is_kept_only_as_a_salted_hash(
    cloud: Cloud, user: tuple[str, str]
) -> None:
    name, namespace = user
    got = wait_for(cloud, USERS, name, None, READY, "True")
    assert got["status"]["passwordChangedAt"]
    secret = _hash_secret(cloud, name)
    assert passwords.verify("correct horse battery", _kept(secret))
    assert not passwords.verify("correct horse", _kept(secret))
    assert secret["metadata"]["labels"]["identity.nimbus.dev/user"] == name
    owner = secret["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("User", name, got["metadata"]["uid"])
    # No clear text anywhere in it (nor base64 of it), nor in the User.
    clear = "correct horse battery"
    for text in (json.dumps(secret), json.dumps(got)):
        assert clear not in text
        assert base64.b64encode(clear.encode()).decode() not in text
    printed = cloud.kubectl("get", USERS, name).stdout.split("\n")
    assert printed[0].split() == ["NAME", "ENABLED", "DOMAIN", "DEFAULT", "PROJECT", "AGE"]
    assert printed[1].split()[:3] == [name, "true", "default"]

    # A new password in the Secret is hashed again, and moves passwordChangedAt. The operator
    # reads the Secret again every minute; touching the User asks at once.
    changed_at = got["status"]["passwordChangedAt"]
    cloud.apply(_password_secret(namespace, "tr0ub4dor&3"))
    cloud.kubectl("annotate", USERS, name, "example.org/touched=1")
    deadline = time.monotonic() + 60
    while cloud.get(USERS, name)["status"]["passwordChangedAt"] == changed_at:
        assert time.monotonic() < deadline, "the password was not hashed again"
        time.sleep(0.5)
    kept = _kept(_hash_secret(cloud, name))
    assert passwords.verify("tr0ub4dor&3", kept)
    assert not passwords.verify("correct horse battery", kept)
    events = cloud.kubectl("get", "events", "-A", "--field-selector",
                           f"involvedObject.name={name},reason=PasswordChanged",
                           "-o", "name").stdout.split()  # fmt: skip
    assert len(events) >= 1

    # The hash goes with the User.
    cloud.kubectl("delete", USERS, name)
    _gone(cloud, "secret", f"nimbus-password-{name}", "-n", SYSTEM)


def test_a_missing_secret_is_named_and_waited_for(cloud: Cloud, operator: pathlib.Path) -> None:
    name, namespace = f"bob-{uuid.uuid4().hex[:6]}", cloud.namespace()
    cloud.apply(_user(name, passwordSecret={"name": "alice-password", "namespace": namespace}))
    try:
        got = wait_for(cloud, USERS, name, None, REASON, "SecretNotFound")
        ready = next(c for c in got["status"]["conditions"] if c["type"] == "Ready")
        assert ready["message"] == (
            f"spec.passwordSecret.name: Secret alice-password not found in namespace {namespace}"
        )
        cloud.apply(_password_secret(namespace, "at last"))
        wait_for(cloud, USERS, name, None, READY, "True")
        assert passwords.verify("at last", _kept(_hash_secret(cloud, name)))
    finally:
        cloud.kubectl("delete", USERS, name, "--wait=false", check=False)
        cloud.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_a_user_without_a_password_secret_is_ready_with_no_hash(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    name = f"carol-{uuid.uuid4().hex[:6]}"
    cloud.apply(_user(name))
    try:
        wait_for(cloud, USERS, name, None, READY, "True")
        found = cloud.kubectl("get", "secret", f"nimbus-password-{name}", "-n", SYSTEM,
                              check=False)  # fmt: skip
        assert found.returncode != 0
    finally:
        cloud.kubectl("delete", USERS, name, "--wait=false", check=False)


REFUSED_NAME = (
    "metadata.name: a user is never named system, system-* or system.*: Kubernetes reserves "
    "system: for its own users and groups"
)


def _apply(cloud: Cloud, obj: dict[str, Any]) -> Any:
    return cloud.kubectl("apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(obj),
                         check=False)  # fmt: skip


@pytest.mark.parametrize("name", ["system", "system-masters", "system.admin"])
def test_names_like_kubernetes_own_users_are_refused(cloud: Cloud, name: str) -> None:
    refused = _apply(cloud, _user(name))
    assert refused.returncode != 0
    assert REFUSED_NAME in refused.stderr


def test_a_system_colon_name_can_never_be_a_users(cloud: Cloud) -> None:
    refused = _apply(cloud, _user("system:admin"))
    assert refused.returncode != 0
    assert "a lowercase RFC 1123 subdomain" in refused.stderr


@pytest.mark.parametrize("name", ["systemd", "alice.smith", "my-system"])
def test_other_names_are_accepted(cloud: Cloud, name: str) -> None:
    accepted = _apply(cloud, _user(name))
    assert accepted.returncode == 0, accepted.stderr


def test_a_users_domain_is_immutable(cloud: Cloud) -> None:
    name = f"dave-{uuid.uuid4().hex[:6]}"
    cloud.apply(_user(name))
    try:
        moved = _apply(cloud, _user(name, domain="other"))
        assert moved.returncode != 0
        assert "domain is immutable: a user cannot move between domains" in moved.stderr
    finally:
        cloud.kubectl("delete", USERS, name, "--wait=false", check=False)
