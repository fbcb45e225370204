"""What ``drkit repair`` would repair: versions per repair kind and bucket, read from a
reconciliation's findings (the document ``drkit verify --json`` writes) or from the inventory
reconciliation itself, and the S3 Batch Operations CSV manifests (``Bucket,Key,VersionId``,
keys URL-encoded) that carry them.

Kinds and the findings they repair:

* ``replicate`` — S3 Batch Replication (``S3ReplicateObject``) of archive versions the replica
  lacks: rung 1 ``replica-missing-versions``, rung 2 ``replication-failed``,
  ``replication-status-absent``, ``replica-version-missing``, ``replica-missing-for-completed``
  (live replication never retries FAILED objects nor catches up on unreplicated ones);
* ``restore`` — ``S3InitiateRestoreObject`` of versions in a Glacier Flexible Retrieval / Deep
  Archive tier that a check could not read (rung 6 ``archive-versions-cold``,
  ``replica-versions-cold``);
* ``checksum`` — ``S3ComputeObjectChecksum`` over versions whose checksum mismatched or was
  absent (rung 5): S3 recomputes the stored bytes' SHA-256 so the report shows which copy is
  intact. It changes nothing; the versions it clears are re-verified, not repaired.

A finding lists its first ``EVIDENCE_CAP`` versions and counts all: a plan from findings whose
count exceeds their labels is *incomplete* (said, and the command exits 1); the reconciliation
source has no cap. Its versions (any number) stay in the manifest DuckDB wrote; they are read
back a row at a time (``Batch.versions_iter``), never held in a set.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import quote_plus, unquote_plus

from drills.errors import UsageError
from drills.probes.batch_jobs import manifest_csv

KINDS = ("replicate", "restore", "checksum")
SIDES = ("archive", "replica")
# finding code -> (kind, side whose bucket the job works on; None: the label says, "replica:" prefix)
REPAIRS: dict[str, tuple[str, str | None]] = {
    "replica-missing-versions": ("replicate", "archive"),
    "replication-failed": ("replicate", "archive"),
    "replication-status-absent": ("replicate", "archive"),
    "replica-version-missing": ("replicate", "archive"),
    "replica-missing-for-completed": ("replicate", "archive"),
    "archive-versions-cold": ("restore", "archive"),
    "replica-versions-cold": ("restore", "replica"),
    "archive-checksum-mismatch": ("checksum", "archive"),
    "replica-checksum-mismatch": ("checksum", "replica"),
    "checksum-absent": ("checksum", None),
}


@dataclass
class Batch:
    """The versions one job repairs: one kind, one bucket. Named by findings (``versions``: at
    most ``EVIDENCE_CAP`` per finding), or listed in a manifest file (``listed``, ``listed_count``
    rows) that a reconciliation wrote: any number, read back a row at a time."""

    kind: str
    side: str
    bucket: str
    versions: set[tuple[str, str]] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    unlisted: int = 0          # versions the findings counted but did not name (evidence cap)
    listed: Path | None = None
    listed_count: int = 0

    @property
    def count(self) -> int:
        return len(self.versions) + self.listed_count

    def versions_iter(self) -> Iterator[tuple[str, str]]:
        """(key, version id) of every version, streamed: the named ones sorted, then the listed
        manifest's rows as written (keys URL-decoded)."""
        yield from sorted(self.versions)
        if self.listed is not None:
            with self.listed.open(newline="", encoding="utf-8") as handle:
                for row in csv.reader(handle):
                    if row:
                        yield unquote_plus(row[1]), row[2]

    def rows(self) -> Iterator[tuple[str, str, str]]:
        return ((self.bucket, k, v) for k, v in self.versions_iter())

    def manifest(self) -> bytes:
        return manifest_csv(self.rows())

    def write_manifest(self, path: Path) -> None:
        """The ``S3BatchOperations_CSV_20180820`` manifest (the lines ``manifest_csv`` makes),
        streamed to ``path``; a listed manifest is copied as it is."""
        if self.listed is not None and not self.versions:
            if self.listed.resolve() != path.resolve():
                shutil.copyfile(self.listed, path)
            return
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            for bucket, key, version in self.rows():
                writer.writerow([bucket, quote_plus(key, safe="/"), version or ""])


@dataclass
class Plan:
    source: str                                      # "findings <file>" | "reconciliation"
    batches: dict[tuple[str, str], Batch] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)    # finding codes no repair kind covers

    def batch(self, kind: str, side: str, bucket: str) -> Batch:
        return self.batches.setdefault((kind, side), Batch(kind, side, bucket))

    def ordered(self) -> list[Batch]:
        return [self.batches[k] for k in sorted(self.batches, key=lambda k: (KINDS.index(k[0]), SIDES.index(k[1])))
                if self.batches[k].count or self.batches[k].unlisted]

    @property
    def incomplete(self) -> int:
        return sum(b.unlisted for b in self.batches.values())

    def write_manifests(self, folder: Path) -> dict[tuple[str, str], Path]:
        folder.mkdir(parents=True, exist_ok=True)
        written = {}
        for b in self.ordered():
            path = folder / f"repair-{b.kind}-{b.side}.csv"
            b.write_manifest(path)
            written[(b.kind, b.side)] = path
        return written


def parse_label(label: Any, code: str) -> tuple[str | None, str, str]:
    """(side named by a ``replica:`` prefix or None, key, version id) of an evidence label."""
    if not isinstance(label, str) or "@" not in label:
        raise UsageError(f"finding {code}: label {label!r} is not KEY@VERSION")
    side = None
    if label.startswith(("archive:", "replica:")):
        side, label = label.split(":", 1)
    key, version = label.rsplit("@", 1)
    if not key or not version:
        raise UsageError(f"finding {code}: label {label!r} is not KEY@VERSION")
    return side, key, version


def load_findings(path: Path) -> dict[str, Any]:
    """The JSON document ``drkit verify --json`` wrote (UsageError when it is not one)."""
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such findings file") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not a JSON document ({exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("rungs"), list):
        raise UsageError(f"{path}: not the output of `drkit verify --json` (no \"rungs\" list)")
    return document


def from_findings(document: dict[str, Any], buckets: dict[str, str], kinds: Iterable[str],
                  source: str = "findings") -> Plan:
    """The plan for ``kinds`` from a verify document; ``buckets`` side -> this stack's bucket.
    A finding about a bucket that is not this stack's is refused (findings of another stack)."""
    wanted = set(kinds)
    plan = Plan(source=source)
    ours = set(buckets.values())
    for n, rung in enumerate(document["rungs"]):
        if not isinstance(rung, dict) or not isinstance(rung.get("findings", []), list):
            raise UsageError(f"{source}: rung entry {n} is not an object with a \"findings\" list")
        for finding in rung.get("findings", []):
            if not isinstance(finding, dict) or not isinstance(finding.get("code"), str):
                raise UsageError(f"{source}: a finding of rung {rung.get('rung', n)} has no \"code\"")
            code = finding["code"]
            if code not in REPAIRS:
                if finding.get("severity") != "info":
                    plan.ignored[code] = plan.ignored.get(code, 0) + 1
                continue
            kind, fixed_side = REPAIRS[code]
            if kind not in wanted:
                continue
            resource = finding.get("resource")
            if resource not in ours:        # every finding repaired here names the archive or the replica
                raise UsageError(f"{source}: finding {code} is about {resource!r}, not this stack's buckets "
                                 f"({', '.join(sorted(ours))}): findings of another stack?")
            evidence = finding.get("evidence") or {}
            labels = evidence.get("labels", [])
            count = evidence.get("count", len(labels) if isinstance(labels, list) else 0)
            if not isinstance(labels, list) or isinstance(count, bool) or not isinstance(count, int):
                raise UsageError(f"{source}: finding {code} has no evidence labels/count list")
            for label in labels:
                named_side, key, version = parse_label(label, code)
                side = fixed_side or named_side or "archive"
                b = plan.batch(kind, side, buckets[side])
                b.versions.add((key, version))
                b.codes.add(code)
            if count > len(labels):
                side = fixed_side or "archive"
                b = plan.batch(kind, side, buckets[side])
                b.unlisted += count - len(labels)
                b.codes.add(code)
    return plan


def from_manifest(kind: str, side: str, bucket: str, manifest: Path, count: int, source: str) -> Plan:
    """A plan of one batch whose ``count`` versions are the rows of ``manifest`` (a Batch
    Operations CSV manifest, e.g. ``reconcile.export_repair_manifest``'s): nothing read yet."""
    plan = Plan(source=source)
    b = plan.batch(kind, side, bucket)
    b.listed, b.listed_count = manifest, count
    b.codes.add("reconciliation")
    return plan


def outside(plan: Plan, prefix: str) -> Iterator[str]:
    """Labels of planned versions whose key is not under ``prefix`` (drill-scoped data), in
    batch order, streamed (a caller wanting a count and examples need not hold them all)."""
    for b in plan.ordered():
        for k, v in b.versions_iter():
            if not k.startswith(prefix):
                yield f"{k}@{v}"
