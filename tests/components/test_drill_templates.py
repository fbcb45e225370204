"""components/drill_templates.py: FIS pause-replication template, targeted by tag, guarded by alarms;
the ransomware drill's attacker roles."""

from __future__ import annotations

import shutil

import yaml

from components.drill_templates import (ATTACKER_BACKUP_ACTIONS, ATTACKER_BUCKET_ACTIONS, ATTACKER_OBJECT_ACTIONS,
                                        ATTACKER_TABLE_ACTIONS, BYPASS, DRILL_RUNNER_TAG, DRILL_TARGET_TAG,
                                        MAX_SESSION_SECONDS, PAUSE_REPLICATION)
from components.secure_bucket import PURPOSE_TAG
from drills.project import find_project
from tests.components.conftest import deploy

TEMPLATE = "aws:fis/experimentTemplate:ExperimentTemplate"


def template(d):
    (t,) = d.all(TEMPLATE)
    return t


def bucket(d, purpose: str):
    (b,) = [b for b in d.all("aws:s3/bucket:Bucket") if b.inputs["tags"][PURPOSE_TAG] == purpose]
    return b


def test_pause_replication_action_with_duration_and_dr_region(stack) -> None:
    t = template(stack)
    (action,) = t.inputs["actions"]
    assert action["actionId"] == PAUSE_REPLICATION == "aws:s3:bucket-pause-replication", t.urn
    params = {p["key"]: p["value"] for p in action["parameters"]}
    assert params["duration"] == f"PT{stack.config.drill.pause_minutes}M", t.urn
    assert params["region"] == stack.config.dr_region, t.urn
    assert params["destinationBuckets"] == bucket(stack, "replica").name, t.urn
    assert stack.region(t) == stack.config.primary_region, t.urn


def test_target_tag_selects_exactly_this_stacks_archive(stack) -> None:
    t = template(stack)
    (target,) = t.inputs["targets"]
    assert target["resourceType"] == "aws:s3:bucket", t.urn
    (tag,) = target["resourceTags"]
    matching = [b for b in stack.all("aws:s3/bucket:Bucket") if b.inputs["tags"].get(tag["key"]) == tag["value"]]
    assert tag["key"] == DRILL_TARGET_TAG and matching == [bucket(stack, "archive")], t.urn
    assert t.inputs["actions"][0]["target"] == {"key": "Buckets", "value": target["name"]}, t.urn


def test_experiment_fails_rather_than_skips_when_no_target_resolves(stack) -> None:
    assert template(stack).inputs["experimentOptions"] == {"emptyTargetResolutionMode": "fail"}


def test_stop_conditions_are_the_replication_failure_alarms(stack) -> None:
    t = template(stack)
    failed = {a.outputs["arn"] for a in stack.all("aws:cloudwatch/metricAlarm:MetricAlarm")
              if a.inputs["metricName"] == "OperationsFailedReplication"}
    assert failed and {s["value"] for s in t.inputs["stopConditions"]} == failed, t.urn
    assert {s["source"] for s in t.inputs["stopConditions"]} == {"aws:cloudwatch:alarm"}, t.urn


def test_role_may_pause_only_this_replication(stack) -> None:
    t = template(stack)
    role = next(r for r in stack.all("aws:iam/role:Role") if r.outputs["arn"] == t.inputs["roleArn"])
    assert role.policy("assumeRolePolicy")["Statement"][0]["Principal"] == {"Service": "fis.amazonaws.com"}
    (policy,) = [p for p in stack.all("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == f"{role.name}-id"]
    s = {st["Sid"]: st for st in policy.policy()["Statement"]}
    assert s["PauseDestination"] == {"Sid": "PauseDestination", "Effect": "Allow", "Action": ["s3:PauseReplication"],
                                     "Resource": f"arn:aws:s3:::{bucket(stack, 'replica').name}"}
    assert s["SourceReplicationConfig"]["Resource"] == f"arn:aws:s3:::{bucket(stack, 'archive').name}"
    assert policy.urn in t.dependencies, t.urn


# ------------------------------------------------------------------ the ransomware drill's attacker roles
# IAM: a role's MaxSessionDuration is 3600-43200 seconds
# (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html); aws:PrincipalArn and
# sts:RoleSessionName in trust policies (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html);
# bypassing GOVERNANCE needs s3:BypassGovernanceRetention
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-bypass).


def attacker(d, suffix: str = ""):
    role = d.one("aws:iam/role:Role", f"drkit-{d.stack}-drills-attacker{suffix}")
    (policy,) = [p for p in d.all("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == f"{role.name}-id"]
    return role, {st["Sid"]: st for st in policy.policy()["Statement"]}


def test_attacker_roles_hold_broad_destructive_rights_on_this_stack_only(stack) -> None:
    archive, replica = bucket(stack, "archive"), bucket(stack, "replica")
    role, s = attacker(stack)
    objects = s["DestroyArchiveObjects"]
    assert set(objects["Action"]) == set(ATTACKER_OBJECT_ACTIONS) and BYPASS not in objects["Action"], role.urn
    assert {"s3:DeleteObjectVersion", "s3:PutObjectRetention"} <= set(objects["Action"])
    assert objects["Resource"] == [f"arn:aws:s3:::{archive.name}/*", f"arn:aws:s3:::{replica.name}/*"], role.urn
    assert set(s["WeakenArchiveBuckets"]["Action"]) == set(ATTACKER_BUCKET_ACTIONS) >= {
        "s3:PutBucketObjectLockConfiguration", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
        "s3:PutBucketVersioning", "s3:PutReplicationConfiguration"}
    assert s["WeakenArchiveBuckets"]["Resource"] == [f"arn:aws:s3:::{archive.name}", f"arn:aws:s3:::{replica.name}"]
    vaults = {v.outputs["arn"] for v in stack.all("aws:backup/vault:Vault")}
    assert {"backup:DeleteRecoveryPoint", "backup:DeleteBackupVault"} <= set(s["DestroyBackups"]["Action"])
    assert vaults <= set(s["DestroyBackups"]["Resource"]) and "*" not in s["DestroyBackups"]["Resource"]
    tables = stack.all("aws:dynamodb/table:Table")
    assert len(tables) == 2    # the index and the SOP Instance UID claims: both within the attacker's reach
    for table in tables:
        assert "dynamodb:DeleteTable" in s["DropIndex"]["Action"] and table.outputs["arn"] in s["DropIndex"]["Resource"]
    assert set(s["DropIndex"]["Action"]) == set(ATTACKER_TABLE_ACTIONS)
    assert s["WriteThroughS3"]["Action"] == ["kms:GenerateDataKey"]
    assert s["WriteThroughS3"]["Resource"] == [stack.key_arn("data"), stack.key_arn("data", dr=True)]
    assert "kms:ViaService" in s["WriteThroughS3"]["Condition"]["StringEquals"]
    assert set(ATTACKER_BACKUP_ACTIONS) == set(s["DestroyBackups"]["Action"])


def test_attacker_roles_never_read_studies(stack) -> None:
    for suffix in ("", "-bypass"):
        role, s = attacker(stack, suffix)
        deny = s["NeverReadStudies"]
        assert deny["Effect"] == "Deny" and deny["Resource"] == "*", role.urn
        assert {"s3:GetObject", "s3:GetObjectVersion", "dynamodb:Query", "dynamodb:Scan", "kms:Decrypt"} <= set(
            deny["Action"]), role.urn


def test_only_the_bypass_role_holds_bypass_governance_retention(stack) -> None:
    _, plain = attacker(stack)
    role, bypass = attacker(stack, "-bypass")
    assert BYPASS in bypass["DestroyArchiveObjects"]["Action"], role.urn
    assert set(bypass["DestroyArchiveObjects"]["Action"]) - set(plain["DestroyArchiveObjects"]["Action"]) == {BYPASS}
    assert not any(BYPASS in st["Action"] for st in plain.values())


def test_attacker_roles_trust_only_named_principals_of_this_account_for_short_sessions(stack) -> None:
    trusted = stack.config.drill.attacker.trusted_principal_arns
    for suffix in ("", "-bypass"):
        role, _ = attacker(stack, suffix)
        assert role.inputs["maxSessionDuration"] == MAX_SESSION_SECONDS == 3600, role.urn
        (st,) = role.policy("assumeRolePolicy")["Statement"]
        assert st["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"} and st["Action"] == "sts:AssumeRole"
        assert st["Condition"]["StringLike"] == {"sts:RoleSessionName": "drkit-*"}, role.urn
        if trusted:                                   # prod: the drills role only
            assert st["Condition"]["ArnEquals"] == {"aws:PrincipalArn": list(trusted)}, role.urn
        else:                                         # dev names none: principals tagged as the drill runner
            assert st["Condition"]["StringEquals"] == {f"aws:PrincipalTag/{DRILL_RUNNER_TAG}": f"drkit-{stack.stack}"}
    if stack.stack == "prod":
        assert trusted == ("arn:aws:iam::123456789012:role/drkit-prod-drills",)


def test_the_outputs_name_the_attacker_roles(stack) -> None:
    assert stack.outputs["attackerRoleArn"] == attacker(stack)[0].outputs["arn"]
    assert stack.outputs["attackerBypassRoleArn"] == attacker(stack, "-bypass")[0].outputs["arn"]


def test_production_without_the_key_deploys_no_attacker_role(project, tmp_path) -> None:
    """Production's default (drkit:drill.attacker absent): no standing destructive role, no outputs,
    and the archive's retention allow-list is root and break-glass only."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(project.root / name, tmp_path / name)
    (tmp_path / "stacks").mkdir()
    document = yaml.safe_load((project.root / "stacks" / "Pulumi.prod.yaml").read_text())
    del document["config"]["drkit:drill"]["attacker"]
    (tmp_path / "stacks" / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document))
    d = deploy(find_project(project_dir=tmp_path), "prod")
    assert not [r for r in d.all("aws:iam/role:Role") if "attacker" in r.name]
    assert "attackerRoleArn" not in d.outputs and "attackerBypassRoleArn" not in d.outputs
    archive = bucket(d, "archive")
    policy = d.for_bucket("aws:s3/bucketPolicy:BucketPolicy", archive).policy()
    (retention,) = [st for st in policy["Statement"] if st["Sid"] == "DenyRetentionChangesExceptBreakGlass"]
    assert set(retention["Condition"]["ArnNotLike"]["aws:PrincipalArn"]) == {
        "arn:aws:iam::123456789012:root", d.config.security.break_glass_role_arn}
