"""Drive the policy pack without a Pulumi engine.

``Stack`` holds resources shaped like ``drills.deploy.program.RegisteredResource`` (from the
real program under mocks, or hand-built below) and is the one adapter into the policy SDK's
own argument objects: stack policies get outputs, resource policies get inputs, both behind
the SDK's unknown-checking proxy as the engine passes them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from pulumi.runtime import MockResourceArgs
from pulumi_policy import (PolicyCustomTimeouts, PolicyProviderResource, PolicyResource,
                           PolicyResourceOptions, ResourceValidationArgs, ResourceValidationPolicy,
                           StackValidationArgs, StackValidationPolicy)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from drills.deploy.program import default_create
from policies.stackview import BUCKET_TYPES, StackView

PROJECT = "drkit"
PROVIDER_TYPE = "pulumi:providers:aws"
NOT_APPLICABLE = "not-applicable"


@dataclass
class Rec:
    """One registered resource: the fields of RegisteredResource, plus property dependencies
    (field → names of resources) that the engine knows and the mocks do not record."""

    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    provider: Optional[str]
    id: str
    deps: dict[str, list[str]] = field(default_factory=dict)
    protect: bool = False


def _opts(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


class Stack:
    """A stack's resources and the policy-argument adapter over them."""

    def __init__(self, stack: str, resources: Iterable[Any]) -> None:
        self.stack = stack
        self.records = [Rec(r.type, r.name, copy.deepcopy(r.inputs), copy.deepcopy(r.outputs), r.provider,
                            r.id, copy.deepcopy(getattr(r, "deps", {})), bool(getattr(r, "protect", False)))
                        for r in resources]

    def copy(self) -> "Stack":
        return Stack(self.stack, self.records)

    # ------------------------------------------------------------------ lookups and edits
    def urn(self, rec: Rec) -> str:
        return f"urn:pulumi:{self.stack}::{PROJECT}::{rec.type}::{rec.name}"

    def of_type(self, suffix: str) -> list[Rec]:
        """Records whose type token ends with ``suffix`` (``":Bucket"``, ``"/vault:Vault"``)."""
        return [r for r in self.records if r.type.endswith(suffix)]

    def named(self, name: str, suffix: str = "") -> Rec:
        """The one record called ``name`` (of a type ending with ``suffix``)."""
        matches = [r for r in self.records if r.name == name and r.type.endswith(suffix)]
        assert len(matches) == 1, f"{len(matches)} resources named {name!r} of type *{suffix}"
        return matches[0]

    def bucket(self, role: str) -> Rec:
        """The stack's bucket of ``role`` (first by registration order), found like the pack finds it."""
        view = StackView(self.policy_resources())
        for res in view.buckets:
            if view.role(res) is not None and view.role(res).value == role:
                return self.named(res.name, res.resource_type)
        raise AssertionError(f"stack {self.stack} has no bucket with role {role!r}")

    def settings(self, bucket: Rec, suffix: str, field_name: str = "bucket") -> list[Rec]:
        """Records of type ``…suffix`` whose ``field_name`` refers to ``bucket`` (id, name or ARN,
        or a property dependency in a preview)."""
        keys = {bucket.id, bucket.outputs.get("bucket"), bucket.outputs.get("arn"), bucket.outputs.get("name")}
        keys -= {None, UNKNOWN_STRING_VALUE}
        return [r for r in self.of_type(suffix)
                if r.inputs.get(field_name) in keys or bucket.name in r.deps.get(field_name, [])]

    def remove(self, rec: Rec) -> None:
        self.records.remove(rec)

    def set(self, rec: Rec, path: str, value: Any) -> None:
        """Set ``a.b.0.c`` in both inputs and outputs (outputs echo inputs under mocks)."""
        for props in (rec.inputs, rec.outputs):
            *head, last = [int(p) if p.isdigit() else p for p in path.split(".")]
            target = props
            for key in head:
                target = target[key]
            if value is _DELETE:
                target.pop(last, None) if isinstance(target, dict) else target.pop(last)
            else:
                target[last] = value

    def delete(self, rec: Rec, path: str) -> None:
        self.set(rec, path, _DELETE)

    def as_preview(self, with_deps: bool = True) -> "Stack":
        """This stack as ``pulumi preview`` of a new stack shows it: bucket ids, names and ARNs
        unknown, so every reference to a bucket (and each policy document) is unknown too;
        ``with_deps`` keeps the property dependencies the engine records for them."""
        out = self.copy()
        unknown = UNKNOWN_STRING_VALUE
        names = {}
        for rec in out.records:
            if rec.type in BUCKET_TYPES:
                for key in (rec.id, rec.outputs.get("bucket"), rec.outputs.get("arn")):
                    names[key] = rec.name
                rec.id = unknown
                rec.outputs.update(bucket=unknown, arn=unknown, bucketDomainName=unknown)

        def hide(rec: Rec, path: str, dep_field: str) -> None:
            value = rec.inputs
            for key in path.split("."):
                value = value[int(key) if key.isdigit() else key]
            if value in names:
                out.set(rec, path, unknown)
                if with_deps:
                    rec.deps.setdefault(dep_field, []).append(names[value])

        for rec in out.records:
            for field_name in ("bucket", "targetBucket"):
                if field_name in rec.inputs:
                    hide(rec, field_name, field_name)
            if rec.type.endswith(":BucketPolicy"):
                out.set(rec, "policy", unknown)
            if rec.type.endswith(":BucketReplicationConfig"):
                for index in range(len(rec.inputs.get("rules", []))):
                    hide(rec, f"rules.{index}.destination.bucket", "rules")
        return out

    # ------------------------------------------------------------------ the adapter
    def _provider(self, rec: Rec) -> Optional[PolicyProviderResource]:
        if not rec.provider:
            return None
        urn = rec.provider.rsplit("::", 1)[0]
        name = urn.rsplit("::", 1)[-1]
        for candidate in self.records:
            if candidate.type.startswith("pulumi:providers:") and candidate.name == name:
                return PolicyProviderResource(candidate.type, unknown_checking_proxy(copy.deepcopy(candidate.outputs)),
                                              self.urn(candidate), candidate.name)
        return None

    def policy_resources(self) -> list[PolicyResource]:
        """Every resource as a stack policy sees it: outputs (plus ``id``), provider, property deps."""
        resources = []
        for rec in self.records:
            props = {"id": rec.id, **copy.deepcopy(rec.outputs)}   # bridged providers' outputs carry the id
            resources.append(PolicyResource(rec.type, unknown_checking_proxy(props), self.urn(rec), rec.name,
                                            _opts(rec.protect), self._provider(rec), None, [], {}))
        by_name = {}
        for res in resources:
            by_name.setdefault(res.name, []).append(res)
        for rec, res in zip(self.records, resources):
            res.property_dependencies = {key: [r for n in names for r in by_name[n]] for key, names in rec.deps.items()}
        return resources

    def resource_args(self, config: Optional[dict] = None) -> list[ResourceValidationArgs]:
        """Every resource as a resource policy sees it: its inputs."""
        return [ResourceValidationArgs(rec.type, unknown_checking_proxy(copy.deepcopy(rec.inputs)), self.urn(rec),
                                       rec.name, _opts(rec.protect), self._provider(rec), config)
                for rec in self.records]

    def violations(self, policy: Any, config: Optional[dict] = None, *, adapted: Optional[tuple] = None,
                   ) -> list[tuple[str, Optional[str]]]:
        """Run one policy; every (message, urn) it reports, or [(NOT_APPLICABLE, reason)].
        ``adapted`` reuses ``(policy_resources(), resource_args())`` across policies."""
        resources, resource_args = adapted or (self.policy_resources(), self.resource_args(config))
        found: list[tuple[str, Optional[str]]] = []

        def report(message: str, urn: Optional[str] = None) -> None:
            found.append((message, urn))

        try:
            if isinstance(policy, StackValidationPolicy):
                policy.validate(StackValidationArgs(resources, config), report)
            else:
                assert isinstance(policy, ResourceValidationPolicy)
                for args in resource_args:
                    before = len(found)
                    policy.validate(args, report)
                    found[before:] = [(m, args.urn) for m, _ in found[before:]]   # the engine's attribution
        except _NotApplicableError as exc:
            return [(NOT_APPLICABLE, exc.reason)]
        return found


_DELETE = object()


# ---------------------------------------------------------------------- hand-built platform
class _Builder:
    """Registers hand-written resources the way RecordingMocks does (ids, echoed outputs)."""

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.records: list[Rec] = []

    def add(self, type_: str, logical: str, provider: Optional[str] = None, deps: Optional[dict] = None,
            **inputs: Any) -> Rec:
        rid, outputs = default_create(MockResourceArgs(type_, logical, inputs))
        ref = f"urn:pulumi:{self.stack}::{PROJECT}::{PROVIDER_TYPE}::{provider}::{provider}-id" if provider else None
        protect = type_.rsplit(":", 1)[-1] in PROTECTED_CONTROLS
        rec = Rec(type_, logical, inputs, outputs, ref, rid, deps or {}, protect)
        self.records.append(rec)
        return rec


ACCOUNT_ROOT = "arn:aws:iam::123456789012:root"
BREAK_GLASS = "arn:aws:iam::123456789012:role/break-glass"
DEPLOY = "arn:aws:iam::123456789012:role/deploy"
REPLICATION_ROLE = "arn:aws:iam::123456789012:role/replication"
PROTECTED_CONTROLS = {"BucketPolicy", "BucketPublicAccessBlock", "BucketReplicationConfig", "Trail", "Plan",
                      "KeyPolicy", "VaultPolicy"}


def _deny(sid: str, actions: list[str], resource: Any, allowed: list[str]) -> dict:
    return {"Sid": sid, "Effect": "Deny", "Principal": "*", "Action": actions, "Resource": resource,
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": allowed}, "Bool": {"aws:PrincipalIsAWSService": "false"}}}


def tls_policy(arn: str, guarded: bool = False, writers: tuple[str, ...] = ()) -> str:
    """TLS-only; ``guarded`` adds the allow-list Denies a PHI bucket needs (writers besides the admins)."""
    statements: list[dict] = [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
    if guarded:
        admins = [ACCOUNT_ROOT, BREAK_GLASS]
        statements += [
            _deny("Reads", ["s3:GetObject", "s3:GetObjectVersion"], f"{arn}/*",
                  [*admins, "arn:aws:iam::123456789012:role/viewer"]),
            _deny("Writes", ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"], f"{arn}/*",
                  [*admins, *writers]),
            _deny("Retention", ["s3:PutObjectRetention", "s3:BypassGovernanceRetention"], f"{arn}/*", admins),
            _deny("Config", ["s3:PutBucketPolicy", "s3:PutReplicationConfiguration", "s3:PutLifecycleConfiguration",
                             "s3:PutBucketObjectLockConfiguration"], arn, [*admins, DEPLOY]),
        ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def key_policy() -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/key-admin"},
         "Action": ["kms:Describe*", "kms:Get*", "kms:List*"], "Resource": "*"},
        {"Sid": "Use", "Effect": "Allow", "Principal": {"AWS": REPLICATION_ROLE},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}},
        {"Sid": "Guard", "Effect": "Deny", "Principal": "*",
         "Action": ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:CreateGrant"], "Resource": "*",
         "Condition": {"ArnNotEquals": {"aws:PrincipalArn": BREAK_GLASS}}},
        {"Sid": "PolicyGuard", "Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*",
         "Condition": {"ArnNotEquals": {"aws:PrincipalArn": [BREAK_GLASS, DEPLOY]}}}]})


def vault_policy() -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [_deny(
        "Guard", ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle",
                  "backup:PutBackupVaultAccessPolicy"], "*", [ACCOUNT_ROOT, BREAK_GLASS])]})


def hand_built_platform(stack: str = "prod") -> Stack:
    """A small, fully compliant two-region platform written by hand (no components needed)."""
    b = _Builder(stack)
    b.add(PROVIDER_TYPE, "primary", region="us-east-1")
    b.add(PROVIDER_TYPE, "dr", region="us-west-2")
    key = b.add("aws:kms/key:Key", "archive-key", "primary", enableKeyRotation=True, multiRegion=True,
                policy=key_policy())
    replica_key = b.add("aws:kms/replicaKey:ReplicaKey", "archive-key-dr", "dr", primaryKeyArn=key.outputs["arn"],
                        policy=key_policy())
    buckets = {}
    for name, purpose, region, locked in (("imaging-archive", "archive", "primary", True),
                                          ("imaging-replica", "replica", "dr", True),
                                          ("imaging-landing", "landing", "primary", False),
                                          ("imaging-logs", "archive-access-logs", "primary", False),
                                          ("imaging-dr-logs", "replica-access-logs", "dr", False),
                                          ("imaging-inventory", "archive-inventory", "primary", False),
                                          ("imaging-evidence", "evidence", "primary", True),
                                          ("imaging-trail", "cloudtrail", "primary", True)):
        kms = key if region == "primary" else replica_key
        bucket = b.add("aws:s3/bucket:Bucket", name, region, objectLockEnabled=locked,
                       tags={"drkit-purpose": purpose})
        buckets[name] = bucket
        role = purpose.rsplit("-", 1)[-1]
        algorithm = {"sseAlgorithm": "AES256"} if role == "logs" else {
            "sseAlgorithm": "aws:kms", "kmsMasterKeyId": kms.outputs["arn"]}
        b.add("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
              f"{name}-sse", region, bucket=bucket.id,
              rules=[{"applyServerSideEncryptionByDefault": algorithm, "bucketKeyEnabled": True}])
        b.add("aws:s3/bucketVersioning:BucketVersioning", f"{name}-versioning", region, bucket=bucket.id,
              versioningConfiguration={"status": "Enabled"})
        b.add("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-pab", region, bucket=bucket.id,
              blockPublicAcls=True, blockPublicPolicy=True, ignorePublicAcls=True, restrictPublicBuckets=True)
        b.add("aws:s3/bucketPolicy:BucketPolicy", f"{name}-policy", region, bucket=bucket.id,
              policy=tls_policy(bucket.outputs["arn"], guarded=role in ("archive", "replica", "landing", "evidence"),
                                writers=(REPLICATION_ROLE,) if role == "replica" else ()))
        b.add("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", f"{name}-lifecycle", region,
              bucket=bucket.id, rules=[{"id": "abort-multipart", "status": "Enabled", "filter": {},
                                        "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}])
        if locked:
            b.add("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", f"{name}-lock", region,
                  bucket=bucket.id, objectLockEnabled="Enabled",
                  rule={"defaultRetention": {"mode": "COMPLIANCE", "days": 365}})
    for name, logs in (("imaging-archive", "imaging-logs"), ("imaging-replica", "imaging-dr-logs"),
                       ("imaging-landing", "imaging-logs"), ("imaging-evidence", "imaging-logs"),
                       ("imaging-trail", "imaging-logs")):
        region = "dr" if logs == "imaging-dr-logs" else "primary"
        b.add("aws:s3/bucketLogging:BucketLogging", f"{name}-logging", region, bucket=buckets[name].id,
              targetBucket=buckets[logs].id, targetPrefix=f"{name}/")
    b.add("aws:iam/role:Role", "replication", "primary", arn=REPLICATION_ROLE, assumeRolePolicy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                                               "Action": "sts:AssumeRole",
                                               "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}]}))
    b.add("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "imaging-archive-replication", "primary",
          bucket=buckets["imaging-archive"].id, role=REPLICATION_ROLE,
          rules=[{"id": "dicom", "status": "Enabled", "filter": {"prefix": "dicom/"},
                  "deleteMarkerReplication": {"status": "Enabled"},
                  "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
                  "destination": {"bucket": buckets["imaging-replica"].outputs["arn"], "storageClass": "STANDARD",
                                  "encryptionConfiguration": {"replicaKmsKeyId": replica_key.outputs["arn"]},
                                  "replicationTime": {"status": "Enabled", "time": {"minutes": 15}},
                                  "metrics": {"status": "Enabled", "eventThreshold": {"minutes": 15}}}}])
    vaults = {}
    for name, region in (("imaging-vault", "primary"), ("imaging-dr-vault", "dr")):
        kms = key if region == "primary" else replica_key
        vaults[name] = b.add("aws:backup/vault:Vault", name, region, name=name, kmsKeyArn=kms.outputs["arn"])
        b.add("aws:backup/vaultLockConfiguration:VaultLockConfiguration", f"{name}-lock", region,
              backupVaultName=name, minRetentionDays=7, maxRetentionDays=3650, changeableForDays=3)
        b.add("aws:backup/vaultPolicy:VaultPolicy", f"{name}-policy", region, backupVaultName=name,
              policy=vault_policy())
    b.add("aws:backup/plan:Plan", "imaging-plan", "primary", name="imaging-plan", rules=[
        {"ruleName": "continuous", "targetVaultName": "imaging-vault", "schedule": "cron(0 5 * * ? *)",
         "enableContinuousBackup": True, "lifecycle": {"deleteAfter": 35}},
        {"ruleName": "daily", "targetVaultName": "imaging-vault", "schedule": "cron(0 5 * * ? *)",
         "lifecycle": {"deleteAfter": 90},
         "copyActions": [{"destinationVaultArn": vaults["imaging-dr-vault"].outputs["arn"],
                          "lifecycle": {"deleteAfter": 90}}]}])
    b.add("aws:dynamodb/table:Table", "study-index", "primary", billingMode="PAY_PER_REQUEST",
          hashKey="StudyInstanceUID", rangeKey="SeriesSop",
          pointInTimeRecovery={"enabled": True}, deletionProtectionEnabled=True,
          serverSideEncryption={"enabled": True, "kmsKeyArn": key.outputs["arn"]},
          replicas=[{"regionName": "us-west-2", "kmsKeyArn": replica_key.outputs["arn"], "pointInTimeRecovery": True,
                     "deletionProtectionEnabled": True}])
    b.add("aws:sqs/queue:Queue", "ingest-queue", "primary", kmsMasterKeyId=key.outputs["arn"])
    topic = b.add("aws:sns/topic:Topic", "alarms", "primary", kmsMasterKeyId=key.outputs["arn"])
    b.add("aws:sns/topicSubscription:TopicSubscription", "oncall", "primary", topic=topic.outputs["arn"],
          protocol="email", endpoint="oncall@example.org")
    b.add("aws:cloudwatch/metricAlarm:MetricAlarm", "dicom-latency", "primary", namespace="AWS/S3",
          metricName="ReplicationLatency", dimensions={"RuleId": "dicom"}, treatMissingData="breaching",
          alarmActions=[topic.outputs["arn"]], threshold=900, comparisonOperator="GreaterThanThreshold",
          evaluationPeriods=1, period=300, statistic="Maximum")
    watched = {"kms": ["ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy"],
               "s3": ["PutBucketPolicy", "DeleteBucketPolicy", "PutBucketReplication", "DeleteBucketReplication",
                      "PutBucketLifecycle"],
               "cloudtrail": ["StopLogging", "DeleteTrail", "UpdateTrail"],
               "backup": ["DeleteBackupPlan", "DeleteRecoveryPoint", "DeleteBackupSelection"]}
    for region in ("primary", "dr"):
        for source, calls in watched.items():
            rule = b.add("aws:cloudwatch/eventRule:EventRule", f"{region}-{source}-changes", region,
                         eventPattern=json.dumps({"source": [f"aws.{source}"], "detail": {"eventName": calls}}))
            b.add("aws:cloudwatch/eventTarget:EventTarget", f"{region}-{source}-target", region,
                  rule=rule.outputs["name"], arn=topic.outputs["arn"])
    b.add("aws:cloudtrail/trail:Trail", "imaging-cloudtrail", "primary", s3BucketName=buckets["imaging-trail"].id,
          enableLogFileValidation=True, isMultiRegionTrail=True, kmsKeyId=key.outputs["arn"],
          advancedEventSelectors=[{"name": "archive objects", "fieldSelectors": [
              {"field": "eventCategory", "equals": ["Data"]},
              {"field": "resources.type", "equals": ["AWS::S3::Object"]}]}])
    return Stack(stack, b.records)


# ---------------------------------------------------------------------- broken stacks
@dataclass(frozen=True)
class Breakage:
    """A named way to break a compliant stack in exactly one place.

    ``mutate`` edits the stack and returns the resource every violation must name;
    ``policies`` are the policies expected to fire (all others must stay quiet)."""

    id: str
    policies: frozenset[str]
    mutate: Any
    mentions: str = ""

    def __str__(self) -> str:
        return self.id


def fired(stack: Stack, policies: Iterable[Any], config: Optional[dict] = None) -> dict[str, list]:
    """Policy name → its violations, for the policies that reported any."""
    out = {}
    adapted = (stack.policy_resources(), stack.resource_args(config))
    for policy in policies:
        found = [v for v in stack.violations(policy, config, adapted=adapted) if v[0] != NOT_APPLICABLE]
        if found:
            out[policy.name] = found
    return out


def assert_breakage(stack: Stack, breakage: Breakage, policies: Iterable[Any]) -> None:
    """Apply ``breakage`` and check exactly its policies fire, naming the culprit (any policy
    firing on the unbroken stack would show up here as an extra one)."""
    policies = list(policies)
    culprit = breakage.mutate(stack)
    found = fired(stack, policies)
    assert set(found) == set(breakage.policies), found
    for name in breakage.policies:
        named = [(m, u) for m, u in found[name] if f"'{culprit.name}'" in m and u == stack.urn(culprit)]
        assert named, f"{name} did not name {culprit.name}: {found[name]}"
        if breakage.mentions:
            assert any(breakage.mentions in m for m, _ in named), found[name]
