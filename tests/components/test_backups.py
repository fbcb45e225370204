"""components/backups.py: locked vaults in both regions, continuous + daily plan with DR copy,
selections, restore testing, audit framework, report plan, vault notifications."""

from __future__ import annotations

import json

from components.secure_bucket import PURPOSE_TAG

VAULT = "aws:backup/vault:Vault"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
PLAN = "aws:backup/plan:Plan"
CONTROLS = {"BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK", "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK",
            "BACKUP_RECOVERY_POINT_ENCRYPTED", "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION",
            "BACKUP_LAST_RECOVERY_POINT_CREATED", "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK"}


def vaults(d):
    """{region: vault}: one in each region."""
    found = {d.region(v): v for v in d.all(VAULT)}
    assert set(found) == {d.config.primary_region, d.config.dr_region}, d.stack
    return found


def bucket(d, purpose: str):
    (b,) = [b for b in d.all("aws:s3/bucket:Bucket") if b.inputs["tags"][PURPOSE_TAG] == purpose]
    return b


def test_vaults_encrypted_with_their_regions_backup_key(stack) -> None:
    v = vaults(stack)
    assert v[stack.config.primary_region].inputs["kmsKeyArn"] == stack.key_arn("backup")
    assert v[stack.config.dr_region].inputs["kmsKeyArn"] == stack.key_arn("backup", dr=True)
    for vault in v.values():
        assert stack.parent(vault).type == "drkit:backups:ImmutableBackups", vault.urn


def test_prod_vault_lock_is_compliance_with_cooling_off(prod) -> None:
    locks = prod.all(LOCK)
    assert len(locks) == 2
    for lock in locks:
        assert lock.inputs["changeableForDays"] >= 3, lock.urn
        assert (lock.inputs["minRetentionDays"], lock.inputs["maxRetentionDays"]) == (7, 2555), lock.urn
        assert lock.protect, lock.urn


def test_dev_vault_lock_is_governance(dev) -> None:
    locks = dev.all(LOCK)
    assert len(locks) == 2
    for lock in locks:
        assert "changeableForDays" not in lock.inputs, f"{lock.urn}: governance mode has no changeable_for_days"


def test_locks_target_each_vault(stack) -> None:
    assert sorted(l.inputs["backupVaultName"] for l in stack.all(LOCK)) == sorted(v.name for v in stack.all(VAULT))


def test_air_gapped_vault_in_dr_only_when_configured(dev, prod) -> None:
    kind = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
    assert dev.all(kind) == []
    (lag,) = prod.all(kind)
    assert prod.region(lag) == prod.config.dr_region, lag.urn
    assert (lag.inputs["minRetentionDays"], lag.inputs["maxRetentionDays"]) == (7, 2555), lag.urn


def test_plan_has_continuous_rule_and_daily_rule_copying_to_dr(stack) -> None:
    (plan,) = stack.all(PLAN)
    b = stack.config.backups
    rules = {r["ruleName"]: r for r in plan.inputs["rules"]}
    continuous = rules["continuous"]
    assert continuous["enableContinuousBackup"] is True, plan.urn
    assert 1 <= continuous["lifecycle"]["deleteAfter"] <= 35, plan.urn
    assert continuous["lifecycle"]["deleteAfter"] == b.continuous_retention_days, plan.urn
    daily = rules["daily"]
    dr_vault = vaults(stack)[stack.config.dr_region]
    copies = {c["destinationVaultArn"]: c for c in daily["copyActions"]}
    assert dr_vault.outputs["arn"] in copies, plan.urn
    assert copies[dr_vault.outputs["arn"]]["lifecycle"]["deleteAfter"] == b.daily_retention_days
    assert b.min_retention_days <= daily["lifecycle"]["deleteAfter"] <= b.max_retention_days, plan.urn
    primary_vault = vaults(stack)[stack.config.primary_region]
    assert {r["targetVaultName"] for r in rules.values()} == {primary_vault.name}, plan.urn


def test_prod_daily_rule_also_copies_to_the_air_gapped_vault(prod) -> None:
    (plan,) = prod.all(PLAN)
    (lag,) = prod.all("aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault")
    daily = next(r for r in plan.inputs["rules"] if r["ruleName"] == "daily")
    assert lag.outputs["arn"] in {c["destinationVaultArn"] for c in daily["copyActions"]}


def test_selections_cover_archive_and_index_with_s3_backup_role(stack) -> None:
    """The SOP Instance UID claims table is not backed up: its claims derive from the index
    (one per UID; the index rebuild rebuilds them)."""
    selections = stack.all("aws:backup/selection:Selection")
    archive = bucket(stack, "archive")
    (table,) = [t for t in stack.all("aws:dynamodb/table:Table") if t.inputs["hashKey"] == "StudyInstanceUID"]
    assert sorted(r for s in selections for r in s.inputs["resources"]) == \
        sorted([f"arn:aws:s3:::{archive.name}", table.outputs["arn"]])
    (role_arn,) = {s.inputs["iamRoleArn"] for s in selections}
    role = next(r for r in stack.all("aws:iam/role:Role") if r.outputs["arn"] == role_arn)
    # No AWS managed policies: those grant iam:PassRole on every role and read/write on every bucket.
    assert not [a for a in stack.all("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.inputs["role"] in (role.outputs["name"], f"{role.name}-id")], role.urn
    (policy,) = [p for p in stack.all("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == f"{role.name}-id"]
    statements = policy.policy()["Statement"]
    actions = {a for st in statements for a in st["Action"]}
    assert "iam:PassRole" not in actions and not any(a.endswith(":*") or a == "*" for a in actions), policy.urn
    s3_resources = {r for st in statements if any(a.startswith("s3:") for a in st["Action"]) and st["Resource"] != "*"
                    for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])}
    assert all(r.startswith((f"arn:aws:s3:::{archive.name}", f"arn:aws:s3:::drkit-{stack.stack}-backups-restore-"))
               for r in s3_resources), s3_resources
    star = [st for st in statements if st["Resource"] == "*"]
    assert {a for st in star for a in st["Action"]} <= {"s3:ListAllMyBuckets", "tag:GetResources",
                                                        "events:ListRules", "cloudwatch:GetMetricData"}
    assert all("kms:ViaService" in json.dumps(st) for st in statements if any(a.startswith("kms:") for a in st["Action"]))
    trust = role.policy("assumeRolePolicy")["Statement"][0]
    assert trust["Principal"] == {"Service": "backup.amazonaws.com"}
    assert trust["Condition"]["StringEqualsIfExists"]["aws:SourceAccount"] == "123456789012", role.urn


def test_vault_access_policies_deny_destruction_except_backup_role(stack) -> None:
    """AWS Backup vault access policies: https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault-access-policy.html"""
    policies = stack.all("aws:backup/vaultPolicy:VaultPolicy")
    assert sorted(p.inputs["backupVaultName"] for p in policies) == sorted(v.outputs["name"] for v in
                                                                           vaults(stack).values())
    (role_arn,) = {s.inputs["iamRoleArn"] for s in stack.all("aws:backup/selection:Selection")}
    for p in policies:
        by_sid = {s["Sid"]: s for s in p.policy()["Statement"]}
        deny = by_sid["DenyRecoveryPointDestructionExceptBackupRole"]
        assert deny["Effect"] == "Deny" and deny["Principal"] == "*", p.urn
        assert {"backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle", "backup:DeleteBackupVault",
                "backup:DeleteBackupVaultLockConfiguration"} <= set(deny["Action"]), p.urn
        assert role_arn in deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"], p.urn
        assert not set(stack.config.security.operator_role_arns) & set(deny["Condition"]["ArnNotLike"][
            "aws:PrincipalArn"]), "operators may restore, never delete"
        restore = by_sid["DenyRestoreAndCopyExceptBackupRoleAndOperators"]
        assert set(restore["Action"]) == {"backup:StartRestoreJob", "backup:StartCopyJob"}, p.urn
        assert set(stack.config.security.operator_role_arns) <= set(restore["Condition"]["ArnNotLike"][
            "aws:PrincipalArn"]), p.urn
        assert by_sid["DenyAccessPolicyChangesExceptDeployRole"]["Action"] == "backup:PutBackupVaultAccessPolicy"
        assert p.protect == stack.config.protect, p.urn


def test_prod_copies_to_another_account_and_shares_the_air_gapped_vault(prod) -> None:
    (plan,) = prod.all(PLAN)
    daily = next(r for r in plan.inputs["rules"] if r["ruleName"] == "daily")
    assert prod.config.backups.cross_account_vault_arn in {c["destinationVaultArn"] for c in daily["copyActions"]}
    (share,) = prod.all("aws:ram/resourceShare:ResourceShare")
    assert share.inputs["allowExternalPrincipals"] is False, share.urn
    (assoc,) = prod.all("aws:ram/resourceAssociation:ResourceAssociation")
    (lag,) = prod.all("aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault")
    assert assoc.inputs["resourceArn"] == lag.outputs["arn"], assoc.urn
    assert [p.inputs["principal"] for p in prod.all("aws:ram/principalAssociation:PrincipalAssociation")] == \
        list(prod.config.backups.air_gapped_share_with)
    assert plan.protect and all(s.protect for s in prod.all("aws:backup/selection:Selection"))


def test_restore_testing_plan_and_selections(stack) -> None:
    (plan,) = stack.all("aws:backup/restoreTestingPlan:RestoreTestingPlan")
    assert plan.inputs["name"].replace("_", "").isalnum(), plan.urn
    selection = plan.inputs["recoveryPointSelection"]
    assert selection["includeVaults"] == [vaults(stack)[stack.config.primary_region].outputs["arn"]], plan.urn
    tests = stack.all("aws:backup/restoreTestingSelection:RestoreTestingSelection")
    assert sorted(t.inputs["protectedResourceType"] for t in tests) == ["DynamoDB", "S3"]
    for t in tests:
        assert t.inputs["restoreTestingPlanName"] == plan.inputs["name"], t.urn


def test_framework_has_the_audit_manager_controls(stack) -> None:
    (framework,) = stack.all("aws:backup/framework:Framework")
    controls = {c["name"]: c for c in framework.inputs["controls"]}
    assert set(controls) == CONTROLS, framework.urn
    params = {p["name"]: p["value"] for p in controls["BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION"]["inputParameters"]}
    assert params == {"crossRegionList": stack.config.dr_region}
    retention = {p["name"]: p["value"] for p in
                 controls["BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK"]["inputParameters"]}
    assert retention == {"requiredRetentionDays": str(stack.config.backups.min_retention_days)}


def test_report_plan_delivers_to_the_evidence_bucket(stack) -> None:
    (report,) = stack.all("aws:backup/reportPlan:ReportPlan")
    (framework,) = stack.all("aws:backup/framework:Framework")
    assert report.inputs["reportDeliveryChannel"]["s3BucketName"] == bucket(stack, "evidence").name, report.urn
    assert report.inputs["reportSetting"]["frameworkArns"] == [framework.outputs["arn"]], report.urn
    assert report.inputs["reportSetting"]["reportTemplate"] == "CONTROL_COMPLIANCE_REPORT", report.urn


def test_vault_notifications_go_to_the_alert_topic(stack) -> None:
    """Each vault notifies the alert topic of its own region (SNS topics and vault notifications are
    regional: https://docs.aws.amazon.com/aws-backup/latest/devguide/backup-notifications.html)."""
    notifications = stack.all("aws:backup/vaultNotifications:VaultNotifications")
    topics = {stack.region(t): t for t in stack.all("aws:sns/topic:Topic")}
    assert len(notifications) == 2
    for n in notifications:
        region = stack.region(n)
        assert n.inputs["snsTopicArn"] == topics[region].outputs["arn"], n.urn
        assert n.inputs["backupVaultName"] == vaults(stack)[region].name, n.urn
        assert {"COPY_JOB_FAILED", "S3_BACKUP_OBJECT_FAILED"} <= set(n.inputs["backupVaultEvents"]), n.urn


def test_vaults_protected_in_prod_only(dev, prod) -> None:
    assert all(v.protect and v.retain_on_delete for v in prod.all(VAULT))
    assert not any(v.protect for v in dev.all(VAULT))
