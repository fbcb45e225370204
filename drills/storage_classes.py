"""S3 storage-class facts, in one table: config validation, the lifecycle simulation and the
capacity/cost plan all read them from here.

Sources (AWS documentation; figures summarised in shared/REFERENCE.md "Storage tiers"):

* class comparison — minimum storage duration, minimum billable object size, first-byte
  latency: https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html#sc-compare
* lifecycle transitions — the waterfall order, 30 days before Standard-IA / One Zone-IA, the
  128 KB default minimum object size (``TransitionDefaultMinimumObjectSize``), and the
  prorated charge for objects deleted, overwritten or transitioned before the minimum duration:
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html
* restore tiers and times — Expedited 1–5 min, Standard 3–5 h, Bulk 5–12 h (Glacier Flexible
  Retrieval); Standard within 12 h, Bulk within 48 h (Deep Archive); Expedited not available
  for Deep Archive: https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects-retrieval-options.html
  and https://docs.aws.amazon.com/AmazonS3/latest/API/API_RestoreObject.html
* per-object archive overhead (8 KB at Standard rates + 32 KB at the archive rate for each
  Glacier Flexible Retrieval / Deep Archive object): storage-class-intro.html
* AWS Backup for S3 skips objects in Glacier Flexible Retrieval and Deep Archive:
  https://docs.aws.amazon.com/aws-backup/latest/devguide/s3-backups.html (REFERENCE.md
  "Object Lock and backups").

Reduced Redundancy and Express One Zone are not in the table: the archive never uses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Mapping

KB = 1024
TRANSITION_MIN_OBJECT_BYTES = 128 * KB
"""Lifecycle does not transition objects smaller than this by default (``all_storage_classes_128K``)."""
TRANSITION_DEFAULT_ALL = "all_storage_classes_128K"
TRANSITION_DEFAULT_VARIES = "varies_by_storage_class"
"""With ``varies_by_storage_class`` small objects may still go to Glacier Flexible Retrieval and Deep Archive."""

RESTORE_TIERS = ("Expedited", "Standard", "Bulk")
RESTORE_REQUESTS_PER_SECOND = 1000
"""S3 accepts restore requests for Glacier Flexible Retrieval / Deep Archive at up to 1,000 per
second per account (storage-class-intro.html, archive classes)."""
EXPEDITED_TYPICAL_MAX_OBJECTS = 100
"""Expedited is for "occasional urgent requests for up to hundreds of objects" (retrieval options
page); larger batches need provisioned capacity or may be refused."""


class StorageClass(str, Enum):
    """S3 storage classes, in the order lifecycle transitions may move an object (colder later)."""

    STANDARD = "STANDARD"
    STANDARD_IA = "STANDARD_IA"
    INTELLIGENT_TIERING = "INTELLIGENT_TIERING"
    ONEZONE_IA = "ONEZONE_IA"
    GLACIER_IR = "GLACIER_IR"
    GLACIER = "GLACIER"
    DEEP_ARCHIVE = "DEEP_ARCHIVE"

    @property
    def facts(self) -> "ClassFacts":
        return FACTS[self]

    @property
    def rank(self) -> int:
        """Position in the lifecycle waterfall; a transition must go to a higher rank."""
        return CLASS_ORDER.index(self.value)

    @property
    def min_storage_days(self) -> int:
        return FACTS[self].min_storage_days

    @property
    def lifecycle_min_age_days(self) -> int:
        return FACTS[self].lifecycle_min_age_days

    @property
    def first_byte(self) -> str:
        return FACTS[self].first_byte

    @property
    def archived(self) -> bool:
        """Objects must be restored (RestoreObject) before a GET answers."""
        return bool(FACTS[self].restore_hours)


@dataclass(frozen=True)
class ClassFacts:
    """What AWS documents about one storage class."""

    label: str
    """The name AWS's pages use."""
    min_storage_days: int
    """Minimum storage duration: deleting, overwriting or transitioning earlier is charged as if
    stored for the rest of it (prorated)."""
    min_billable_bytes: int
    """Smaller objects are billed as this size (128 KB for Standard-IA, One Zone-IA, Glacier IR)."""
    lifecycle_min_age_days: int
    """Lifecycle moves objects into this class only when they are at least this many days old."""
    first_byte: str
    """How fast a GET answers (after a restore, for archived classes)."""
    restore_hours: Mapping[str, tuple[float | None, float]] = field(default_factory=dict)
    """Archived classes: restore tier -> (documented lower bound or None, documented upper bound) in
    hours. A tier missing here is not available for the class. Empty: no restore needed."""
    overhead_standard_bytes: int = 0
    """Per-object metadata billed at Standard rates (8 KB for Glacier Flexible Retrieval / Deep Archive)."""
    overhead_class_bytes: int = 0
    """Per-object index billed at this class's rate (32 KB for Glacier Flexible Retrieval / Deep Archive)."""
    aws_backup: bool = True
    """AWS Backup for S3 backs up objects in this class."""

    @property
    def expedited(self) -> bool:
        """Expedited retrieval exists for this class (never for Deep Archive)."""
        return "Expedited" in self.restore_hours


CLASS_ORDER: tuple[str, ...] = tuple(c.value for c in StorageClass)
"""S3's transition waterfall: an object only ever moves to the right."""

_ARCHIVE_OVERHEAD = {"overhead_standard_bytes": 8 * KB, "overhead_class_bytes": 32 * KB}

FACTS: Mapping[StorageClass, ClassFacts] = MappingProxyType({
    StorageClass.STANDARD: ClassFacts("S3 Standard", 0, 0, 0, "milliseconds"),
    StorageClass.STANDARD_IA: ClassFacts("S3 Standard-IA", 30, 128 * KB, 30, "milliseconds"),
    StorageClass.INTELLIGENT_TIERING: ClassFacts("S3 Intelligent-Tiering", 0, 0, 0, "milliseconds"),
    StorageClass.ONEZONE_IA: ClassFacts("S3 One Zone-IA", 30, 128 * KB, 30, "milliseconds"),
    StorageClass.GLACIER_IR: ClassFacts("S3 Glacier Instant Retrieval", 90, 128 * KB, 0, "milliseconds"),
    StorageClass.GLACIER: ClassFacts(
        "S3 Glacier Flexible Retrieval", 90, 0, 0, "3-5 hours (Standard retrieval)",
        restore_hours=MappingProxyType({"Expedited": (1 / 60, 5 / 60), "Standard": (3.0, 5.0), "Bulk": (5.0, 12.0)}),
        aws_backup=False, **_ARCHIVE_OVERHEAD),
    StorageClass.DEEP_ARCHIVE: ClassFacts(
        "S3 Glacier Deep Archive", 180, 0, 0, "up to 12 hours (Standard retrieval)",
        restore_hours=MappingProxyType({"Standard": (None, 12.0), "Bulk": (None, 48.0)}),
        aws_backup=False, **_ARCHIVE_OVERHEAD),
})

ARCHIVE_CLASSES: tuple[str, ...] = tuple(c.value for c in StorageClass if FACTS[c].restore_hours)
"""Classes whose objects need a restore before a GET (GLACIER, DEEP_ARCHIVE)."""


def storage_class(value: str | StorageClass) -> StorageClass:
    """The member for an S3 storage-class string; ``None``/REDUCED_REDUNDANCY read as STANDARD
    (how lifecycle treats them). Raises ValueError for anything else."""
    if isinstance(value, StorageClass):
        return value
    if value in (None, "", "REDUCED_REDUNDANCY"):
        return StorageClass.STANDARD
    return StorageClass(str(value))


def colder(target: str | StorageClass, current: str | StorageClass | None) -> bool:
    """True if lifecycle may move an object from ``current`` to ``target`` (strictly later in
    the waterfall). Unknown classes never qualify."""
    try:
        return storage_class(target).rank > storage_class(current).rank  # type: ignore[arg-type]
    except ValueError:
        return False


def transition_allowed_by_size(size: int, target: str | StorageClass,
                               mode: str = TRANSITION_DEFAULT_ALL) -> bool:
    """The default minimum object size for lifecycle transitions (no size filter on the rule)."""
    if size >= TRANSITION_MIN_OBJECT_BYTES:
        return True
    return mode == TRANSITION_DEFAULT_VARIES and str(getattr(target, "value", target)) in ARCHIVE_CLASSES


def restore_hours(cls: str | StorageClass, tier: str) -> tuple[float | None, float] | None:
    """Documented (low, high) hours for restoring from ``cls`` with ``tier``; None if unavailable."""
    return FACTS[storage_class(cls)].restore_hours.get(tier)


def standard_restore_hours(cls: str | StorageClass) -> float:
    """Upper bound of a Standard-tier restore (the default tier), 0 for non-archived classes."""
    found = restore_hours(cls, "Standard")
    return found[1] if found else 0.0
