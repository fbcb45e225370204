"""Which lifecycle rules expire *current* studies (Expiration acts on current versions,
NoncurrentVersionExpiration on noncurrent ones:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-expire-general-considerations.html)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from drills.probes.destruction import expiring_rules


class _S3:
    def __init__(self, rules: list | None) -> None:
        self.rules = rules

    def get_bucket_lifecycle_configuration(self, Bucket: str) -> dict:
        if self.rules is None:
            raise ClientError({"Error": {"Code": "NoSuchLifecycleConfiguration"}}, "GetBucketLifecycleConfiguration")
        return {"Rules": self.rules}


def test_only_enabled_current_version_expirations_covering_the_scope_count() -> None:
    rules = [
        {"ID": "drills", "Status": "Enabled", "Filter": {"Prefix": "drills/"}, "Expiration": {"Days": 7}},
        {"ID": "noncurrent", "Status": "Enabled", "Filter": {"Prefix": ""}, "NoncurrentVersionExpiration": {"NoncurrentDays": 60}},
        {"ID": "markers", "Status": "Enabled", "Filter": {}, "Expiration": {"ExpiredObjectDeleteMarker": True}},
        {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "dicom/"}, "Expiration": {"Days": 1}},
        {"ID": "whole-bucket", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 30}},
        {"ID": "one-study", "Status": "Enabled", "Filter": {"And": {"Prefix": "dicom/1.2/"}}, "Expiration": {"Days": 1}},
    ]
    assert expiring_rules(_S3(rules), "b", "dicom/") == ["whole-bucket", "one-study"]
    assert expiring_rules(_S3(None), "b", "dicom/") == []
