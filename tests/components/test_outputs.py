"""components/outputs.py: the exported outputs are exactly drills.contracts.StackOutputs and
name the resources the program registered."""

from __future__ import annotations

from dataclasses import fields

from components.secure_bucket import PURPOSE_TAG
from drills.contracts import OUTPUTS_SCHEMA_VERSION, StackOutputs


def bucket(d, purpose: str):
    (b,) = [b for b in d.all("aws:s3/bucket:Bucket") if b.inputs["tags"][PURPOSE_TAG] == purpose]
    return b


def test_outputs_parse_as_stack_outputs(any_stack) -> None:
    parsed = StackOutputs.from_mapping(any_stack.outputs, source=f"stack {any_stack.stack}")
    assert set(any_stack.outputs) == {f.name for f in fields(StackOutputs)}
    assert parsed.schemaVersion == OUTPUTS_SCHEMA_VERSION == 2
    (secret,) = any_stack.all("aws:secretsmanager/secret:Secret")
    assert parsed.hashKeySecretArn == secret.outputs["arn"], "outputs name the stack's own hash-key secret"


def test_outputs_name_the_registered_resources(any_stack) -> None:
    d, out = any_stack, any_stack.outputs
    assert (out["primaryRegion"], out["drRegion"]) == (d.config.primary_region, d.config.dr_region)
    for key, purpose in (("archiveBucket", "archive"), ("replicaBucket", "replica"),
                         ("landingBucket", "landing"), ("evidenceBucket", "evidence")):
        assert out[key] == bucket(d, purpose).outputs["bucket"], key
    tables = {t.inputs["hashKey"]: t for t in d.all("aws:dynamodb/table:Table")}
    assert out["indexTable"] == tables["StudyInstanceUID"].outputs["name"]
    assert out["claimsTable"] == tables["SOPInstanceUID"].outputs["name"]
    vaults = {d.region(v): v.outputs["name"] for v in d.all("aws:backup/vault:Vault")}
    assert out["backupVault"] == vaults[d.config.primary_region]
    assert out["drBackupVault"] == vaults[d.config.dr_region]
    (mrap,) = d.all("aws:s3control/multiRegionAccessPoint:MultiRegionAccessPoint")
    assert out["multiRegionAccessPoint"] == mrap.outputs["arn"]


def test_objectives_come_from_config(any_stack) -> None:
    o = any_stack.config.objectives
    assert any_stack.outputs["objectives"] == {"rpoMinutes": o.rpoMinutes, "rtoMinutes": o.rtoMinutes,
                                               "restoreHours": o.restoreHours}
