"""Keys: one KMS multi-Region key pair per blast radius, and the guarded policies on them.

Four purposes, so that losing or misusing one key does not reach every copy of the PHI:
``data`` (archive, replica, landing, inventories), ``backup`` (both backup vaults), ``audit``
(evidence bucket, CloudTrail and its bucket) and ``app`` (index, hash secret, queues, topics,
function environment and logs). Each purpose is a multi-Region primary (``mrk-…``) in the
primary region and its replica in the DR region, so the DR region decrypts locally even while
the primary region is down.

Key policies are attached by ``guard()`` once every role that uses a key exists
(``aws.kms.KeyPolicy``): a named key administrator without Decrypt; key use per role only
through the purpose's AWS services (``kms:ViaService``); and an explicit Deny of
ScheduleKeyDeletion, DisableKey, PutKeyPolicy and CreateGrant (except grants AWS services make
for their resources) to everyone but the break-glass role, which itself needs MFA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.base import Site, child_opts, policy_json
from components.identities import Principals

DELETION_WINDOW_DAYS = 30           # the longest waiting period KMS allows
ADMIN_ACTIONS = ("kms:Describe*", "kms:List*", "kms:Get*", "kms:EnableKey", "kms:EnableKeyRotation",
                 "kms:Update*", "kms:RevokeGrant", "kms:TagResource", "kms:UntagResource", "kms:CancelKeyDeletion",
                 "kms:RotateKeyOnDemand", "kms:CreateAlias", "kms:DeleteAlias", "kms:ReplicateKey",
                 "kms:UpdatePrimaryRegion")
USE_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")
DESTRUCTIVE_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DisableKeyRotation")
"""Denied to all but break-glass (with MFA); PutKeyPolicy also to the deploy role, CreateGrant to AWS services."""


class KeyPurpose(str, Enum):
    """What a key pair protects (one blast radius each)."""

    DATA = "data"
    BACKUP = "backup"
    AUDIT = "audit"
    APP = "app"


@dataclass
class KeyUse:
    """Who may use one purpose's keys, and how."""

    via_services: Sequence[str]
    """AWS services (``s3``, ``dynamodb`` …) the roles may use the key through (``kms:ViaService``)."""
    roles: list[pulumi.Input[str]] = field(default_factory=list)
    """Role ARNs allowed to encrypt/decrypt through those services, and to make grants for AWS resources."""
    service_principals: Sequence[str] = ()
    """Service principals encrypting into this key on behalf of this account (``aws:SourceAccount``);
    ``{region}`` is replaced by the key's region (``logs.{region}.amazonaws.com``)."""
    extra_statements: list[Any] = field(default_factory=list)
    """Further Allow statements (e.g. CloudTrail with its encryption context)."""


@dataclass
class KeysArgs:
    """Inputs of Keys."""

    primary: Site
    """Region of the multi-Region primary keys."""
    dr: Site
    """Region of the replica keys."""
    deletion_window_days: int = DELETION_WINDOW_DAYS
    """Waiting period before a scheduled key deletion takes effect."""
    keep: bool = False
    """Protect the keys and their policies, retain the keys on delete (production)."""


@dataclass
class KeyPair:
    """One purpose's multi-Region primary and its DR replica."""

    primary_key: aws.kms.Key
    replica_key: aws.kms.ReplicaKey
    primary_arn: pulumi.Output[str]
    replica_arn: pulumi.Output[str]


class Keys(pulumi.ComponentResource):
    """Four KMS multi-Region key pairs with aliases; ``guard()`` attaches their policies."""

    pairs: dict[KeyPurpose, KeyPair]

    def __init__(self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:keys:Keys", name, None, opts)
        self._name, self._args = name, args
        self.pairs = {}
        for purpose in KeyPurpose:
            # The data key keeps the original logical names: renaming it would replace the archive's key.
            base = name if purpose is KeyPurpose.DATA else f"{name}-{purpose.value}"
            primary = aws.kms.Key(
                base, description=f"drkit {name}: {purpose.value} (multi-Region primary)",
                multi_region=True, enable_key_rotation=True, deletion_window_in_days=args.deletion_window_days,
                opts=child_opts(self, args.primary, keep=args.keep))
            replica = aws.kms.ReplicaKey(
                f"{base}-replica", description=f"drkit {name}: {purpose.value} (DR replica)",
                primary_key_arn=primary.arn, deletion_window_in_days=args.deletion_window_days,
                opts=child_opts(self, args.dr, keep=args.keep))
            aws.kms.Alias(f"{base}-alias", name=f"alias/{base}", target_key_id=primary.key_id,
                          opts=child_opts(self, args.primary))
            aws.kms.Alias(f"{base}-replica-alias", name=f"alias/{base}", target_key_id=replica.key_id,
                          opts=child_opts(self, args.dr))
            self.pairs[purpose] = KeyPair(primary, replica, primary.arn, replica.arn)
        self.primary_arn = self.pairs[KeyPurpose.DATA].primary_arn
        self.replica_arn = self.pairs[KeyPurpose.DATA].replica_arn
        self.register_outputs({f"{p.value}KeyArn": pair.primary_arn for p, pair in self.pairs.items()})

    def guard(self, principals: Principals, uses: Mapping[KeyPurpose, KeyUse]) -> list[aws.kms.KeyPolicy]:
        """Attach the guarded key policy to every key (after the roles that use them exist)."""
        policies = []
        for purpose, pair in self.pairs.items():
            use = uses[purpose]
            for suffix, key, site in (("", pair.primary_key, self._args.primary),
                                      ("-replica", pair.replica_key, self._args.dr)):
                base = self._name if purpose is KeyPurpose.DATA else f"{self._name}-{purpose.value}"
                policies.append(aws.kms.KeyPolicy(
                    f"{base}{suffix}-policy", key_id=key.arn, policy=key_policy(principals, use, site.region),
                    opts=child_opts(self, site, keep=self._args.keep)))
        return policies


def key_policy(p: Principals, use: KeyUse, region: str) -> pulumi.Output[str]:
    """The guarded key policy of one key in ``region`` (see the module docstring)."""
    admins = [p.key_admin, *([p.deploy] if p.deploy is not None else [])]
    statements: list[Any] = [
        {"Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": admins},
         "Action": list(ADMIN_ACTIONS), "Resource": "*"},
        {"Sid": "BreakGlassWithMfa", "Effect": "Allow", "Principal": {"AWS": p.break_glass}, "Action": "kms:*",
         "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
    ]
    if p.deploy is not None:
        statements.append({"Sid": "DeployRoleManagesPolicy", "Effect": "Allow", "Principal": {"AWS": p.deploy},
                           "Action": ["kms:PutKeyPolicy", "kms:GetKeyPolicy"], "Resource": "*"})
    else:
        # Without a named deploy role (non-production default) the account's IAM keeps managing the
        # policy; the policy pack refuses this in production.
        statements.append({"Sid": "AccountManagesPolicyThroughIam", "Effect": "Allow",
                           "Principal": {"AWS": p.root}, "Action": ["kms:PutKeyPolicy", "kms:GetKeyPolicy",
                                                                     *ADMIN_ACTIONS], "Resource": "*"})
    via = [f"{service}.{region}.amazonaws.com" for service in use.via_services]
    if use.roles:
        statements += [
            {"Sid": "UseThroughServices", "Effect": "Allow", "Principal": {"AWS": list(use.roles)},
             "Action": list(USE_ACTIONS), "Resource": "*",
             "Condition": {"StringEquals": {"kms:ViaService": via, "kms:CallerAccount": p.account.account_id}}},
            {"Sid": "GrantsForAwsResources", "Effect": "Allow", "Principal": {"AWS": list(use.roles)},
             "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": "*",
             "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"},
                           "StringEquals": {"kms:ViaService": via}}},
        ]
    if use.service_principals:
        statements.append({"Sid": "ServicesEncryptForThisAccount", "Effect": "Allow",
                           "Principal": {"Service": [sp.format(region=region) for sp in use.service_principals]},
                           "Action": ["kms:GenerateDataKey*", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*",
                           "Condition": {"StringEquals": {"aws:SourceAccount": p.account.account_id}}})
    statements += list(use.extra_statements)
    statements += guard_statements(p)
    return policy_json(*statements)


def guard_statements(p: Principals) -> list[dict[str, Any]]:
    """The explicit Denies that keep a key from being destroyed, disabled, re-keyed or granted away."""
    break_glass = {"aws:PrincipalArn": p.break_glass}
    statements: list[dict[str, Any]] = [
        {"Sid": "DenyKeyDestructionExceptBreakGlass", "Effect": "Deny", "Principal": "*",
         "Action": list(DESTRUCTIVE_ACTIONS), "Resource": "*", "Condition": {"ArnNotEquals": break_glass}},
        {"Sid": "DenyGrantsExceptForAwsResources", "Effect": "Deny", "Principal": "*", "Action": "kms:CreateGrant",
         "Resource": "*", "Condition": {"ArnNotEquals": break_glass,
                                        "BoolIfExists": {"kms:GrantIsForAWSResource": "false"}}},
        {"Sid": "DenyBreakGlassWithoutMfa", "Effect": "Deny", "Principal": "*",
         "Action": [*DESTRUCTIVE_ACTIONS, "kms:PutKeyPolicy", "kms:CreateGrant"], "Resource": "*",
         "Condition": {"ArnEquals": break_glass, "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
    ]
    if p.organization_id:
        statements.append({"Sid": "DenyPrincipalsOutsideOrganization", "Effect": "Deny", "Principal": "*",
                           "Action": "kms:*", "Resource": "*",
                           "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": p.organization_id},
                                         "Bool": {"aws:PrincipalIsAWSService": "false"}}})
    if p.deploy is not None:
        statements.insert(1, {"Sid": "DenyPolicyChangesExceptDeployAndBreakGlass", "Effect": "Deny",
                              "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*",
                              "Condition": {"ArnNotEquals": {"aws:PrincipalArn": [p.break_glass, p.deploy]}}})
    return statements
