"""Keystone's Fernet tokens: nothing stored per token, any replica that holds the keys verifies
any token.

A token is a Fernet token (cryptography's MultiFernet) whose payload says who (the user's name),
how (the auth methods), for what (a project's id, a domain's, or nothing: unscoped), until when,
and an audit id that a logout revokes. Keys form a repository as `keystone-manage fernet_setup`
makes one: index 0 is the staged key, the highest index the primary (it encrypts), the others
secondaries (they only decrypt); `rotate` does what `keystone-manage fernet_rotate` does."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import secrets
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

MAX_ACTIVE_KEYS = 3  # Keystone's [fernet_tokens] max_active_keys default
DEFAULT_EXPIRATION = datetime.timedelta(hours=1)  # Keystone's [token] expiration default


class TokenError(Exception):
    """The token is not one of ours, was tampered with, or has expired."""


@dataclasses.dataclass(frozen=True)
class Token:
    """What a token says."""

    user: str  # the user's name: the Kubernetes user its calls impersonate
    methods: tuple[str, ...]
    issued_at: datetime.datetime
    expires_at: datetime.datetime
    audit_id: str
    project_id: str | None = None  # the Project's uid, for a project-scoped token
    project_name: str | None = None  # and its name: read by name, checked by uid
    domain_id: str | None = None  # for a domain-scoped token
    audit_chain: str | None = None  # the audit id of the token it was rescoped from
    # An application credential's token: the credential's id, and the roles it keeps.
    application_credential: str | None = None
    roles: tuple[str, ...] | None = None

    def payload(self) -> bytes:
        return json.dumps(
            {"v": 1, "u": self.user, "m": list(self.methods), "p": self.project_id,
             "n": self.project_name, "d": self.domain_id, "i": _epoch(self.issued_at),
             "e": _epoch(self.expires_at),
             "a": self.audit_id, "c": self.audit_chain, "ac": self.application_credential,
             "r": list(self.roles) if self.roles is not None else None},
            separators=(",", ":"),
        ).encode()  # fmt: skip

    @classmethod
    def of(cls, payload: bytes) -> Token:
        try:
            data = json.loads(payload)
            if data.get("v") != 1:
                raise TokenError("the token is of an unknown version")
            return cls(
                user=str(data["u"]),
                methods=tuple(data["m"]),
                issued_at=_when(data["i"]),
                expires_at=_when(data["e"]),
                audit_id=str(data["a"]),
                project_id=data.get("p"),
                project_name=data.get("n"),
                domain_id=data.get("d"),
                audit_chain=data.get("c"),
                application_credential=data.get("ac"),
                roles=tuple(data["r"]) if data.get("r") is not None else None,
            )
        except (ValueError, KeyError, TypeError) as error:
            raise TokenError(f"the token's payload is malformed: {error}") from None


def _epoch(moment: datetime.datetime) -> int:
    return int(moment.timestamp())


def _when(seconds: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(int(seconds), tz=datetime.UTC)


def new_audit_id() -> str:
    """Keystone's audit ids: 16 random bytes, urlsafe base64 without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


def _fernet(keys: Mapping[int, bytes]) -> MultiFernet:
    if not keys:
        raise TokenError("no Fernet keys: the key repository is empty")
    # The primary (highest index) first: it encrypts; every key decrypts.
    return MultiFernet([Fernet(keys[i]) for i in sorted(keys, reverse=True)])


def issue(keys: Mapping[int, bytes], token: Token) -> str:
    """The token's string, encrypted with the primary key."""
    return _fernet(keys).encrypt(token.payload()).decode().rstrip("=")


def verify(keys: Mapping[int, bytes], text: str, *, now: datetime.datetime) -> Token:
    """What `text` says, if one of `keys` made it and it has not expired."""
    padded = text + "=" * (-len(text) % 4)
    try:
        payload = _fernet(keys).decrypt(padded.encode())
    except (InvalidToken, ValueError):
        raise TokenError("the token could not be verified") from None
    token = Token.of(payload)
    if token.expires_at <= now:
        raise TokenError("the token has expired")
    return token


def setup() -> dict[int, bytes]:
    """A new key repository, as `keystone-manage fernet_setup`: a staged key and a primary."""
    return {0: Fernet.generate_key(), 1: Fernet.generate_key()}


def rotate(keys: Mapping[int, bytes], *, max_active: int = MAX_ACTIVE_KEYS) -> dict[int, bytes]:
    """`keystone-manage fernet_rotate`: the staged key becomes the primary (the next index), a
    new staged key is made, and the oldest secondaries go so that at most `max_active` keys
    remain. A token made with any key still there verifies; the staged key, which every
    replica already had, encrypts from now on, so replicas that read the new set late still
    verify what the others issue."""
    if 0 not in keys:
        raise ValueError("the key repository has no staged key (index 0)")
    rotated = dict(keys)
    rotated[max(keys) + 1] = rotated.pop(0)
    rotated[0] = Fernet.generate_key()
    secondaries = sorted(i for i in rotated if i not in (0, max(rotated)))
    while len(rotated) > max(max_active, 2) and secondaries:
        del rotated[secondaries.pop(0)]
    return rotated


def encode_keys(keys: Mapping[int, bytes]) -> dict[str, str]:
    """The repository as a Secret's `data`: one entry per key index, as Keystone's files."""
    return {str(i): base64.b64encode(key).decode() for i, key in keys.items()}


def decode_keys(data: Mapping[str, str]) -> dict[int, bytes]:
    return {int(i): base64.b64decode(value) for i, value in data.items() if i.isdigit()}
