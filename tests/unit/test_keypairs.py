"""Nova's keypair fingerprint and generated keys."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

from nimbus.compute import keypairs

# A fixed ed25519 key and the fingerprint `ssh-keygen -l -E md5` prints for it.
PUBLIC = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@example"
)


def test_fingerprint_is_md5_colon_hex_of_the_blob() -> None:
    fingerprint = keypairs.fingerprint(PUBLIC)
    assert len(fingerprint.split(":")) == 16
    assert fingerprint == keypairs.fingerprint(PUBLIC.replace("ops@example", "other comment"))


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")
def test_fingerprint_matches_ssh_keygen(tmp_path: pathlib.Path) -> None:
    key_file = tmp_path / "key.pub"
    key_file.write_text(PUBLIC + "\n")
    printed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "md5", "-f", str(key_file)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert f"MD5:{keypairs.fingerprint(PUBLIC)}" in printed


@pytest.mark.parametrize("bad", ["ssh-ed25519", "ssh-ed25519 not*base64!", ""])
def test_unreadable_keys_are_refused_in_novas_words(bad: str) -> None:
    with pytest.raises(keypairs.InvalidKeyError, match="Keypair data is invalid"):
        keypairs.fingerprint(bad)


def test_generated_keys_are_a_pair_and_fingerprint() -> None:
    private, public = keypairs.generate("ops@nimbus")
    assert private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert public.startswith("ssh-ed25519 AAAA")
    assert public.endswith(" ops@nimbus")
    assert len(keypairs.fingerprint(public).split(":")) == 16
    assert keypairs.generate("x")[1] != keypairs.generate("x")[1]
