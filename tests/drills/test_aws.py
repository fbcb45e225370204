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


def test_fast_timestamp_parser_gives_botocores_instants() -> None:
    """S3's XML timestamps (ListObjectVersions ``LastModified``, API_ListObjectVersions:
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html) are ISO 8601
    in UTC; the fast path must give the instant botocore's own parser gives, other forms go
    to botocore's parser unchanged."""
    from datetime import timezone

    import botocore.utils

    from drills.aws import parse_timestamp

    for text in ("2026-01-15T10:00:00.000Z", "2026-01-15T10:00:00Z", "2026-01-15T10:00:00.1Z",
                 "2026-01-15T10:00:00.123456Z", "Mon, 30 Nov 2026 14:00:00 GMT", "2026-01-15T10:00:00+02:00"):
        fast, slow = parse_timestamp(text), botocore.utils.parse_timestamp(text)
        assert fast == slow and fast.utcoffset() == slow.utcoffset(), text
    assert parse_timestamp("2026-01-15T10:00:00.000Z").tzinfo is timezone.utc
    assert parse_timestamp(1768471200) == botocore.utils.parse_timestamp(1768471200)


def test_clients_parse_listing_timestamps_with_the_fast_parser() -> None:
    from drills.aws import parse_timestamp

    client = Target(endpoint="http://127.0.0.1:1").client("s3", "us-east-1")
    parser = client._endpoint._response_parser_factory.create_parser("rest-xml")
    assert parser._timestamp_parser is parse_timestamp
