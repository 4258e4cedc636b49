"""Keystone's Fernet tokens and the password hashes, pure: what a token carries, who can
verify it, rotation as keystone-manage fernet_rotate does it, and scrypt hashes."""

from __future__ import annotations

import datetime

import pytest

from nimbus.openstack import passwords, tokens

NOW = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=datetime.UTC)


def _token(**changes: object) -> tokens.Token:
    fields: dict[str, object] = {
        "user": "alice", "methods": ("password",), "issued_at": NOW,
        "expires_at": NOW + datetime.timedelta(hours=1), "audit_id": tokens.new_audit_id(),
        "project_id": "0b6e9a5c-1111-2222-3333-444455556666", "project_name": "demo",
    }  # fmt: skip
    fields.update(changes)
    return tokens.Token(**fields)  # type: ignore[arg-type]


def test_a_token_says_what_it_was_issued_for() -> None:
    keys = tokens.setup()
    token = _token(domain_id=None, audit_chain="prior")
    assert tokens.verify(keys, tokens.issue(keys, token), now=NOW) == token


@pytest.mark.parametrize(
    ("case", "mutate"),
    [
        ("tampered", lambda text: text[:-6] + ("A" if text[-6] != "A" else "B") + text[-5:]),
        ("truncated", lambda text: text[: len(text) // 2]),
        ("not a token", lambda _text: "gAAAAAnonsense"),
        ("empty", lambda _text: ""),
    ],
)
def test_anything_but_a_token_we_made_is_refused(case: str, mutate: object) -> None:
    keys = tokens.setup()
    text = mutate(tokens.issue(keys, _token()))  # type: ignore[operator]
    with pytest.raises(tokens.TokenError):
        tokens.verify(keys, text, now=NOW)


def test_an_expired_token_is_refused() -> None:
    keys = tokens.setup()
    text = tokens.issue(keys, _token())
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify(keys, text, now=NOW + datetime.timedelta(hours=1, seconds=1))


def test_another_clouds_keys_verify_nothing() -> None:
    text = tokens.issue(tokens.setup(), _token())
    with pytest.raises(tokens.TokenError):
        tokens.verify(tokens.setup(), text, now=NOW)


def test_rotation_as_keystone_manage_fernet_rotate() -> None:
    """The staged key becomes the primary; a new staged key; at most max_active keys; what
    any key still held made verifies, and a replica still holding the old set verifies what
    the new primary makes (it held it as the staged key)."""
    first = tokens.setup()
    before = tokens.issue(first, _token())
    second = tokens.rotate(first)
    assert sorted(second) == [0, 1, 2]
    assert second[2] == first[0]  # staged -> primary
    assert second[1] == first[1]  # the old primary stays, as a secondary
    assert second[0] not in first.values()
    assert tokens.verify(second, before, now=NOW).user == "alice"
    assert tokens.verify(first, tokens.issue(second, _token()), now=NOW).user == "alice"
    third = tokens.rotate(second)
    fourth = tokens.rotate(third)
    assert sorted(fourth) == [0, 3, 4]  # the oldest secondaries went
    with pytest.raises(tokens.TokenError):
        tokens.verify(fourth, before, now=NOW)  # made with key 1, which is gone


def test_keys_round_trip_through_a_secret() -> None:
    keys = tokens.setup()
    assert tokens.decode_keys(tokens.encode_keys(keys)) == keys


@pytest.mark.parametrize(
    ("password", "tried", "expected"),
    [("s3cret", "s3cret", True), ("s3cret", "S3cret", False), ("s3cret", "", False),
     ("pässwörd ✓", "pässwörd ✓", True)],
)  # fmt: skip
def test_passwords_are_kept_as_salted_scrypt_hashes(
    password: str, tried: str, expected: bool
) -> None:
    stored = passwords.hash_password(password, n=2**10)  # cheap parameters for the table
    assert stored.startswith("scrypt$1024$8$1$")
    assert password not in stored
    assert passwords.verify(tried, stored) is expected


def test_the_same_password_hashes_differently_each_time() -> None:
    assert passwords.hash_password("x", n=2**10) != passwords.hash_password("x", n=2**10)


@pytest.mark.parametrize("stored", ["", "plain", "bcrypt$x$y$z$a$b", "scrypt$a$b$c$d$e"])
def test_a_malformed_hash_verifies_nothing(stored: str) -> None:
    assert passwords.verify("anything", stored) is False
