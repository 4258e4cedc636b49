"""Nova's keypair logic: the fingerprint it shows, and a generated key when none is imported."""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519


class InvalidKeyError(ValueError):
    """The public key cannot be read; the message is Nova's."""


def fingerprint(public_key: str, key_type: str = "ssh") -> str:
    """Nova's fingerprint: MD5 of the key blob in colon hex (`ssh-keygen -l -E md5`); for x509,
    the SHA-1 of the certificate's DER in colon hex."""
    if key_type == "x509":
        try:
            cert = x509.load_pem_x509_certificate(public_key.encode())
        except ValueError as error:
            raise InvalidKeyError(f"Keypair data is invalid: {error}") from None
        der = cert.public_bytes(serialization.Encoding.DER)
        return _colon_hex(hashlib.sha1(der, usedforsecurity=False).digest())
    parts = public_key.strip().split()
    if len(parts) < 2:
        raise InvalidKeyError("Keypair data is invalid: failed to generate fingerprint")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except binascii.Error:
        raise InvalidKeyError("Keypair data is invalid: failed to generate fingerprint") from None
    return _colon_hex(hashlib.md5(blob, usedforsecurity=False).digest())


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in digest)


def generate(comment: str) -> tuple[str, str]:
    """A new keypair as (private key in OpenSSH PEM, public key `ssh-ed25519 AAAA... comment`)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, f"{public} {comment}"
