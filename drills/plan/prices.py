"""Price tables: shipped as data (``prices.json`` beside this module) or a user's JSON/YAML file.

A table names itself, its date and its source; every figure the plan prints carries that
label. Per region it holds storage (per GB-month), PUT and lifecycle-transition requests (per
1,000), retrieval (per GB and per 1,000 requests, per class and restore tier), replication
transfer (+ RTC) and AWS Backup storage and copy transfer. A bad file is a ``UsageError``
(exit 2) naming the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from drills.errors import UsageError
from drills.storage_classes import FACTS, StorageClass

SHIPPED = "prices.json"
INSTANT = "Instant"
"""Retrieval key for a GET from a class that needs no restore."""

_REGION_NUMBERS = ("replicationTransferPerGB", "replicationTimeControlPerGB", "backupStoragePerGBMonth",
                   "backupCopyTransferPerGB")
_CLASSES = tuple(c.value for c in StorageClass)


@dataclass(frozen=True)
class Retrieval:
    per_gb: float
    per_1000: float


@dataclass(frozen=True)
class RegionPrices:
    """One region's figures (USD unless the table says otherwise)."""

    region: str
    status: str
    storage: Mapping[str, float]
    put: Mapping[str, float]
    transition: Mapping[str, float]
    retrieval: Mapping[str, Mapping[str, Retrieval]]
    replication_transfer_per_gb: float
    rtc_per_gb: float
    backup_storage_per_gb_month: float
    backup_copy_transfer_per_gb: float


@dataclass(frozen=True)
class PriceTable:
    name: str
    date: str
    currency: str
    source: str
    bytes_per_gb: int
    regions: Mapping[str, RegionPrices]
    origin: str
    """Where the table was read from (the shipped file or the user's path)."""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.date})"

    def region(self, name: str) -> RegionPrices:
        found = self.regions.get(name)
        if found is None:
            raise UsageError(f"price table {self.label} has no prices for region {name}",
                             hint=f"regions in it: {', '.join(sorted(self.regions))}; "
                                  "pass --prices FILE with that region")
        return found

    def describe(self, *regions: str) -> dict[str, Any]:
        """JSON-safe provenance attached to every set of figures."""
        return {"name": self.name, "date": self.date, "currency": self.currency, "source": self.source,
                "origin": self.origin, "bytesPerGB": self.bytes_per_gb,
                "regions": {r: self.regions[r].status for r in regions if r in self.regions}}


def load(path: Path | None = None) -> PriceTable:
    """The shipped table, or the JSON/YAML file at ``path``."""
    if path is None:
        text = resources.files("drills.plan").joinpath(SHIPPED).read_text()
        origin = f"drills/plan/{SHIPPED} (shipped)"
        data = json.loads(text)
    else:
        origin = str(path)
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise UsageError(f"{path}: cannot read the price table ({exc.strerror})") from exc
        try:
            data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise UsageError(f"{path}: not valid JSON/YAML: {exc}") from exc
    return parse(data, origin)


def parse(data: Any, origin: str) -> PriceTable:
    """Validate a price-table document; every error names the field."""
    where = _Where(origin)
    doc = where.mapping(data, "")
    regions_raw = where.mapping(doc.get("regions"), "regions")
    if not regions_raw:
        raise UsageError(f"{origin}: regions: at least one region is needed")
    regions = {str(name): _region(where, str(name), raw) for name, raw in regions_raw.items()}
    bytes_per_gb = doc.get("bytesPerGB", 1024 ** 3)
    if isinstance(bytes_per_gb, bool) or not isinstance(bytes_per_gb, int) or bytes_per_gb <= 0:
        raise UsageError(f"{origin}: bytesPerGB: expected a positive whole number, got {bytes_per_gb!r}")
    return PriceTable(name=where.text(doc, "name", ""), date=where.text(doc, "date", ""),
                      currency=where.text(doc, "currency", ""), source=where.text(doc, "source", ""),
                      bytes_per_gb=bytes_per_gb, regions=regions, origin=origin)


def _region(where: "_Where", name: str, raw: Any) -> RegionPrices:
    at = f"regions.{name}"
    node = where.mapping(raw, at)
    retrieval: dict[str, dict[str, Retrieval]] = {}
    for cls, tiers in where.mapping(node.get("retrieval"), f"{at}.retrieval").items():
        where.known(cls, _CLASSES, f"{at}.retrieval")
        allowed = tuple(FACTS[StorageClass(cls)].restore_hours) or (INSTANT,)
        retrieval[cls] = {}
        for tier, figures in where.mapping(tiers, f"{at}.retrieval.{cls}").items():
            where.known(tier, allowed, f"{at}.retrieval.{cls}")
            f = where.mapping(figures, f"{at}.retrieval.{cls}.{tier}")
            retrieval[cls][tier] = Retrieval(where.number(f, "perGB", f"{at}.retrieval.{cls}.{tier}"),
                                             where.number(f, "per1000", f"{at}.retrieval.{cls}.{tier}"))
    for cls in _CLASSES:
        missing = [t for t in (tuple(FACTS[StorageClass(cls)].restore_hours) or (INSTANT,))
                   if t not in retrieval.get(cls, {})]
        if missing:
            raise where.fail(f"{at}.retrieval.{cls}", f"missing retrieval prices for: {', '.join(missing)}")
    numbers = {k: where.number(node, k, at) for k in _REGION_NUMBERS}
    return RegionPrices(
        region=name, status=where.text(node, "status", at),
        storage=where.per_class(node, "storagePerGBMonth", at, _CLASSES),
        put=where.per_class(node, "putPer1000", at, _CLASSES),
        transition=where.per_class(node, "transitionPer1000", at, _CLASSES[1:]),
        retrieval=retrieval,
        replication_transfer_per_gb=numbers["replicationTransferPerGB"],
        rtc_per_gb=numbers["replicationTimeControlPerGB"],
        backup_storage_per_gb_month=numbers["backupStoragePerGBMonth"],
        backup_copy_transfer_per_gb=numbers["backupCopyTransferPerGB"],
    )


class _Where:
    """Field checks that raise UsageError naming the file and the field."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, field: str, message: str) -> UsageError:
        return UsageError(f"{self.origin}: {field or 'price table'}: {message}")

    def mapping(self, value: Any, field: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(field, f"expected a mapping, got {type(value).__name__ if value is not None else 'nothing'}")
        return dict(value)

    def text(self, node: Mapping[str, Any], key: str, at: str) -> str:
        value = node.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{at}.{key}" if at else key, "expected a non-empty string")
        return value

    def number(self, node: Mapping[str, Any], key: str, at: str) -> float:
        value = node.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
            raise self.fail(f"{at}.{key}", f"expected a price (a number >= 0), got {value!r}")
        return float(value)

    def known(self, name: str, allowed: tuple[str, ...], at: str) -> None:
        if name not in allowed:
            raise self.fail(f"{at}.{name}", f"unknown name (allowed: {', '.join(allowed)})")

    def per_class(self, node: Mapping[str, Any], key: str, at: str, classes: tuple[str, ...]) -> dict[str, float]:
        table = self.mapping(node.get(key), f"{at}.{key}")
        for name in table:
            self.known(name, classes, f"{at}.{key}")
        missing = [c for c in classes if c not in table]
        if missing:
            raise self.fail(f"{at}.{key}", f"missing storage classes: {', '.join(missing)}")
        return {c: self.number(table, c, f"{at}.{key}") for c in classes}
