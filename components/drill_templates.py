"""DrillTemplates: the AWS FIS experiment that pauses archive replication, with its role.

The experiment selects buckets by the drill-target tag, whose value is this platform's name,
so a drill of one stack can never select another stack's bucket in the same account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_aws as aws

from components.base import Account, Site, allow, assume_role_policy, child_opts, policy_json
from components.config import DrillConfig
from components.tiered_archive import TieredArchive

DRILL_TARGET_TAG = "drkit-drill-target"
PAUSE_REPLICATION = "aws:s3:bucket-pause-replication"


@dataclass
class DrillTemplatesArgs:
    """Inputs of DrillTemplates."""

    primary: Site
    """Region the experiment runs in (the replication source's)."""
    dr: Site
    """Region of the replication destinations the pause applies to."""
    archive: TieredArchive
    """Replication source; carries the drill-target tag."""
    replica: TieredArchive
    """Replication destination whose inbound replication is paused."""
    target_tag_value: str
    """Value of the drill-target tag on the archive bucket."""
    stop_alarm_arns: Sequence[pulumi.Input[str]]
    """CloudWatch alarms that stop the experiment when they fire."""
    settings: DrillConfig
    """Pause duration."""


class DrillTemplates(pulumi.ComponentResource):
    """FIS experiment template ``pause-replication`` and its least-privilege role."""

    role: aws.iam.Role
    pause_replication: aws.fis.ExperimentTemplate

    def __init__(self, name: str, args: DrillTemplatesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:drill_templates:DrillTemplates", name, None, opts)
        site = args.primary
        account = Account.of(site, self)
        # FIS's documented confused-deputy guard: only experiments of this account assume the role.
        experiments = pulumi.Output.format("arn:{0}:fis:*:{1}:experiment/*", account.partition, account.account_id)
        self.role = aws.iam.Role(f"{name}-role", assume_role_policy=assume_role_policy("fis.amazonaws.com", account,
                                                                                       source_arn=experiments),
                                 description="AWS FIS: pause drkit archive replication", opts=child_opts(self, site))
        self.role_policy = aws.iam.RolePolicy(f"{name}-role-policy", role=self.role.id, policy=policy_json(
            allow(["s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration"], args.archive.arn,
                  sid="SourceReplicationConfig"),
            allow(["s3:PauseReplication"], args.replica.arn, sid="PauseDestination"),
            allow(["s3:ListAllMyBuckets", "tag:GetResources"], "*", sid="ResolveTargetsByTag"),
        ), opts=child_opts(self, site))
        minutes = args.settings.pause_minutes
        self.pause_replication = aws.fis.ExperimentTemplate(
            f"{name}-pause-replication",
            description=f"drkit: pause archive replication to {args.dr.region} for {minutes} minutes",
            role_arn=self.role.arn,
            actions=[{"name": "pause-replication", "action_id": PAUSE_REPLICATION,
                      "parameters": [{"key": "duration", "value": f"PT{minutes}M"},
                                     {"key": "region", "value": args.dr.region},
                                     {"key": "destinationBuckets", "value": args.replica.name}],
                      "target": {"key": "Buckets", "value": "archive"}}],
            targets=[{"name": "archive", "resource_type": "aws:s3:bucket", "selection_mode": "ALL",
                      "resource_tags": [{"key": DRILL_TARGET_TAG, "value": args.target_tag_value}]}],
            stop_conditions=[{"source": "aws:cloudwatch:alarm", "value": arn} for arn in args.stop_alarm_arns],
            experiment_options={"empty_target_resolution_mode": "fail"},
            tags={"Name": f"{name}-pause-replication"},
            opts=child_opts(self, site, depends_on=[self.role_policy]))
        self.register_outputs({"pauseReplicationTemplateId": self.pause_replication.id})
