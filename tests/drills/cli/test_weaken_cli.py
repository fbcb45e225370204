"""`drkit weaken`: every catalogued weakening applied to a fresh embedded stack must be caught by
the drill the catalogue names (exit 1 and a finding naming the weakened resource), or be
refused by AWS itself (prevented). One test per weakening.

AWS behaviour relied on, per weakening: replication rules and delete-marker replication
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-what-is-isnot-replicated.html),
S3 RTC (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html),
versioning of Object Lock buckets cannot be suspended ("After you enable Object Lock on a bucket,
you can't disable Object Lock or suspend versioning for that bucket",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html; S3 answers
InvalidBucketState, "the request is not valid with the current state of the bucket",
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html),
AWS Backup restore testing selections
(https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing.html), Backup Vault Lock
governance mode can be removed (https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html),
DynamoDB PITR and global-table replicas, KMS key deletion
(https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html), lifecycle expiration
of current versions (https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-expire-general-considerations.html).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from drills.cli import main
from drills.cli.weaken import confirm_prevented, summarise, try_weakening
from drills.engine.journal import load, verify_chain
from drills.engine.model import RungResult, Status
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


def test_the_catalogue_names_a_catching_drill_for_each_of_the_twelve(capsys) -> None:
    assert len(CATALOGUE) == 12 and len({w.name for w in CATALOGUE}) == 12
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
        # evidence, not assumption: the refusal's error code, and rung 9 observing the replica intact
        assert row["outcome"] == "prevented" and row["applied"]["refused"] == PREVENTED[weakening.name]
        evidence = row["evidence"]
        assert evidence["refused"] == PREVENTED[weakening.name] and evidence["confirmed"] is True
        assert evidence["resource"] == row["resource"] and row["resource"].startswith("drkit-dev-replica-")
        assert evidence["observed"] == {"versioning": "Enabled", "object-lock": "Enabled"}
        events = {e["type"]: e["data"] for e in document["events"]}
        assert events["weakening-refused"]["refused"] == PREVENTED[weakening.name]
        assert events["weakening-prevention-checked"]["confirmed"] is True
        assert not row["findings_naming_resource"] and row["exit_code"] == 0
        return
    assert row["outcome"] == "caught", row
    assert row["exit_code"] == 1 and row["findings_naming_resource"]
    assert row["resource"] and row["resource"] in json.dumps(document["findings"] + [
        f for r in (document.get("ladder") or {}).get("rungs", []) for f in r["findings"]])


def test_a_refusal_counts_as_prevented_only_when_rung_9_confirms_the_resource_intact() -> None:
    weakening = next(w for w in CATALOGUE if w.name == "replica-versioning-suspended")
    rows = [{"check": "versioning", "resource": "replica", "observed": "Enabled"},
            {"check": "object-lock", "resource": "replica", "observed": "Enabled"}]
    intact = [RungResult(9, "configuration-in-force", Status.PASSED, {"checks": rows})]
    assert confirm_prevented(weakening, intact, "replica")["confirmed"] is True
    suspended = [RungResult(9, "configuration-in-force", Status.FAILED,
                            {"checks": [dict(rows[0], observed="Suspended"), rows[1]]})]
    assert confirm_prevented(weakening, suspended, "replica")["confirmed"] is False
    assert confirm_prevented(weakening, [], "replica")["confirmed"] is False          # rung 9 did not run
    assert confirm_prevented(weakening, intact, "another-bucket")["confirmed"] is False


def test_the_catch_rate_is_caught_over_applicable_and_prevented_is_not_caught() -> None:
    rows = [{"weakening": n, "catcher": "x", "outcome": o, "findings_naming_resource": []}
            for n, o in (("a", "caught"), ("b", "caught"), ("c", "prevented"), ("d", "gap"))]
    summary = summarise(rows)
    assert (summary["tried"], summary["applicable"], summary["caught"], summary["prevented"], summary["gaps"]) == \
        (4, 3, 2, 1, 1)
    assert summary["catch_rate"] == 2 / 3 and summary["catalogue_size"] == len(CATALOGUE)
    assert summary["gap_names"] == ["d"] and [r["outcome"] for r in summary["table"]] == [
        "caught", "caught", "prevented", "gap"]
    assert summarise([dict(rows[2])])["catch_rate"] is None                          # nothing applicable


@pytest.mark.slow
def test_drkit_weaken_writes_the_catch_rate_and_exits_0_when_all_are_caught(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("DRKIT_KEY_DIR", str(tmp_path / "keys"))
    out_dir = tmp_path / "out"
    code, out, err = _main(["weaken", "pitr-off", "--project-dir", str(REPO), "--out", str(out_dir), "--json"],
                           capsys)
    summary = json.loads(out)
    assert code == 0, err
    assert summary == json.loads((out_dir / "weakenings.json").read_text())
    assert summary["catalogue_size"] == 12 and summary["tried"] == summary["applicable"] == 1
    assert summary["caught"] == 1 and summary["prevented"] == 0
    assert summary["catch_rate"] == 1.0 and summary["gap_names"] == []
    assert summary["table"] == [{"weakening": "pitr-off", "caught_by": "ladder rung 9", "outcome": "caught",
                                 "findings": ["drift-point-in-time-recovery"]}]
    assert "catch rate 1/1 applicable" in err
    # the catalogue journal: the catch rate and the table, hash-chained, bound to the weakening's journal
    catalogue = load(out_dir / "catalogue" / "journal.json")
    assert verify_chain(catalogue) == [] and catalogue["weakenings"]["catch_rate"] == 1.0
    events = [e for e in catalogue["events"] if e["type"] in ("weakening-result", "catch-rate")]
    assert [e["type"] for e in events] == ["weakening-result", "catch-rate"]
    weakening_journal = (out_dir / "pitr-off" / "journal.json").read_bytes()
    assert events[0]["data"]["journal_sha256"] == hashlib.sha256(weakening_journal).hexdigest()
    assert events[1]["data"]["table"] == summary["table"] and catalogue["exit_code"] == 0
    # every run dir signed: drkit report verify accepts the folder, and names an edited catalogue
    code, _, err = _main(["report", "verify", str(out_dir)], capsys)
    assert code == 0 and "catalogue" in err and "pitr-off" in err, err
    edited = (out_dir / "catalogue" / "journal.json").read_text().replace('"catch_rate": 1.0', '"catch_rate": 0.5')
    (out_dir / "catalogue" / "journal.json").write_text(edited)
    code, _, err = _main(["report", "verify", str(out_dir)], capsys)
    assert code == 1 and "catalogue/journal.json: altered" in err
