"""The stack outputs: exactly drills.contracts.StackOutputs, built and exported in one place."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, Mapping

import pulumi

from components.config import PlatformConfig
from components.platform import ImagingPlatform
from drills.contracts import ABSENT_WHEN_NOT_DEPLOYED, OUTPUTS_SCHEMA_VERSION, StackOutputs


def stack_outputs(platform: ImagingPlatform, config: PlatformConfig) -> dict[str, Any]:
    """Output name -> value (Outputs where the value comes from AWS)."""
    outputs = {
        "schemaVersion": OUTPUTS_SCHEMA_VERSION,
        "primaryRegion": config.primary_region,
        "drRegion": config.dr_region,
        "archiveBucket": platform.archive.name,
        "replicaBucket": platform.replica.name,
        "landingBucket": platform.ingest.landing.name,
        "indexTable": platform.index.name,
        "backupVault": platform.backups.vault.name,
        "drBackupVault": platform.backups.dr_vault.name,
        "evidenceBucket": platform.evidence.name,
        # The access point's ARN (arn:aws:s3::<account>:accesspoint/<alias>): boto3 takes it as
        # Bucket= and signs with SigV4A (needs awscrt).
        "multiRegionAccessPoint": platform.failover.arn,
        "objectives": asdict(config.objectives),
        # Two stacks in one account and region each have a hash-key secret: name ours.
        "hashKeySecretArn": platform.ingest.secret.arn,
        # The role drkit's S3 Batch Operations jobs run as (verify --checksums batch, drkit repair).
        "batchOperationsRoleArn": platform.batch.role.arn,
        # SOP Instance UID claims (ingest's uniqueness check across studies).
        "claimsTable": platform.index.claims_name,
    }
    # The ransomware drill's attacker roles, when the stack deploys them (drkit:drill.attacker).
    for output, role in (("attackerRoleArn", platform.drills.attacker),
                         ("attackerBypassRoleArn", platform.drills.attacker_bypass)):
        if role is not None:
            outputs[output] = role.arn
    expected = {f.name for f in fields(StackOutputs)}
    if not set(outputs) <= expected or expected - set(outputs) - set(ABSENT_WHEN_NOT_DEPLOYED):
        # the contract changed and this mapping did not follow
        raise RuntimeError(f"stack outputs {sorted(outputs)} differ from StackOutputs {sorted(expected)}")
    return outputs


def export_outputs(outputs: Mapping[str, Any]) -> None:
    """``pulumi.export`` each output (looked up at call time, so runners may wrap it)."""
    for name, value in outputs.items():
        pulumi.export(name, value)
