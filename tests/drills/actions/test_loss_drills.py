"""The ransomware, accidental-deletion, index-loss and backup-restore drills end to end on the embedded cloud.

AWS behaviour they rely on (and the simulation reproduces):
- Object Lock: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html — a locked
  version cannot be deleted or its retention shortened; GOVERNANCE yields to
  ``x-amz-bypass-governance-retention: true``; versioning of a lock bucket cannot be suspended.
- Delete markers: https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeleteMarker.html and
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-what-is-isnot-replicated.html —
  a simple delete adds a marker (replicated when delete-marker replication is on); a delete by
  version id is never replicated.
- AWS Backup restores into a new bucket/table:
  https://docs.aws.amazon.com/aws-backup/latest/devguide/restoring-s3.html; S3 backups skip
  GLACIER/DEEP_ARCHIVE objects: https://docs.aws.amazon.com/aws-backup/latest/devguide/s3-backups.html
- Glacier restore tiers and times: https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects-retrieval-options.html
- Backup Vault Lock: https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html —
  recovery points in a locked vault cannot be deleted before their minimum retention.
- The attacker is an STS session of the stack's attacker role
  (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html), evaluated by its identity
  policies and the bucket policy (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html);
  the governance bypass needs the header and ``s3:BypassGovernanceRetention``
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-bypass).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from drills.cli.run import run_drills
from drills.engine.journal import load, verify_chain
from drills.engine.scenario import parse, resolve
from drills.project import find_project

REPO = Path(__file__).resolve().parents[3]
SAMPLE = 4


def _run(tmp: Path, scenarios: list, stack: str = "dev") -> tuple[int, dict]:
    run_dir = tmp / "run"
    code = run_drills(scenarios, "20260101T000000Z-abcdef", run_dir, find_project(project_dir=REPO), stack, studies=4)
    document = load(run_dir / "journal.json")
    assert verify_chain(document) == []
    return code, {s["name"]: s for s in document["scenarios"]}


def _attempts(scenario: dict) -> dict[str, tuple[str, str | None, int]]:
    return {a["action"]: (a["outcome"], a["error_code"], a["count"]) for a in scenario["attempts"]}


def _activity(scenario: dict, name: str) -> dict:
    return next(a for a in scenario["method"] if a["name"] == name)


def _identity(scenario: dict) -> dict:
    return _activity(scenario, "attack")["output"]["identity"]


def _is_role(arn: str, stack: str, role: str) -> bool:
    """``arn`` names the stack's ``role`` (Pulumi auto-names it with a hex suffix)."""
    return re.search(rf":role/drkit-{stack}-drills-{role}-[0-9a-f]+$", arn) is not None


def _ransomware(attack: dict) -> object:
    doc = yaml.safe_load((REPO / "drills/scenarios/ransomware.yaml").read_text())
    next(s for s in doc["method"] if s["name"] == "attack")["arguments"].update(attack)
    return parse(yaml.safe_dump(doc), "ransomware-variant.yaml")


@pytest.fixture(scope="module")
def dev_run(tmp_path_factory) -> tuple[int, dict]:
    return _run(tmp_path_factory.mktemp("loss"), resolve(["ransomware", "accidental-deletion", "index-loss", "backup-restore"]))


@pytest.mark.slow
def test_on_the_dev_stack_nothing_destructive_succeeds_and_the_drills_exit_0(dev_run) -> None:
    code, scenarios = dev_run
    assert code == 0, {n: s["status"] for n, s in scenarios.items()}
    assert {s["status"] for s in scenarios.values()} == {"passed"}
    assert "2.25." not in json.dumps(scenarios)       # no DICOM UIDs in the journal


@pytest.mark.slow
def test_attacker_attempts_are_counted_exactly_with_their_error_codes(dev_run) -> None:
    _, scenarios = dev_run
    attempts = _attempts(scenarios["ransomware"])
    assert [a["action"] for a in scenarios["ransomware"]["attempts"]][:3] == [
        "delete-versions", "overwrite", "shorten-retention"]          # the order
    assert attempts["delete-versions"] == ("denied", "AccessDenied", SAMPLE)      # one version per drill copy
    assert attempts["overwrite"] == ("succeeded", None, SAMPLE)
    assert attempts["shorten-retention"] == ("denied", "AccessDenied", SAMPLE)
    assert attempts["suspend-versioning"] == ("denied", "InvalidBucketState", 1)
    # Block Public Access (components/secure_bucket.py) refuses the public policy; DeleteBucketPolicy succeeds
    # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html)
    assert attempts["loosen-bucket-policy"] == ("partial", "AccessDenied", 2)
    assert attempts["delete-replication"] == ("succeeded", None, 1)
    # two recovery points (archive, index) in each vault, made by the drill's own backup first
    assert attempts["delete-recovery-points"] == ("denied", "InvalidRequestException", 4)
    assert attempts["delete-vaults"] == ("denied", "InvalidRequestException", 2)
    assert attempts["drop-index"] == ("not_attempted", None, 0)                    # dev: no deletion protection
    identity = _identity(scenarios["ransomware"])                 # every attempt above, as the attacker role
    assert identity["kind"] == "assumed-role" and identity["role"] == "attacker" and identity["verified"]
    assert _is_role(identity["roleArn"], "dev", "attacker")
    assert identity["sessionArn"].endswith("/drkit-ransomware-20260101T000000Z-abcdef")
    findings = {f["code"]: f for f in scenarios["ransomware"]["findings"]}
    assert findings["index-deletion-unprotected"]["severity"] == "high"
    assert findings["attack-delete-replication-succeeded"]["resource"].startswith("drkit-dev-archive-")
    assert findings["attack-loosen-bucket-policy-succeeded"]["evidence"]["outcome"] == "partial"
    assert not any(f["severity"] == "critical" for f in findings.values())


@pytest.mark.slow
def test_ransomware_recovery_is_byte_identical_in_the_archive_and_the_replica(dev_run) -> None:
    _, scenarios = dev_run
    ransomware = scenarios["ransomware"]
    assert _activity(ransomware, "contain")["output"]["restored"] == ["policy", "replication"]
    recovered = _activity(ransomware, "recover")["output"]
    assert recovered["unrecoverable"] == 0 and recovered["intact"] == 0
    assert recovered["copied"] + recovered["get_put_fallback"] == SAMPLE
    verified = _activity(ransomware, "byte-identical")["output"]
    assert verified["byte_identical"] == verified["checked"] == 2 * SAMPLE     # primary and replica, hashed bytes
    assert ransomware["steady_state_after"][0]["status"] == "passed"


@pytest.mark.slow
def test_accidental_deletion_is_detected_replicated_and_undone_on_both_sides(dev_run) -> None:
    _, scenarios = dev_run
    deletion = scenarios["accidental-deletion"]
    deleted = _activity(deletion, "bulk-delete")["output"]
    assert deleted["studies"] == 2 and deleted["delete_markers"] == deleted["instances"] > 0
    detected = _activity(deletion, "detect")["output"]
    assert detected["studies_detected"] == 2
    assert detected["replica_hidden_instances"] == deleted["instances"]      # dev replicates delete markers
    removed = _activity(deletion, "recover")["output"]
    assert removed["removed_primary"] == removed["removed_replica"] == deleted["instances"]
    verified = _activity(deletion, "byte-identical")["output"]
    assert verified["byte_identical"] == 2 * deleted["instances"]
    measured = {m["name"]: m for m in deletion["measurements"]}
    assert measured["detection_time"]["simulated"] and measured["detection_time"]["value"] is not None
    assert measured["recovery_time"]["met"] is True and measured["recovery_time"]["objective"] == 3600


@pytest.mark.slow
def test_an_attacker_with_governance_bypass_fails_the_drill_naming_the_archive(tmp_path) -> None:
    code, scenarios = _run(tmp_path, [_ransomware({"bypassGovernance": True})])
    ransomware = scenarios["ransomware"]
    assert code == 1 and ransomware["status"] == "failed"
    assert _is_role(_identity(ransomware)["roleArn"], "dev", "attacker-bypass")
    attempts = _attempts(ransomware)
    assert attempts["delete-versions"] == ("succeeded", None, SAMPLE)
    # the known-good versions are gone by then: nothing left to shorten (404, not AccessDenied)
    outcome, code_, count = attempts["shorten-retention"]
    assert outcome == "denied" and count == SAMPLE and code_ in ("NoSuchVersion", "NoSuchKey", "404")
    finding = next(f for f in ransomware["findings"] if f["code"] == "attack-delete-versions-succeeded")
    assert finding["severity"] == "critical" and finding["resource"].startswith("drkit-dev-archive-")
    assert "as the attacker-bypass role" in finding["message"]
    recovered = _activity(ransomware, "recover")["output"]
    assert recovered["copied_from_replica"] == SAMPLE and recovered["unrecoverable"] == 0
    assert _activity(ransomware, "byte-identical")["status"] == "passed"


@pytest.mark.slow
def test_the_bypass_header_without_the_permission_loses_no_data_on_a_governance_stack(tmp_path) -> None:
    """dev is GOVERNANCE: the non-bypass attacker sends x-amz-bypass-governance-retention: true and
    is refused, as S3 refuses a caller without s3:BypassGovernanceRetention."""
    code, scenarios = _run(tmp_path, [_ransomware({"bypassGovernance": True, "attackerRole": "attacker"})])
    ransomware = scenarios["ransomware"]
    assert code == 0 and ransomware["status"] == "passed"
    assert _is_role(_identity(ransomware)["roleArn"], "dev", "attacker")
    attempts = _attempts(ransomware)
    assert attempts["delete-versions"] == ("denied", "AccessDenied", SAMPLE)
    assert attempts["shorten-retention"] == ("denied", "AccessDenied", SAMPLE)
    assert not any(f["code"] == "attack-delete-versions-succeeded" for f in ransomware["findings"])
    recovered = _activity(ransomware, "recover")["output"]
    assert recovered["copied_from_replica"] == 0 and recovered["unrecoverable"] == 0   # known-good versions kept


@pytest.mark.slow
def test_the_index_is_rebuilt_from_header_bytes_identically_from_primary_and_dr(dev_run) -> None:
    """Ranged GETs: https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (Range)."""
    _, scenarios = dev_run
    loss = scenarios["index-loss"]
    before = _activity(loss, "index-before")["output"]["items"]
    for source, rebuild, compare in (("primary", "rebuild-from-archive", "rebuilt-matches"),
                                     ("dr", "rebuild-from-dr-replica", "dr-rebuilt-matches")):
        built = _activity(loss, rebuild)["output"]
        assert built["items"] == before and built["unreadable"] == 0
        assert 0 < built["header_bytes"] <= built["object_bytes"]
        compared = _activity(loss, compare)["output"]
        assert compared["missing"] == compared["extra"] == 0 and compared["differing_fields"] == {}
        # the SOP Instance UID claims are rebuilt too, claim by claim as ingest wrote them
        assert built["claims"] == compared["claims_before"] == compared["claims_rebuilt"] == before
        assert built["sop_uids_reused"] == 0 and compared["claims_differing"] == 0
    assert _activity(loss, "rebuild-from-dr-replica")["output"]["bucket_region"] == "us-west-2"
    assert loss["rollbacks"][-1]["output"]["dropped"] == 4      # only the run's own tables: index and claims, twice
    ratios = [m for m in loss["measurements"] if m["name"] == "header_bytes_ratio"]
    assert len(ratios) == 2 and all(m["value"] is not None for m in ratios)


@pytest.mark.slow
def test_backups_restore_from_both_vaults_into_new_resources_and_match_the_manifest(dev_run) -> None:
    _, scenarios = dev_run
    drill = scenarios["backup-restore"]
    for name, region in (("restore-from-primary-vault", "us-east-1"), ("restore-from-dr-vault", "us-west-2")):
        out = _activity(drill, name)["output"]
        assert out["region"] == region
        assert out["restored_keys"] == out["expected_keys"] > 0
        assert out["missing_keys"] == out["size_mismatch"] == out["hash_mismatch"] == out["index_missing"] == 0
        assert out["hashed"] == SAMPLE and out["index_items"] > 0
    restores = [m for m in drill["measurements"] if m["name"] == "restore_time"
                and m["detail"]["source"] in ("primary", "dr")]
    assert len(restores) == 4 and all(m["met"] and m["objective"] == 4 * 3600 and m["simulated"] for m in restores)
    # the live archive was not written: same versions before and after; only the run's resources dropped
    before, after = drill["steady_state_before"][0]["output"], drill["steady_state_after"][0]["output"]
    assert before["source_versions"] == after["source_versions"]
    assert drill["rollbacks"][0]["output"]["dropped"] == 4
    coverage = _activity(drill, "backup-coverage")["output"]
    assert coverage["cold_objects"] == 0 and coverage["studies_not_protected_by_backup"] == 0


def _assert_restore_testing_plan_honoured(drill: dict, objective_s: float) -> None:
    """The stack's restore-testing plan ran on its schedule (virtual clock advanced to its next
    cron run), restored the latest recovery point within its selection window into new
    ``awsbackup-restore-test-…`` resources, which match the pre-drill manifest, got a SUCCESSFUL
    validation result, and were deleted after the validation window."""
    activity = _activity(drill, "restore-testing-plan")
    assert activity["status"] == "passed", activity["error"]
    (plan,) = activity["output"]["plans"]
    assert plan["protects"] == ["archive", "index"] and plan["schedule"] == "cron(0 6 ? * 1 *)"
    assert plan["stand_in_backup"]["archive"] == plan["stand_in_backup"]["index"] == "COMPLETED"
    jobs = {j["resource"]: j for j in plan["jobs"]}
    assert set(jobs) == {"archive", "index"}
    for job in jobs.values():
        assert job["status"] == "COMPLETED" and job["created_by_plan"]
        assert job["created"] >= plan["next_run"]            # started by the schedule, not by the drill
        assert job["recovery_point_in_window"] and job["latest_in_window"]
        assert job["created_resource"].startswith("awsbackup-restore-test-")
        assert job["validation"] == job["validation_posted"] == "SUCCESSFUL"
        assert job["deletion"] == {"status": "SUCCESSFUL", "resource_gone": True}
    archive = jobs["archive"]["verified"]
    assert archive["restored_keys"] == archive["expected_keys"] > 0 and archive["hashed"] == SAMPLE
    assert archive["missing_keys"] == archive["size_mismatch"] == archive["hash_mismatch"] == 0
    assert jobs["index"]["verified"]["index_items"] > 0 and jobs["index"]["verified"]["index_missing"] == 0
    timed = [m for m in drill["measurements"] if m["name"] == "restore_time"
             and m["detail"]["source"] == "restore-testing-plan"]
    assert {m["detail"]["resource"] for m in timed} == {"archive", "index"}
    assert all(m["met"] and m["objective"] == objective_s and m["simulated"] for m in timed)
    assert not [f for f in drill["findings"] if f["code"].startswith("restore-testing")]


@pytest.mark.slow
def test_the_stacks_restore_testing_plan_is_honoured_on_its_schedule(dev_run) -> None:
    """AWS Backup restore testing: https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing.html
    (schedule, start window, LATEST_WITHIN_WINDOW, ValidationWindowHours then deletion) and
    https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html
    (PutRestoreValidationResult)."""
    _, scenarios = dev_run
    _assert_restore_testing_plan_honoured(scenarios["backup-restore"], 4 * 3600)


@pytest.mark.slow
def test_cold_tiers_are_restored_timed_and_flagged_against_the_restore_objective(dev_run) -> None:
    _, scenarios = dev_run
    drill = scenarios["backup-restore"]
    cold = _activity(drill, "cold-tiers")["output"]["classes"]
    for cls, upper in (("GLACIER", 5.0), ("DEEP_ARCHIVE", 12.0)):
        assert cold[cls]["get_before_restore"] == "InvalidObjectState"
        assert cold[cls]["restored"] and cold[cls]["byte_identical"]
        assert 0 < cold[cls]["hours"] <= upper
    flagged = {f["evidence"]["class"] for f in drill["findings"] if f["code"] == "restore-tier-too-slow"}
    assert flagged == {"GLACIER", "DEEP_ARCHIVE"}          # dev: restoreHours 4 < 5 h and < 12 h (Standard)


@pytest.mark.slow
def test_the_four_drills_pass_on_the_prod_stack_where_the_index_cannot_be_dropped(tmp_path) -> None:
    """prod: COMPLIANCE Object Lock, deletion protection on the index
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithTables.Basics.html#WorkingWithTables.Basics.DeletionProtection)."""
    code, scenarios = _run(tmp_path, resolve(["ransomware", "accidental-deletion", "index-loss", "backup-restore"]),
                           stack="prod")
    assert code == 0, {n: s["status"] for n, s in scenarios.items()}
    attempts = _attempts(scenarios["ransomware"])
    assert attempts["drop-index"] == ("denied", "ValidationException", 1)
    # COMPLIANCE, and the attacker role counted exactly: Object Lock refuses the version deletes; the
    # archive's retention and configuration allow-lists (prod names a deploy role) refuse the rest
    assert _is_role(_identity(scenarios["ransomware"])["roleArn"], "prod", "attacker")
    assert attempts == {
        "delete-versions": ("denied", "AccessDenied", SAMPLE), "overwrite": ("succeeded", None, SAMPLE),
        "shorten-retention": ("denied", "AccessDenied", SAMPLE), "remove-lock-default": ("denied", "AccessDenied", 1),
        "loosen-bucket-policy": ("denied", "AccessDenied", 2), "suspend-versioning": ("denied", "AccessDenied", 1),
        "delete-replication": ("denied", "AccessDenied", 1),
        "delete-recovery-points": ("denied", "InvalidRequestException", 4),
        "delete-vaults": ("denied", "InvalidRequestException", 2), "drop-index": ("denied", "ValidationException", 1)}
    assert not any(f["code"] == "index-deletion-unprotected" for f in scenarios["ransomware"]["findings"])
    _assert_restore_testing_plan_honoured(scenarios["backup-restore"], 12 * 3600)
