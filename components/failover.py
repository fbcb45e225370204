"""Failover: an S3 Multi-Region Access Point over archive and replica, routed 100/0.

Failing over is a routing change (``MultiRegionAccessPointRoutes``: DR 100, primary 0), not a
redeploy; the drills flip the dials through the S3 Control API and this resource records the
steady state the stack declares.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import Site, child_opts
from components.tiered_archive import TieredArchive
from drills.errors import UsageError

MRAP_NAME_LIMIT = 50


@dataclass
class FailoverArgs:
    """Inputs of Failover."""

    primary: Site
    """Region serving all traffic in steady state (dial 100)."""
    dr: Site
    """Standby region (dial 0)."""
    archive: TieredArchive
    """Primary-region bucket behind the access point."""
    replica: TieredArchive
    """DR-region bucket behind the access point."""


class Failover(pulumi.ComponentResource):
    """Multi-Region Access Point and its routes."""

    access_point: aws.s3control.MultiRegionAccessPoint
    routes: aws.s3control.MultiRegionAccessPointRoutes
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: FailoverArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if len(name) > MRAP_NAME_LIMIT:
            raise UsageError(f"Multi-Region Access Point name {name!r} is longer than {MRAP_NAME_LIMIT} "
                             "characters: use a shorter stack name")
        super().__init__("drkit:failover:Failover", name, None, opts)
        self.access_point = aws.s3control.MultiRegionAccessPoint(
            name,
            details={"name": name, "regions": [{"bucket": args.archive.name}, {"bucket": args.replica.name}],
                     "public_access_block": {"block_public_acls": True, "block_public_policy": True,
                                             "ignore_public_acls": True, "restrict_public_buckets": True}},
            opts=child_opts(self, args.primary))
        self.routes = aws.s3control.MultiRegionAccessPointRoutes(
            f"{name}-routes", mrap=self.access_point.arn,
            routes=[{"bucket": args.archive.name, "region": args.primary.region, "traffic_dial_percentage": 100},
                    {"bucket": args.replica.name, "region": args.dr.region, "traffic_dial_percentage": 0}],
            opts=child_opts(self, args.primary))
        self.arn = self.access_point.arn
        self.register_outputs({"arn": self.arn, "alias": self.access_point.alias})
