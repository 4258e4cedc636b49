"""Services.verify keeps what a token said when decrypted, as keystonemiddleware keeps its
validations — and still checks, at every request, what may have changed since: the keys (a
rotation that drops a key drops its tokens), expiry, revocations and the user."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest

from nimbus.openstack import tokens
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import KEYS_SECRET, REVOCATIONS, Config, Services


class _Api:
    """The reads Services.verify makes, from a dict: (kind, name) -> object."""

    def __init__(self, keys: dict[int, bytes]) -> None:
        self.observer: Any = None
        self.objects: dict[tuple[str, str], dict[str, Any]] = {
            ("Secret", KEYS_SECRET): {"data": tokens.encode_keys(keys)},
            ("User", "alice"): {"kind": "User", "metadata": {"name": "alice", "uid": "u-1"},
                                "spec": {"enabled": True}},
        }  # fmt: skip

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None
                  ) -> dict[str, Any] | None:  # fmt: skip
        return self.objects.get((kind, name))


def _services(keys: dict[int, bytes]) -> tuple[Services, _Api]:
    api = _Api(keys)
    return Services(Config(public_url="http://127.0.0.1:5000"), api), api  # type: ignore[arg-type]


def _token(keys: dict[int, bytes]) -> tuple[str, tokens.Token]:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)  # a token's seconds
    token = tokens.Token(user="alice", methods=("password",), issued_at=now,
                         expires_at=now + datetime.timedelta(hours=1),
                         audit_id=tokens.new_audit_id())  # fmt: skip
    return tokens.issue(keys, token), token


def _refused() -> Any:
    return pytest.raises(Fault, match="The request you have made requires authentication")


async def test_a_token_is_decrypted_once_and_checked_every_time() -> None:
    keys = tokens.setup()
    services, api = _services(keys)
    text, token = _token(keys)
    assert (await services.verify(text)).token == token
    assert services._verified == {text: token}
    assert (await services.verify(text)).token == token  # from what was kept
    api.objects[("User", "alice")]["spec"]["enabled"] = False  # checked again: refused
    with _refused():
        await services.verify(text)


async def test_a_kept_token_past_its_expiry_is_refused() -> None:
    keys = tokens.setup()
    services, _ = _services(keys)
    text, token = _token(keys)
    await services.verify(text)
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    services._verified[text] = dataclasses.replace(token, expires_at=past)
    with _refused():
        await services.verify(text)


async def test_a_kept_token_revoked_since_is_refused() -> None:
    keys = tokens.setup()
    services, api = _services(keys)
    text, token = _token(keys)
    await services.verify(text)
    api.objects[("ConfigMap", REVOCATIONS)] = {"data": {token.audit_id: "9999999999"}}
    services._revoked_read = 0.0  # the next request reads the revocations again
    with _refused():
        await services.verify(text)


async def test_a_rotation_that_drops_the_token_s_key_drops_the_kept_token() -> None:
    keys = tokens.setup()
    services, api = _services(keys)
    text, _ = _token(keys)  # made with the primary, key 1
    await services.verify(text)
    rotated = tokens.rotate(tokens.rotate(tokens.rotate(keys)), max_active=2)
    assert 1 not in rotated
    api.objects[("Secret", KEYS_SECRET)] = {"data": tokens.encode_keys(rotated)}
    services._keys_read = 0.0  # the next request reads the keys again
    with _refused():
        await services.verify(text)
    assert services._verified == {}


async def test_a_tampered_token_is_refused_and_not_kept() -> None:
    keys = tokens.setup()
    services, _ = _services(keys)
    text, _ = _token(keys)
    tampered = text[:-4] + ("AAAA" if not text.endswith("AAAA") else "BBBB")
    with _refused():
        await services.verify(tampered)
    assert services._verified == {}


def _server(version: str, name: str = "web") -> dict[str, Any]:
    return {"kind": "Server", "metadata": {"name": name, "namespace": "demo", "uid": "s-1",
                                           "resourceVersion": version}}  # fmt: skip


def test_the_version_remembered_only_moves_forward() -> None:
    """A show reads the API server's cache no older than the newest version this process saw
    of the server: a list answered late (an older version) does not take it back."""
    services, _ = _services(tokens.setup())
    assert services.version_of("Server", "demo", "s-1") is None
    services.remember("Server", [_server("10")])
    services._observe(_server("12"))  # a write's answer, through this process
    services.remember("Server", [_server("11")])  # a list read before that write
    assert services.version_of("Server", "demo", "s-1") == "12"
    assert services.name_of("Server", "demo", "s-1") == "web"
    services.remember("Server", [_server("13", name="renamed")])
    assert (services.name_of("Server", "demo", "s-1"), services.version_of(
        "Server", "demo", "s-1")) == ("renamed", "13")  # fmt: skip
    assert services.version_of("Server", "other", "s-1") is None
