"""Where the Ed25519 signing key comes from: --key file, $DRKIT_SIGNING_KEY (PEM or path),
else a per-folder key generated once, private half outside the folder, public half in it."""

from __future__ import annotations

import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

from drills.errors import UsageError
from drills.reports.signing import (FOLDER_PUBLIC_KEY, fingerprint, load_public_key, resolve_signing_key,
                                    signature_valid)


def pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def test_folder_key_generated_once_and_reused(folder, key_dir):
    first = resolve_signing_key(folder)
    assert first.created and first.fingerprint.startswith("SHA256:") and len(first.fingerprint) == 7 + 64
    published = folder / FOLDER_PUBLIC_KEY
    assert fingerprint(load_public_key(published)) == first.fingerprint
    private_files = list(key_dir.glob("*.pem"))
    assert len(private_files) == 1 and not list(folder.glob("*.pem"))          # private half not in the folder
    assert stat.S_IMODE(private_files[0].stat().st_mode) == 0o600
    again = resolve_signing_key(folder)
    assert not again.created and again.fingerprint == first.fingerprint
    assert signature_valid(load_public_key(published), again.sign(b"manifest"), b"manifest")
    assert not signature_valid(load_public_key(published), again.sign(b"manifest"), b"manifesT")


def test_key_file_and_environment(folder, tmp_path, monkeypatch):
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "signing.pem"
    path.write_bytes(pem(key))
    assert resolve_signing_key(folder, path).fingerprint == fingerprint(key.public_key())
    monkeypatch.setenv("DRKIT_SIGNING_KEY", str(path))
    assert resolve_signing_key(folder).fingerprint == fingerprint(key.public_key())
    monkeypatch.setenv("DRKIT_SIGNING_KEY", pem(key).decode())
    assert resolve_signing_key(folder).source == "$DRKIT_SIGNING_KEY (PEM)"
    assert not (folder / FOLDER_PUBLIC_KEY).exists()         # an explicit key does not create a folder key


def test_folder_key_missing_on_this_machine(folder, key_dir):
    resolve_signing_key(folder)
    for private in key_dir.glob("*.pem"):
        private.unlink()
    with pytest.raises(UsageError, match="private half is not on this machine"):
        resolve_signing_key(folder)


@pytest.mark.parametrize("content, message", [
    (b"not a key", "not an unencrypted PEM private key"),
    (None, "not an Ed25519 key"),
])
def test_bad_key_files(folder, tmp_path, content, message):
    path = tmp_path / "bad.pem"
    path.write_bytes(content if content is not None else pem(generate_private_key(65537, 2048)))
    with pytest.raises(UsageError, match=message):
        resolve_signing_key(folder, path)
    with pytest.raises(UsageError, match="cannot be read"):
        resolve_signing_key(folder, tmp_path / "absent.pem")
