"""components/failover.py: Multi-Region Access Point over archive + replica, routed 100/0."""

from __future__ import annotations

import pytest

from components.base import Site
from components.failover import Failover, FailoverArgs
from components.secure_bucket import PURPOSE_TAG
from drills.errors import UsageError


def bucket(d, purpose: str):
    (b,) = [b for b in d.all("aws:s3/bucket:Bucket") if b.inputs["tags"][PURPOSE_TAG] == purpose]
    return b


def test_access_point_spans_archive_and_replica_privately(stack) -> None:
    (mrap,) = stack.all("aws:s3control/multiRegionAccessPoint:MultiRegionAccessPoint")
    details = mrap.inputs["details"]
    assert sorted(r["bucket"] for r in details["regions"]) == sorted(
        [bucket(stack, "archive").name, bucket(stack, "replica").name]), mrap.urn
    assert details["publicAccessBlock"] == {"blockPublicAcls": True, "blockPublicPolicy": True,
                                            "ignorePublicAcls": True, "restrictPublicBuckets": True}, mrap.urn
    assert stack.parent(mrap).type == "drkit:failover:Failover", mrap.urn


def test_routes_send_all_traffic_to_primary(stack) -> None:
    (mrap,) = stack.all("aws:s3control/multiRegionAccessPoint:MultiRegionAccessPoint")
    (routes,) = stack.all("aws:s3control/multiRegionAccessPointRoutes:MultiRegionAccessPointRoutes")
    assert routes.inputs["mrap"] == mrap.outputs["arn"], routes.urn
    dials = {(r["bucket"], r["region"]): r["trafficDialPercentage"] for r in routes.inputs["routes"]}
    assert dials == {(bucket(stack, "archive").name, stack.config.primary_region): 100,
                     (bucket(stack, "replica").name, stack.config.dr_region): 0}, routes.urn


def test_overlong_name_is_refused_before_anything_is_created() -> None:
    with pytest.raises(UsageError, match="longer than 50"):
        Failover("x" * 51, FailoverArgs(primary=Site(None, "us-east-1"), dr=Site(None, "us-west-2"),  # type: ignore[arg-type]
                                         archive=None, replica=None))  # type: ignore[arg-type]
