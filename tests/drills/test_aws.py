"""The one boto3 client factory: embedded targets are local, path-style and cached."""

from __future__ import annotations

from drills.aws import Target


def test_embedded_target_builds_path_style_clients_for_its_endpoint() -> None:
    target = Target(endpoint="http://127.0.0.1:4599")
    s3 = target.client("s3", "eu-west-1")
    assert s3.meta.endpoint_url == "http://127.0.0.1:4599"
    assert s3.meta.region_name == "eu-west-1"
    assert s3.meta.config.s3["addressing_style"] == "path"
    assert target.kind == "embedded-simulated" and target.simulated


def test_clients_are_cached_per_service_region_and_config() -> None:
    target = Target(endpoint="http://127.0.0.1:4599")
    assert target.client("s3", "us-east-1") is target.client("s3", "us-east-1")
    assert target.client("s3", "us-east-1") is not target.client("s3", "us-west-2")
    assert target.client("s3", "us-east-1") is not target.client("s3", "us-east-1", retries={"max_attempts": 1})


def test_aws_target_uses_the_real_endpoints() -> None:
    target = Target()
    assert target.kind == "aws" and not target.simulated
    assert target.client("s3", "us-east-1").meta.endpoint_url.startswith("https://")
