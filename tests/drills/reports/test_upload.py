"""``drkit report --upload`` stores the signed run dir in the evidence bucket under Object Lock.

S3 applies a bucket's default Object Lock retention to every new object version placed
without explicit retention headers:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html (Bucket configuration) and
https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectLockConfiguration.html.
Tested on the embedded cloud through boto3 only.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from drills.contracts import StackOutputs
from drills.errors import InfraError
from drills.reports import build_run_reports
from drills.reports.upload import upload_run
from tests.drills.reports import journals


def outputs_for(bucket: str) -> StackOutputs:
    return StackOutputs.from_mapping(dict(journals.OUTPUTS, evidenceBucket=bucket))


@pytest.fixture
def evidence_bucket(s3, bucket_name) -> str:
    name = bucket_name("evidence")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}}})
    return name


def test_upload_locks_every_artifact(cloud, s3, evidence_bucket, write_run, passing, folder):
    run_dir = write_run(passing)
    build_run_reports(run_dir, ("json", "html"))
    stored = upload_run(run_dir, outputs_for(evidence_bucket), cloud.target)
    prefix = f"drill-runs/{passing['run_id']}/"
    assert stored.location == f"s3://{evidence_bucket}/{prefix}" and stored.mode == "COMPLIANCE"
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=evidence_bucket)["Contents"])
    assert listed == sorted(prefix + n for n in ("journal.json", "report.json", "report.html", "manifest.json",
                                                 "manifest.sig", "signing-key.pub"))
    for key in listed:
        head = s3.head_object(Bucket=evidence_bucket, Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"]
    body = s3.get_object(Bucket=evidence_bucket, Key=prefix + "manifest.json")["Body"].read()
    assert body == (run_dir / "manifest.json").read_bytes()
    manifest = json.loads(body)
    version = s3.list_object_versions(Bucket=evidence_bucket, Prefix=prefix + "report.json")["Versions"][0]
    with pytest.raises(s3.exceptions.ClientError) as denied:
        s3.delete_object(Bucket=evidence_bucket, Key=prefix + "report.json", VersionId=version["VersionId"])
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert manifest["run_id"] == passing["run_id"]


def test_bucket_without_default_retention_is_refused(cloud, s3, bucket_name, write_run, passing):
    name = bucket_name("plain")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    run_dir = write_run(passing)
    build_run_reports(run_dir, ("json",))
    with pytest.raises(InfraError, match="no default Object Lock retention"):
        upload_run(run_dir, outputs_for(name), cloud.target)
    missing = dataclasses.replace(outputs_for(name), evidenceBucket=bucket_name("absent"))
    with pytest.raises(InfraError, match="cannot read its Object Lock configuration"):
        upload_run(run_dir, missing, cloud.target)


@pytest.mark.slow
def test_upload_into_the_deployed_dev_stacks_evidence_bucket(write_run, passing, tmp_path):
    """The dev stack's own EvidenceVault (Object Lock default retention, KMS-only bucket policy),
    deployed offline into the embedded cloud, takes the signed run dir, every object locked."""
    from pathlib import Path

    from drills.cloud.server import EmbeddedCloud
    from drills.deploy.engine import deploy
    from drills.project import find_project

    root = Path(__file__).resolve().parents[3]
    run_dir = write_run(passing)
    build_run_reports(run_dir, ("json",))
    with EmbeddedCloud() as cloud:
        outputs = deploy(find_project(project_dir=root), "dev", cloud.target, cloud.sim).outputs
        s3 = cloud.target.client("s3", outputs.primaryRegion)
        default = s3.get_object_lock_configuration(Bucket=outputs.evidenceBucket)["ObjectLockConfiguration"]["Rule"]
        stored = upload_run(run_dir, outputs, cloud.target)
        assert stored.mode == default["DefaultRetention"]["Mode"]
        for key in stored.keys:
            head = s3.head_object(Bucket=outputs.evidenceBucket, Key=key)
            assert head["ObjectLockMode"] == stored.mode and head["ServerSideEncryption"] == "aws:kms"
