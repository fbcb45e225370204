"""`drkit weaken`: every catalogued weakening applied to a fresh embedded stack must be caught by
the drill the catalogue names (exit 1 and a finding naming the weakened resource), or be
refused by AWS itself (prevented). One test per weakening.

AWS behaviour relied on, per weakening: replication rules and delete-marker replication
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-what-is-isnot-replicated.html),
S3 RTC (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html),
versioning of Object Lock buckets cannot be suspended
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html), Backup Vault Lock
governance mode can be removed (https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html),
DynamoDB PITR and global-table replicas, KMS key deletion
(https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html), lifecycle expiration
of current versions (https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-expire-general-considerations.html).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.cli import main
from drills.cli.weaken import try_weakening
from drills.engine.journal import load, verify_chain
from drills.engine.scenario import builtin_names
from drills.project import find_project
from drills.weakenings.catalogue import CATALOGUE
from drills.weakenings.drift import DRIFTS

REPO = Path(__file__).resolve().parents[3]
PREVENTED = {"replica-versioning-suspended": "InvalidBucketState"}   # the replica has Object Lock


def _main(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_the_catalogue_names_a_catching_drill_for_each_of_the_eleven(capsys) -> None:
    assert len(CATALOGUE) == 11 and len({w.name for w in CATALOGUE}) == 11
    for w in CATALOGUE:
        assert w.scenarios or w.rungs, w.name
        assert set(w.scenarios) <= set(builtin_names()), w.name
        assert w.drift is None or w.drift in DRIFTS, w.name
        assert w.stack or w.drift or w.overrides, f"{w.name} changes nothing"
    code, _, err = _main(["weaken", "--list"], capsys)
    assert code == 0 and all(w.name in err for w in CATALOGUE)


def test_an_unknown_weakening_is_exit_2_naming_it(capsys) -> None:
    code, _, err = _main(["weaken", "no-such-thing", "--project-dir", str(REPO)], capsys)
    assert code == 2 and "no-such-thing" in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("weakening", CATALOGUE, ids=lambda w: w.name)
def test_each_weakening_is_caught_by_its_drill(weakening, tmp_path) -> None:
    row = try_weakening(weakening, find_project(project_dir=REPO), "dev", tmp_path / "run")
    document = load(tmp_path / "run" / "journal.json")
    assert verify_chain(document) == [] and document["weakening"]["name"] == weakening.name
    if weakening.name in PREVENTED:
        assert row["outcome"] == "prevented" and row["applied"]["refused"] == PREVENTED[weakening.name]
        return
    assert row["outcome"] == "caught", row
    assert row["exit_code"] == 1 and row["findings_naming_resource"]
    assert row["resource"] and row["resource"] in json.dumps(document["findings"] + [
        f for r in (document.get("ladder") or {}).get("rungs", []) for f in r["findings"]])


@pytest.mark.slow
def test_drkit_weaken_writes_the_catch_rate_and_exits_0_when_all_are_caught(tmp_path, capsys) -> None:
    code, out, err = _main(["weaken", "pitr-off", "--project-dir", str(REPO), "--out", str(tmp_path), "--json"],
                           capsys)
    summary = json.loads(out)
    assert code == 0, err
    assert summary == json.loads((tmp_path / "weakenings.json").read_text())
    assert summary["catalogue_size"] == 11 and summary["tried"] == 1 and summary["caught"] == 1
    assert summary["catch_rate"] == 1.0 and summary["gap_names"] == []
    assert "catch rate 1/1" in err
