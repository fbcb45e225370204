"""`drkit up` of a stack upgraded from a version without SOP Instance UID claims: the deploy
fills the claims (drills.cli.up ``_upgrade_claims`` → drills.ingest.claims_backfill).

AWS: Scan ``Limit`` (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html),
conditional PutItem (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html)."""

from __future__ import annotations

import json
from pathlib import Path

from drills.cli.up import _upgrade_claims
from drills.cloud.server import EmbeddedCloud
from drills.contracts import StackOutputs
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
