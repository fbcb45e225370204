"""Store a signed run dir in the stack's evidence bucket under Object Lock (boto3 only).

Objects go to ``s3://<evidenceBucket>/drill-runs/<run_id>/<file>`` with an S3 SHA-256
checksum, and rely on the bucket's default Object Lock retention — the stack's
``evidence`` retention — which S3 applies to every new object version
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html, "Bucket
configuration"). Each stored version is then read back (HeadObject) and must carry a lock
mode and retain-until date; a bucket without default retention is refused, because the
evidence would not be locked.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from drills.aws import Target
from drills.contracts import StackOutputs
from drills.errors import InfraError
from drills.reports.journal import load_journal
from drills.reports.manifest import MANIFEST, SIGNATURE, artifact_names
from drills.reports.signing import FOLDER_PUBLIC_KEY

PREFIX = "drill-runs/"


@dataclass(frozen=True)
class Stored:
    location: str
    keys: list[str]
    mode: str
    retain_until: str


def upload_run(run_dir: Path, outputs: StackOutputs, target: Target) -> Stored:
    run_dir = Path(run_dir)
    run_id = load_journal(run_dir)["run_id"]
    bucket = outputs.evidenceBucket
    s3 = target.client("s3", outputs.primaryRegion)
    try:
        rule = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"].get("Rule") or {}
    except ClientError as exc:
        raise InfraError(f"evidence bucket {bucket}: cannot read its Object Lock configuration "
                         f"({exc.response['Error']['Code']})") from exc
    except BotoCoreError as exc:
        raise InfraError(f"evidence bucket {bucket}: {exc}") from exc
    if not rule.get("DefaultRetention"):
        raise InfraError(f"evidence bucket {bucket} has no default Object Lock retention: refusing to store "
                         "evidence that would not be locked")
    files = [(name, run_dir / name) for name in artifact_names(run_dir) + [MANIFEST, SIGNATURE]]
    published = run_dir.parent / FOLDER_PUBLIC_KEY
    if published.is_file():
        files.append((FOLDER_PUBLIC_KEY, published))
    keys, mode, until = [], "", ""
    for name, path in files:
        key = f"{PREFIX}{run_id}/{name}"
        body = path.read_bytes()
        try:
            put = s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256",
                                ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode())
            head = s3.head_object(Bucket=bucket, Key=key, VersionId=put["VersionId"])
        except ClientError as exc:
            raise InfraError(f"s3://{bucket}/{key}: upload failed ({exc.response['Error']['Code']})") from exc
        except BotoCoreError as exc:
            raise InfraError(f"s3://{bucket}/{key}: upload failed ({exc})") from exc
        if not head.get("ObjectLockMode") or not head.get("ObjectLockRetainUntilDate"):
            raise InfraError(f"s3://{bucket}/{key}: stored without an Object Lock retention")
        mode = head["ObjectLockMode"]
        until = head["ObjectLockRetainUntilDate"].strftime("%Y-%m-%dT%H:%M:%SZ")
        keys.append(key)
    return Stored(f"s3://{bucket}/{PREFIX}{run_id}/", keys, mode, until)
