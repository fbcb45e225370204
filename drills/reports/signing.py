"""Ed25519 signing keys for run manifests (the ``cryptography`` package).

Where the private key comes from, in order: ``--key FILE`` (a PEM private key, as
``openssl genpkey -algorithm ed25519`` writes), the environment variable
``DRKIT_SIGNING_KEY`` (a path to such a file, or the PEM text itself), else a per-folder key
generated on first use. A per-folder key's private half is kept *outside* the run folder
(``$DRKIT_KEY_DIR``, default ``~/.config/drkit/keys``), so whoever can edit the reports
cannot also re-sign them; its public half is written into the folder as
``signing-key.pub`` for the auditor, and printed.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from drills.errors import UsageError

ENV_KEY = "DRKIT_SIGNING_KEY"
ENV_KEY_DIR = "DRKIT_KEY_DIR"
FOLDER_PUBLIC_KEY = "signing-key.pub"
ALGORITHM = "Ed25519"


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(public: Ed25519PublicKey) -> str:
    """``SHA256:<hex>`` of the raw 32-byte public key."""
    return "SHA256:" + hashlib.sha256(raw_public(public)).hexdigest()


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    source: str                  # where it came from, for the person running the command
    created: bool = False        # generated just now (first use in this folder)

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.private.sign(data)).decode("ascii")

    def describe(self) -> dict[str, str]:
        return {"algorithm": ALGORITHM, "fingerprint": self.fingerprint,
                "public_key": base64.b64encode(raw_public(self.public)).decode("ascii")}


def _load_private_pem(data: bytes, source: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{source}: not an unencrypted PEM private key ({exc})",
                         hint="make one with: openssl genpkey -algorithm ed25519 -out drkit-signing.pem") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{source}: the key is not an Ed25519 key")
    return key


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot be read ({exc.strerror})") from exc


def key_dir() -> Path:
    return Path(os.environ.get(ENV_KEY_DIR) or Path.home() / ".config" / "drkit" / "keys")


def _folder_key_path(folder: Path) -> Path:
    return key_dir() / (hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:24] + ".pem")


def resolve_signing_key(folder: Path, key_file: Path | None = None) -> SigningKey:
    """The private key that signs runs in ``folder`` (see the module docstring for the order)."""
    if key_file is not None:
        return SigningKey(_load_private_pem(_read(key_file, "--key"), str(key_file)), f"key file {key_file}")
    env = os.environ.get(ENV_KEY)
    if env:
        if env.lstrip().startswith("-----BEGIN"):
            return SigningKey(_load_private_pem(env.encode(), ENV_KEY), f"${ENV_KEY} (PEM)")
        return SigningKey(_load_private_pem(_read(Path(env), f"${ENV_KEY} file"), env), f"${ENV_KEY} file {env}")
    path = _folder_key_path(folder)
    published = folder / FOLDER_PUBLIC_KEY
    if path.is_file():
        key = SigningKey(_load_private_pem(path.read_bytes(), str(path)), f"folder key {path}")
        if not published.exists():
            published.write_bytes(public_pem(key.public))
        return key
    if published.exists():
        raise UsageError(
            f"{folder}: runs here are signed with the key in {FOLDER_PUBLIC_KEY}, whose private half is not on "
            f"this machine (looked in {key_dir()})",
            hint=f"pass --key FILE or set {ENV_KEY}; or set {ENV_KEY_DIR} to where the folder key is kept")
    private = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    folder.mkdir(parents=True, exist_ok=True)
    published.write_bytes(public_pem(private.public_key()))
    return SigningKey(private, f"new folder key {path}", created=True)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key to verify with: a PEM public key, a PEM private key (its public half), or
    the base64 of the raw 32 bytes (as manifests print it)."""
    data = _read(path, "--key")
    text = data.decode("ascii", errors="replace").strip()
    try:
        if "PRIVATE KEY" in text:
            return _load_private_pem(data, str(path)).public_key()
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--key {path}: not an Ed25519 public or private key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"--key {path}: the key is not an Ed25519 key")
    return key


def public_from_b64(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def signature_valid(public: Ed25519PublicKey, signature_b64: str, data: bytes) -> bool:
    try:
        public.verify(base64.b64decode(signature_b64, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True
