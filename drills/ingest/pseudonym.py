"""Keyed hashes of patient identifiers (HMAC-SHA256, hex), so the study index never
holds a PatientID or AccessionNumber yet studies of one patient still group together.

The key lives in a Secrets Manager secret: the one the stack outputs name
(``hashKeySecretArn``), else — for a schemaVersion 1 outputs document — the one secret
tagged ``HASH_KEY_SECRET_TAGS`` in the region (refused when several stacks share it). Its value is
the key itself: SecretBinary as raw bytes, or SecretString as UTF-8 text; a SecretString
holding a JSON object uses its ``"key"`` member.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from botocore.exceptions import BotoCoreError, ClientError

from drills.aws import Target, error_code
from drills.contracts import HASH_KEY_SECRET_TAGS, StackOutputs
from drills.errors import InfraError, UsageError

MIN_KEY_BYTES = 16


class Pseudonymizer:
    """HMAC-SHA256 of identifiers. Holds the key, never the identifiers."""

    def __init__(self, key: bytes, version: str = "") -> None:
        if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
            raise UsageError(f"the identifier hash key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key
        # The secret version the key came from: stored beside every hash (index HashKeyVersion),
        # so that after a rotation it is known which key made which hash.
        self.version = version

    def __repr__(self) -> str:
        return "Pseudonymizer(key=<hidden>)"

    def hash(self, value: str | None) -> str:
        """Hex HMAC of ``value``; ``""`` for None or empty (absent stays recognisable)."""
        if not value:
            return ""
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    @classmethod
    def for_stack(cls, target: Target, outputs: StackOutputs) -> "Pseudonymizer":
        """The stack's key: the secret its outputs name, else the one tagged secret."""
        if outputs.hashKeySecretArn:
            return cls.from_secret_id(target, outputs.primaryRegion, outputs.hashKeySecretArn)
        return cls.from_secret(target, outputs.primaryRegion)

    @classmethod
    def from_secret(cls, target: Target, region: str) -> "Pseudonymizer":
        """Find the one secret tagged HASH_KEY_SECRET_TAGS in ``region`` and load its key."""
        client = target.client("secretsmanager", region)
        filters = [{"Key": "tag-key", "Values": [k]} for k in HASH_KEY_SECRET_TAGS]
        filters += [{"Key": "tag-value", "Values": [v]} for v in HASH_KEY_SECRET_TAGS.values()]
        found: list[str] = []
        try:
            for page in client.get_paginator("list_secrets").paginate(Filters=filters):
                for secret in page.get("SecretList", []):
                    tags = {t["Key"]: t["Value"] for t in secret.get("Tags", [])}
                    if all(tags.get(k) == v for k, v in HASH_KEY_SECRET_TAGS.items()):
                        found.append(secret["ARN"])
        except (ClientError, BotoCoreError) as exc:
            raise InfraError(f"cannot list Secrets Manager secrets in {region}: {exc}") from exc
        wanted = ", ".join(f"{k}={v}" for k, v in HASH_KEY_SECRET_TAGS.items())
        if not found:
            raise UsageError(
                f"no Secrets Manager secret tagged {wanted} in {region}: the identifier hash key is missing",
                hint="deploy the stack first (`drkit up` or `pulumi up`), and check --outputs names the right region",
            )
        if len(found) > 1:
            raise UsageError(
                f"{len(found)} secrets tagged {wanted} in {region}; drkit cannot tell which key hashes identifiers",
                hint="use outputs with hashKeySecretArn (schemaVersion 2: re-run `drkit up`, or "
                     "`pulumi up` with this drkit), which names the stack's own secret",
            )
        return cls.from_secret_id(target, region, found[0])

    @classmethod
    def from_secret_id(cls, target: Target, region: str, secret_id: str) -> "Pseudonymizer":
        """Load the key from the secret ``secret_id`` (name or ARN), as the Lambda does."""
        client = target.client("secretsmanager", region)
        try:
            value = client.get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            code = error_code(exc)
            if code == "ResourceNotFoundException":
                raise UsageError(f"hash-key secret {secret_id!r} does not exist in {region}") from exc
            raise InfraError(f"cannot read hash-key secret {secret_id!r}: {code or exc}") from exc
        except BotoCoreError as exc:
            raise InfraError(f"cannot read hash-key secret {secret_id!r}: {exc}") from exc
        return cls(_key_from_secret(value, secret_id), str(value.get("VersionId") or ""))


def _key_from_secret(value: dict, secret_id: str) -> bytes:
    if value.get("SecretBinary"):
        return bytes(value["SecretBinary"])
    text = value.get("SecretString") or ""
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"hash-key secret {secret_id!r} holds invalid JSON") from exc
        if not isinstance(document, dict) or not isinstance(document.get("key"), str):
            raise UsageError(f"hash-key secret {secret_id!r}: a JSON value needs a string member \"key\"")
        text = document["key"]
    if not text:
        raise UsageError(f"hash-key secret {secret_id!r} is empty")
    return text.encode("utf-8")


def replica_secret_id(secret_arn: str, region: str) -> str:
    """The ARN of ``secret_arn``'s replica in ``region``: a replicated secret's ARN is the
    primary's except for the region
    (https://docs.aws.amazon.com/secretsmanager/latest/userguide/replicate-secrets.html)."""
    parts = secret_arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "secretsmanager":
        raise UsageError(f"{secret_arn!r} is not a Secrets Manager secret ARN")
    return ":".join([*parts[:3], region, *parts[4:]])
