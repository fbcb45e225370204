"""BatchOperations: the least-privilege IAM role S3 Batch Operations assumes for drkit's jobs.

drkit's jobs (``drills/probes/batch_jobs.py``) are compute checksum (byte integrity at scale,
no restore, no download), Batch Replication of missing or FAILED versions, and restores of
cold versions. Manifests and completion reports live in each region's inventory bucket
under ``BATCH_PREFIX`` (never in the locked archive, whose objects would replicate and lock).

Trust: ``batchoperations.s3.amazonaws.com`` on behalf of this account's jobs only
(``aws:SourceAccount`` and ``aws:SourceArn`` ``arn:aws:s3:*:<account>:job/*``), as the S3 User
Guide's "Granting permissions for Batch Operations" documents. Permissions, per operation:
``s3:GetObject``/``s3:GetObjectVersion`` on both archives (compute checksum),
``s3:RestoreObject`` (restore), ``s3:InitiateReplication`` and ``s3:GetReplicationConfiguration``
on the archive (Batch Replication); the manifest read and the report write only under the
prefix; KMS only through S3 in the key's own region.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import Account, Site, allow, assume_role_policy, child_opts, policy_json
from components.tiered_archive import TieredArchive

BATCH_SERVICE = "batchoperations.s3.amazonaws.com"
BATCH_PREFIX = "drkit-batch"


@dataclass
class BatchOperationsArgs:
    """Inputs of BatchOperations."""

    primary: Site
    """Region of the archive (IAM is global; the role lives with the primary provider)."""
    dr: Site
    """Region of the replica."""
    archive: TieredArchive
    """Archive bucket with its inventory bucket (manifests and reports of primary-region jobs)."""
    replica: TieredArchive
    """Replica bucket with its inventory bucket (manifests and reports of DR-region jobs)."""
    archive_kms_key_arn: pulumi.Input[str]
    """Key of the archive and its inventory bucket."""
    replica_kms_key_arn: pulumi.Input[str]
    """Key of the replica and its inventory bucket."""


class BatchOperations(pulumi.ComponentResource):
    """The role ``RoleArn`` of drkit's S3 Batch Operations jobs, and its inline policy."""

    role: aws.iam.Role
    role_policy: aws.iam.RolePolicy

    def __init__(self, name: str, args: BatchOperationsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:batch_operations:BatchOperations", name, None, opts)
        site = args.primary
        account = Account.of(site, self)
        jobs = pulumi.Output.format("arn:{0}:s3:*:{1}:job/*", account.partition, account.account_id)
        self.role = aws.iam.Role(f"{name}-role", assume_role_policy=assume_role_policy(BATCH_SERVICE, account,
                                                                                       source_arn=jobs),
                                 description="S3 Batch Operations: drkit compute checksum, Batch Replication, restore",
                                 opts=child_opts(self, site))
        objects = [pulumi.Output.concat(b.arn, "/*") for b in (args.archive, args.replica)]
        work = [pulumi.Output.concat(a.inventory_bucket.arn, f"/{BATCH_PREFIX}/*") for a in (args.archive, args.replica)]
        self.role_policy = aws.iam.RolePolicy(f"{name}-role-policy", role=self.role.id, policy=policy_json(
            allow(["s3:GetObject", "s3:GetObjectVersion"], objects, sid="ComputeChecksumReadsObjects"),
            allow(["s3:RestoreObject"], objects, sid="RestoreColdObjects"),
            allow(["s3:InitiateReplication"], pulumi.Output.concat(args.archive.arn, "/*"), sid="BatchReplication"),
            allow(["s3:GetReplicationConfiguration"], args.archive.arn, sid="ReadReplicationRules"),
            allow(["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], work, sid="ManifestsAndReports"),
            allow(["kms:Decrypt", "kms:GenerateDataKey"], args.archive_kms_key_arn, sid="ArchiveKeyThroughS3",
                  condition={"StringEquals": {"kms:ViaService": f"s3.{args.primary.region}.amazonaws.com"}}),
            allow(["kms:Decrypt", "kms:GenerateDataKey"], args.replica_kms_key_arn, sid="ReplicaKeyThroughS3",
                  condition={"StringEquals": {"kms:ViaService": f"s3.{args.dr.region}.amazonaws.com"}}),
        ), opts=child_opts(self, site))
        self.register_outputs({"roleArn": self.role.arn})
