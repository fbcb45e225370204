"""Fixtures for engine tests: a context on a fake clock, and scenario documents."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from drills.aws import Target
from drills.contracts import Objectives, StackOutputs
from drills.engine.context import DrillContext


class FakeClock:
    """A virtual clock in memory: ``wait`` advances, never sleeps."""

    simulated = True
    kind = "virtual"

    def __init__(self) -> None:
        self._now = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.waited: list[float] = []

    def now(self) -> datetime:
        return self._now

    def wait(self, seconds: float) -> None:
        self.waited.append(seconds)
        self._now += timedelta(seconds=seconds)

    advance = wait


def outputs(**objectives: float) -> StackOutputs:
    names = {n: f"drkit-test-{n.lower()}" for n in ("archiveBucket", "replicaBucket", "landingBucket", "indexTable",
                                                    "backupVault", "drBackupVault", "evidenceBucket")}
    return StackOutputs(schemaVersion=1, primaryRegion="us-east-1", drRegion="us-west-2",
                        multiRegionAccessPoint="arn:aws:s3::123456789012:accesspoint/abc.mrap",
                        objectives=Objectives(**{"rpoMinutes": 15, "rtoMinutes": 60, "restoreHours": 4, **objectives}),
                        **names)


@pytest.fixture
def ctx() -> DrillContext:
    return DrillContext(target=Target(endpoint="http://127.0.0.1:9"), outputs=outputs(), clock=FakeClock(),
                        run_id="20260101T000000Z-abcdef")


def document(**overrides: Any) -> dict[str, Any]:
    """A valid scenario document using the test providers of test_runner (or built-ins)."""
    doc: dict[str, Any] = {
        "name": "unit", "title": "Unit scenario", "description": "for tests", "testType": "functional",
        "steadyState": [{"name": "healthy", "probe": "active-route", "arguments": {"expect": "primary"},
                         "timeout": 10}],
        "method": [{"name": "down", "action": "region-outage", "arguments": {"region": "primary", "state": "down"},
                    "timeout": 10}],
        "rollbacks": [{"name": "up", "action": "region-outage", "arguments": {"region": "primary", "state": "up"},
                       "timeout": 10}],
    }
    doc.update(overrides)
    return doc
