"""Small helpers shared by drill probes: objective figures, instance lists, HEAD checks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Iterable

from botocore.exceptions import BotoCoreError, ClientError

from drills.engine.results import objective_measurement

POOL = 8


def seconds(minutes: float) -> float:
    return float(minutes) * 60.0


def measure(run: Any, name: str, value: float | None, objective_s: float | None, unit: str = "seconds",
            *, met: bool | None = None, **detail: Any) -> None:
    """Record ``value`` against ``objective_s``; ``met=False`` overrides (e.g. not every study
    could be verified, so the time to verify them all was never reached)."""
    measurement = objective_measurement(name, value, objective_s, unit, simulated=run.ctx.clock.simulated,
                                        detail=detail)
    if met is False:
        measurement = replace(measurement, met=False)
    run.measure(measurement)


@dataclass(frozen=True)
class Expected:
    """An instance a probe expects to find: where, which version, which checksum."""

    label: str
    key: str
    version_id: str | None
    checksum: str | None            # base64 SHA-256
    size: int = 0
    sha256_hex: str | None = None

    @property
    def study(self) -> str:
        parts = self.key.rstrip("/").split("/")
        return "/".join(parts[:-2]) if len(parts) >= 3 else self.key


def head_check(s3: Any, bucket: str, items: Iterable[Expected], *, want_replica: bool) -> dict[str, list[str]]:
    """HEAD every item (ChecksumMode enabled, by version): {"ok": [...], "missing": [...],
    "mismatch": [...], "not_replica": [...]} of labels. No download."""
    result: dict[str, list[str]] = {"ok": [], "missing": [], "mismatch": [], "not_replica": []}

    def one(item: Expected) -> tuple[str, str]:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": item.key, "ChecksumMode": "ENABLED"}
        if item.version_id:
            kwargs["VersionId"] = item.version_id
        try:
            head = s3.head_object(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey", "NoSuchVersion", "405", "MethodNotAllowed"):
                return "missing", item.label
            raise
        if item.checksum and head.get("ChecksumSHA256") != item.checksum:
            return "mismatch", item.label
        if want_replica and head.get("ReplicationStatus") != "REPLICA":
            return "not_replica", item.label
        return "ok", item.label

    with ThreadPoolExecutor(max_workers=POOL) as pool:
        for outcome, label in pool.map(one, list(items)):
            result[outcome].append(label)
    return result


def boto_errors() -> tuple[type[Exception], ...]:
    return (ClientError, BotoCoreError)
