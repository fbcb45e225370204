"""Corrections to moto, applied in this process while an embedded cloud runs.

Each one replaces a moto behaviour that contradicts AWS, and is undone when the cloud stops
(moto may also serve ``mock_aws`` tests in the same process):

- bucket-policy evaluation: moto ignores ``Condition`` blocks, so a TLS-only Deny denies
  every request. It is switched off here; ``drills.cloud.sim.bucket_policy`` evaluates
  policies with their conditions instead.
- PutBucketLogging: moto's log-delivery permission check reads ``Principal`` as a mapping
  and crashes (HTTP 500) on ``"Principal": "*"`` — which every TLS-only bucket policy has.
  Statements whose principal is not a mapping cannot grant the log-delivery service anyway,
  so they are skipped.
- S3 copies, listings and request checks: ``drills.cloud.sim.copies`` (CopyObject into an
  Object Lock bucket, copy conditions), ``drills.cloud.sim.key_locks`` (concurrent requests
  to one key, no 500 from a disposed object), ``drills.cloud.sim.listing`` (a sorted key index),
  ``drills.cloud.sim.object_parts`` (checksum values for every algorithm); DynamoDB
  TransactWriteItems atomic and isolated (``drills.cloud.sim.dynamodb_transactions``); CloudWatch reads:
  ``drills.cloud.sim.cloudwatch_fixes`` (GetMetricData namespaces, DescribeAlarmHistory).
- multi-Region KMS keys: moto's ciphertext header has room for a 36-character key id,
  so ``mrk-`` ids are cut and nothing encrypted under a multi-Region key decrypts, in
  any Region. The header keeps the id without its prefix; decrypt maps it back, so a
  replica key decrypts what its primary encrypted (they share key material), as KMS does.
- KMS DisableKey / EnableKey / ScheduleKeyDeletion / CancelKeyDeletion answer HTTP 500
  for a key ARN (AWS takes a key id or ARN): the ARN is reduced to the key id first.
- one clock: moto stamps what it stores (S3 LastModified and delete markers, Object Lock
  expiry checks, CloudWatch alarm and datapoint times, SNS message Timestamp, Backup vault
  lock dates, KMS deletion dates, DynamoDB table/backup/stream times) with wall time.
  While an embedded cloud runs, those modules read the simulation's virtual clock instead
  (SQS visibility and timestamps: ``drills.cloud.sim.sqs_clock``).
"""

from __future__ import annotations

import datetime
import importlib
import json
from typing import Any, Callable

from drills.cloud.sim import iam_conditions

_originals: dict[str, Callable[..., Any]] = {}
_clock_originals: dict[tuple[str, str], Any] = {}

# moto module -> the time helpers it imported by name (each replaced while a cloud runs).
_CLOCK_USERS: dict[str, tuple[str, ...]] = {
    "moto.s3.models": ("utcnow",),
    "moto.s3.notifications": ("iso_8601_datetime_with_milliseconds", "unix_time"),
    "moto.cloudwatch.models": ("utcnow",),
    "moto.sns.models": ("utcnow", "unix_time", "iso_8601_datetime_with_milliseconds"),
    "moto.backup.models": ("utcnow", "unix_time"),
    "moto.kms.models": ("utcnow", "unix_time"),
    "moto.dynamodb.models": ("unix_time",),
    "moto.dynamodb.models.table": ("utcnow",),
}


def use_clock(now: Callable[[], datetime.datetime]) -> None:
    """Make moto's S3, CloudWatch, SNS, Backup and KMS read ``now`` (aware UTC) as the time."""
    from moto.core import utils as moto_utils

    def utcnow() -> datetime.datetime:          # moto's convention: naive UTC
        return now().astimezone(datetime.timezone.utc).replace(tzinfo=None)

    def unix_time(value: datetime.datetime | None = None) -> float:
        return moto_utils.unix_time(value or utcnow())

    def iso_8601_datetime_with_milliseconds(value: datetime.datetime | None = None) -> str:
        return moto_utils.iso_8601_datetime_with_milliseconds(value or utcnow())

    replacements = {"utcnow": utcnow, "unix_time": unix_time,
                    "iso_8601_datetime_with_milliseconds": iso_8601_datetime_with_milliseconds}
    undo_clock()
    from moto.s3.models import FakeBucket
    original_init = FakeBucket.__init__

    def bucket_init(self: Any, *args: Any, **kwargs: Any) -> None:   # CreationDate: datetime.now() in moto
        original_init(self, *args, **kwargs)
        self.creation_date = now().astimezone(datetime.timezone.utc)

    _clock_originals[("moto.s3.models.FakeBucket", "__init__")] = original_init
    FakeBucket.__init__ = bucket_init
    for module_name, names in _CLOCK_USERS.items():
        module = importlib.import_module(module_name)
        for name in names:
            if hasattr(module, name):
                _clock_originals[(module_name, name)] = getattr(module, name)
                setattr(module, name, replacements[name])


def undo_clock() -> None:
    for (module_name, name), original in list(_clock_originals.items()):
        if module_name == "moto.s3.models.FakeBucket":
            from moto.s3.models import FakeBucket
            FakeBucket.__init__ = original
        else:
            setattr(importlib.import_module(module_name), name, original)
    _clock_originals.clear()


def apply() -> None:
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    if _originals:
        return
    _patch_multi_region_keys()
    _originals["get_permission"] = FakeBucket.get_permission
    _originals["log_policy"] = FakeBucket._log_permissions_enabled_policy
    FakeBucket.get_permission = lambda self, action, resource: PermissionResult.NEUTRAL
    original_check = _originals["log_policy"]

    def log_permissions_enabled_policy(target_bucket: Any, target_prefix: str | None) -> bool:
        policy = target_bucket.policy
        if not policy:
            return original_check(target_bucket, target_prefix)
        document = json.loads(policy.decode() if isinstance(policy, bytes) else policy)
        statements = iam_conditions.statements(document)
        kept = [s for s in statements if isinstance(s.get("Principal", {}), dict)]
        if len(kept) == len(statements):
            return original_check(target_bucket, target_prefix)
        saved = target_bucket.policy
        target_bucket.policy = json.dumps({**document, "Statement": kept}).encode()
        try:
            return original_check(target_bucket, target_prefix)
        finally:
            target_bucket.policy = saved

    FakeBucket._log_permissions_enabled_policy = staticmethod(log_permissions_enabled_policy)
    _apply_sim_patches()


def _apply_sim_patches() -> None:
    from drills.cloud.sim import cloudwatch_fixes, copies, dynamodb_transactions, key_locks, listing, object_parts
    dynamodb_transactions.install()
    copies.install()
    key_locks.install()
    listing.install()
    object_parts.install()
    cloudwatch_fixes.install()


def _undo_sim_patches() -> None:
    from drills.cloud.sim import cloudwatch_fixes, copies, dynamodb_transactions, key_locks, listing, object_parts
    dynamodb_transactions.uninstall()
    copies.uninstall()
    key_locks.uninstall()
    listing.uninstall()
    object_parts.uninstall()
    cloudwatch_fixes.uninstall()


def _patch_multi_region_keys() -> None:
    from moto.kms import models as kms_models

    encrypt, decrypt = kms_models.encrypt, kms_models.decrypt
    _originals["kms_encrypt"], _originals["kms_decrypt"] = encrypt, decrypt

    def mrk_encrypt(master_keys: dict[str, Any], key_id: str, plaintext: bytes,
                    encryption_context: dict[str, str]) -> bytes:
        if key_id.startswith("mrk-") and key_id in master_keys:
            short = key_id[4:]
            return encrypt(master_keys={short: master_keys[key_id]}, key_id=short, plaintext=plaintext,
                           encryption_context=encryption_context)
        return encrypt(master_keys=master_keys, key_id=key_id, plaintext=plaintext,
                       encryption_context=encryption_context)

    def mrk_decrypt(master_keys: dict[str, Any], ciphertext_blob: bytes,
                    encryption_context: dict[str, str]) -> tuple[bytes, str]:
        view = dict(master_keys)
        view.update({k[4:]: v for k, v in master_keys.items() if k.startswith("mrk-") and k[4:] not in view})
        plaintext, key_id = decrypt(master_keys=view, ciphertext_blob=ciphertext_blob,
                                    encryption_context=encryption_context)
        return plaintext, (f"mrk-{key_id}" if f"mrk-{key_id}" in master_keys else key_id)

    kms_models.encrypt, kms_models.decrypt = mrk_encrypt, mrk_decrypt
    for name in _KEY_STATE_METHODS:
        original = getattr(kms_models.KmsBackend, name)
        _originals[f"kms_{name}"] = original

        def by_id(self: Any, key_id: str, *args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            return _original(self, self.get_key_id(key_id), *args, **kwargs)

        setattr(kms_models.KmsBackend, name, by_id)


_KEY_STATE_METHODS = ("disable_key", "enable_key", "schedule_key_deletion", "cancel_key_deletion")


def undo() -> None:
    from moto.s3.models import FakeBucket

    _undo_sim_patches()

    undo_clock()
    if not _originals:
        return
    from moto.kms import models as kms_models
    kms_models.encrypt, kms_models.decrypt = _originals.pop("kms_encrypt"), _originals.pop("kms_decrypt")
    for name in _KEY_STATE_METHODS:
        setattr(kms_models.KmsBackend, name, _originals.pop(f"kms_{name}"))
    FakeBucket.get_permission = _originals.pop("get_permission")
    FakeBucket._log_permissions_enabled_policy = staticmethod(_originals.pop("log_policy"))
