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
  Object Lock bucket, copy conditions), ``drills.cloud.sim.listing`` (a sorted key index),
  ``drills.cloud.sim.object_parts`` (checksum values for every algorithm); CloudWatch reads:
  ``drills.cloud.sim.cloudwatch_fixes`` (GetMetricData namespaces, DescribeAlarmHistory).
"""

from __future__ import annotations

import json
from typing import Any, Callable

_originals: dict[str, Callable[..., Any]] = {}


def apply() -> None:
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    if _originals:
        return
    _originals["get_permission"] = FakeBucket.get_permission
    _originals["log_policy"] = FakeBucket._log_permissions_enabled_policy
    FakeBucket.get_permission = lambda self, action, resource: PermissionResult.NEUTRAL
    original_check = _originals["log_policy"]

    def log_permissions_enabled_policy(target_bucket: Any, target_prefix: str | None) -> bool:
        policy = target_bucket.policy
        if not policy:
            return original_check(target_bucket, target_prefix)
        document = json.loads(policy.decode() if isinstance(policy, bytes) else policy)
        statements = document.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
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
    from drills.cloud.sim import cloudwatch_fixes, copies, listing, object_parts
    copies.install()
    listing.install()
    object_parts.install()
    cloudwatch_fixes.install()


def _undo_sim_patches() -> None:
    from drills.cloud.sim import cloudwatch_fixes, copies, listing, object_parts
    copies.uninstall()
    listing.uninstall()
    object_parts.uninstall()
    cloudwatch_fixes.uninstall()


def undo() -> None:
    from moto.s3.models import FakeBucket

    _undo_sim_patches()

    if not _originals:
        return
    FakeBucket.get_permission = _originals.pop("get_permission")
    FakeBucket._log_permissions_enabled_policy = staticmethod(_originals.pop("log_policy"))
