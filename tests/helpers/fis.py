"""FIS test helpers: a replicated bucket pair tagged as a drill target, and a pause template."""

from __future__ import annotations

import uuid

TAG = "drkit-drill-target"


def replicated_pair(client, versioned=True):
    src, dst = f"src-{uuid.uuid4().hex[:8]}", f"dst-{uuid.uuid4().hex[:8]}"
    east, west = client("s3", "us-east-1"), client("s3", "us-west-2")
    east.create_bucket(Bucket=src)
    west.create_bucket(Bucket=dst, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for s3, bucket in ((east, src), (west, dst)):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    east.put_bucket_replication(Bucket=src, ReplicationConfiguration={
        "Role": "arn:aws:iam::123456789012:role/replication",
        "Rules": [{"ID": "all", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
                   "DeleteMarkerReplication": {"Status": "Enabled"},
                   "Destination": {"Bucket": f"arn:aws:s3:::{dst}"}}]})
    east.put_bucket_tagging(Bucket=src, Tagging={"TagSet": [{"Key": TAG, "Value": "stack-a"}]})
    return src, dst


def pause_template(fis, dst, *, tag_value="stack-a", mode="fail", duration="PT10M"):
    return fis.create_experiment_template(
        clientToken=uuid.uuid4().hex, description="pause", roleArn="arn:aws:iam::123456789012:role/fis",
        stopConditions=[{"source": "none"}],
        targets={"archive": {"resourceType": "aws:s3:bucket", "selectionMode": "ALL",
                             "resourceTags": {TAG: tag_value}}},
        actions={"pause": {"actionId": "aws:s3:bucket-pause-replication", "targets": {"Buckets": "archive"},
                           "parameters": {"duration": duration, "region": "us-west-2", "destinationBuckets": dst}}},
        experimentOptions={"emptyTargetResolutionMode": mode})["experimentTemplate"]
