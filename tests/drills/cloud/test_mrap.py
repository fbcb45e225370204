"""S3 Multi-Region Access Points on the embedded cloud through the stock s3control client.

Docs: Amazon S3 API reference, CreateMultiRegionAccessPoint (asynchronous, RequestTokenARN),
DescribeMultiRegionAccessPointOperation, GetMultiRegionAccessPoint,
GetMultiRegionAccessPointRoutes, SubmitMultiRegionAccessPointRoutes ("A value of 0 indicates
a passive status ... 100 ... active ... At least one Region must be active at all times ...
The routing configurations of any Regions that aren't specified remain unchanged"; route
changes go to us-east-1, us-west-2, ap-southeast-2, ap-northeast-1 or eu-west-1); S3 user
guide, "Multi-Region Access Point failover controls errors" (400 for an invalid ARN).
"""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"


def _access_point(client):
    a, b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    client("s3", "us-east-1").create_bucket(Bucket=a)
    client("s3", "us-west-2").create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    control = client("s3control", "us-west-2")
    token = control.create_multi_region_access_point(AccountId=ACCOUNT, ClientToken="c", Details={
        "Name": "failover", "Regions": [{"Bucket": a}, {"Bucket": b}]})["RequestTokenARN"]
    operation = control.describe_multi_region_access_point_operation(AccountId=ACCOUNT, RequestTokenARN=token)
    assert operation["AsyncOperation"]["RequestStatus"] == "SUCCEEDED"
    point = control.get_multi_region_access_point(AccountId=ACCOUNT, Name="failover")["AccessPoint"]
    return control, f"arn:aws:s3::{ACCOUNT}:accesspoint/{point['Alias']}", a, b, point


def _dials(control, arn):
    routes = control.get_multi_region_access_point_routes(AccountId=ACCOUNT, Mrap=arn)["Routes"]
    return {r["Region"]: r["TrafficDialPercentage"] for r in routes}


def test_create_then_route_active_passive_and_fail_over(cloud, client) -> None:
    control, arn, a, b, point = _access_point(client)
    assert point["Alias"].endswith(".mrap") and point["Status"] == "READY"
    assert {r["Region"] for r in point["Regions"]} == {"us-east-1", "us-west-2"}
    assert _dials(control, arn) == {"us-east-1": 100, "us-west-2": 100}        # new: every Region active
    control.submit_multi_region_access_point_routes(AccountId=ACCOUNT, Mrap=arn, RouteUpdates=[
        {"Bucket": b, "Region": "us-west-2", "TrafficDialPercentage": 0}])
    assert _dials(control, arn) == {"us-east-1": 100, "us-west-2": 0}          # unspecified Region unchanged
    control.submit_multi_region_access_point_routes(AccountId=ACCOUNT, Mrap=arn, RouteUpdates=[
        {"Bucket": a, "Region": "us-east-1", "TrafficDialPercentage": 0},
        {"Bucket": b, "Region": "us-west-2", "TrafficDialPercentage": 100}])
    assert _dials(control, arn) == {"us-east-1": 0, "us-west-2": 100}


def test_refusals(cloud, client) -> None:
    control, arn, a, b, _ = _access_point(client)

    def code(call) -> tuple[str, int]:
        with pytest.raises(ClientError) as info:
            call()
        return info.value.response["Error"]["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]

    # at least one Region must stay active
    assert code(lambda: control.submit_multi_region_access_point_routes(AccountId=ACCOUNT, Mrap=arn, RouteUpdates=[
        {"Bucket": a, "TrafficDialPercentage": 0}, {"Bucket": b, "TrafficDialPercentage": 0}])) == ("InvalidRequest", 400)
    # an ARN that names no access point
    assert code(lambda: control.get_multi_region_access_point_routes(
        AccountId=ACCOUNT, Mrap=f"arn:aws:s3::{ACCOUNT}:accesspoint/nope.mrap"))[1] == 400
    # route changes only through the five failover-control Regions
    other = client("s3control", "ca-central-1")
    assert code(lambda: other.submit_multi_region_access_point_routes(AccountId=ACCOUNT, Mrap=arn, RouteUpdates=[
        {"Bucket": b, "TrafficDialPercentage": 100}]))[1] == 400


def test_route_changes_work_while_the_primary_region_is_down(cloud, client) -> None:
    control, arn, a, b, _ = _access_point(client)
    cloud.sim["outage"].take_down("us-east-1")
    control.submit_multi_region_access_point_routes(AccountId=ACCOUNT, Mrap=arn, RouteUpdates=[
        {"Bucket": a, "TrafficDialPercentage": 0}, {"Bucket": b, "TrafficDialPercentage": 100}])
    assert _dials(control, arn) == {"us-east-1": 0, "us-west-2": 100}
