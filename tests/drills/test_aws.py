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


def _client_error(code: str) -> Exception:
    from botocore.exceptions import ClientError
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"}}, "HeadObject")


def test_error_code_and_message_of_a_client_error() -> None:
    from botocore.exceptions import EndpointConnectionError

    from drills.aws import error_code, error_message
    assert error_code(_client_error("NoSuchKey")) == "NoSuchKey"
    assert error_message(_client_error("NoSuchKey")) == "NoSuchKey happened"
    assert error_code(EndpointConnectionError(endpoint_url="http://x")) == ""
    assert error_code(ValueError("NoSuchKey")) == ""


def test_not_found_codes_by_kind() -> None:
    from drills.aws import BUCKET_NOT_FOUND, DELETE_MARKER, OBJECT_NOT_FOUND, is_not_found
    assert is_not_found(_client_error("404"), OBJECT_NOT_FOUND)          # HEAD's bare 404
    assert is_not_found(_client_error("NoSuchVersion"), OBJECT_NOT_FOUND)
    assert not is_not_found(_client_error("NoSuchBucket"), OBJECT_NOT_FOUND)
    assert is_not_found(_client_error("NoSuchBucket"), BUCKET_NOT_FOUND)
    assert is_not_found(_client_error("MethodNotAllowed"), DELETE_MARKER)
    assert is_not_found(_client_error("ResourceNotFoundException"))
    assert not is_not_found(_client_error("AccessDenied")) and not is_not_found(ValueError("404"))
