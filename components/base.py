"""What every drkit component shares: sites (a region's provider), child options, policy JSON."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_aws as aws

POLICY_VERSION = "2012-10-17"


@dataclass(frozen=True)
class Site:
    """One region of the platform.

    provider: the aws.Provider every resource in this region is created with.
    region: the name that provider targets, for the few inputs AWS wants as a string
        (DynamoDB replicas, MRAP routes, FIS parameters, kms:ViaService); both come from
        the same ``drkit:`` key, so they cannot disagree.
    """

    provider: aws.Provider
    region: str


def child_opts(parent: pulumi.Resource, site: Site, *, keep: bool = False,
               depends_on: Sequence[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
    """Options for a child: ``parent``, the site's provider, and protect/retain when ``keep``."""
    return pulumi.ResourceOptions(parent=parent, provider=site.provider, protect=keep,
                                  retain_on_delete=keep, depends_on=list(depends_on or []))


def underscore_name(name: str, limit: int = 50) -> str:
    """AWS Backup names allow only letters, digits and underscores, starting with a letter."""
    cleaned = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"drkit_{cleaned}"
    return cleaned[:limit]


def policy_json(*statements: Any) -> pulumi.Output[str]:
    """An IAM/resource policy document; statements may hold Outputs."""
    return pulumi.Output.json_dumps({"Version": POLICY_VERSION, "Statement": list(statements)})


def assume_role_policy(service: str, account: "Account | None" = None,
                       source_arn: pulumi.Input[str] | None = None, *, if_exists: bool = False) -> pulumi.Output[str]:
    """Trust policy letting one AWS service principal assume a role; with ``account`` only on
    behalf of this account (``aws:SourceAccount``), with ``source_arn`` only for those resources
    (``aws:SourceArn``, ArnLike) — the confused-deputy guard AWS documents for service roles.
    ``if_exists`` (``StringEqualsIfExists``) for services not documented to send the key when
    they assume the role: enforced whenever the key is present, never locking the service out."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    condition: dict[str, Any] = {}
    if account is not None:
        condition["StringEqualsIfExists" if if_exists else "StringEquals"] = {"aws:SourceAccount": account.account_id}
    if source_arn is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    if condition:
        statement["Condition"] = condition
    return pulumi.Output.json_dumps({"Version": POLICY_VERSION, "Statement": [statement]})


def mfa_trust_policy(account: "Account") -> pulumi.Output[str]:
    """Trust policy for a human role: principals of this account, only with MFA."""
    return pulumi.Output.json_dumps({"Version": POLICY_VERSION, "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": account.root_arn()}, "Action": "sts:AssumeRole",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]})


def allow(actions: Sequence[str], resources: Any, *, sid: str | None = None,
          condition: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An identity-policy Allow statement."""
    statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": resources}
    if sid:
        statement["Sid"] = sid
    if condition:
        statement["Condition"] = dict(condition)
    return statement


def deny_insecure_transport(resources: Any, action: str = "s3:*") -> dict[str, Any]:
    """Resource-policy statement refusing any request not made over TLS (CIS 2.1.1)."""
    return {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": action,
            "Resource": resources, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


@dataclass(frozen=True)
class Account:
    """The deploying account as Outputs: its id and partition (``aws``, ``aws-us-gov`` …)."""

    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]

    @staticmethod
    def of(site: Site, parent: pulumi.Resource) -> "Account":
        opts = pulumi.InvokeOptions(provider=site.provider, parent=parent)
        return Account(aws.get_caller_identity_output(opts=opts).account_id,
                       aws.get_partition_output(opts=opts).partition)

    def root_arn(self) -> pulumi.Output[str]:
        return pulumi.Output.format("arn:{0}:iam::{1}:root", self.partition, self.account_id)

    def role_arn(self, name: str) -> pulumi.Output[str]:
        return pulumi.Output.format("arn:{0}:iam::{1}:role/{2}", self.partition, self.account_id, name)

    def managed_policy(self, path: str) -> pulumi.Output[str]:
        return pulumi.Output.format("arn:{0}:iam::aws:policy/{1}", self.partition, path)
