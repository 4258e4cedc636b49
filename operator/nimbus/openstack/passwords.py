"""Passwords kept only as salted hashes: scrypt (the standard library's, from OpenSSL), with
its parameters in the stored string so that they can be raised later without a migration.

A stored hash reads `scrypt$<n>$<r>$<p>$<salt, base64>$<hash, base64>`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# OWASP's scrypt parameters (2^17, 8, 1): about 128 MiB and a tenth of a second a hash.
N, R, P = 2**17, 8, 1
_LENGTH = 32
_MAXMEM = 256 * 2**20


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=_LENGTH
    )


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    """A new salted hash of `password`."""
    salt = secrets.token_bytes(16)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(_derive(password, salt, n, r, p))}"


def verify(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from (in constant time). A malformed
    stored hash verifies nothing."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(derived, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False
