"""`drkit up` of a stack upgraded from a version without SOP Instance UID claims: the deploy
fills the claims (drills.cli.up ``_upgrade_claims`` → drills.ingest.claims_backfill).

AWS: Scan ``Limit`` (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html),
conditional PutItem (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.cli.up import _upgrade_claims
from drills.cloud.server import EmbeddedCloud
from drills.contracts import StackOutputs
from drills.errors import InfraError
from tests.helpers.projects import MINI_PROGRAM, write_project


CLAIMS_PROGRAM = MINI_PROGRAM.replace(
    'table = aws.dynamodb.Table("index", attributes=[{"name": "k", "type": "S"}], hash_key="k",',
    'table = aws.dynamodb.Table("index", attributes=[{"name": "StudyInstanceUID", "type": "S"}, '
    '{"name": "SeriesSop", "type": "S"}], hash_key="StudyInstanceUID", range_key="SeriesSop",'
) + '''
claims = aws.dynamodb.Table("claims", attributes=[{"name": "SOPInstanceUID", "type": "S"}], hash_key="SOPInstanceUID",
                            billing_mode="PAY_PER_REQUEST", opts=primary)
pulumi.export("claimsTable", claims.name)
'''


def test_up_of_an_upgraded_stack_backfills_its_claims(drkit, tmp_path: Path, cloud: EmbeddedCloud) -> None:
    """An index with items beside a claims table without its completeness marker (a stack
    upgraded from a version without claims): `up` runs the backfill and says so; once marked,
    a later `up` leaves it alone."""
    project = write_project(tmp_path / "proj", CLAIMS_PROGRAM)
    target = tmp_path / "o.json"
    args = ("up", "--stack", "dev", "--project-dir", str(project), "--endpoint", cloud.endpoint,
            "--outputs", str(target), "--json")
    code, out, err = drkit(*args)
    assert code == 0, err
    assert "claimsBackfill" not in json.loads(out) and "claims backfill" not in err      # empty index: nothing to do
    outputs = StackOutputs.load(target)
    ddb = cloud.target.client("dynamodb", "us-east-1")
    ddb.put_item(TableName=outputs.indexTable, Item={"StudyInstanceUID": {"S": "1.2"}, "SeriesSop": {"S": "1.3/1.4"},
                                                     "SOPInstanceUID": {"S": "1.4"}})
    code, out, err = drkit(*args)
    assert code == 0, err
    assert "running `drkit claims backfill`" in err
    backfilled = json.loads(out)["claimsBackfill"]
    assert (backfilled["index_items"], backfilled["claimed"], backfilled["marker"]) == (1, 1, "written")
    claim = ddb.get_item(TableName=outputs.claimsTable, Key={"SOPInstanceUID": {"S": "1.4"}})["Item"]
    assert claim["StudyInstanceUID"]["S"] == "1.2" and claim["SeriesSop"]["S"] == "1.3/1.4"
    marker = ddb.get_item(TableName=outputs.claimsTable, Key={"SOPInstanceUID": {"S": "drkit:claims-complete"}})
    assert marker["Item"]["WrittenBy"]["S"] == "drkit claims backfill"
    assert _upgrade_claims(cloud.target, outputs) is None        # marked: a later `up` leaves it alone


def test_a_failed_backfill_says_the_deploy_succeeded_and_how_to_finish(tmp_path: Path, cloud: EmbeddedCloud) -> None:
    """The claims table the outputs name is gone (GetItem answers ResourceNotFoundException,
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GetItem.html#API_GetItem_Errors):
    an InfraError (exit 3) that says the deploy succeeded and names the command to finish with."""
    outputs = StackOutputs.from_mapping({
        "schemaVersion": 1, "primaryRegion": "us-east-1", "drRegion": "us-west-2", "archiveBucket": "a",
        "replicaBucket": "r", "landingBucket": "l", "indexTable": "index", "backupVault": "v", "drBackupVault": "dv",
        "evidenceBucket": "e", "multiRegionAccessPoint": "m", "claimsTable": "no-such-claims-table",
        "objectives": {"rpoMinutes": 15, "rtoMinutes": 60, "restoreHours": 12}})
    with pytest.raises(InfraError) as caught:
        _upgrade_claims(cloud.target, outputs, tmp_path / "o.json")
    assert caught.value.message.startswith("the stack is deployed and its outputs written")
    assert "ResourceNotFoundException" in caught.value.message and caught.value.exit_code == 3
    assert f"drkit claims backfill --endpoint {cloud.endpoint} --outputs {tmp_path / 'o.json'}" in caught.value.hint
