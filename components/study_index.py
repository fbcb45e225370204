"""StudyIndex: the DynamoDB study index (drills/contracts.py schema), replicated to the DR region."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import Site, child_opts
from drills.contracts import CLAIMS_PARTITION_KEY, INDEX_PARTITION_KEY, INDEX_SOP_GSI, INDEX_SOP_GSI_KEY, INDEX_SORT_KEY


@dataclass
class StudyIndexArgs:
    """Inputs of a StudyIndex."""

    primary: Site
    """Region of the table."""
    dr: Site
    """Region of its global-table replica."""
    kms_key_arn: pulumi.Input[str]
    """Primary-region key for server-side encryption."""
    replica_kms_key_arn: pulumi.Input[str]
    """DR-region key (the multi-Region replica) for the replica table."""
    keep: bool = False
    """Deletion protection, protect and retain (production)."""


class StudyIndex(pulumi.ComponentResource):
    """Study index keyed StudyInstanceUID / SeriesSop, with a keys-only GSI on SOPInstanceUID;
    on-demand, PITR, KMS, stream, DR replica. Beside it the SOP Instance UID claims table
    (keyed SOPInstanceUID; drills.contracts CLAIMS_*), configured the same way: ingest claims
    each new UID there in the transaction that writes its index item."""

    table: aws.dynamodb.Table
    claims: aws.dynamodb.Table
    name: pulumi.Output[str]
    arn: pulumi.Output[str]
    claims_name: pulumi.Output[str]
    claims_arn: pulumi.Output[str]

    def __init__(self, name: str, args: StudyIndexArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:study_index:StudyIndex", name, None, opts)
        self.table = aws.dynamodb.Table(
            name,
            attributes=[{"name": INDEX_PARTITION_KEY, "type": "S"}, {"name": INDEX_SORT_KEY, "type": "S"},
                        {"name": INDEX_SOP_GSI_KEY, "type": "S"}],
            hash_key=INDEX_PARTITION_KEY, range_key=INDEX_SORT_KEY,
            # SOP Instance UIDs are globally unique: ingest looks each new one up here
            global_secondary_indexes=[{"name": INDEX_SOP_GSI, "hash_key": INDEX_SOP_GSI_KEY,
                                       "projection_type": "KEYS_ONLY"}],
            billing_mode="PAY_PER_REQUEST",
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": args.kms_key_arn},
            deletion_protection_enabled=args.keep,
            stream_enabled=True, stream_view_type="NEW_AND_OLD_IMAGES",
            replicas=[{"region_name": args.dr.region, "kms_key_arn": args.replica_kms_key_arn,
                       "point_in_time_recovery": True, "propagate_tags": True,
                       "deletion_protection_enabled": args.keep}],
            opts=child_opts(self, args.primary, keep=args.keep))
        self.claims = aws.dynamodb.Table(
            f"{name}-claims",
            attributes=[{"name": CLAIMS_PARTITION_KEY, "type": "S"}],
            hash_key=CLAIMS_PARTITION_KEY,
            billing_mode="PAY_PER_REQUEST",
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": args.kms_key_arn},
            deletion_protection_enabled=args.keep,
            replicas=[{"region_name": args.dr.region, "kms_key_arn": args.replica_kms_key_arn,
                       "point_in_time_recovery": True, "propagate_tags": True,
                       "deletion_protection_enabled": args.keep}],
            opts=child_opts(self, args.primary, keep=args.keep))
        self.name = self.table.name
        self.arn = self.table.arn
        self.claims_name = self.claims.name
        self.claims_arn = self.claims.arn
        self.register_outputs({"name": self.name, "arn": self.arn, "claims_name": self.claims_name,
                               "claims_arn": self.claims_arn})
