"""components/identities.py: break-glass and key-administrator roles (created when not
configured: MFA-only trust, no permissions) and Backup Audit Manager's service-linked role.

aws:MultiFactorAuthPresent in trust policies: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html
"""

from __future__ import annotations

IDENTITIES = "drkit:identities:Identities"


def made_roles(d):
    return {r.name: r for r in d.all("aws:iam/role:Role", under=IDENTITIES)}


def test_dev_creates_mfa_only_roles_without_permissions(dev) -> None:
    roles = made_roles(dev)
    assert set(roles) == {"drkit-dev-identities-break-glass", "drkit-dev-identities-key-admin"}
    for role in roles.values():
        (trust,) = role.policy("assumeRolePolicy")["Statement"]
        assert trust["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}, role.urn
        assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}, role.urn
        attached = [p for p in dev.all("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == f"{role.name}-id"]
        assert not attached, role.urn


def test_prod_uses_the_configured_break_glass_role(prod) -> None:
    assert set(made_roles(prod)) == {"drkit-prod-identities-key-admin"}
    (key_policy, *_) = prod.all("aws:kms/keyPolicy:KeyPolicy")
    assert prod.config.security.break_glass_role_arn in key_policy.inputs["policy"]


def test_backup_reports_role_can_be_left_to_the_account(deploy_config, stack_config) -> None:
    config = stack_config("dev")
    config["drkit:security"] = {"backupReportsRole": "existing"}
    d = deploy_config(config)
    assert not d.all("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    (policy,) = [p for p in d.all("aws:s3/bucketPolicy:BucketPolicy") if "BackupAuditReports" in p.inputs["policy"]]
    assert ("arn:aws:iam::123456789012:role/aws-service-role/reports.backup.amazonaws.com/"
            "AWSServiceRoleForBackupReports") in policy.inputs["policy"]
