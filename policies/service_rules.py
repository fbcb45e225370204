"""Policies for the archive's other stateful services: AWS Backup vaults and plans, the
DynamoDB study index, KMS keys, SQS/SNS messaging and CloudTrail."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from pulumi_policy import (ReportViolation, ResourceValidationArgs, ResourceValidationPolicy,
                           StackValidationArgs, StackValidationPolicy)

if __package__:
    from .stackview import (AIR_GAPPED_VAULT, BACKUP_VAULT, PRODUCTION_CONFIG, UNKNOWN, VAULT_LOCK, StackView, count,
                            elements, is_set, label, prop, region_of)
else:  # run by the Pulumi language host as `python policies/`
    from stackview import (AIR_GAPPED_VAULT, BACKUP_VAULT, PRODUCTION_CONFIG, UNKNOWN, VAULT_LOCK, StackView, count,
                           elements, is_set, label, prop, region_of)

Problems = Iterable[str]
MIN_CHANGEABLE_DAYS = 3        # Vault Lock's cooling-off floor; with it the lock becomes compliance mode
MAX_CONTINUOUS_DAYS = 35       # continuous (point-in-time) backups keep 1–35 days
BACKUP_PLAN = frozenset({"aws:backup/plan:Plan"})
TABLE = "aws:dynamodb/table:Table"
TABLE_REPLICA = "aws:dynamodb/tableReplica:TableReplica"


def resource_policy(name: str, description: str, types: frozenset[str],
                    check: Callable[[Mapping[str, Any], str], Problems]) -> ResourceValidationPolicy:
    """A resource policy that runs ``check(props, resource_type)`` on resources of ``types``."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in types:
            return
        for problem in check(args.props, args.resource_type):
            report_violation(f"{label(args)}: {problem}", None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate)


# ---------------------------------------------------------------- AWS Backup
def _vault_locks(view: StackView, vault: Any) -> Any:
    locks = view.attached(vault, VAULT_LOCK, field="backupVaultName", target_types=BACKUP_VAULT)
    if not locks and view.unresolved(VAULT_LOCK, "backupVaultName", BACKUP_VAULT):
        return UNKNOWN
    return locks


def validate_vault_lock(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    view = StackView(args.resources, args.get_config())
    for vault in view.of_type(BACKUP_VAULT):
        locks = _vault_locks(view, vault)
        if locks is UNKNOWN:
            continue
        if not locks:
            report_violation(f"backup vault '{vault.name}': no VaultLockConfiguration refers to it", vault.urn)
        for lock in locks:
            low, high = count(prop(lock.props, "minRetentionDays")), count(prop(lock.props, "maxRetentionDays"))
            changeable = count(prop(lock.props, "changeableForDays"))
            problems = []
            if low is None or (low is not UNKNOWN and low < 1):
                problems.append("minRetentionDays is not set to a positive number of days")
            if isinstance(low, int) and isinstance(high, int) and high < low:
                problems.append(f"maxRetentionDays {high} is below minRetentionDays {low}")
            too_short = changeable is None or (changeable is not UNKNOWN and changeable < MIN_CHANGEABLE_DAYS)
            if view.production and too_short:
                problems.append(
                    f"changeableForDays is {changeable!r}; production stacks need >= {MIN_CHANGEABLE_DAYS} so the "
                    "lock becomes compliance mode (without it the lock stays governance and can be removed)")
            elif isinstance(changeable, int) and changeable < MIN_CHANGEABLE_DAYS:
                problems.append(f"changeableForDays {changeable} is below the minimum {MIN_CHANGEABLE_DAYS}")
            for problem in problems:
                report_violation(f"backup vault '{vault.name}' ({label(lock)}): {problem}", vault.urn)


def validate_plan_retention(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Recovery points must fit the target vault's lock, or AWS Backup fails the job."""
    view = StackView(args.resources, args.get_config())
    for plan in view.of_type(BACKUP_PLAN):
        for index, rule in enumerate(elements(plan.props, "rules")):
            if rule is UNKNOWN:
                continue
            keep = count(prop(rule, "lifecycle", "deleteAfter"))
            where = f"backup plan '{plan.name}' rule {prop(rule, 'ruleName', default=index)!r}"
            if keep is None:
                report_violation(f"{where}: lifecycle.deleteAfter is not set (recovery points would never expire "
                                 "and no minimum retention is declared)", plan.urn)
                continue
            if keep is UNKNOWN:
                continue
            if prop(rule, "enableContinuousBackup") is True and keep > MAX_CONTINUOUS_DAYS:
                report_violation(f"{where}: continuous backups keep at most {MAX_CONTINUOUS_DAYS} days, "
                                 f"deleteAfter is {keep}", plan.urn)
            vault = view.referenced(plan, "rules", value=prop(rule, "targetVaultName"), types=BACKUP_VAULT)
            locks = _vault_locks(view, vault) if vault not in (None, UNKNOWN) else []
            for lock in locks if locks is not UNKNOWN else []:
                low, high = count(prop(lock.props, "minRetentionDays")), count(prop(lock.props, "maxRetentionDays"))
                if isinstance(low, int) and keep < low:
                    report_violation(f"{where}: deleteAfter {keep} is below vault '{vault.name}' "
                                     f"minRetentionDays {low}", plan.urn)
                if isinstance(high, int) and keep > high:
                    report_violation(f"{where}: deleteAfter {keep} is above vault '{vault.name}' "
                                     f"maxRetentionDays {high}", plan.urn)


def validate_cross_region_copy(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    view = StackView(args.resources, args.get_config())
    if not view.production:
        args.not_applicable("cross-region backup copies are required on production stacks only")
    for plan in view.of_type(BACKUP_PLAN):
        copies = [c for rule in elements(plan.props, "rules") if rule is not UNKNOWN
                  for c in elements(rule, "copyActions")]
        if any(c is UNKNOWN for c in copies):
            continue
        ok = False
        for copy in copies:
            target = view.referenced(plan, "rules", value=prop(copy, "destinationVaultArn"),
                                     types=BACKUP_VAULT | AIR_GAPPED_VAULT)
            if target is UNKNOWN or (target is None and is_set(prop(copy, "destinationVaultArn"))):
                ok = True          # not decidable here, or a vault outside this stack
            elif target is not None:
                here, there = region_of(plan), region_of(target)
                ok = ok or not (here and there and here == there)
        if not ok:
            report_violation(f"backup plan '{plan.name}': no rule copies recovery points to a vault in "
                             "another region (copyActions)", plan.urn)


def check_vault_cmk(props: Mapping[str, Any], _type: str) -> Problems:
    if not is_set(prop(props, "kmsKeyArn")):
        yield "kmsKeyArn is not set; recovery points would use the AWS-managed key, not a customer-managed key"


# ---------------------------------------------------------------- DynamoDB study index
def check_table(props: Mapping[str, Any], resource_type: str) -> Problems:
    if resource_type == TABLE_REPLICA:
        if prop(props, "pointInTimeRecovery") not in (True, UNKNOWN):
            yield "pointInTimeRecovery is not enabled on the replica (CKV_AWS_28)"
        return
    if prop(props, "pointInTimeRecovery", "enabled") not in (True, UNKNOWN):
        yield "pointInTimeRecovery.enabled is not true (CKV_AWS_28)"
    sse = prop(props, "serverSideEncryption")
    if prop(sse, "enabled") not in (True, UNKNOWN) or not is_set(prop(sse, "kmsKeyArn")):
        yield "serverSideEncryption needs enabled = true and a customer-managed kmsKeyArn (CKV_AWS_119)"
    for replica in elements(props, "replicas"):
        if replica is UNKNOWN:
            continue
        region = prop(replica, "regionName", default="?")
        if prop(replica, "pointInTimeRecovery") not in (True, UNKNOWN):
            yield f"replica in {region} has pointInTimeRecovery off (replicas do not inherit it)"
        if is_set(prop(sse, "kmsKeyArn")) and not is_set(prop(replica, "kmsKeyArn")):
            yield f"replica in {region} has no kmsKeyArn (a customer-managed key needs one per region)"


# ---------------------------------------------------------------- KMS, SQS, SNS, CloudTrail
def check_key_rotation(props: Mapping[str, Any], _type: str) -> Problems:
    spec = prop(props, "customerMasterKeySpec", default="SYMMETRIC_DEFAULT") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT" or prop(props, "keyUsage", default="ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
        return                                  # only symmetric encryption keys can rotate
    if prop(props, "enableKeyRotation") not in (True, UNKNOWN):
        yield "enableKeyRotation is not true (CKV_AWS_7)"


def check_queue(props: Mapping[str, Any], _type: str) -> Problems:
    if not is_set(prop(props, "kmsMasterKeyId")) and prop(props, "sqsManagedSseEnabled") not in (True, UNKNOWN):
        yield "neither kmsMasterKeyId nor sqsManagedSseEnabled is set (CKV_AWS_27)"


def check_topic(props: Mapping[str, Any], _type: str) -> Problems:
    if not is_set(prop(props, "kmsMasterKeyId")):
        yield "kmsMasterKeyId is not set (CKV_AWS_26)"


def _logs_s3_objects(props: Mapping[str, Any]) -> bool:
    for selector in elements(props, "eventSelectors"):
        if any(prop(r, "type") in ("AWS::S3::Object", UNKNOWN) for r in elements(selector, "dataResources")):
            return True
    for selector in elements(props, "advancedEventSelectors"):
        for field in elements(selector, "fieldSelectors"):
            if prop(field, "field") == "resources.type" and "AWS::S3::Object" in elements(field, "equals"):
                return True
    return False


def check_trail(props: Mapping[str, Any], _type: str) -> Problems:
    if prop(props, "enableLogFileValidation") not in (True, UNKNOWN):
        yield "enableLogFileValidation is not true (CKV_AWS_36, CIS AWS 3.2)"
    if prop(props, "isMultiRegionTrail") not in (True, UNKNOWN):
        yield "isMultiRegionTrail is not true (CKV_AWS_67, CIS AWS 3.1)"
    if not is_set(prop(props, "kmsKeyId")):
        yield "kmsKeyId is not set (CKV_AWS_35, CIS AWS 3.5)"
    if not _logs_s3_objects(props):
        yield "no event selector logs S3 object-level data events (CIS AWS object-level logging for S3)"


POLICIES = [
    StackValidationPolicy(
        name="backup-vault-lock",
        description="Every AWS Backup vault has a Vault Lock with a minimum retention; production stacks set "
                    "changeableForDays >= 3 so the lock becomes compliance mode "
                    "(Backup Audit Manager BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK).",
        validate=validate_vault_lock, config_schema=PRODUCTION_CONFIG),
    StackValidationPolicy(
        name="backup-plan-retention",
        description="Backup plan rules expire recovery points within the target vault lock's min/max retention, "
                    "and continuous backups within 35 days (Backup Audit Manager "
                    "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK).",
        validate=validate_plan_retention),
    StackValidationPolicy(
        name="backup-plan-cross-region-copy",
        description="On production stacks every backup plan copies recovery points to a vault in another region "
                    "(Backup Audit Manager BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION).",
        validate=validate_cross_region_copy, config_schema=PRODUCTION_CONFIG),
    resource_policy(
        "backup-vault-kms",
        "Backup vaults encrypt recovery points with a customer-managed KMS key "
        "(Backup Audit Manager BACKUP_RECOVERY_POINT_ENCRYPTED).",
        BACKUP_VAULT, check_vault_cmk),
    resource_policy(
        "dynamodb-pitr-and-kms",
        "DynamoDB tables and their replicas have point-in-time recovery and customer-managed KMS encryption "
        "(checkov CKV_AWS_28, CKV_AWS_119).",
        frozenset({TABLE, TABLE_REPLICA}), check_table),
    resource_policy(
        "kms-key-rotation",
        "Symmetric KMS keys rotate automatically (checkov CKV_AWS_7, CIS AWS 3.6).",
        frozenset({"aws:kms/key:Key"}), check_key_rotation),
    resource_policy(
        "sqs-queue-encryption",
        "SQS queues are encrypted at rest (checkov CKV_AWS_27).",
        frozenset({"aws:sqs/queue:Queue"}), check_queue),
    resource_policy(
        "sns-topic-kms",
        "SNS topics are encrypted with KMS (checkov CKV_AWS_26).",
        frozenset({"aws:sns/topic:Topic"}), check_topic),
    resource_policy(
        "cloudtrail-integrity",
        "CloudTrail trails are multi-region, validate log files, encrypt with KMS and record S3 object-level "
        "events (checkov CKV_AWS_36, 67, 35; CIS AWS 3.1, 3.2, 3.5 and S3 object-level logging).",
        frozenset({"aws:cloudtrail/trail:Trail"}), check_trail),
]
