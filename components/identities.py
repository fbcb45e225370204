"""Identities: the principals the stack's key, bucket, vault and secret policies name.

Roles come from ``drkit:security``. A break-glass or key-administrator role that is not
configured is created here — trusted by this account's principals only with MFA, with no
permissions attached — so every policy still names exactly one such role (and an empty role
grants nothing until the organisation attaches its own controls to it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_aws as aws

from components.base import Account, Site, child_opts, mfa_trust_policy
from components.config import SecurityConfig

BACKUP_REPORTS_SERVICE = "reports.backup.amazonaws.com"
BACKUP_REPORTS_ROLE = f"role/aws-service-role/{BACKUP_REPORTS_SERVICE}/AWSServiceRoleForBackupReports"


@dataclass
class Principals:
    """Resolved principal ARNs (Outputs or strings) for the policies of one platform."""

    account: Account
    root: pulumi.Output[str]
    """The account root: always on allow-lists, since root can delete any bucket policy anyway."""
    break_glass: pulumi.Input[str]
    key_admin: pulumi.Input[str]
    deploy: pulumi.Input[str] | None
    """The role that runs ``pulumi up``; None (non-production default) leaves configuration unguarded."""
    readers: Sequence[str] = ()
    operators: Sequence[str] = ()
    uploaders: Sequence[str] = ()
    backup_reports: pulumi.Input[str] | None = None
    organization_id: str | None = None

    def admins(self) -> list[pulumi.Input[str]]:
        """Root and break-glass: on every allow-list."""
        return [self.root, self.break_glass]

    def config_admins(self) -> list[pulumi.Input[str]]:
        """Who may change a resource's configuration: root, break-glass and the deploy role."""
        return [*self.admins(), *([self.deploy] if self.deploy is not None else [])]


@dataclass
class IdentitiesArgs:
    """Inputs of Identities."""

    site: Site
    """Region of the account lookups (IAM is global)."""
    settings: SecurityConfig
    """The ``drkit:security`` config."""


class Identities(pulumi.ComponentResource):
    """Break-glass and key-administrator roles (when not configured) and the Backup reports role."""

    principals: Principals

    def __init__(self, name: str, args: IdentitiesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:identities:Identities", name, None, opts)
        s, site = args.settings, args.site
        account = Account.of(site, self)
        self.break_glass_role = self.key_admin_role = None
        break_glass: pulumi.Input[str]
        if s.break_glass_role_arn:
            break_glass = s.break_glass_role_arn
        else:
            self.break_glass_role = aws.iam.Role(
                f"{name}-break-glass", assume_role_policy=mfa_trust_policy(account), max_session_duration=3600,
                description="drkit break-glass: the only principal keys, locked buckets and vaults let destroy "
                            "or re-key (MFA required); attach permissions only under incident procedure",
                opts=child_opts(self, site))
            break_glass = self.break_glass_role.arn
        if s.key_admin_role_arn:
            key_admin: pulumi.Input[str] = s.key_admin_role_arn
        else:
            self.key_admin_role = aws.iam.Role(
                f"{name}-key-admin", assume_role_policy=mfa_trust_policy(account), max_session_duration=3600,
                description="drkit key administrator: manages the KMS keys, cannot decrypt, delete or disable them",
                opts=child_opts(self, site))
            key_admin = self.key_admin_role.arn
        self.reports_role = None
        reports = pulumi.Output.format("arn:{0}:iam::{1}:{2}", account.partition, account.account_id,
                                       BACKUP_REPORTS_ROLE)
        if s.reports_role == "create":
            # Created here so bucket and key policies can name it directly (a principal ARN that
            # does not exist yet is refused by S3 and KMS).
            self.reports_role = aws.iam.ServiceLinkedRole(
                f"{name}-backup-reports", aws_service_name=BACKUP_REPORTS_SERVICE, opts=child_opts(self, site))
            reports = self.reports_role.arn
        self.principals = Principals(
            account=account, root=account.root_arn(), break_glass=break_glass, key_admin=key_admin,
            deploy=s.deploy_role_arn, readers=s.reader_role_arns, operators=s.operator_role_arns,
            uploaders=s.uploader_role_arns, backup_reports=reports, organization_id=s.organization_id)
        self.register_outputs({"breakGlassRoleArn": break_glass, "keyAdminRoleArn": key_admin})
