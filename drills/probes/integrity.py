"""Rungs 5 and 6, the bytes:

5. byte integrity without downloading: the SHA-256 S3 stored with each version (HEAD with
   ChecksumMode ENABLED), in the archive and in the replica, equals the study index's
   ``ChecksumSHA256``; noncurrent versions are compared archive against replica;
6. a sample (``sample`` per specialty, chosen by a recorded seed) downloaded from both sides,
   its bytes hashed here and re-parsed with pydicom, the UIDs in the dataset matching its key.

Rung 5 trusts S3's stored checksum; replication copies that value as metadata, so it cannot
show that the copied *bytes* are intact — rung 6 hashes the bytes themselves (and reads them
with the SDK's response-checksum validation off, so a mismatch is reported, not raised).
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
from collections import defaultdict

from botocore.exceptions import ClientError

from drills.engine.model import RungResult, Severity
from drills.errors import InfraError
from drills.probes.hierarchy import parse_key
from drills.probes.observe import NOT_FOUND_CODES, IndexItem, Observation, call, concurrently, error_code
from drills.probes.rung import RungReport, version_label

CHECKSUMS, CHECKSUMS_NAME = 5, "stored-checksums"
SAMPLE, SAMPLE_NAME = 6, "sample-bytes"
DEFAULT_SAMPLE = 3          # instances per specialty


def check_checksums(obs: Observation) -> RungResult:
    report = RungReport(CHECKSUMS, CHECKSUMS_NAME)
    archive, replica = obs.listings()
    source_heads = obs.heads("archive")
    copies = obs.replica_heads_of_source()
    index = obs.index(obs.outputs.primaryRegion)
    archive_bad, replica_bad, absent, no_index_checksum = [], [], [], []
    matched = 0
    for item in index:
        kv = (item.key, item.version_id)
        head = source_heads.get(kv)
        if head is None or head.missing:
            continue                                   # an orphan index item: rung 7
        label = version_label(*kv)
        if not item.checksum_sha256:
            no_index_checksum.append(label)
            continue
        if not head.checksum_sha256:
            absent.append(label)
        elif head.checksum_sha256 != item.checksum_sha256 or head.size != item.size:
            archive_bad.append(label)
        copy = copies.get(kv)
        if copy is not None and not copy.missing:
            if not copy.checksum_sha256:
                absent.append(f"replica:{label}")
            elif copy.checksum_sha256 != item.checksum_sha256 or copy.size != item.size:
                replica_bad.append(label)
            elif head.checksum_sha256 == item.checksum_sha256:
                matched += 1
    indexed = {(i.key, i.version_id) for i in index}
    unindexed_mismatch = []
    for kv, head in source_heads.items():            # versions the index does not describe
        copy = copies.get(kv)
        if kv in indexed or head.missing or copy is None or copy.missing:
            continue
        if head.checksum_sha256 != copy.checksum_sha256 or head.size != copy.size:
            unindexed_mismatch.append(version_label(*kv))
    report.counts.update(indexItems=len(index), matched=matched, archiveMismatch=len(archive_bad),
                         replicaMismatch=len(replica_bad) + len(unindexed_mismatch), checksumAbsent=len(absent),
                         indexWithoutChecksum=len(no_index_checksum),
                         comparedWithoutIndex=sum(1 for kv in source_heads if kv not in indexed))
    report.find_labels("archive-checksum-mismatch", Severity.CRITICAL, archive.bucket,
                       f"archive version(s) in {archive.bucket} whose stored SHA-256 or size differs from the "
                       f"index {obs.outputs.indexTable}", archive_bad)
    report.find_labels("replica-checksum-mismatch", Severity.CRITICAL, replica.bucket,
                       f"replica version(s) in {replica.bucket} whose stored SHA-256 or size differs from the "
                       "archive's", replica_bad + unindexed_mismatch)
    report.find_labels("checksum-absent", Severity.HIGH, archive.bucket,
                       "version(s) stored without an S3 SHA-256 checksum (integrity cannot be checked without a "
                       "download)", absent)
    report.find_labels("index-checksum-absent", Severity.HIGH, obs.outputs.indexTable,
                       f"index item(s) in {obs.outputs.indexTable} without ChecksumSHA256", no_index_checksum)
    return report.result()


# --------------------------------------------------------------------------- rung 6

def choose_sample(items: list[IndexItem], per_specialty: int, seed: int) -> dict[str, list[IndexItem]]:
    """``per_specialty`` index items of each specialty, drawn with ``seed`` (reproducible)."""
    groups: dict[str, list[IndexItem]] = defaultdict(list)
    for item in sorted(items, key=lambda i: (i.key, i.version_id)):
        groups[item.specialty or "unknown"].append(item)
    rng = random.Random(seed)
    return {name: rng.sample(group, min(per_specialty, len(group))) for name, group in sorted(groups.items())}


def default_seed(obs: Observation) -> int:
    """A different sample each day, reproducible from the date (recorded in the counts)."""
    return int(obs.clock.now().strftime("%Y%m%d"))


COLD = "cold"     # InvalidObjectState: the version sits in Glacier Flexible / Deep Archive


def _download(obs: Observation, region: str, bucket: str, item: IndexItem) -> bytes | str | None:
    # Response-checksum validation off: the bytes are hashed here, and a mismatch is a finding.
    s3 = obs.client("s3", region, response_checksum_validation="when_required")
    try:
        resp = call(f"GetObject s3://{bucket}", s3.get_object, Bucket=bucket, Key=item.key, VersionId=item.version_id)
        return resp["Body"].read()
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND_CODES:
            return None
        if error_code(exc) == "InvalidObjectState":
            return COLD
        raise InfraError(f"GetObject s3://{bucket}: {exc}") from exc


def parse_problem(body: bytes, key: str, scope: str) -> str | None:
    """Why ``body`` is not the DICOM instance its key names, or None when it is."""
    import pydicom                             # here: rung 6 alone parses (pydicom costs ~0.3 s to import)
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(io.BytesIO(body), force=False)
        for _ in ds.iterall():                 # convert every element: a damaged header fails here
            pass
        uids = (str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
    except InvalidDicomError:
        return "not a DICOM file"
    except (AttributeError, KeyError):
        return "a UID attribute is missing"
    except (ValueError, TypeError, EOFError, OSError, NotImplementedError) as exc:
        return f"pydicom cannot read it ({type(exc).__name__})"
    if uids != parse_key(key, scope):
        return "its Study/Series/SOP Instance UIDs differ from its key"
    return None


def check_sample(obs: Observation, per_specialty: int = DEFAULT_SAMPLE, seed: int | None = None) -> RungResult:
    report = RungReport(SAMPLE, SAMPLE_NAME)
    archive, replica = obs.listings()
    seed = default_seed(obs) if seed is None else seed
    listed = {kv for kv, v in archive.versions.items() if not v.delete_marker}
    in_flight = obs.in_flight()
    candidates = [i for i in obs.index(obs.outputs.primaryRegion)
                  if (i.key, i.version_id) in listed and (i.key, i.version_id) not in in_flight]
    chosen = choose_sample(candidates, per_specialty, seed)
    jobs = [(side, item) for items in chosen.values() for item in items for side in ("archive", "replica")]
    report.counts.update(perSpecialty=per_specialty, seed=seed,
                         sampled={name: len(items) for name, items in chosen.items()})
    if per_specialty <= 0:
        report.not_verified("sample size 0: no bytes were downloaded")
        return report.result()
    if not jobs:
        report.not_verified("no indexed, archived instance to sample")
        return report.result()

    def fetch(job: tuple[str, IndexItem]) -> tuple[str, IndexItem, bytes | str | None]:
        side, item = job
        listing = archive if side == "archive" else replica
        return side, item, _download(obs, listing.region, listing.bucket, item)

    results = concurrently(fetch, jobs)
    bad: dict[str, list[str]] = {"archive": [], "replica": []}
    unreadable: dict[str, list[str]] = {"archive": [], "replica": []}
    missing: list[str] = []
    cold_versions: dict[str, list[str]] = {"archive": [], "replica": []}
    verified, downloaded, cold = 0, 0, 0
    for side, item, body in results:
        label = version_label(item.key, item.version_id)
        if body is None:
            missing.append(f"{side}:{label}")
            continue
        if body == COLD:
            cold += 1
            cold_versions[side].append(label)
            continue
        downloaded += len(body)
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        if digest != item.checksum_sha256:
            bad[side].append(label)
            continue
        problem = parse_problem(body, item.key, obs.scope)
        if problem:
            unreadable[side].append(f"{label} ({problem})")
            continue
        verified += 1
    report.counts.update(downloads=len(jobs), verified=verified, bytesDownloaded=downloaded,
                         hashMismatch=len(bad["archive"]) + len(bad["replica"]),
                         unreadable=len(unreadable["archive"]) + len(unreadable["replica"]), missing=len(missing),
                         coldTier=cold)
    if cold:
        report.not_verified(f"{cold} sampled download(s) refused with InvalidObjectState (a Glacier Flexible "
                            "Retrieval / Deep Archive version needs a restore first)")
    for side, listing in (("archive", archive), ("replica", replica)):
        report.find_labels(f"{side}-versions-cold", Severity.INFO, listing.bucket,
                           f"sampled version(s) in {listing.bucket} in a Glacier Flexible Retrieval / Deep Archive "
                           "tier (not verified until restored)", cold_versions[side],
                           remediation="drkit repair --kind restore, then verify rung 6 again")
        report.find_labels(f"{side}-bytes-mismatch", Severity.CRITICAL, listing.bucket,
                           f"sampled version(s) in {listing.bucket} whose bytes hash differently from the index's "
                           "ChecksumSHA256 (the stored checksum may still look right)", bad[side],
                           remediation="restore these versions from the other region or a backup recovery point")
        report.find_labels(f"{side}-instance-unreadable", Severity.CRITICAL, listing.bucket,
                           f"sampled version(s) in {listing.bucket} that pydicom cannot read as the instance "
                           "their key names", unreadable[side])
    report.find_labels("sample-version-missing", Severity.CRITICAL, replica.bucket,
                       "sampled version(s) could not be downloaded (404)", missing)
    return report.result()
