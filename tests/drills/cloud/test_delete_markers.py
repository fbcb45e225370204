"""Deleting a delete marker by version id (drills.cloud.sim.delete_markers)."""

from __future__ import annotations


def _versioned(s3, bucket_name) -> str:
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def test_deleting_a_delete_marker_answers_delete_marker_true(cloud, s3, bucket_name):
    """DeleteObject with the version id of a delete marker removes it and answers
    ``x-amz-delete-marker: true``; the previous version is current again.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/RemDelMarker.html"""
    bucket = _versioned(s3, bucket_name)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    answer = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert answer["DeleteMarker"] is True and answer["VersionId"] == marker
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_deleting_an_object_version_does_not_claim_a_marker(cloud, s3, bucket_name):
    bucket = _versioned(s3, bucket_name)
    vid = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    assert "DeleteMarker" not in s3.delete_object(Bucket=bucket, Key="k", VersionId=vid)


def test_delete_objects_reports_removed_markers(cloud, s3, bucket_name):
    """DeleteObjects: a removed delete marker is reported with DeleteMarker true and its
    DeleteMarkerVersionId. https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html"""
    bucket = _versioned(s3, bucket_name)
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    vid = s3.put_object(Bucket=bucket, Key="b", Body=b"x")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="a")["VersionId"]
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a", "VersionId": marker},
                                                                 {"Key": "b", "VersionId": vid}]})
    deleted = {d["Key"]: d for d in result["Deleted"]}
    assert deleted["a"]["DeleteMarker"] is True and deleted["a"]["DeleteMarkerVersionId"] == marker
    assert "DeleteMarker" not in deleted["b"]
