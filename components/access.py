"""Bucket access guards: the Deny statements that turn a bucket policy into an allow-list.

IAM alone lets any role with ``s3:GetObject`` and ``kms:Decrypt`` on ``*`` read every study.
These statements, added to a bucket's policy, make object reads and writes, retention changes
and configuration changes fail for every principal not named — whatever its IAM policies
say (an explicit Deny wins). AWS service principals (log delivery, inventory, CloudTrail)
are exempt through ``aws:PrincipalIsAWSService``; their own grants carry source conditions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import pulumi

from components.identities import Principals

OBJECT_READ = ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes",
               "s3:GetObjectTagging", "s3:GetObjectVersionTagging", "s3:GetObjectVersionForReplication",
               "s3:RestoreObject")
OBJECT_WRITE = ("s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectVersionTagging", "s3:DeleteObject",
                "s3:DeleteObjectVersion", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging",
                "s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags", "s3:AbortMultipartUpload")
RETENTION = ("s3:PutObjectRetention", "s3:BypassGovernanceRetention", "s3:PutObjectLegalHold")
BUCKET_CONFIG = ("s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutReplicationConfiguration",
                 "s3:PutLifecycleConfiguration", "s3:PutBucketObjectLockConfiguration",
                 "s3:PutBucketPublicAccessBlock", "s3:PutEncryptionConfiguration", "s3:PutBucketVersioning",
                 "s3:PutBucketLogging", "s3:PutBucketOwnershipControls", "s3:PutInventoryConfiguration",
                 "s3:PutBucketNotification", "s3:PutBucketAcl", "s3:DeleteBucket")
NOT_A_SERVICE = {"Bool": {"aws:PrincipalIsAWSService": "false"}}


@dataclass
class ObjectAccess:
    """Who may touch a bucket's objects and configuration, besides root and break-glass."""

    read: list[pulumi.Input[str]] = field(default_factory=list)
    """Roles that may read objects."""
    write: list[pulumi.Input[str]] = field(default_factory=list)
    """Roles that may write, tag or delete objects (replica: only the replication role)."""
    config: list[pulumi.Input[str]] = field(default_factory=list)
    """Roles besides the deploy role that may change the bucket's configuration (e.g. FIS's pause)."""
    retention: list[pulumi.Input[str]] = field(default_factory=list)
    """Roles besides root and break-glass that may change retention (the ransomware drill's attacker roles)."""
    vpc_only: Sequence[tuple[pulumi.Input[str], str]] = ()
    """(role ARN, vpce id): that role reaches the objects only through that VPC endpoint."""


def _only(principals: Sequence[pulumi.Input[str]]) -> dict[str, Any]:
    return {"ArnNotLike": {"aws:PrincipalArn": list(principals)}, **NOT_A_SERVICE}


def guard_statements(p: Principals, bucket_arn: pulumi.Input[str], objects: pulumi.Input[str],
                     access: ObjectAccess | None) -> list[dict[str, Any]]:
    """Deny statements for one bucket: object allow-lists (when ``access``), retention changes
    to all but break-glass, configuration changes to all but the deploy role (when one is
    configured), and requests from outside the organisation (when one is configured)."""
    statements: list[dict[str, Any]] = []
    if access is not None:
        statements += [
            {"Sid": "DenyObjectReadsOutsideAllowList", "Effect": "Deny", "Principal": "*",
             "Action": list(OBJECT_READ), "Resource": objects, "Condition": _only([*p.admins(), *access.read])},
            {"Sid": "DenyObjectWritesOutsideAllowList", "Effect": "Deny", "Principal": "*",
             "Action": list(OBJECT_WRITE), "Resource": objects, "Condition": _only([*p.admins(), *access.write])},
            {"Sid": "DenyRetentionChangesExceptBreakGlass", "Effect": "Deny", "Principal": "*",
             "Action": list(RETENTION), "Resource": objects, "Condition": _only([*p.admins(), *access.retention])},
        ]
        for role, vpce in access.vpc_only:
            statements.append({"Sid": "DenyIngestOutsideItsVpcEndpoint", "Effect": "Deny", "Principal": "*",
                               "Action": "s3:*", "Resource": [bucket_arn, objects],
                               "Condition": {"ArnEquals": {"aws:PrincipalArn": role},
                                             "StringNotEquals": {"aws:SourceVpce": vpce}}})
    if p.deploy is not None:
        config = [*p.config_admins(), *(access.config if access else [])]
        statements.append({"Sid": "DenyConfigurationChangesExceptDeployRole", "Effect": "Deny", "Principal": "*",
                           "Action": list(BUCKET_CONFIG), "Resource": bucket_arn, "Condition": _only(config)})
    if p.organization_id:
        statements.append({"Sid": "DenyPrincipalsOutsideOrganization", "Effect": "Deny", "Principal": "*",
                           "Action": "s3:*", "Resource": [bucket_arn, objects],
                           "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": p.organization_id},
                                         **NOT_A_SERVICE}})
    return statements
