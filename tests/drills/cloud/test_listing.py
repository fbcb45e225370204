"""Listings from the sorted key index (drills.cloud.sim.listing), on the embedded cloud."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from drills.cloud.sim import listing


@pytest.fixture
def versioned(s3, bucket_name):
    bucket = bucket_name("list")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def _history(s3, bucket):
    """Writes a/1 (2 versions), a/2 (version, delete marker, version), b (version, marker)."""
    written: dict[str, list[str]] = {}
    def put(key):
        written.setdefault(key, []).append(s3.put_object(Bucket=bucket, Key=key, Body=key.encode())["VersionId"])
    def delete(key):
        written.setdefault(key, []).append(s3.delete_object(Bucket=bucket, Key=key)["VersionId"])
    put("a/1"); put("a/1"); put("a/2"); delete("a/2"); put("a/2"); put("b"); delete("b")
    return written


def _all_in_order(page):
    """Versions and delete markers of one page as (key, id), in the order S3 lists them."""
    entries = [(v["Key"], v["VersionId"], v["IsLatest"]) for v in page.get("Versions", [])]
    entries += [(d["Key"], d["VersionId"], d["IsLatest"]) for d in page.get("DeleteMarkers", [])]
    return entries


def test_versions_and_delete_markers_interleaved_by_key_newest_first(s3, versioned):
    """Versions of a key are listed newest first, delete markers in their place among them;
    a page of MaxKeys counts both. https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
    (and userguide/list-obj-version-enabled-bucket.html: "returns all versions ... newest first")."""
    written = _history(s3, versioned)
    expected = [(k, vid) for k in sorted(written) for vid in reversed(written[k])]
    seen = []
    kwargs = {"Bucket": versioned, "MaxKeys": 2}
    while True:
        page = s3.list_object_versions(**kwargs)
        entries = _all_in_order(page)
        assert len(entries) <= 2
        # within one page, all entries belong to the expected order slice
        seen.extend(sorted(entries, key=lambda e: expected.index((e[0], e[1]))))
        if not page["IsTruncated"]:
            break
        kwargs.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page["NextVersionIdMarker"])
    assert [(k, v) for k, v, _ in seen] == expected
    latest = {k: v for k, v, is_latest in seen if is_latest}
    assert latest == {k: ids[-1] for k, ids in written.items()}
    # the newest two entries of a/2: its current version and the delete marker under it
    page = s3.list_object_versions(Bucket=versioned, Prefix="a/2", MaxKeys=2)
    assert [d["VersionId"] for d in page["DeleteMarkers"]] == [written["a/2"][1]]
    assert [v["VersionId"] for v in page["Versions"]] == [written["a/2"][2]]


def test_key_marker_alone_resumes_after_every_version_of_that_key(s3, versioned):
    """KeyMarker without VersionIdMarker: results begin with the key after it
    (API_ListObjectVersions, KeyMarker)."""
    written = _history(s3, versioned)
    page = s3.list_object_versions(Bucket=versioned, KeyMarker="a/1")
    keys = [k for k, _, _ in _all_in_order(page)]
    assert "a/1" not in keys
    assert sorted(keys) == ["a/2"] * 3 + ["b"] * 2
    assert len(written["a/1"]) == 2


def test_version_id_marker_without_key_marker_is_invalid(s3, versioned):
    """API_ListObjectVersions: VersionIdMarker needs KeyMarker (400 InvalidArgument)."""
    vid = s3.put_object(Bucket=versioned, Key="k", Body=b"x")["VersionId"]
    with pytest.raises(ClientError) as err:
        s3.list_object_versions(Bucket=versioned, VersionIdMarker=vid)
    assert err.value.response["Error"]["Code"] == "InvalidArgument"


def test_paginator_with_delimiter_counts_a_common_prefix_once(s3, versioned):
    """Common prefixes count toward MaxKeys once and are not repeated across pages
    (API_ListObjectVersions, Delimiter / CommonPrefixes)."""
    for key in ["p/1", "p/2", "p/3", "q", "r/x", "s"]:
        s3.put_object(Bucket=versioned, Key=key, Body=b"x")
    pages = list(s3.get_paginator("list_object_versions").paginate(
        Bucket=versioned, Delimiter="/", PaginationConfig={"PageSize": 1}))
    prefixes = [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
    keys = [v["Key"] for page in pages for v in page.get("Versions", [])]
    assert prefixes == ["p/", "r/"]
    assert keys == ["q", "s"]


def test_list_objects_v2_pages_current_versions_only(s3, versioned):
    """ListObjectsV2 lists current objects (not keys whose newest version is a delete marker),
    with StartAfter and continuation tokens. https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html"""
    _history(s3, versioned)
    s3.put_object(Bucket=versioned, Key="c d+e", Body=b"x")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=versioned, PaginationConfig={"PageSize": 1}) for o in page.get("Contents", [])]
    assert keys == ["a/1", "a/2", "c d+e"]
    page = s3.list_objects_v2(Bucket=versioned, StartAfter="a/1")
    assert [o["Key"] for o in page["Contents"]] == ["a/2", "c d+e"] and page["KeyCount"] == 2


def test_index_stays_sorted_as_keys_come_and_go(cloud, s3, versioned):
    """The index is the key store's names, sorted, after adds and removals."""
    for key in ["m", "c", "x", "a"]:
        s3.put_object(Bucket=versioned, Key=key, Body=b"x")
    store = cloud.sim.s3_backend().buckets[versioned].keys
    assert listing.sorted_names(store) == ["a", "c", "m", "x"]
    for version in s3.list_object_versions(Bucket=versioned, Prefix="c")["Versions"]:
        s3.delete_object(Bucket=versioned, Key="c", VersionId=version["VersionId"])
    s3.put_object(Bucket=versioned, Key="b", Body=b"x")
    assert listing.sorted_names(store) == ["a", "b", "m", "x"] == sorted(dict.keys(store))


def test_list_objects_v2_delimiter_pages_do_not_repeat_a_common_prefix(s3, versioned):
    """Continuation tokens resume after a common prefix; StartAfter only filters keys
    (API_ListObjectsV2: "StartAfter is where you want Amazon S3 to start listing from")."""
    for key in ["a/1", "a/2", "b", "c/1"]:
        s3.put_object(Bucket=versioned, Key=key, Body=b"x")
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=versioned, Delimiter="/",
                                                               PaginationConfig={"PageSize": 1}))
    assert [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])] == ["a/", "c/"]
    assert [o["Key"] for page in pages for o in page.get("Contents", [])] == ["b"]
    after = s3.list_objects_v2(Bucket=versioned, Delimiter="/", StartAfter="a/")
    assert [p["Prefix"] for p in after.get("CommonPrefixes", [])] == ["a/", "c/"]
