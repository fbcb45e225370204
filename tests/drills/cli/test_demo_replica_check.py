"""The demo's replica check looks at bytes, not only at the checksum replication copies."""

from __future__ import annotations

import base64
import hashlib

from drills.cli.demo import _check_replica
from drills.cloud.server import EmbeddedCloud
from drills.contracts import StackOutputs
from drills.ingest.core import IngestResult, Outcome

OUTPUTS = StackOutputs.from_mapping({
    "schemaVersion": 1, "primaryRegion": "us-east-1", "drRegion": "us-west-2",
    "archiveBucket": "drkit-check-archive", "replicaBucket": "drkit-check-replica", "landingBucket": "l",
    "indexTable": "t", "backupVault": "v", "drBackupVault": "dv", "evidenceBucket": "e",
    "multiRegionAccessPoint": "arn:aws:s3::123456789012:accesspoint/x.mrap",
    "objectives": {"rpoMinutes": 15, "rtoMinutes": 60, "restoreHours": 12}})
DATA = {"1.2.3": b"instance one", "1.2.4": b"instance two"}


def replicated(cloud: EmbeddedCloud) -> list[IngestResult]:
    s3, west = cloud.target.client("s3", "us-east-1"), cloud.target.client("s3", "us-west-2")
    s3.create_bucket(Bucket=OUTPUTS.archiveBucket)
    west.create_bucket(Bucket=OUTPUTS.replicaBucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for client, bucket in ((s3, OUTPUTS.archiveBucket), (west, OUTPUTS.replicaBucket)):
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket=OUTPUTS.archiveBucket, ReplicationConfiguration={
        "Role": "arn:aws:iam::123456789012:role/r", "Rules": [{
            "ID": "all", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": "dicom/"},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{OUTPUTS.replicaBucket}"}}]})
    results = []
    for sop, body in DATA.items():
        key = f"dicom/1/2/{sop}.dcm"
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
        put = s3.put_object(Bucket=OUTPUTS.archiveBucket, Key=key, Body=body, ChecksumAlgorithm="SHA256",
                            ChecksumSHA256=checksum)
        results.append(IngestResult(outcome=Outcome.ARCHIVED, source=sop, size=len(body), header_bytes_read=0,
                                    key=key, version_id=put["VersionId"], checksum_sha256=checksum,
                                    sop_instance_uid=sop))
    cloud.clock.advance(20 * 60)
    return results


def test_intact_replicas_verify_and_tampered_bytes_do_not() -> None:
    expected = {sop: hashlib.sha256(body).hexdigest() for sop, body in DATA.items()}
    with EmbeddedCloud() as cloud:
        results = replicated(cloud)
        assert _check_replica(cloud, OUTPUTS, results, expected).verified == 2
        # Corrupt one replica's bytes in place; its reported checksum (copied metadata) stays the same.
        key = cloud.sim.s3_backend().get_object(OUTPUTS.replicaBucket, results[0].key, version_id=results[0].version_id)
        key.value = b"instance 0ne"
        head = cloud.target.client("s3", "us-west-2").head_object(
            Bucket=OUTPUTS.replicaBucket, Key=results[0].key, VersionId=results[0].version_id, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == results[0].checksum_sha256
        check = _check_replica(cloud, OUTPUTS, results, expected)
    assert check.verified == 1 and len(check.mismatched) == 1
