"""The listing path's own reading of ListObjectVersions pages (drills.probes.versions_page)
gives exactly what botocore's parser gives: Key, VersionId, IsLatest, LastModified, Size of
every version and delete marker (API_ListObjectVersions,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html)."""

from __future__ import annotations

import threading

from drills.probes import versions_page
from drills.probes.observe import list_versions

AWKWARD = "dicom/odd & <key> é+%20/x.dcm"


def _botocore_entries(s3, bucket: str, prefix: str) -> list[tuple]:
    out = []
    kwargs = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": 3}
    while True:
        page = s3.list_object_versions(**kwargs)
        assert versions_page.ENTRIES not in page
        for item in page.get("Versions", []):
            out.append((item["Key"], item["VersionId"], item["IsLatest"], item["LastModified"], item["Size"], False))
        for item in page.get("DeleteMarkers", []):
            out.append((item["Key"], item["VersionId"], item["IsLatest"], item["LastModified"], 0, True))
        if not page.get("IsTruncated"):
            return out
        kwargs["KeyMarker"], kwargs["VersionIdMarker"] = page["NextKeyMarker"], page["NextVersionIdMarker"]


def test_fast_pages_match_botocore_and_stay_in_their_thread(stack) -> None:
    s3, bucket = stack.s3(), stack.bucket()
    s3.put_object(Bucket=bucket, Key=AWKWARD, Body=b"12345")
    s3.put_object(Bucket=bucket, Key=AWKWARD, Body=b"123")
    marker = s3.delete_object(Bucket=bucket, Key=AWKWARD)["VersionId"]
    try:
        expected = _botocore_entries(s3, bucket, "dicom/")
        with versions_page.fast_pages(s3):
            page = s3.list_object_versions(Bucket=bucket, Prefix="dicom/", MaxKeys=3)
            other: list = []
            worker = threading.Thread(target=lambda: other.append(s3.list_object_versions(
                Bucket=bucket, Prefix="dicom/", MaxKeys=3)))
            worker.start()
            worker.join()
        assert "Versions" not in page and "DeleteMarkers" not in page and page["IsTruncated"] is True
        assert page["NextKeyMarker"] and len(page[versions_page.ENTRIES]) == 3
        assert versions_page.ENTRIES not in other[0] and other[0]["Versions"]        # another thread: botocore's
        listing = list_versions(stack.cloud.target.client, stack.outputs.primaryRegion, bucket, "dicom/")
        got = sorted((v.key, v.version_id, v.is_latest, v.last_modified, v.size, v.delete_marker)
                     for v in listing.versions.values())
        assert got == sorted(expected)
        assert (AWKWARD, marker, True) in {(k, vid, latest) for k, vid, latest, *_ in got}
        assert {s for k, _, _, _, s, dm in got if k == AWKWARD and not dm} == {5, 3}
    finally:
        for v in s3.list_object_versions(Bucket=bucket, Prefix=AWKWARD).get("Versions", []) + \
                s3.list_object_versions(Bucket=bucket, Prefix=AWKWARD).get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=AWKWARD, VersionId=v["VersionId"], BypassGovernanceRetention=True)


def test_split_page_reads_versions_and_markers_and_keeps_the_rest() -> None:
    body = (b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>'
            b'<Prefix>dicom/</Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker>'
            b'<NextKeyMarker>dicom/b</NextKeyMarker><NextVersionIdMarker>v2</NextVersionIdMarker>'
            b'<MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>'
            b'<Version><Key>dicom/a&amp;b</Key><VersionId>null</VersionId><IsLatest>true</IsLatest>'
            b'<LastModified>2026-01-15T10:00:00.000Z</LastModified><ETag>"x"</ETag><Size>434234</Size>'
            b'<StorageClass>STANDARD</StorageClass></Version>'
            b'<DeleteMarker><Key>dicom/b</Key><VersionId>v2</VersionId><IsLatest>false</IsLatest>'
            b'<LastModified>2026-01-15T10:00:01.5Z</LastModified></DeleteMarker></ListVersionsResult>')
    entries, rest = versions_page.split_page(body)
    assert [(e.key, e.version_id, e.is_latest, e.size, e.delete_marker) for e in entries] == [
        ("dicom/a&b", "null", True, 434234, False), ("dicom/b", "v2", False, 0, True)]
    assert entries[1].last_modified.isoformat() == "2026-01-15T10:00:01.500000+00:00"
    assert b"Version>" not in rest.replace(b"VersionIdMarker>", b"") and b"NextKeyMarker" in rest
    encoded = body.replace(b"<MaxKeys>", b"<EncodingType>url</EncodingType><MaxKeys>").replace(
        b"dicom/a&amp;b", b"dicom/a%26b+c%2Bd")
    assert versions_page.split_page(encoded)[0][0].key == "dicom/a&b c+d"       # botocore's unquote_plus
