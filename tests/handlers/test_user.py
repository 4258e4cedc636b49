"""A User's handler, driven over objects in memory: its password hashed once into the system
namespace, hashed again only when it changed, and a missing Secret or key reported by name. The
same paths run against the API server in tests/integration/test_operator_users.py."""

from __future__ import annotations

import asyncio
import base64
import functools
import re
from collections.abc import Callable
from typing import Any

import kopf
import pytest

from nimbus.identity import handlers
from nimbus.openstack import passwords
from tests.handlers.world import World

SYSTEM = "nimbus-system"
HASH = "nimbus-password-alice"


def _user(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "User",
            "metadata": {"name": "alice"}, "spec": spec}  # fmt: skip


def _secret(name: str = "alice-password", **data: str) -> dict[str, Any]:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "accounts"}, "data": encoded}  # fmt: skip


REF = {"name": "alice-password", "namespace": "accounts"}


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Fresh locks (each test has its own loop), the default system namespace, and the number
    of hashes made and verified."""
    monkeypatch.setattr(handlers, "_USERS", {})
    monkeypatch.setattr(handlers, "_HASHING", asyncio.Semaphore(2))
    monkeypatch.delenv("NIMBUS_SYSTEM_NAMESPACE", raising=False)
    made = {"hashes": 0, "verified": 0}

    def counted(key: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            made[key] += 1
            return function(*args, **kwargs)

        return call

    # Cheap scrypt parameters: the hash says which it was made with, and verify follows them.
    cheap = functools.partial(passwords.hash_password, n=2**10)
    monkeypatch.setattr(passwords, "hash_password", counted("hashes", cheap))
    monkeypatch.setattr(passwords, "verify", counted("verified", passwords.verify))
    return made


async def _pass(world: World) -> None:
    await handlers.user(body=world.body("User", "alice"), memo=world.memo())


def _kept(world: World) -> str:
    return base64.b64decode(world.find("Secret", HASH, SYSTEM)["data"]["hash"]).decode()


def _conditions(world: World) -> dict[str, tuple[str, str, str]]:
    status = world.find("User", "alice")["status"]
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in status["conditions"]}


async def test_the_password_is_hashed_once_into_the_system_namespace(
    fresh: dict[str, int],
) -> None:
    world = World(_user(passwordSecret=REF), _secret(password="correct horse"))
    await _pass(world)
    assert fresh == {"hashes": 1, "verified": 0}
    kept = world.find("Secret", HASH, SYSTEM)
    stored = _kept(world)
    assert passwords.verify("correct horse", stored)
    assert not passwords.verify("correct horse ", stored)
    assert "correct horse" not in str(kept)
    assert stored.startswith("scrypt$")
    assert kept["metadata"]["labels"]["identity.nimbus.dev/user"] == "alice"
    assert kept["metadata"]["ownerReferences"][0]["kind"] == "User"
    assert kept["metadata"]["ownerReferences"][0]["name"] == "alice"
    user = world.find("User", "alice")
    assert user["status"]["passwordChangedAt"].endswith("Z")
    assert _conditions(world)["Ready"] == ("True", "Ready", "")
    assert _conditions(world)["PasswordReady"] == (
        "True", "Hashed", f"key password of Secret accounts/alice-password, kept as a salted "
        f"hash in Secret {SYSTEM}/{HASH}")  # fmt: skip
    assert [c.sent["reason"] for c in world.calls if c.verb == "event"] == [
        "PasswordChanged", "Ready"]  # fmt: skip

    world.calls.clear()
    made = dict(fresh)
    await _pass(world)  # the minute's recheck: the Secret has not changed
    assert world.writes() == []
    assert fresh == made  # neither hashed nor verified
    assert (
        world.find("User", "alice")["status"]["passwordChangedAt"]
        == (user["status"]["passwordChangedAt"])
    )


async def test_a_changed_password_is_hashed_again_and_moves_password_changed_at(
    fresh: dict[str, int],
) -> None:
    world = World(_user(passwordSecret=REF), _secret(password="first"))
    await _pass(world)
    before = world.find("User", "alice")["status"]["passwordChangedAt"]
    world.put(_secret(password="second"))
    world.calls.clear()
    await _pass(world)
    stored = _kept(world)
    assert passwords.verify("second", stored)
    assert not passwords.verify("first", stored)
    assert fresh["hashes"] == 2
    after = world.find("User", "alice")["status"]["passwordChangedAt"]
    assert after > before
    events = [c.sent["reason"] for c in world.calls if c.verb == "event"]
    assert events == ["PasswordChanged"]


async def test_a_secret_changed_but_not_its_password_keeps_the_hash_and_the_tokens(
    fresh: dict[str, int],
) -> None:
    world = World(_user(passwordSecret=REF), _secret(password="same"))
    await _pass(world)
    stored = _kept(world)
    changed_at = world.find("User", "alice")["status"]["passwordChangedAt"]
    world.put({**_secret(password="same"), "metadata": {
        **_secret()["metadata"], "labels": {"team": "blue"}}})  # fmt: skip
    world.calls.clear()
    await _pass(world)
    assert fresh["hashes"] == 1  # verified against the hash kept, not hashed again
    assert _kept(world) == stored
    assert world.find("User", "alice")["status"]["passwordChangedAt"] == changed_at
    assert world.writes() == [("apply", "Secret", HASH)]  # what it was made from, only
    world.calls.clear()
    await _pass(world)
    assert world.writes() == []


async def test_a_change_whose_status_was_not_written_is_finished_by_the_next_pass(
    fresh: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(_user(passwordSecret=REF), _secret(password="first"))

    async def refused(*_: Any, **__: Any) -> dict[str, Any]:
        raise RuntimeError("the API server is away")

    patch_status = world.patch_status
    monkeypatch.setattr(world, "patch_status", refused)
    with pytest.raises(RuntimeError):
        await _pass(world)  # hashed, but passwordChangedAt not written
    assert passwords.verify("first", _kept(world))
    monkeypatch.setattr(world, "patch_status", patch_status)  # the API server is back
    await _pass(world)
    assert world.find("User", "alice")["status"]["passwordChangedAt"]
    assert passwords.verify("first", _kept(world))
    assert fresh["hashes"] == 1  # the hash made is kept; only its change is reported
    world.calls.clear()
    await _pass(world)
    assert world.writes() == []


@pytest.mark.parametrize(
    ("objects", "reason", "message"),
    [
        ([], "SecretNotFound",
         "spec.passwordSecret.name: Secret alice-password not found in namespace accounts"),
        ([_secret(pass_word="x", token="y")], "SecretKeyNotFound",
         "spec.passwordSecret.key: Secret accounts/alice-password has no key password; its "
         "keys: pass_word, token"),
        ([_secret(password="")], "PasswordInvalid",
         "spec.passwordSecret.key: key password of Secret accounts/alice-password is empty; a "
         "password is 1 to 4096 characters of text"),
    ],
)  # fmt: skip
async def test_a_missing_secret_or_key_is_reported_by_name_and_retried(
    objects: list[dict[str, Any]], reason: str, message: str
) -> None:
    world = World(_user(passwordSecret=REF), *objects)
    with pytest.raises(kopf.TemporaryError, match=re.escape(message)):
        await _pass(world)
    assert _conditions(world)["Ready"] == ("False", reason, message)
    assert "observedGeneration" not in world.find("User", "alice")["status"]
    assert "Secret/" + HASH not in world.names()
    assert [c.sent["type"] for c in world.calls if c.verb == "event"] == ["Warning"]
    world.calls.clear()
    with pytest.raises(kopf.TemporaryError):
        await _pass(world)  # the retry: nothing new to say
    assert world.writes() == []
    world.put(_secret(password="at last"))
    await _pass(world)
    assert _conditions(world)["Ready"] == ("True", "Ready", "")
    assert passwords.verify("at last", _kept(world))


async def test_a_user_without_a_password_secret_is_ready_with_no_hash(
    fresh: dict[str, int],
) -> None:
    world = World(_user(email="alice@example.org"))
    await _pass(world)
    assert _conditions(world)["PasswordReady"] == (
        "True", "NoPasswordSecret",
        "no spec.passwordSecret: the password is set through the Identity API")  # fmt: skip
    assert _conditions(world)["Ready"][0] == "True"
    assert world.writes("apply") == []
    assert "passwordChangedAt" not in world.find("User", "alice")["status"]
    assert fresh["hashes"] == 0


async def test_the_hash_goes_to_the_system_namespace_the_operator_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NIMBUS_SYSTEM_NAMESPACE", "cloud")
    world = World(_user(passwordSecret=REF), _secret(password="pw"))
    await _pass(world)
    assert passwords.verify("pw", base64.b64decode(
        world.find("Secret", HASH, "cloud")["data"]["hash"]).decode())  # fmt: skip
